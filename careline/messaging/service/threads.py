"""Messages from patients, threaded by address (and an e-mail's references), routed to an agent; the agent's
view of a thread and their replies.

A patient's message on a thread nobody is answering queues a new contact in the routing engine (channel
sms, email or chat); one on a thread an agent has open shows on their desktop at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import structlog
from sqlalchemy.exc import IntegrityError

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.messaging import repository, rules
from careline.messaging.errors import NotFound
from careline.messaging.models import Attachment, Conversation, Message
from careline.messaging.rules import Channel, Keyword, Purpose, Status
from careline.messaging.schemas import AttachmentRead, ConversationRead, Inbound, MessageRead, ReplyIn
from careline.messaging.service import consent, outgoing, templates
from careline.patients.errors import InvalidPhone
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup, reach
from careline.routing.rules import Channel as RoutingChannel
from careline.routing.schemas import InteractionIn
from careline.routing.service import interactions
from careline.routing.service import setup as routing_setup
from careline.settings import Settings

__all__ = ["Inbound", "agent_typing", "attachment", "contact_of", "for_contact", "messages_read", "provider_actor",
           "receive", "reply"]
log = structlog.get_logger(__name__)
TYPING_SECONDS = 6  # how long "typing…" shows after the last keystroke notice


def provider_actor(channel: str) -> Actor:
    return Actor(username=f"messaging:{channel}", role=None, route=f"messaging {channel}")


def receive(uow: UnitOfWork, policy: PatientPolicy, settings: Settings, inbound: Inbound, *,
            now: datetime | None = None, conversation: Conversation | None = None) -> Message:
    """Keep the message in its thread and act on it: a keyword (SMS), or to an agent. Idempotent on the
    provider's id: a retried webhook returns the message it already delivered and changes nothing."""
    now = now or utcnow()
    if inbound.provider_id:
        seen = repository.by_provider_id(uow.session, inbound.channel, inbound.provider_id)
        if seen is not None:
            return seen
    conversation = conversation or _thread(uow, policy, inbound, now)
    message = Message(id=uuid4(), conversation_id=conversation.id, channel=inbound.channel, direction="inbound",
                      seq=repository.next_seq(uow.session, conversation.id), body=inbound.body, html=inbound.html,
                      subject=inbound.subject, status=Status.received, provider_id=inbound.provider_id,
                      in_reply_to=inbound.references[0] if inbound.references else None,
                      links=list(inbound.links), created_at=now)
    try:
        with uow.session.begin_nested():
            repository.add(uow.session, message)
    except IntegrityError:  # the same provider id delivered twice at the same moment
        seen = repository.by_provider_id(uow.session, inbound.channel, inbound.provider_id or "")
        if seen is None:
            raise
        return seen
    for filename, content_type, data in inbound.attachments:
        repository.add(uow.session, Attachment(message_id=message.id, filename=filename, content_type=content_type,
                                               size=len(data), data=data))
    conversation.last_message_at, conversation.patient_typing_at = now, None
    if inbound.subject and not conversation.subject:
        conversation.subject = inbound.subject
    keyword = rules.keyword_of(inbound.body) if inbound.channel == Channel.sms else None
    if keyword is None or not _answer_keyword(uow, settings, conversation, keyword, now):
        _to_agent(uow, policy, settings, conversation, message, now)
    elif conversation.interaction_id and interactions.is_open(uow, conversation.interaction_id):
        interactions.tell_agent(uow, conversation.interaction_id, "message")
    return message


def _thread(uow: UnitOfWork, policy: PatientPolicy, inbound: Inbound, now: datetime) -> Conversation:
    address = _address(policy, inbound)
    if inbound.channel == Channel.email:
        answered = repository.thread_of_references(uow.session, inbound.references)
        if answered is not None:
            found = repository.conversation(uow.session, answered, for_update=True)
            if found is not None:
                return found
    found = repository.latest_on(uow.session, inbound.channel, address)
    if found is not None:
        return found
    matches = _patients_at(uow, policy, inbound.channel, address)
    language = "en"
    patient_id = matches[0] if len(matches) == 1 else None
    if patient_id:
        language = reach.reach_of(uow, [patient_id])[patient_id].language
    conversation = Conversation(id=uuid4(), channel=inbound.channel, address=address,
                                center_address=inbound.center_address, patient_id=patient_id,
                                candidates=len(matches), language=language, subject=inbound.subject,
                                created_at=now, last_message_at=now)
    repository.add(uow.session, conversation)
    return conversation


