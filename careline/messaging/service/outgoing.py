"""Queueing a message to a patient: kept in its thread at once, handed to the worker through the outbox.

Agents' replies, automatic answers and chat transcripts all come here. The checks that protect
patients run again in the worker just before sending (``delivery``), which is the one path every message takes.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import make_msgid
from uuid import UUID, uuid4

from careline.db import UnitOfWork, utcnow
from careline.messaging import repository, rules
from careline.messaging.errors import Blocked, InvalidMessage
from careline.messaging.models import Conversation, Message
from careline.messaging.rules import Channel, Purpose, Status
from careline.messaging.service import consent
from careline.settings import Settings
from careline.worker import outbox

SEND = "message.send"  # the outbox kind the worker sends (see careline.messaging.tasks)
CHAT_CHANNEL = "chat:{id}"  # the live channel a chat widget's conversation is told of news on


def queue(uow: UnitOfWork, settings: Settings, conversation: Conversation, *, body: str, kind: str = "conversation",
          purpose: Purpose = Purpose.reply, author: str | None = None, subject: str | None = None,
          html: str | None = None, now: datetime | None = None) -> Message:
    """Add an outbound message to the thread and, for SMS and e-mail, to the outbox in the same transaction."""
    now = now or utcnow()
    _check_length(conversation.channel, body)
    place = repository.next_seq(uow.session, conversation.id)
    message = Message(id=uuid4(), conversation_id=conversation.id, seq=place, channel=conversation.channel,
                      direction="outbound", kind=kind, purpose=purpose.value, author=author, subject=subject,
                      body=body, html=html, status=Status.queued, created_at=now)
    if conversation.channel == Channel.chat:  # the widget reads it from the thread: nothing to hand over
        message.status, message.status_rank, message.sent_at = Status.delivered, rules.RANKS["delivered"], now
    elif conversation.channel == Channel.email:
        message.provider_id = make_msgid(domain=_mail_domain(settings))
        references = repository.references_of(uow.session, conversation.id)
        message.in_reply_to = references[-1] if references else None
        message.subject = subject or _reply_subject(conversation.subject)
    repository.add(uow.session, message)
    conversation.last_message_at = now
    if conversation.channel == Channel.chat:
        uow.notify(CHAT_CHANNEL.format(id=conversation.id), {"type": "message", "seq": message.seq})
    else:
        outbox.send_later(uow, SEND, {"message_id": str(message.id)}, key=f"message:{message.id}")
    return message


def refuse_if_opted_out(uow: UnitOfWork, conversation: Conversation) -> None:
    """Say at once what the worker would say later: an agent's text to an opted-out number is not sent."""
    if conversation.channel != Channel.chat and consent.is_opted_out(uow, conversation.channel, conversation.address):
        raise Blocked("This patient opted out of messages on this channel (they replied STOP). Call them instead, "
                      "or ask them to reply START.")


def thread_for(uow: UnitOfWork, channel: str, address: str, *, patient_id: UUID | None, language: str,
               center: str | None, now: datetime) -> Conversation:
    """The address's latest thread on the channel, or a new one."""
    found = repository.latest_on(uow.session, channel, address)
    if found is not None:
        return found
    conversation = Conversation(id=uuid4(), channel=channel, address=address, center_address=center,
                                patient_id=patient_id, candidates=1 if patient_id else 0, language=language,
                                created_at=now, last_message_at=now)
    repository.add(uow.session, conversation)
    return conversation


def _check_length(channel: str, body: str) -> None:
    if channel == Channel.sms and len(body) > rules.SMS_LIMIT:
        raise InvalidMessage("body", f"A text can be at most {rules.SMS_LIMIT} characters; this one has {len(body)}.")


def _reply_subject(subject: str | None) -> str:
    subject = " ".join((subject or "").split())  # a header is one line
    if not subject:
        return "Your message to us"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _mail_domain(settings: Settings) -> str:
    sender = settings.email_from
    return sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else "careline.localhost"
