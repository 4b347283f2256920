"""Messaging for tests: Twilio-shaped SMS webhooks and status callbacks, patients who text, and thread reads."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from careline.db import UnitOfWork
from careline.messaging.models import Message, OptOutEvent
from careline.messaging.rules import Channel
from careline.messaging.service import threads
from careline.patients.models import Patient
from careline.worker.models import OutboxMessage
from tests.factories.patients import make_patient
from tests.factories.telephony import ACCOUNT_SID, CENTER

MOBILE = "+16175550142"
SMS_PATH = "/telephony/twilio/sms"
STATUS_PATH = "/telephony/twilio/sms/status"
SERVICE_SID = "MGce8164271c97ed0e5a98bd327d9b1b02"


def sms_params(sid: str, body: str, *, caller: str = MOBILE, media: Sequence[tuple[str, str]] = (),
               **extra: str) -> dict[str, str]:
    """A Twilio-shaped incoming SMS (or MMS, with ``media`` as (url, content type) pairs) webhook body."""
    params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsSid": sid,
              "SmsMessageSid": sid, "From": caller, "To": CENTER, "Body": body, "NumMedia": str(len(media)),
              "NumSegments": "1", "SmsStatus": "received", "FromCountry": "US", "ToCountry": "US"}
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"], params[f"MediaContentType{index}"] = url, content_type
    return params | extra


def status_params(sid: str, status: str, *, error_code: str | None = None, to: str = MOBILE) -> dict[str, str]:
    """A Twilio-shaped SMS status callback body (it never carries the text)."""
    params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsSid": sid,
              "MessageStatus": status, "SmsStatus": status, "From": CENTER, "To": to}
    return params | ({"ErrorCode": error_code} if error_code else {})


def text(body: str, sid: str, *, address: str = MOBILE) -> threads.Inbound:
    """An incoming SMS as the service receives it."""
    return threads.Inbound(channel=Channel.sms, address=address, body=body, provider_id=sid, center_address=CENTER)


def make_texter(uow: UnitOfWork, *, mobile: str = MOBILE, consents: dict[str, bool] | None = None,
                time_zone: str | None = "America/New_York", language: str = "en") -> Patient:
    """A patient with a mobile number, their consents (e.g. ``sms_care``, ``sms_outreach``) and time zone."""
    patient = make_patient(uow, phones=((mobile, "mobile"),), language=language)
    patient.consents, patient.time_zone = dict(consents or {}), time_zone
    uow.flush()
    return patient


def outbound(session: Session) -> list[Message]:
    """Every outbound message, thread by thread in order."""
    return list(session.scalars(select(Message).where(Message.direction == "outbound")
                                .order_by(Message.conversation_id, Message.seq)))


def inbound(session: Session) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.direction == "inbound")
                                .order_by(Message.conversation_id, Message.seq)))


def opt_outs(session: Session, address: str = MOBILE) -> list[OptOutEvent]:
    return list(session.scalars(select(OptOutEvent).where(OptOutEvent.address == address).order_by(OptOutEvent.at)))


def give_up_row(session: Session, row_id: UUID, error: str, *, in_doubt: bool = False) -> None:
    """An outbox row the worker gave up on, as the dispatcher leaves it."""
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                    .values(status="dead", last_error=error, in_doubt=in_doubt))
