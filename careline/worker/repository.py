"""Outbox storage: add once per key, lease due rows (SKIP LOCKED on PostgreSQL), settle them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from careline.db.upsert import insert_into
from careline.worker.models import OutboxMessage


def add(session: Session, row: dict[str, Any]) -> None:
    """Insert unless a row with the same key exists (the same side effect asked for twice)."""
    session.execute(insert_into(session, OutboxMessage).values(**row).on_conflict_do_nothing(index_elements=["key"]))


def lease_due(session: Session, now: datetime, *, limit: int, lease: timedelta, token: UUID) -> list[OutboxMessage]:
    """Due rows, oldest first, each pushed ``lease`` into the future and counted as an attempt, in one statement.

    On PostgreSQL rows another dispatcher is leasing are skipped, not waited for; SQLite has one writer.
    """
    due = (select(OutboxMessage.id)
           .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
           .order_by(OutboxMessage.due_at)
           .limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    leased = (update(OutboxMessage)
              .where(OutboxMessage.id.in_(due.scalar_subquery()))
              .values(due_at=now + lease, attempts=OutboxMessage.attempts + 1, lease_token=token)
              .returning(OutboxMessage)
              .execution_options(synchronize_session=False, populate_existing=True))
    return sorted(session.scalars(leased), key=lambda row: row.created_at)


def _held(message_ids: Sequence[UUID], token: UUID) -> Any:
    """The rows still pending under this lease: settling anything else would undo another dispatcher's work."""
    return (update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "pending",
                   OutboxMessage.lease_token == token))


def mark_sent(session: Session, message_ids: Sequence[UUID], token: UUID, now: datetime) -> None:
    if message_ids:
        session.execute(_held(message_ids, token).values(status="sent", sent_at=now, last_error=None))


def postpone(session: Session, message_id: UUID, token: UUID, due_at: datetime, reason: str) -> None:
    """Due again at ``due_at``, and the lease's attempt given back: waiting is not failing."""
    session.execute(_held([message_id], token).values(due_at=due_at, attempts=OutboxMessage.attempts - 1,
                                                       last_error=reason[:300]))


def retry_at(session: Session, message_id: UUID, token: UUID, due_at: datetime, error: str) -> None:
    session.execute(_held([message_id], token).values(due_at=due_at, last_error=error[:300]))


def give_up(session: Session, message_id: UUID, token: UUID, error: str, *, in_doubt: bool = False) -> bool:
    """Returns whether it was this lease's to give up."""
    result = session.execute(_held([message_id], token).values(status="dead", last_error=error[:300],
                                                                in_doubt=in_doubt))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def extend_lease(session: Session, message_ids: Sequence[UUID], token: UUID, until: datetime) -> None:
    """Keep rows a slow batch still works on from coming due for another dispatcher."""
    if message_ids:
        session.execute(_held(message_ids, token).values(due_at=until))


def redrive(session: Session, message_ids: Sequence[UUID], now: datetime) -> int:
    """Given-up rows pending again, due now, with a fresh count of attempts and a fresh age."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "dead")
        .values(status="pending", attempts=0, due_at=now, redriven_at=now, in_doubt=False, lease_token=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def dead(session: Session, *, kind: str | None = None, limit: int) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.status == "dead")
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return session.scalars(query.order_by(OutboxMessage.created_at.desc()).limit(limit)).all()


def counts(session: Session) -> list[tuple[str, str, int]]:
    """(kind, status, rows) for every kind and status present."""
    query = (
        select(OutboxMessage.kind, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.kind, OutboxMessage.status)
        .order_by(OutboxMessage.kind, OutboxMessage.status)
    )
    return [(kind, status, int(rows)) for kind, status, rows in session.execute(query)]


def of_kind(session: Session, kind: str, *, status: str | None = None) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == kind)
    if status:
        query = query.where(OutboxMessage.status == status)
    return session.scalars(query.order_by(OutboxMessage.created_at)).all()
