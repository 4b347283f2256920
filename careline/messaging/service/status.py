"""A provider's word on an outbound message: delivery status callbacks, applied only when they move it forward.

Twilio's callbacks arrive in any order (a ``sent`` after its ``delivered``) and more than once; each applies
only if it is further along than the message's last status, so a late one changes nothing. Error 21610 means
the patient replied STOP to the carrier: it is recorded as their opt-out like a STOP to us.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from careline.db import UnitOfWork, utcnow
from careline.messaging import repository, rules
from careline.messaging.models import Message
from careline.messaging.rules import Channel, Status
from careline.messaging.service import consent

CARRIER_OPTED_OUT_ERROR = "The carrier says the patient opted out (error 21610)."


def delivery_status(uow: UnitOfWork, *, message_id: UUID | None, provider_id: str, provider_status: str,
                    error_code: str | None, now: datetime | None = None) -> Message | None:
    """Apply an SMS status callback to the message it names (by our id, else by the provider's); returns the
    message, or None when it is not one of ours."""
    now = now or utcnow()
    message = _outbound(uow, message_id, provider_id)
    if message is None:
        return None
    if message.provider_id is None and provider_id:
        _record_sid(uow, message, provider_id)
    if error_code == rules.CARRIER_OPTED_OUT:
        thread = repository.conversation(uow.session, message.conversation_id)
        if thread is not None:
            consent.record(uow, Channel.sms, thread.address, out=True, source="carrier", detail=error_code, now=now)
    if rules.moves_forward(message.status_rank, provider_status):
        message.status, message.status_rank = rules.OUTBOUND_STATUS[provider_status], rules.RANKS[provider_status]
        message.status_at = now
        if message.status in (Status.failed, Status.undelivered):
            message.error = _failure(error_code)
    return message


def carrier_opted_out(uow: UnitOfWork, message: Message, address: str, now: datetime) -> None:
    """The carrier refused the text because the patient replied STOP to it: their opt-out, recorded as ours."""
    consent.record(uow, Channel.sms, address, out=True, source="carrier", detail=rules.CARRIER_OPTED_OUT, now=now)
    message.status, message.error, message.status_at = Status.blocked, CARRIER_OPTED_OUT_ERROR, now


def _outbound(uow: UnitOfWork, message_id: UUID | None, provider_id: str) -> Message | None:
    """Locked, so two callbacks at once for one message apply one after the other."""
    found = repository.message(uow.session, message_id, for_update=True) if message_id else None
    if found is None and provider_id:
        found = repository.by_provider_id(uow.session, Channel.sms, provider_id, for_update=True)
    if found is None or found.channel != Channel.sms or found.direction != "outbound":
        return None
    return found


def _record_sid(uow: UnitOfWork, message: Message, provider_id: str) -> None:
    """A callback that beat the worker's receipt names the message's sid first. A sid another message already
    holds is not taken: our id in the callback's URL says which message the status is for, and the sid stays
    with the message that had it (else the unique sid would fail the callback, and Twilio retry it for ever).
    Two callbacks racing to record one free sid for two messages: the loser fails once and applies on Twilio's
    retry."""
    if repository.by_provider_id(uow.session, Channel.sms, provider_id) is None:
        message.provider_id = provider_id


def _failure(error_code: str | None) -> str:
    if error_code == rules.CARRIER_OPTED_OUT:
        return CARRIER_OPTED_OUT_ERROR
    return f"Not delivered: carrier error {error_code}." if error_code else "Not delivered."
