"""Twilio Programmable Messaging webhooks: an incoming SMS or MMS, and delivery status callbacks.

Signed like every Twilio webhook (``careline.web.twilio``): a bad signature gets 403 and records nothing.
Twilio retries, so both are idempotent on the MessageSid. Replies never go inline in the TwiML: they are
queued to the outbox like every other message, where the sending path's checks run.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from careline.messaging.errors import InvalidMessage
from careline.messaging.rules import Channel
from careline.messaging.service import status, threads
from careline.settings import Settings
from careline.web.deps import PatientRules, Public, Uow
from careline.web.twilio import Signed, TwilioRequest

router = APIRouter(prefix="/telephony/twilio/sms", tags=["messaging"], include_in_schema=False)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_MEDIA = 10  # Twilio's own limit per MMS


@router.post("")
def incoming_text(request: Request, twilio: Signed, uow: Uow, policy: PatientRules, _: Public) -> Response:
    settings: Settings = request.app.state.settings
    threads.receive(uow, policy, settings, _inbound(twilio))
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/status", status_code=204)
def delivery_status(twilio: Signed, uow: Uow, _: Public, message: UUID | None = None) -> None:
    """Unknown messages are answered 204 too: Twilio would only retry, and there is nothing to apply."""
    status.delivery_status(uow, message_id=message, provider_id=twilio.params.get("MessageSid", ""),
                           provider_status=twilio.params.get("MessageStatus", ""),
                           error_code=twilio.params.get("ErrorCode") or None)


def _inbound(twilio: TwilioRequest) -> threads.Inbound:
    params = twilio.params
    sid, sender = params.get("MessageSid", "").strip(), params.get("From", "").strip()
    if not sid:
        raise InvalidMessage("MessageSid", "The message has no MessageSid.")
    if not sender:
        raise InvalidMessage("From", "The message has no sender (From).")
    return threads.Inbound(channel=Channel.sms, address=sender, body=params.get("Body", ""), provider_id=sid,
                           center_address=params.get("To") or None, links=_media(params))


def _media(params: dict[str, str]) -> tuple[dict[str, str], ...]:
    """An MMS's pictures and files, kept as Twilio's links (fetching them needs the account's credentials)."""
    count = params.get("NumMedia", "0")
    wanted = min(int(count), MAX_MEDIA) if count.isdigit() else 0
    return tuple({"url": params[f"MediaUrl{index}"], "content_type": params.get(f"MediaContentType{index}", "")}
                 for index in range(wanted) if params.get(f"MediaUrl{index}"))
