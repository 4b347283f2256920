"""The agent's desktop view of a thread: the conversation and, when the patient opted out, when and how."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.messaging.schemas import ConversationRead
from careline.messaging.service import consent, threads


class OptOutRead(BaseModel):
    at: datetime
    source: str  # keyword | carrier | agent | admin
    detail: str | None  # the keyword, or the carrier's error code


class DeskThread(BaseModel):
    conversation: ConversationRead
    opt_out: OptOutRead | None
    waiting: bool  # a message of ours is still on its way: the desktop looks again shortly


def thread_of(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> DeskThread:
    conversation = threads.for_contact(uow, actor, interaction_id)
    event = None
    if conversation.opted_out:
        event = consent.opted_out(uow, conversation.channel, [conversation.address]).get(conversation.address)
    return DeskThread(conversation=conversation,
                      opt_out=OptOutRead(at=event.at, source=event.source, detail=event.detail) if event else None,
                      waiting=any(m.status in ("queued", "held", "sending") for m in conversation.messages))
