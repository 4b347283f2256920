"""Conversations as lines of the patient's timeline: "SMS conversation · 4 messages · last from the patient".

Read for the 360 view, which has already audited the read; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from careline.db import UnitOfWork
from careline.messaging import repository
from careline.messaging.models import Conversation, Message
from careline.patients.schemas import TimelineItem

HISTORY_LENGTH = 20
CHANNEL_NAMES = {"sms": "SMS", "email": "E-mail", "chat": "Chat"}
GIST = 80  # characters of the latest message shown on the line


def timeline_for(uow: UnitOfWork, patient_id: UUID, *, limit: int = HISTORY_LENGTH) -> list[TimelineItem]:
    """The patient's conversations on every channel, newest first, each with its latest message."""
    conversations = repository.of_patient(uow.session, patient_id, limit=limit)
    return [_item(conversation, repository.thread(uow.session, conversation.id, limit=1))
            for conversation in conversations]


def _item(conversation: Conversation, latest: Sequence[Message]) -> TimelineItem:
    name = CHANNEL_NAMES.get(conversation.channel, conversation.channel)
    title = f"{name} conversation" + (f" · {conversation.subject}" if conversation.subject else "")
    if not latest:
        return TimelineItem(at=conversation.last_message_at, kind="message", title=title)
    last = latest[0]
    who = "the patient" if last.direction == "inbound" else (last.author or "us")
    gist = last.body if len(last.body) <= GIST else last.body[:GIST - 1] + "…"
    return TimelineItem(at=conversation.last_message_at, kind="message", title=title,
                        detail=f"{last.seq} message{'s' if last.seq != 1 else ''} · latest from {who}: “{gist}”")
