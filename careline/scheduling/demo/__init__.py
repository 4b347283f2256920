"""The demo health system's scheduling: three sites, about 40 providers, imaging and lab, 90 days of slots, and a
realistic book of appointments, for ``careline demo`` and the benchmarks.

The catalogue (``setup``, from the data in ``catalog``) goes through the catalogue service and the slots through
``slots.generate``, so both are validated as an admin's would be. The booking fill (``fill``) is pure and is
written here with bulk inserts: a slot is busy exactly when it holds a live appointment, and each appointment has
its timeline events. The bulk rows are not audited, like the patients demo's. Seeded: the same seed, clock and
patients give the same catalogue and the same book. Nothing here logs.
"""

from __future__ import annotations

import random
import time as clock
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Date, String, Uuid, column, insert, select, table, update
from sqlalchemy.orm import Session

from careline.db import UnitOfWork
from careline.scheduling import repository
from careline.scheduling.demo.fill import DemoPatient, Fill, FillMaker, SlotRow, fill_rate
from careline.scheduling.demo.setup import Catalogue, set_up_catalogue
from careline.scheduling.models import Appointment, AppointmentEvent, Order, Slot
from careline.scheduling.service import slots

__all__ = ["DEMO_PROVIDERS", "DemoPatient", "ScheduleStats", "demo_patients", "fill_rate", "generate_schedule"]

DEMO_PROVIDERS = 40
INSERT_CHUNK = 5_000
UPDATE_CHUNK = 500
# (step, done, total): "catalogue", "slots" (schedules done), "bookings" (schedules done), "writing" (rows)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class ScheduleStats:
    sites: int
    providers: int
    resources: int
    slots: int
    appointments: int
    cancelled: int
    orders: int
    near_fill: float  # share of the slots of the next three weeks that are booked
    seconds: float

    def summary(self) -> str:
        return (f"Scheduled {self.providers} providers and {self.resources} rooms or machines at {self.sites} "
                f"sites: {self.slots:,} slots, {self.appointments:,} appointments ({self.cancelled:,} cancelled, "
                f"{self.near_fill:.0%} of the next three weeks booked), {self.orders:,} orders on file "
                f"in {self.seconds:.1f} s.")


def demo_patients(session: Session) -> list[DemoPatient]:
    """The patients the fill may book (active records: not deceased, merged or inactive): id, sex and date of
    birth only, read in one statement.

    The patients domain has no bulk listing in its service (nothing else needs one), so the demo, a bulk
    writer like ``careline.patients.demo``, reads these three columns itself, in id order (deterministic).
    """
    patients = table("patients", column("id", Uuid()), column("sex", String()), column("birth_date", Date()),
                     column("status", String()))
    rows = session.execute(select(patients.c.id, patients.c.sex, patients.c.birth_date)
                           .where(patients.c.status == "active").order_by(patients.c.id))
    return [DemoPatient(row[0], row[1], row[2]) for row in rows]


def generate_schedule(
    uow: UnitOfWork, *, patients: Sequence[DemoPatient], seed: int, providers: int = DEMO_PROVIDERS,
    days: int = slots.HORIZON_DAYS, now: datetime | None = None, progress: Progress | None = None,
) -> ScheduleStats:
    """Set up the catalogue, generate ``days`` days of slots and book them for ``patients``.

    Runs in the caller's unit of work and never commits; the database must hold no scheduling catalogue yet
    (site and visit codes are fixed). ``now`` (aware) defaults to the clock; the horizon starts on its day, and
    ``slots.generate`` leaves out what is already past on the real clock.
    """
    started = clock.perf_counter()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    report = progress or (lambda step, done, total: None)
    report("catalogue", 0, 1)
    catalogue = set_up_catalogue(uow, _rng(f"catalogue-{seed}"), providers=providers,
                                 first_day=now.date(), days=days)
    report("catalogue", 1, 1)
    generated = slots.generate(uow, first_day=now.date(), days=days,
                               progress=lambda done, total: report("slots", done, total))
    maker = FillMaker(seed=seed, now=now, visits=catalogue.visits, template_weights=catalogue.template_weights,
                      patients=patients, provider_names=catalogue.provider_names)
    near = _book(uow, maker, catalogue, now, report)
    maker.standing_orders()
    _write(uow.session.connection(), maker.fill, report)
    cancelled = sum(1 for row in maker.fill.appointments if row["status"] == "cancelled")
    return ScheduleStats(sites=catalogue.sites, providers=catalogue.providers, resources=catalogue.resources,
                         slots=generated.created, appointments=len(maker.fill.appointments), cancelled=cancelled,
                         orders=len(maker.fill.orders), near_fill=near, seconds=clock.perf_counter() - started)


def _rng(name: str) -> random.Random:
    return random.Random(f"scheduling-{name}")  # noqa: S311 - synthetic data, not secrets


def _book(uow: UnitOfWork, maker: FillMaker, catalogue: Catalogue, now: datetime, report: Progress) -> float:
    """Book every schedule day by day, in a fixed order; returns the share of the near slots booked."""
    zones = {info.id: ZoneInfo(info.time_zone) for info in repository.schedule_infos(uow.session)}
    by_day: dict[UUID, dict[date, list[SlotRow]]] = defaultdict(lambda: defaultdict(list))
    query = select(Slot.id, Slot.schedule_id, Slot.template_id, Slot.starts_at, Slot.ends_at).where(
        Slot.starts_at > now, Slot.template_id.is_not(None))
    for slot_id, schedule_id, template_id, starts_at, ends_at in uow.session.execute(query):
        assert template_id is not None  # the query's condition
        day = starts_at.astimezone(zones[schedule_id]).date()
        by_day[schedule_id][day].append(SlotRow(slot_id, schedule_id, template_id, starts_at, ends_at, day))
    ordered = sorted(by_day, key=catalogue.schedule_order.__getitem__)
    near_slots = near_booked = 0
    for done, schedule_id in enumerate(ordered, start=1):
        factor = maker.rng.uniform(0.9, 1.08)  # some providers are busier than others
        for day in sorted(by_day[schedule_id]):
            day_slots = sorted(by_day[schedule_id][day], key=lambda slot: slot.starts_at)
            before = len(maker.fill.busy_slot_ids)
            maker.add_day(day_slots, (day - now.date()).days, factor)
            if (day - now.date()).days < 21:
                near_slots += len(day_slots)
                near_booked += len(maker.fill.busy_slot_ids) - before
        report("bookings", done, len(ordered))
    return near_booked / near_slots if near_slots else 0.0


def _write(connection: Connection, fill: Fill, report: Progress) -> None:
    """Orders, then appointments, then events, in chunks; then the booked slots turn busy."""
    total = len(fill.orders) + len(fill.appointments) + len(fill.events) + len(fill.busy_slot_ids)
    done = 0
    models: tuple[tuple[type[Any], list[dict[str, Any]]], ...] = (
        (Order, fill.orders), (Appointment, fill.appointments), (AppointmentEvent, fill.events))
    for model, rows in models:
        statement = insert(model)
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start:start + INSERT_CHUNK]
            connection.execute(statement, chunk)
            done += len(chunk)
            report("writing", done, total)
    for start in range(0, len(fill.busy_slot_ids), UPDATE_CHUNK):
        ids = fill.busy_slot_ids[start:start + UPDATE_CHUNK]
        connection.execute(update(Slot).where(Slot.id.in_(ids)).values(status="busy"))
        done += len(ids)
        report("writing", done, total)

