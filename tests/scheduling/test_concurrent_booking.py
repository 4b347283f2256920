"""No double booking through real HTTP: many clients at once against a live server, on both engines.

The database decides (a conditional update and a partial unique index), so the outcome must not depend
on how the requests interleave: one slot, many clients → exactly one 201; many slots → every one booked.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx2
import pytest
from sqlalchemy import func, select

from careline.actor import Role
from careline.bootstrap import unit_of_work
from careline.scheduling.models import Appointment, Slot
from careline.settings import Settings
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.scheduling import make_clinic
from tests.support.databases import DatabaseFactory
from tests.support.live import live_server

# More clients than the server has worker threads and pooled connections: a burst like this once wedged it
# (threads all waiting for connections held by requests waiting for a thread).
CLIENTS = 120


@dataclass(frozen=True)
class Seeded:
    url: str
    settings: Settings
    token: str
    patient_ids: list[UUID]
    slot_ids: list[UUID]  # free slots of one schedule, earliest first
    visit_type_id: UUID


@pytest.fixture
def seeded(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Seeded]:
    settings = Settings(database_url=databases.fresh(), secret_key="concurrency-test-secret", data_dir=tmp_path,
                        log_level="WARNING")
    with unit_of_work(settings) as uow:
        token = make_api_token(uow, make_user(uow, role=Role.admin))
        patient_ids = [make_patient(uow, given=f"Client{n}", family="Load").id for n in range(CLIENTS)]
        clinic = make_clinic(uow, days=40)
        slot_ids = list(uow.session.scalars(select(Slot.id).where(Slot.schedule_id == clinic.schedule_id)
                                            .order_by(Slot.starts_at)))
        uow.commit()
    assert len(slot_ids) >= CLIENTS
    with live_server(settings) as url:
        yield Seeded(url, settings, token, patient_ids, slot_ids, clinic.annual_id)


def _post_all_at_once(seeded: Seeded, slot_for: list[UUID]) -> list[int]:
    """One thread and one connection per client; a barrier releases every request together."""
    barrier = threading.Barrier(len(slot_for))
    statuses: list[int] = [0] * len(slot_for)

    def client(n: int) -> None:
        with httpx2.Client(base_url=seeded.url, timeout=60,
                           headers={"Authorization": f"Bearer {seeded.token}"}) as http:
            body = {"patient_id": str(seeded.patient_ids[n]), "slot_id": str(slot_for[n]),
                    "visit_type_id": str(seeded.visit_type_id)}
            barrier.wait()
            statuses[n] = http.post("/api/appointments", json=body).status_code

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(slot_for))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def _live_appointments(settings: Settings) -> dict[UUID, int]:
    with unit_of_work(settings, read_only=True) as uow:
        rows = uow.session.execute(select(Appointment.slot_id, func.count()).where(Appointment.status != "cancelled")
                                   .group_by(Appointment.slot_id))
        return {row[0]: row[1] for row in rows}  # dict(result) would read it as a mapping


def test_one_slot_many_clients_exactly_one_wins(seeded: Seeded) -> None:
    target = seeded.slot_ids[0]
    statuses = _post_all_at_once(seeded, [target] * CLIENTS)
    assert Counter(statuses) == {201: 1, 409: CLIENTS - 1}
    assert _live_appointments(seeded.settings) == {target: 1}


def test_many_slots_many_clients_all_booked(seeded: Seeded) -> None:
    targets = seeded.slot_ids[:CLIENTS]
    statuses = _post_all_at_once(seeded, targets)
    assert Counter(statuses) == {201: CLIENTS}
    assert _live_appointments(seeded.settings) == dict.fromkeys(targets, 1)
