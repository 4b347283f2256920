"""What admins see of the outbox: counts, given-up rows, and sending them again (audited)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.worker import repository

DEAD_SHOWN = 200
KIND_NAMES = {"message.send": "Texts and e-mails", "interaction.voice_changed": "Call control",
              "call.place": "Calls placed"}


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
    in_doubt: bool  # it may have been sent: re-driven only one by one


class OutboxRead(BaseModel):
    counts: list[OutboxCount]
    dead: list[DeadRow]


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[UUID] = Field(default_factory=list, max_length=1000)
    kind: str | None = Field(default=None, max_length=60)  # every given-up row of this kind not in doubt


class Redriven(BaseModel):
    redriven: int


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def outbox_state(uow: UnitOfWork, *, kind: str | None = None, now: datetime | None = None) -> OutboxRead:
    now = now or utcnow()
    rows = repository.dead(uow.session, kind=kind, limit=DEAD_SHOWN)
    return OutboxRead(
        counts=[OutboxCount(kind=k, status=s, rows=n) for k, s, n in repository.counts(uow.session)],
        dead=[DeadRow(id=row.id, kind=row.kind, error=row.last_error, attempts=row.attempts,
                      created_at=row.created_at, in_doubt=row.in_doubt,
                      given_up_for=(now - (row.redriven_at or row.created_at)).total_seconds()) for row in rows])


def redrive(uow: UnitOfWork, actor: Actor, data: RedriveIn, *, now: datetime | None = None) -> Redriven:
    """Send given-up rows again: the ones named, or every one of ``data.kind`` that certainly did not go (one
    that may have gone is sent again only when named). Rows not given up are left alone."""
    now = now or utcnow()
    ids: Sequence[UUID] = data.ids
    if data.kind:
        ids = [*ids, *(row.id for row in repository.of_kind(uow.session, data.kind, status="dead")
                       if not row.in_doubt)]
    count = repository.redrive(uow.session, list(dict.fromkeys(ids)), now) if ids else 0
    audit.record(uow, actor, "outbox.redriven", subject_type="outbox",
                 details={"rows": count, "kind": data.kind, "named": len(data.ids)})
    return Redriven(redriven=count)
