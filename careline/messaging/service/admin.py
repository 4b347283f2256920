"""What admins see of the sending side: the outbox (counts, given-up rows, re-drive) and the local sink's messages.

The outbox belongs to the worker; admins reach it here so that a re-drive is audited like any other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.integrations import sink
from careline.settings import Settings
from careline.worker import repository as outbox

DEAD_SHOWN = 200
KIND_NAMES = {"message.send": "Texts and e-mails"}


class OutboxCount(BaseModel):
    kind: str
    status: str  # pending | sent | dead
    rows: int


class DeadRow(BaseModel):
    id: UUID
    kind: str
    error: str | None
    attempts: int
    created_at: datetime
    given_up_for: float  # seconds since it was written, or since an admin last sent it again


class OutboxRead(BaseModel):
    counts: list[OutboxCount]
    dead: list[DeadRow]


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[UUID] = Field(default_factory=list, max_length=1000)
    kind: str | None = Field(default=None, max_length=60)  # every given-up row of this kind


class Redriven(BaseModel):
    redriven: int


class SentMessage(BaseModel):
    key: str
    channel: str
    to: str
    sender: str | None
    subject: str | None
    body: str
    at: datetime
    repeats: int


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def outbox_state(uow: UnitOfWork, *, kind: str | None = None, now: datetime | None = None) -> OutboxRead:
    now = now or utcnow()
    rows = outbox.dead(uow.session, kind=kind, limit=DEAD_SHOWN)
    return OutboxRead(
        counts=[OutboxCount(kind=k, status=s, rows=n) for k, s, n in outbox.counts(uow.session)],
        dead=[DeadRow(id=row.id, kind=row.kind, error=row.last_error, attempts=row.attempts,
                      created_at=row.created_at,
                      given_up_for=(now - (row.redriven_at or row.created_at)).total_seconds()) for row in rows])


def redrive(uow: UnitOfWork, actor: Actor, data: RedriveIn, *, now: datetime | None = None) -> Redriven:
    """Send given-up rows again: the ones named, or every one of ``data.kind``. Rows not given up are left alone."""
    now = now or utcnow()
    ids: Sequence[UUID] = data.ids
    if data.kind:
        ids = [*ids, *(row.id for row in outbox.of_kind(uow.session, data.kind, status="dead"))]
    count = outbox.redrive(uow.session, list(dict.fromkeys(ids)), now) if ids else 0
    audit.record(uow, actor, "outbox.redriven", subject_type="outbox",
                 details={"rows": count, "kind": data.kind, "named": len(data.ids)})
    return Redriven(redriven=count)


def sent_messages(uow: UnitOfWork, actor: Actor, *, channel: str | None = None) -> list[SentMessage]:
    """What the local sink took, newest first: it stands in for the providers, so admins read it to check.
    Audited: the messages hold patients' numbers and words."""
    audit.record(uow, actor, "sent_messages.viewed", subject_type="sink", details={"channel": channel})
    return [SentMessage(key=row.key, channel=row.channel, to=row.to, sender=row.sender, subject=row.subject,
                        body=row.body, at=row.at, repeats=row.repeats)
            for row in sink.recent(uow.session, channel=channel)]


def sink_file(settings: Settings) -> Path:
    return settings.effective_sink_file
