"""The booking fill: who is booked into which slot, as plain rows. Pure: the same slots, patients, seed and
clock give the same rows.

About 85% of the slots are booked for tomorrow, tapering to about 65% three weeks out and to a few percent at
the end of the horizon, as a real clinic's book fills. Each booked slot gets one of its block's visit types (by
the block's weights) and a patient the visit suits (women 40 and over for a screening mammogram …); a test that
needs an order gets one on file. A few slots carry a cancelled appointment as well (freed and rebooked, or just
freed). Every appointment gets its timeline events.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from careline.scheduling.demo.catalog import DemoVisit

Row = dict[str, Any]
NEAR_DAYS = 21  # "the next weeks": filled 85% → 65%
CHANNELS = (("agent", 0.8), ("web", 0.12), ("sms", 0.08))
CANCEL_REASONS = ("Patient feels better", "Work conflict", "Transportation problem", "Rescheduling with another "
                  "provider", "Childcare conflict", "Weather", "Duplicate booking")
REFERRERS = ("Primary care", "Emergency department", "Urgent care", "Outside provider")
STANDING_ORDERS = {"screening-mammogram": 0.08, "fasting-lab": 0.04, "lab-draw": 0.03,
                   "abdominal-ultrasound": 0.01, "cardiology-consult": 0.01, "echocardiogram": 0.01}


@dataclass(frozen=True, slots=True)
class DemoPatient:
    """The little the fill knows of a patient: enough to pick who a visit suits, nothing that names them."""

    id: UUID
    sex: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class SlotRow:
    id: UUID
    schedule_id: UUID
    template_id: UUID
    starts_at: datetime
    ends_at: datetime
    local_day: date


@dataclass(slots=True)
class Fill:
    appointments: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    orders: list[Row] = field(default_factory=list)
    busy_slot_ids: list[UUID] = field(default_factory=list)


def fill_rate(days_ahead: int) -> float:
    """The share of a day's slots booked, by how far ahead the day is (0 = today)."""
    if days_ahead < NEAR_DAYS:
        return 0.85 - 0.2 * days_ahead / NEAR_DAYS
    return 0.03 + 0.4 * math.exp(-(days_ahead - NEAR_DAYS) / 18)


class _Pools:
    """Patients by who a visit suits; each visit draws from its pool."""

    def __init__(self, patients: Sequence[DemoPatient], today: date) -> None:
        def age(patient: DemoPatient) -> int:
            return (today - patient.birth_date).days // 365

        adults = [p for p in patients if age(p) >= 18] or list(patients)
        women = [p for p in adults if p.sex == "female"] or adults
        self.by_rule = {"any": adults, "female": women,
                        "female40": [p for p in women if 40 <= age(p) < 75] or women,
                        "prenatal": [p for p in women if age(p) < 45] or women}


# Visits a patient has once a year at most: the fill never books one twice in the horizon.
ONCE_A_YEAR = frozenset({"screening-mammogram", "annual-physical", "well-woman", "new-patient"})


