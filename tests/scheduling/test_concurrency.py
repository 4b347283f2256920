"""Real threads racing for slots on a committed database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from uuid import UUID

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.actor import Actor, Role
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.scheduling.errors import SlotTaken
from careline.scheduling.models import Appointment, Slot
from careline.scheduling.schemas import BookingIn, SlotSearch
from careline.scheduling.service import booking, slots
from tests.factories.patients import make_patient
from tests.factories.scheduling import Clinic, make_clinic
from tests.support.databases import DatabaseFactory

CLIENTS = 24
SUPERVISOR = Actor(username="sam", role=Role.supervisor)


@pytest.fixture
def committed(databases: DatabaseFactory) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(databases.fresh(), **({} if databases.engine_name == "sqlite"
                                               else {"pool_size": CLIENTS, "max_overflow": 0}))
    yield make_sessionmaker(engine)
    engine.dispose()


def _setup(sessions: sessionmaker[Session]) -> tuple[Clinic, list[UUID], list[UUID]]:
    with UnitOfWork(sessions) as uow:
        clinic = make_clinic(uow, days=30)
        patients = [make_patient(uow, given=f"Racer{n}", family="Concurrent").id for n in range(CLIENTS)]
        options = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, limit=CLIENTS), zone=None)
        uow.commit()
    return clinic, patients, [option.slot_id for option in options]


def _race(sessions: sessionmaker[Session], clinic: Clinic, requests: list[tuple[UUID, UUID]]) -> list[str]:
    start = Barrier(len(requests))

    def attempt(patient_id: UUID, slot_id: UUID) -> str:
        start.wait()
        with UnitOfWork(sessions) as uow:
            try:
                booking.book(uow, SUPERVISOR, BookingIn(patient_id=patient_id, slot_id=slot_id,
                                                        visit_type_id=clinic.annual_id))
            except SlotTaken:
                return "taken"
            uow.commit()
            return "booked"

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(lambda request: attempt(*request), requests))


def _live_appointments(sessions: sessionmaker[Session]) -> dict[UUID, int]:
    with sessions() as session:
        rows = session.execute(select(Appointment.slot_id, func.count()).where(Appointment.status != "cancelled")
                               .group_by(Appointment.slot_id))
        return {row[0]: row[1] for row in rows}


def test_many_clients_racing_for_one_slot_give_exactly_one_booking(committed: sessionmaker[Session]) -> None:
    clinic, patients, slot_ids = _setup(committed)
    outcomes = _race(committed, clinic, [(patient, slot_ids[0]) for patient in patients])
    assert sorted(outcomes).count("booked") == 1
    assert outcomes.count("taken") == CLIENTS - 1
    assert _live_appointments(committed) == {slot_ids[0]: 1}


def test_many_clients_on_different_slots_all_book(committed: sessionmaker[Session]) -> None:
    clinic, patients, slot_ids = _setup(committed)
    outcomes = _race(committed, clinic, list(zip(patients, slot_ids, strict=True)))
    assert outcomes == ["booked"] * CLIENTS
    assert _live_appointments(committed) == dict.fromkeys(slot_ids, 1)
    with committed() as session:
        busy = session.scalar(select(func.count()).select_from(Slot).where(Slot.status == "busy"))
    assert busy == CLIENTS
