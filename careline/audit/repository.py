"""Every query on audit_log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, insert, select, text
from sqlalchemy.orm import Session

from careline.audit.models import AuditEntry
from careline.audit.schemas import AuditFilter

# Arbitrary constant naming "the audit chain" among PostgreSQL advisory locks.
_CHAIN_LOCK_KEY = 0x43A1D17


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def lock_chain(session: Session) -> None:
    """Serialise appends until the transaction ends, so two writers never extend the same head.

    SQLite needs nothing here: every transaction there starts with BEGIN IMMEDIATE (see db.engine).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": _CHAIN_LOCK_KEY})


# Built once: these run on every audited request, and building a statement costs more than running it.
_HEAD = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
_APPEND = insert(AuditEntry.metadata.tables[AuditEntry.__tablename__])


def head(session: Session) -> tuple[int, str] | None:
    """Position and hash of the newest entry."""
    row = session.execute(_HEAD).first()
    return (row.seq, row.hash) if row else None


def add(session: Session, fields: dict[str, Any]) -> None:
    session.execute(_APPEND, fields)


def iter_in_order(session: Session, *, batch_size: int = 5_000) -> Iterator[AuditEntry]:
    """Every entry by seq, in keyset batches so a long trail never sits in memory at once."""
    after = 0
    while True:
        batch = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].seq
        session.expunge_all()


def count(session: Session) -> int:
    last = head(session)
    return last[0] if last else 0


def search(session: Session, criteria: AuditFilter) -> list[AuditEntry]:
    """Newest first; fetches one row more than a page so the caller knows whether there is a next page."""
    query = _filtered(select(AuditEntry), criteria).order_by(AuditEntry.seq.desc())
    offset = (criteria.page - 1) * criteria.per_page
    return list(session.scalars(query.offset(offset).limit(criteria.per_page + 1)))


def _filtered(query: Select[tuple[AuditEntry]], criteria: AuditFilter) -> Select[tuple[AuditEntry]]:
    exact = {
        AuditEntry.actor_username: criteria.actor,
        AuditEntry.action: criteria.action,
        AuditEntry.patient_id: criteria.patient_id,
        AuditEntry.subject_id: criteria.subject_id,
        AuditEntry.outcome: criteria.outcome,
    }
    for column, value in exact.items():
        if value:
            query = query.where(column == value)
    if criteria.since:
        query = query.where(AuditEntry.occurred_at >= datetime.combine(criteria.since, time(), UTC))
    if criteria.until:
        end = datetime.combine(criteria.until + timedelta(days=1), time(), UTC)
        query = query.where(AuditEntry.occurred_at < end)
    return query