def _address(policy: PatientPolicy, inbound: Inbound) -> str:
    if inbound.channel == Channel.sms:
        try:
            return lookup.e164(policy, inbound.address)
        except InvalidPhone:
            return inbound.address.strip()  # a short code or alphanumeric sender: kept as the carrier sent it
    return rules.normalise_email(inbound.address) if inbound.channel == Channel.email else inbound.address


def _patients_at(uow: UnitOfWork, policy: PatientPolicy, channel: str, address: str) -> list[UUID]:
    if channel == Channel.sms and address.startswith("+"):
        return lookup.ids_on_number(uow, policy, address)
    if channel == Channel.email:
        return reach.ids_with_email(uow, address)
    return []


def _answer_keyword(uow: UnitOfWork, settings: Settings, conversation: Conversation,
                    keyword: tuple[Keyword, str], now: datetime) -> bool:
    """Act on STOP, START or HELP. Returns False when the message is better read as words to an agent: a
    "Yes" from someone who never opted out is an answer, not an opt-in."""
    kind, word = keyword
    if kind == Keyword.help:
        _auto_reply(uow, settings, conversation, "help", now)
        return True
    out = kind == Keyword.opt_out
    changed = consent.record(uow, Channel.sms, conversation.address, out=out, source="keyword", detail=word, now=now)
    if changed:  # one confirmation, never one per repeated STOP
        _auto_reply(uow, settings, conversation, "opt_out_confirmation" if out else "opt_in_confirmation", now)
    return out or changed


def _auto_reply(uow: UnitOfWork, settings: Settings, conversation: Conversation, kind: str, now: datetime) -> None:
    # The number they texted is the one to call for help, unless the center named another.
    values = {"help_line": conversation.center_address} if conversation.center_address and not settings.center_phone \
        else {}
    rendered = templates.render(uow, settings, kind, Channel.sms, conversation.language, values)
    outgoing.queue(uow, settings, conversation, body=rendered.body, kind=kind, purpose=Purpose.reply, now=now)


def _to_agent(uow: UnitOfWork, policy: PatientPolicy, settings: Settings, conversation: Conversation,
              message: Message, now: datetime) -> None:
    if conversation.interaction_id and interactions.is_open(uow, conversation.interaction_id):
        interactions.tell_agent(uow, conversation.interaction_id, "message")
        return
    queue = _queue_for(uow, settings, conversation)
    if queue is None:  # kept in its thread all the same; the next message tries again once the queue exists
        log.error("messaging.no_queue", channel=conversation.channel, queue=settings.messaging_queue)
        return
    data = InteractionIn(channel=RoutingChannel(conversation.channel), queue=queue,
                         language=conversation.language if conversation.language in ("en", "es") else "en",
                         address=None if conversation.channel == Channel.chat else conversation.address,
                         external_ref=f"message:{message.id}")
    contact, _ = interactions.create(uow, provider_actor(conversation.channel), policy, data, now=now,
                                     preverified=conversation.preverified or ())
    conversation.interaction_id = contact.id
    if conversation.patient_id:
        # Matched by a machine, not opened by a person: a restricted record (staff, VIP) is matched all the same,
        # and the agent breaks the glass to open it, as for a call from that patient's number.
        interactions.matched_by_machine(uow, contact.id, conversation.patient_id, conversation.preverified or ())


def _queue_for(uow: UnitOfWork, settings: Settings, conversation: Conversation) -> str | None:
    """The Spanish queue for a Spanish speaker when there is one, else the messaging queue, if it exists."""
    wanted = [settings.messaging_queue_es] if conversation.language == "es" and settings.messaging_queue_es else []
    return next((name for name in [*wanted, settings.messaging_queue] if routing_setup.queue_exists(uow, name)), None)


def contact_of(uow: UnitOfWork, conversation_id: UUID) -> UUID | None:
    """The contact a conversation's latest message joined or queued, if any."""
    found = repository.conversation(uow.session, conversation_id)
    return found.interaction_id if found else None


