"""The web chat's patient side: a browser starts a chat, writes, reads the agent's answers, may say who it is,
may have the chat e-mailed, and ends it.

The widget holds a random token; only its SHA-256 is stored, so the database alone cannot speak for a patient.
The first line queues a chat contact in the routing engine (``threads.receive``); an agent answers from the
desktop with ``threads.reply``. Whatever the patient types, the answers never say whether a record matched.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from careline.db import UnitOfWork, utcnow
from careline.messaging import repository, rules
from careline.messaging.errors import Blocked, ChatClosed, InvalidMessage, NotFound, TooManyTries
from careline.messaging.models import Conversation, Message
from careline.messaging.rules import Channel, Purpose
from careline.messaging.schemas import ChatLine, ChatNews, ChatWho
from careline.messaging.service import outgoing, templates, threads
from careline.patients.policy import PatientPolicy
from careline.patients.service import reach
from careline.routing.service import interactions
from careline.settings import Settings

MAX_IDENTIFY_TRIES = 3
MAX_TRANSCRIPTS = 3  # e-mails one chat may ask for: a typo gets a second go, a spammer gets nothing much
CHAT_IDENTIFIERS = frozenset({"name", "birth_date"})  # what "Tell us who you are" asks for
START_BUCKET = "chat-start:"
START_WINDOWS_KEPT = 120  # seconds of chat-start counts kept: the minute being counted and the one before


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(uow: UnitOfWork, language: str, *, visitor: str | None = None, per_minute: int = 0,
          now: datetime | None = None) -> tuple[str, UUID]:
    """A new anonymous chat: its token (shown once, to the browser) and its conversation's id.

    One ``visitor`` (``visitor_key``) may start ``per_minute`` chats a calendar minute
    (``CARELINE_CHAT_STARTS_PER_MINUTE``), so a script cannot flood the queue with empty chats. The count is kept
    in the database: every app node shares it."""
    now = now or utcnow()
    if visitor and per_minute:
        _count_start(uow, visitor, per_minute, now)
    token, conversation_id = secrets.token_urlsafe(32), uuid4()
    repository.add(uow.session, Conversation(id=conversation_id, channel=Channel.chat,
                                             address=f"chat:{conversation_id}", language=language,
                                             token_hash=_digest(token), created_at=now, last_message_at=now))
    return token, conversation_id


def visitor_key(settings: Settings, client_address: str) -> str:
    """What tells one visitor from another for the limit on chat starts, without keeping their address: an HMAC
    under the center's secret (a plain hash of an IPv4 address is undone by trying them all). An IPv6 visitor
    is their /64, which one household or phone holds whole."""
    try:
        ip = ipaddress.ip_address(client_address)
    except ValueError:
        network = client_address
    else:
        network = str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
    key = ("careline-chat-visitor:" + settings.effective_secret_key).encode()  # this use's own key
    return hmac.new(key, network.encode(), hashlib.sha256).hexdigest()[:32]


def _count_start(uow: UnitOfWork, visitor: str, limit: int, now: datetime) -> None:
    minute = int(now.timestamp()) // 60 * 60
    repository.forget_rates_before(uow.session, minute - START_WINDOWS_KEPT, prefix=START_BUCKET)
    bucket = START_BUCKET + visitor
    if repository.take_rate(uow.session, [bucket], minute, 1)[bucket] > limit:
        raise TooManyTries("Too many chats were started from here just now. Please try again in a minute.")


def _chat(uow: UnitOfWork, token: str, *, for_update: bool = False) -> Conversation:
    found = repository.by_token(uow.session, _digest(token), for_update=for_update)
    if found is None:
        raise NotFound("chat")
    return found


def _ended(uow: UnitOfWork, conversation: Conversation) -> bool:
    return conversation.interaction_id is not None and not interactions.is_open(uow, conversation.interaction_id)


def _open_chat(uow: UnitOfWork, token: str, *, for_update: bool = False) -> Conversation:
    conversation = _chat(uow, token, for_update=for_update)
    if _ended(uow, conversation):
        raise ChatClosed()
    return conversation


def say(uow: UnitOfWork, policy: PatientPolicy, settings: Settings, token: str, body: str, *,
        line_id: str | None = None, now: datetime | None = None) -> ChatLine:
    """The patient's line: kept in the thread and brought to an agent (a new chat contact on the first).

    Sent again with the same ``line_id`` (the widget retrying after a lost answer), it is the line kept the first
    time: the thread and the agent see it once."""
    text = body.strip()
    if not text:
        raise InvalidMessage("body", "Write something to send.")
    conversation = _open_chat(uow, token, for_update=True)
    provider_id = f"{conversation.id}:{line_id}" if line_id else None  # unique per chat, not across chats
    inbound = threads.Inbound(channel=Channel.chat, address=conversation.address, body=text, provider_id=provider_id)
    kept = threads.receive(uow, policy, settings, inbound, now=now, conversation=conversation)
    if kept.body != text:  # the id was kept before with other words: receive changed nothing, and says so here
        raise InvalidMessage("line_id", "This line_id was already used for another line.")
    return _line(kept)


def news(uow: UnitOfWork, token: str, after_seq: int, *, now: datetime | None = None) -> ChatNews:
    """What the widget shows since its last look: new lines, whether the agent is typing, whether it is over."""
    now = now or utcnow()
    conversation = _chat(uow, token)
    typing_at = conversation.agent_typing_at
    return ChatNews(lines=[_line(row) for row in repository.thread(uow.session, conversation.id, after=after_seq)],
                    agent_typing=typing_at is not None and now - typing_at < timedelta(seconds=threads.TYPING_SECONDS),
                    ended=_ended(uow, conversation))


def _line(message: Message) -> ChatLine:
    # Agents show as "Agent": their user names are the center's business, not the patient's.
    inbound = message.direction == "inbound"
    return ChatLine(seq=message.seq, from_patient=inbound, author=None if inbound else "Agent", body=message.body,
                    at=message.created_at)


def typing(uow: UnitOfWork, token: str, *, now: datetime | None = None) -> None:
    conversation = _open_chat(uow, token)
    conversation.patient_typing_at = now or utcnow()
    if conversation.interaction_id is not None:
        interactions.tell_agent(uow, conversation.interaction_id, "typing")


def identify(uow: UnitOfWork, policy: PatientPolicy, token: str, who: ChatWho) -> None:
    """Match the chat to the one active patient with this name and birth date, if there is exactly one.

    Says nothing either way (the caller answers "an agent will confirm"), and allows a few tries only, so the
    chat cannot be used to find out who is a patient here. What matched counts as the identifiers proved,
    among those the center verifies by (``policy.identifiers``).
    """
    conversation = _open_chat(uow, token, for_update=True)
    if conversation.identify_tries >= MAX_IDENTIFY_TRIES:
        raise TooManyTries()
    conversation.identify_tries += 1
    found = reach.ids_named(uow, who.name, who.birth_date)
    if len(found) != 1:
        return
    conversation.patient_id, conversation.candidates = found[0], 1
    conversation.preverified = [name for name in policy.identifiers if name in CHAT_IDENTIFIERS]
    if conversation.interaction_id is not None:
        interactions.matched_by_machine(uow, conversation.interaction_id, found[0], conversation.preverified)


def transcript(uow: UnitOfWork, settings: Settings, token: str, email: str, *, now: datetime | None = None) -> None:
    """E-mail the chat so far to the address given, through the outbox like any e-mail (a thread of its own)."""
    now = now or utcnow()
    conversation = _chat(uow, token, for_update=True)
    origin = conversation.address  # the e-mail threads remember the chat they came from: the count below
    if repository.count_from(uow.session, Channel.email, origin) >= MAX_TRANSCRIPTS:
        raise TooManyTries(f"This chat was already e-mailed {MAX_TRANSCRIPTS} times.")
    lines = repository.thread(uow.session, conversation.id)
    if not any(line.direction == "outbound" for line in lines):  # else anyone could mail anything to anyone
        raise Blocked("The chat can be e-mailed once an agent has answered.")
    rendered = templates.render(uow, settings, "chat_transcript", Channel.email, conversation.language,
                                {"transcript": _transcript_text(lines, conversation.language),
                                 "when": f"{conversation.created_at:%Y-%m-%d %H:%M} UTC"})
    thread = Conversation(id=uuid4(), channel=Channel.email, address=rules.normalise_email(email),
                          center_address=origin, patient_id=conversation.patient_id,
                          candidates=1 if conversation.patient_id else 0, language=conversation.language,
                          subject=rendered.subject, created_at=now, last_message_at=now)
    repository.add(uow.session, thread)
    outgoing.queue(uow, settings, thread, body=rendered.body, subject=rendered.subject, kind="chat_transcript",
                   purpose=Purpose.reply, now=now)


_WHO = {"en": ("You", "Agent"), "es": ("Usted", "Agente")}


def _transcript_text(lines: Sequence[Message], language: str) -> str:
    you, agent = _WHO.get(language, _WHO["en"])
    return "\n".join(f"[{row.created_at:%H:%M}] {you if row.direction == 'inbound' else agent}: {row.body}"
                     for row in lines)


def end(uow: UnitOfWork, token: str, *, now: datetime | None = None) -> None:
    """The patient leaves: a contact still waiting is abandoned; one being answered goes to wrap-up. A chat
    with no line yet is simply forgotten."""
    conversation = _chat(uow, token, for_update=True)
    if conversation.interaction_id is None:
        conversation.token_hash = None
        return
    interactions.end(uow, threads.provider_actor(Channel.chat), conversation.interaction_id, now=now)
