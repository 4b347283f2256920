"""Telephony storage: numbers, and calls found by the provider's id (inserted once, however often retried)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from careline.db.upsert import insert_into
from careline.telephony.models import Call, PhoneNumber

Model = TypeVar("Model", Call, PhoneNumber)


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def get(session: Session, model: type[Model], row_id: UUID, *, for_update: bool = False) -> Model | None:
    return session.get(model, row_id, with_for_update=for_update or None)


def number(session: Session, e164: str) -> PhoneNumber | None:
    return session.scalar(select(PhoneNumber).where(PhoneNumber.number == e164))


def numbers(session: Session) -> Sequence[PhoneNumber]:
    return session.scalars(select(PhoneNumber).order_by(PhoneNumber.number)).all()


def insert_call_once(session: Session, values: dict[str, Any]) -> bool:
    """Insert the call unless the provider's id is already known; True if this insert made it."""
    # RETURNING, not rowcount: PostgreSQL's driver reports -1 for an INSERT .. ON CONFLICT here, even a skipped one.
    result = session.execute(
        insert_into(session, Call)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider", "provider_sid"])
        .returning(Call.id)
    )
    return result.first() is not None


def call_by_sid(session: Session, provider: str, sid: str, *, for_update: bool = False) -> Call | None:
    query = select(Call).where(Call.provider == provider, Call.provider_sid == sid)
    return session.scalar(query.with_for_update() if for_update else query)


def call_of_interaction(session: Session, interaction_id: UUID, *, for_update: bool = False) -> Call | None:
    query = select(Call).where(Call.interaction_id == interaction_id).order_by(Call.created_at.desc()).limit(1)
    return session.scalar(query.with_for_update() if for_update else query)


def calls_of_interaction(session: Session, interaction_id: UUID) -> Sequence[Call]:
    return session.scalars(select(Call).where(Call.interaction_id == interaction_id).order_by(Call.created_at)).all()
