"""Concurrent booking through HTTP against a real `careline serve`, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.concurrent_booking [--clients 200] [--engines sqlite,postgresql] [--write]

Round 1: --clients clients, each with its own connection and patient, POST /api/appointments for the SAME free
slot at the same moment. Exactly one must get 201; every other one a clean 409 ("slot just taken", with next
options). Anything else is a correctness bug. Round 2: as many clients booking as many DIFFERENT slots at once:
all must get 201; throughput (bookings/s over the round's wall time) and latency are reported.
The server is one `careline serve` process on 127.0.0.1 (Uvicorn, one worker) over a fresh database with the
demo schedule; clients are threads released together by a barrier, with an admin's bearer token.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2 as httpx
from rich.progress import Progress
from sqlalchemy import Engine, func, select

from benchmarks.support import Timing, careline_serve, on_each_engine, write_section
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.db.migrate import upgrade_to_head
from careline.patients.demo import generate_population
from careline.scheduling.demo import demo_patients, generate_schedule
from careline.scheduling.models import Appointment, Provider, Schedule, Slot, TemplateVisitType, VisitType

CLIENTS = 200
VISIT = "follow-up"  # no order needed, any patient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows = on_each_engine(args.engines, lambda engine_name, url, workdir: run(engine_name, url, args.clients,
                                                                               workdir))
    table = render(rows, args.clients)
    print(table)
    if args.write:
        write_section("concurrent-booking", f"`.venv/bin/python -m benchmarks.concurrent_booking --clients "
                                             f"{args.clients} --write`\n\n{table}")
    if any(row["same"].get(201, 0) != 1 or row["same"].get(409, 0) != args.clients - 1 for row in rows):
        raise SystemExit("DOUBLE BOOKING OR UNCLEAN REFUSAL: see the table above.")


def run(engine_name: str, url: str, clients: int, workdir: Path) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    patients, visit_id, free = populate(engine, clients)
    log = workdir / f"serve-{engine_name}.log"
    with careline_serve(url, workdir, username="bench-api", log=log) as served:
        same, _, _ = storm(served.base_url, served.token, patients, visit_id, [free[0]] * clients)
        different, seconds, latency = storm(served.base_url, served.token, patients, visit_id, free[1:clients + 1])
    errors = Counter(re.findall(r'"error_type": "(\w+)"', log.read_text()))
    live_on_first = count_live(engine, free[0])
    engine.dispose()
    return {"engine": engine_name, "same": same, "live_on_first": live_on_first, "different": different,
            "seconds": seconds, "latency": latency, "errors": errors}


def populate(engine: Engine, clients: int) -> tuple[list[UUID], UUID, list[UUID]]:
    """The demo schedule (40 providers), a user with a token, and the slots and patients the rounds use."""
    sessions = make_sessionmaker(engine)
    with Progress(transient=True) as progress, UnitOfWork(sessions) as uow:
        progress.add_task("Demo schedule", total=None)
        generate_population(uow.session, patients=max(1_000, clients), history=False)
        generate_schedule(uow, patients=demo_patients(uow.session), seed=2026)
        auth_service.create_user(uow, Actor.cli("bench"), UserCreate(
            username="bench-api", display_name="Bench API", role=Role.admin, password="bench password 123"))
        uow.commit()
    with UnitOfWork(sessions) as uow:
        visit_id = uow.session.scalars(select(VisitType.id).where(VisitType.code == VISIT)).one()
        patients = [patient.id for patient in demo_patients(uow.session)][:clients]
        # The last free slots of the horizon (well clear of "already past"), of blocks that take the visit,
        # with providers taking new patients (the clients are new to them).
        free = list(uow.session.scalars(
            select(Slot.id).join(TemplateVisitType, TemplateVisitType.template_id == Slot.template_id)
            .join(Schedule, Schedule.id == Slot.schedule_id).join(Provider, Provider.id == Schedule.provider_id)
            .where(TemplateVisitType.visit_type_id == visit_id, Slot.status == "free", Provider.accepting_new)
            .order_by(Slot.starts_at.desc()).limit(clients + 1)))
    return patients, visit_id, free


def storm(base: str, token: str, patients: list[UUID], visit_id: UUID,
          slot_ids: list[UUID]) -> tuple[Counter[int], float, Timing]:
    """One client thread per slot id, each with its own connection, released at once; status counts,
    the wall time from release to the last answer, and each request's latency."""
    count = len(slot_ids)
    statuses: list[int] = [0] * count
    unexpected: list[str] = []
    latencies: list[float] = [0.0] * count
    ready, go = threading.Barrier(count + 1, timeout=300), threading.Event()

    def client(n: int) -> None:
        body = {"patient_id": str(patients[n % len(patients)]), "slot_id": str(slot_ids[n]),
                "visit_type_id": str(visit_id)}
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            try:
                http.get("/healthz")  # connect first: the round measures booking, not TCP set-up
            except httpx.TransportError as error:
                unexpected.append(f"/healthz before the start: {error!r}")
            ready.wait()
            go.wait()
            started = time.perf_counter()
            try:
                response = http.post("/api/appointments", json=body)
                statuses[n] = response.status_code
                if response.status_code not in (201, 409):
                    unexpected.append(response.text[:300])
            except httpx.TransportError as error:
                statuses[n] = -1
                unexpected.append(repr(error))
            latencies[n] = (time.perf_counter() - started) * 1000

    threads = [threading.Thread(target=client, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    print(f"  {count} clients: {dict(Counter(statuses))} in {time.perf_counter() - started:.1f} s")
    for text in unexpected[:3]:
        print(f"  unexpected answer: {text}")
    return Counter(statuses), time.perf_counter() - started, Timing(latencies)


def count_live(engine: Engine, slot_id: UUID) -> int:
    with UnitOfWork(make_sessionmaker(engine)) as uow:
        return uow.session.scalar(select(func.count()).select_from(Appointment).where(
            Appointment.slot_id == slot_id, Appointment.status != "cancelled")) or 0


def render(rows: list[dict[str, Any]], clients: int) -> str:
    lines = [f"{clients} concurrent clients through HTTP, one `careline serve` process (targets: one slot → exactly "
             f"1 success and {clients - 1} clean refusals; {clients} slots → all booked).", "",
             "| engine | same slot: 201 / 409 / other | live appointments on it | different slots: 201 / other "
             "| bookings/s | latency p50 / p95 |", "| --- | --- | ---: | --- | ---: | --- |"]
    for row in rows:
        same, different, latency = row["same"], row["different"], row["latency"]
        other_same = sum(n for status, n in same.items() if status not in (201, 409))
        other_different = sum(n for status, n in different.items() if status != 201)
        others = ", ".join(f"{status} x {n}" for status, n in sorted((same + different).items())
                           if status not in (201, 409))
        lines.append(f"| {row['engine']} | {same.get(201, 0)} / {same.get(409, 0)} / {other_same} "
                     f"| {row['live_on_first']} | {different.get(201, 0)} / {other_different} "
                     f"| {different.get(201, 0) / row['seconds']:,.0f} | {latency.p50:.0f} / {latency.pct(95):.0f} ms |"
                     + (f" other statuses: {others}" if others else "")
                     + (f"; server errors: {dict(row['errors'])}" if row["errors"] else ""))
    lines += ["", "Each client is a thread with its own keep-alive connection (opened before the start), "
              "releasing together; bookings/s is the round's successful bookings over its wall time."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