# The agent's side.

def for_contact(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> ConversationRead:
    """The thread behind the contact the actor is answering; an audited read when it is a patient's."""
    interactions.working_on(uow, actor, interaction_id)
    conversation = repository.by_interaction(uow.session, interaction_id)
    if conversation is None:
        raise NotFound("conversation for this contact")
    return _view(uow, actor, conversation)


def reply(uow: UnitOfWork, actor: Actor, settings: Settings, interaction_id: UUID, data: ReplyIn, *,
          now: datetime | None = None) -> ConversationRead:
    now = now or utcnow()
    contact = interactions.working_on(uow, actor, interaction_id)
    conversation = repository.by_interaction(uow.session, interaction_id, for_update=True)
    if conversation is None:
        raise NotFound("conversation for this contact")
    outgoing.refuse_if_opted_out(uow, conversation)
    conversation.agent_typing_at = None
    # Named as the desktop names the agent on the contact; the patient's chat shows only "Agent".
    author = routing_setup.agent(uow, contact.agent_id).name if contact.agent_id else actor.username
    outgoing.queue(uow, settings, conversation, body=data.body, author=author, now=now)
    return _view(uow, actor, conversation)


def agent_typing(uow: UnitOfWork, actor: Actor, interaction_id: UUID, *, now: datetime | None = None) -> None:
    interactions.working_on(uow, actor, interaction_id)
    conversation = repository.by_interaction(uow.session, interaction_id)
    if conversation is not None and conversation.channel == Channel.chat:
        conversation.agent_typing_at = now or utcnow()
        uow.notify(outgoing.CHAT_CHANNEL.format(id=conversation.id), {"type": "typing"})


def _view(uow: UnitOfWork, actor: Actor, conversation: Conversation) -> ConversationRead:
    now = utcnow()
    if conversation.patient_id:
        audit.record(uow, actor, "conversation.viewed", subject_type="conversation", subject_id=conversation.id,
                     patient_id=conversation.patient_id)
    rows = repository.thread(uow.session, conversation.id)
    return ConversationRead(id=conversation.id, channel=conversation.channel, address=conversation.address,
                            patient_id=conversation.patient_id, language=conversation.language,
                            subject=conversation.subject, interaction_id=conversation.interaction_id,
                            opted_out=conversation.channel != Channel.chat
                            and consent.is_opted_out(uow, conversation.channel, conversation.address),
                            patient_typing=_recent(conversation.patient_typing_at, now),
                            messages=messages_read(uow, rows))


def messages_read(uow: UnitOfWork, rows: Sequence[Message]) -> list[MessageRead]:
    files: dict[UUID, list[AttachmentRead]] = {}
    for found in repository.attachments(uow.session, [row.id for row in rows]):
        files.setdefault(found.message_id, []).append(
            AttachmentRead(id=found.id, filename=found.filename, content_type=found.content_type, size=found.size))
    return [MessageRead(id=row.id, seq=row.seq, direction=row.direction, kind=row.kind, author=row.author,
                        subject=row.subject, body=row.body, status=row.status, error=row.error, links=row.links or [],
                        attachments=files.get(row.id, []), created_at=row.created_at, send_after=row.send_after)
            for row in rows]


def _recent(stamp: datetime | None, now: datetime) -> bool:
    return stamp is not None and now - stamp < timedelta(seconds=TYPING_SECONDS)


def attachment(uow: UnitOfWork, actor: Actor, attachment_id: UUID) -> tuple[str, str, bytes]:
    """An attachment of a thread the actor is answering: filename, content type, bytes. Audited."""
    found = repository.attachment(uow.session, attachment_id)
    message = repository.message(uow.session, found.message_id) if found else None
    conversation = repository.conversation(uow.session, message.conversation_id) if message else None
    if found is None or conversation is None or conversation.interaction_id is None:
        raise NotFound("attachment")
    interactions.working_on(uow, actor, conversation.interaction_id)
    audit.record(uow, actor, "conversation.attachment_opened", subject_type="conversation",
                 subject_id=conversation.id, patient_id=conversation.patient_id)
    return found.filename, found.content_type, found.data
