"""Outbox storage: add once per key, lease due rows (SKIP LOCKED on PostgreSQL), settle them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from careline.worker.models import OutboxMessage


def add(session: Session, row: dict[str, Any]) -> None:
    """Insert unless a row with the same key exists (the same side effect asked for twice)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(OutboxMessage).values(**row).on_conflict_do_nothing(index_elements=["key"]))


def lease_due(session: Session, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxMessage]:
    """Due rows, oldest first, each pushed ``lease`` into the future and counted as an attempt.

    On PostgreSQL rows another dispatcher is leasing are skipped, not waited for; SQLite has one writer.
    """
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
        .order_by(OutboxMessage.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.due_at, row.attempts = now + lease, row.attempts + 1
    return rows


def mark_sent(session: Session, message_id: UUID, now: datetime) -> None:
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(status="sent", sent_at=now, last_error=None)
    )


def retry_at(session: Session, message_id: UUID, due_at: datetime, error: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
        .values(due_at=due_at, last_error=error[:300])
    )


def give_up(session: Session, message_id: UUID, error: str) -> None:
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(status="dead", last_error=error[:300])
    )


def of_kind(session: Session, kind: str, *, status: str | None = None) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == kind)
    if status:
        query = query.where(OutboxMessage.status == status)
    return session.scalars(query.order_by(OutboxMessage.created_at)).all()