class FillMaker:
    def __init__(self, *, seed: int, now: datetime, visits: dict[UUID, DemoVisit],
                 template_weights: dict[UUID, list[tuple[UUID, int]]], patients: Sequence[DemoPatient],
                 provider_names: Sequence[str]) -> None:
        self.rng = random.Random(f"scheduling-fill-{seed}")  # noqa: S311 - synthetic data, not secrets
        self.now, self.today = now, now.date()
        self.visits, self.template_weights = visits, template_weights
        self.pools = _Pools(patients, self.today)
        self.patients = patients
        self.provider_names = provider_names
        self.fill = Fill()
        self._booked: dict[UUID, list[tuple[datetime, datetime]]] = {}  # each patient's times
        self._has_visit: set[tuple[UUID, str]] = set()
        self._id_prefix = (self.rng.getrandbits(64) & ~(0xF << 12) | 0x8 << 12) << 64 | 0b10 << 62  # UUIDv8
        self._ids = 0

    def _new_id(self) -> UUID:
        self._ids += 1
        return uuid.UUID(int=self._id_prefix | self._ids)

    def add_day(self, slots: Sequence[SlotRow], days_ahead: int, popularity: float) -> None:
        """Book one schedule's slots of one day."""
        rate = min(0.95, fill_rate(days_ahead) * popularity)
        for slot in slots:
            draw = self.rng.random()
            if draw < 0.03 * rate:  # booked once, cancelled, then booked by someone else
                self._book(slot, days_ahead, cancelled=True)
            if draw < rate and self._book(slot, days_ahead, cancelled=False):
                self.fill.busy_slot_ids.append(slot.id)
            elif draw < rate + 0.02:  # cancelled, still free
                self._book(slot, days_ahead, cancelled=True)

    def _book(self, slot: SlotRow, days_ahead: int, *, cancelled: bool) -> bool:
        """Book the slot for a suitable patient; False when none is left to book."""
        weights = self.template_weights[slot.template_id]
        visit_id = self.rng.choices([v for v, _ in weights], weights=[w for _, w in weights])[0]
        visit = self.visits[visit_id]
        patient = self._patient(visit, slot)
        if patient is None:
            return False
        channel = self._channel() if not visit.requires_order else "agent"
        booked_at = self.now - timedelta(minutes=self.rng.randrange(10, 60 * 24 * min(60, days_ahead + 14)))
        by = "agent" if channel == "agent" else "self-service"
        appointment_id = self._new_id()
        order_id = self._order(patient, visit_id, visit, booked_at) if visit.requires_order else None
        self.fill.appointments.append({
            "id": appointment_id, "patient_id": patient.id, "slot_id": slot.id, "schedule_id": slot.schedule_id,
            "visit_type_id": visit_id, "starts_at": slot.starts_at, "ends_at": slot.ends_at,
            "status": "cancelled" if cancelled else "booked", "channel": channel, "booked_by": by,
            "booked_at": booked_at, "reason": None, "order_id": order_id, "order_override": None,
            "cancel_reason": self.rng.choice(CANCEL_REASONS) if cancelled else None,
            "updated_at": booked_at})
        self._event(appointment_id, patient.id, booked_at, "booked", by, channel,
                    {"starts_at": slot.starts_at.isoformat(), "override": False})
        if cancelled:
            at = booked_at + (self.now - booked_at) * self.rng.random()
            self.fill.appointments[-1]["updated_at"] = at
            self._event(appointment_id, patient.id, at, "cancelled", by, channel,
                        {"reason": self.fill.appointments[-1]["cancel_reason"]})
        return True

    def _patient(self, visit: DemoVisit, slot: SlotRow) -> DemoPatient | None:
        """A patient the visit suits, free at that time and not yet booked for this visit (a few tries). A yearly
        visit is then left unbooked rather than given twice, any other goes to someone free at that time, and
        when nobody is, the slot stays free: a small population cannot fill every room."""
        pool = self.pools.by_rule[visit.patients]
        if not pool:
            return None
        tries = [pool[self.rng.randrange(len(pool))] for _ in range(16)]
        free = [p for p in tries if not any(start < slot.ends_at and slot.starts_at < end
                                            for start, end in self._booked.get(p.id, ()))]
        first_time = [p for p in free if (p.id, visit.code) not in self._has_visit]
        patient = first_time[0] if first_time else None if visit.code in ONCE_A_YEAR or not free else free[0]
        if patient is not None:
            self._booked.setdefault(patient.id, []).append((slot.starts_at, slot.ends_at))
            self._has_visit.add((patient.id, visit.code))
        return patient

    def _channel(self) -> str:
        draw, total = self.rng.random(), 0.0
        for channel, share in CHANNELS:
            total += share
            if draw < total:
                return channel
        return CHANNELS[0][0]

    def _order(self, patient: DemoPatient, visit_id: UUID, visit: DemoVisit, at: datetime) -> UUID:
        order_id = self._new_id()
        self.fill.orders.append(self._order_row(order_id, patient.id, visit_id, visit,
                                                at - timedelta(days=self.rng.randrange(1, 30))))
        return order_id

    def _order_row(self, order_id: UUID, patient_id: UUID, visit_id: UUID, visit: DemoVisit, at: datetime) -> Row:
        who = self.rng.choice(REFERRERS) if visit.code == "cardiology-consult" else \
            f"Dr. {self.rng.choice(self.provider_names)}" if self.provider_names else "Primary care"
        return {"id": order_id, "patient_id": patient_id, "visit_type_id": visit_id,
                "reference": f"ORD-{self.rng.randrange(10**7):07d}", "ordered_by": who, "status": "active",
                "expires_on": at.date() + timedelta(days=365), "created_at": at}

    def standing_orders(self) -> None:
        """Orders on file with nothing booked yet, so that agents can book tests (mammograms above all)."""
        by_code = {visit.code: (visit_id, visit) for visit_id, visit in self.visits.items()}
        for code, share in STANDING_ORDERS.items():
            if code not in by_code:
                continue
            visit_id, visit = by_code[code]
            pool = self.pools.by_rule[visit.patients]
            for patient in self.rng.sample(pool, k=round(share * len(pool))):
                at = self.now - timedelta(days=self.rng.randrange(1, 60), minutes=self.rng.randrange(600))
                self.fill.orders.append(self._order_row(self._new_id(), patient.id, visit_id, visit, at))

    def _event(self, appointment_id: UUID, patient_id: UUID, at: datetime, kind: str, by: str, channel: str,
               detail: dict[str, Any]) -> None:
        self.fill.events.append({"id": self._new_id(), "appointment_id": appointment_id, "patient_id": patient_id,
                                 "at": at, "kind": kind, "by": by, "channel": channel, "detail": detail})
