"""Writing, checking and searching the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from careline.actor import Actor
from careline.audit import repository, rules
from careline.audit.errors import AuditUnavailable
from careline.audit.schemas import AuditEntryRead, AuditFilter, AuditPage, ChainReport
from careline.db import UnitOfWork, utcnow


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    *,
    outcome: str = "success",
    subject_type: str | None = None,
    subject_id: object | None = None,
    patient_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction, so it commits or rolls back with the change.

    The row is flushed before returning: an audited read calls this *before* handing data out, and
    raises AuditUnavailable (returning nothing) when the entry cannot be written. ``details`` must not
    hold PHI; name the record by id instead.
    """
    try:
        repository.lock_chain(uow.session)
        previous = repository.head(uow.session)
        fields: dict[str, Any] = {
            "seq": previous[0] + 1 if previous else 1,
            "occurred_at": utcnow(),
            "actor_user_id": actor.user_id,
            "actor_username": actor.username,
            "actor_role": actor.role.value if actor.role else None,
            "action": action,
            "outcome": outcome,
            "subject_type": subject_type,
            "subject_id": str(subject_id) if subject_id is not None else None,
            "patient_id": str(patient_id) if patient_id is not None else None,
            "route": actor.route,
            "ip": actor.ip,
            "details": details or {},
            "prev_hash": previous[1] if previous else rules.GENESIS_HASH,
        }
        repository.add(uow.session, fields | {"hash": rules.entry_hash(fields)})
    except SQLAlchemyError as error:
        raise AuditUnavailable(action) from error


def verify_chain(uow: UnitOfWork, *, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Walk the whole trail in order; report the first entry that was altered, removed or re-linked."""
    expected_prev, checked, last_hash = rules.GENESIS_HASH, 0, None
    for entry in repository.iter_in_order(uow.session):
        fields = {column: getattr(entry, column) for column in (*rules.CHAINED_FIELDS, "hash")}
        problem = rules.chain_break(fields, expected_seq=checked + 1, expected_prev=expected_prev)
        if problem:
            return ChainReport(
                ok=False, entries_checked=checked, head_seq=None, head_hash=None, problem=problem
            )
        checked, expected_prev, last_hash = checked + 1, entry.hash, entry.hash
        if progress and checked % 1000 == 0:
            progress(checked)
    return ChainReport(ok=True, entries_checked=checked, head_seq=checked or None, head_hash=last_hash)


def search(uow: UnitOfWork, actor: Actor, criteria: AuditFilter) -> AuditPage:
    """Search the trail. Reading the trail is itself audited: it names patients by id."""
    record(uow, actor, "audit.searched", details=criteria.model_dump(mode="json", exclude_defaults=True))
    rows = repository.search(uow.session, criteria)
    return AuditPage(
        entries=[AuditEntryRead.model_validate(row) for row in rows[: criteria.per_page]],
        page=criteria.page,
        per_page=criteria.per_page,
        has_next=len(rows) > criteria.per_page,
    )


def count_entries(uow: UnitOfWork) -> int:
    return repository.count(uow.session)
