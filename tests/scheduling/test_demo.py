"""The scheduling demo: a believable book of appointments that keeps the booking invariants, the same for a seed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.patients.demo import generate_population
from careline.patients.models import Patient
from careline.scheduling.demo import ScheduleStats, demo_patients, generate_schedule
from careline.scheduling.demo.fill import ONCE_A_YEAR
from careline.scheduling.models import (
    Appointment,
    AppointmentEvent,
    Order,
    Provider,
    Resource,
    Schedule,
    Site,
    Slot,
    VisitType,
)
from tests.support.databases import DatabaseFactory

SEED = 7
PATIENTS = 300
PROVIDERS = 8
DAYS = 35


def _generate(uow: UnitOfWork, now: datetime) -> ScheduleStats:
    generate_population(uow.session, patients=PATIENTS, seed=SEED, now=now, history=False)
    return generate_schedule(uow, patients=demo_patients(uow.session), seed=SEED, providers=PROVIDERS, days=DAYS,
                             now=now)


@dataclass(frozen=True)
class Demo:
    sessions: sessionmaker[Session]
    stats: ScheduleStats
    now: datetime


@pytest.fixture(scope="module")
def demo(databases: DatabaseFactory) -> Iterator[Demo]:
    """One generated book per engine, committed: the tests below only read it."""
    engine = make_engine(databases.fresh())
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with UnitOfWork(sessions) as uow:
        stats = _generate(uow, now)
        uow.commit()
    yield Demo(sessions, stats, now)
    engine.dispose()


@pytest.fixture
def stats(demo: Demo) -> ScheduleStats:
    return demo.stats


@pytest.fixture
def uow(demo: Demo) -> Iterator[UnitOfWork]:
    with UnitOfWork(demo.sessions) as uow:
        yield uow


def _count(uow: UnitOfWork, *where: object, model: type = Appointment) -> int:
    return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


class TestCatalogue:
    def test_three_sites_providers_machines_and_visit_types(self, uow: UnitOfWork, stats: ScheduleStats) -> None:
        assert (stats.sites, stats.providers) == (3, PROVIDERS)
        assert _count(uow, model=Site) == 3
        assert _count(uow, model=Provider) == PROVIDERS
        assert _count(uow, Schedule.resource_id.is_not(None), model=Schedule) == stats.resources > 0
        mammogram = uow.session.scalars(select(VisitType).where(VisitType.code == "screening-mammogram")).one()
        assert mammogram.requires_order
        assert mammogram.resource_kind == "mammography"

    def test_orders_on_file_let_agents_book_mammograms(self, uow: UnitOfWork, stats: ScheduleStats) -> None:
        unbooked = (select(func.count()).select_from(Order).join(VisitType, VisitType.id == Order.visit_type_id)
                    .where(VisitType.code == "screening-mammogram", Order.status == "active",
                           ~select(Appointment.id).where(Appointment.order_id == Order.id).exists()))
        assert (uow.session.scalar(unbooked) or 0) > 0


class TestFill:
    def test_the_next_weeks_are_60_to_85_percent_booked(self, uow: UnitOfWork, demo: Demo) -> None:
        stats, horizon = demo.stats, demo.now + timedelta(days=21)
        near = _count(uow, Slot.starts_at < horizon, model=Slot)
        busy = _count(uow, Slot.starts_at < horizon, Slot.status == "busy", model=Slot)
        assert near > 500
        assert 0.60 <= busy / near <= 0.85
        assert 0.60 <= stats.near_fill <= 0.85
        later = _count(uow, Slot.starts_at >= horizon, model=Slot)
        assert _count(uow, Slot.starts_at >= horizon, Slot.status == "busy", model=Slot) < 0.5 * later

    def test_no_patient_is_double_booked_or_booked_twice_for_a_yearly_visit(
            self, uow: UnitOfWork, stats: ScheduleStats) -> None:
        live = uow.session.execute(select(Appointment.patient_id, Appointment.starts_at, Appointment.ends_at,
                                          VisitType.code).join(VisitType, VisitType.id == Appointment.visit_type_id)
                                   .where(Appointment.status == "booked")
                                   .order_by(Appointment.patient_id, Appointment.starts_at)).all()
        assert all(a.patient_id != b.patient_id or a.ends_at <= b.starts_at for a, b in pairwise(live))
        yearly = [(row.patient_id, row.code) for row in live if row.code in ONCE_A_YEAR]
        assert len(yearly) == len(set(yearly))

    def test_busy_slots_are_exactly_those_with_a_live_appointment(self, uow: UnitOfWork, stats: ScheduleStats) -> None:
        busy = set(uow.session.scalars(select(Slot.id).where(Slot.status == "busy")))
        live = list(uow.session.scalars(select(Appointment.slot_id).where(Appointment.status != "cancelled")))
        assert busy == set(live)
        assert len(live) == len(set(live))  # no slot holds two live appointments

    def test_appointments_match_their_slots_and_have_a_timeline(self, uow: UnitOfWork, stats: ScheduleStats) -> None:
        mismatched = (select(func.count()).select_from(Appointment).join(Slot, Slot.id == Appointment.slot_id)
                      .where((Slot.starts_at != Appointment.starts_at) | (Slot.schedule_id != Appointment.schedule_id)))
        assert uow.session.scalar(mismatched) == 0
        appointments = _count(uow)
        assert appointments == stats.appointments
        assert _count(uow, AppointmentEvent.kind == "booked", model=AppointmentEvent) == appointments
        cancelled = _count(uow, Appointment.status == "cancelled")
        assert 0 < cancelled == _count(uow, AppointmentEvent.kind == "cancelled", model=AppointmentEvent)
        channels = set(uow.session.scalars(select(Appointment.channel).distinct()))
        assert {"agent", "sms", "web"} <= channels

    def test_only_active_patients_are_booked(self, uow: UnitOfWork, stats: ScheduleStats) -> None:
        booked = select(Patient.status).join(Appointment, Appointment.patient_id == Patient.id)
        statuses = set(uow.session.scalars(booked))
        assert statuses == {"active"}
        assert _count(uow, Patient.status == "deceased", model=Patient) > 0  # there were some to leave out

    def test_tests_that_need_an_order_have_one(self, uow: UnitOfWork, stats: ScheduleStats) -> None:
        without = (select(func.count()).select_from(Appointment)
                   .join(VisitType, VisitType.id == Appointment.visit_type_id)
                   .where(VisitType.requires_order, Appointment.order_id.is_(None)))
        assert uow.session.scalar(without) == 0


def _book(uow: UnitOfWork) -> list[tuple[object, ...]]:
    query = (select(Site.code, func.coalesce(Provider.npi, Resource.name), Slot.starts_at,
                    Appointment.patient_id, VisitType.code, Appointment.status, Appointment.channel)
             .join(Slot, Slot.id == Appointment.slot_id).join(Schedule, Schedule.id == Slot.schedule_id)
             .join(Site, Site.id == Schedule.site_id)
             .outerjoin(Provider, Provider.id == Schedule.provider_id)
             .outerjoin(Resource, Resource.id == Schedule.resource_id)
             .join(VisitType, VisitType.id == Appointment.visit_type_id))
    return sorted(tuple(row) for row in uow.session.execute(query))


def test_the_same_seed_books_the_same_patients_in_the_same_slots(
        demo: Demo, uow: UnitOfWork, databases: DatabaseFactory) -> None:
    engine = make_engine(databases.fresh())
    try:
        with UnitOfWork(make_sessionmaker(engine)) as again:
            _generate(again, demo.now)
            again.commit()
            second = _book(again)
    finally:
        engine.dispose()
    first = _book(uow)
    assert len(first) > 1_000
    assert first == second
