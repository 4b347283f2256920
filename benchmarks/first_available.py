"""First available slots across 200 providers x 90 days of slots, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.first_available [--providers 200] [--engines sqlite,postgresql] [--write]

The database holds the demo health system scaled to --providers providers (plus the demo's imaging and lab
rooms), 90 days of slots from the demo's weekly templates, and the demo's booking fill (about 85% booked
tomorrow, 65% three weeks out, tapering after). Each timed call is one unit of work as a request runs it: the
first 10 free slots for a visit type from a start date. Calls vary the visit type and the start date (today to
two months out). Target (DESIGN.md, issue 4): p95 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2 as httpx
from rich.progress import Progress
from sqlalchemy import Engine, func, select

from benchmarks.support import Timing, careline_serve, on_each_engine, time_calls, write_section
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.db.migrate import upgrade_to_head
from careline.patients.demo import generate_population
from careline.scheduling.demo import demo_patients, generate_schedule
from careline.scheduling.models import AvailabilityTemplate, Provider, Schedule, TemplateVisitType, VisitType
from careline.scheduling.schemas import DayPart, SlotSearch
from careline.scheduling.service import slots

SAMPLES = 600
PATIENTS = 20_000
# Visit types a patient calls for, by how many providers offer them: follow-up (every provider), annual
# physical and sick visit (primary care), well-woman, prenatal, cardiology consult, and a test on a machine.
SEARCHED = ("follow-up", "annual-physical", "sick-visit", "well-woman", "prenatal", "cardiology-consult",
            "screening-mammogram", "fasting-lab")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows = on_each_engine(args.engines, lambda engine_name, url, workdir:
                          run(engine_name, url, args.providers, args.samples, workdir))
    table = render(rows, args.providers)
    print(table)
    if args.write:
        write_section("first-available", f"`.venv/bin/python -m benchmarks.first_available --providers "
                                          f"{args.providers} --write`\n\n{table}")


def run(engine_name: str, url: str, providers: int, samples: int, workdir: Path) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    facts = populate(engine, providers)
    sessions = make_sessionmaker(engine)
    visits = visit_ids(sessions)
    rng = random.Random(5)
    today = datetime.now(UTC).date()
    starts = [today + timedelta(days=rng.choice((0, 0, 0, 1, 2, 3, 7, 14, 21, 30, 45, 60))) for _ in range(997)]
    searched = [visits[code] for code in SEARCHED]

    def plain(n: int) -> None:
        search = SlotSearch(visit_type_id=searched[n % len(searched)], start=starts[n % len(starts)], limit=10)
        with UnitOfWork(sessions) as uow:
            assert slots.first_available(uow, search, zone=None)

    def widest(n: int) -> None:
        search = SlotSearch(visit_type_id=visits["follow-up"], start=starts[n % len(starts)], limit=10)
        with UnitOfWork(sessions) as uow:
            assert slots.first_available(uow, search, zone=None)

    def filtered(n: int) -> None:
        search = SlotSearch(visit_type_id=visits["follow-up" if n % 2 else "annual-physical"],
                            start=starts[n % len(starts)], provider_gender="female", language="es",
                            day_part=DayPart.afternoon if n % 2 else DayPart.morning, limit=10)
        with UnitOfWork(sessions) as uow:
            slots.first_available(uow, search, zone=None)

    result = {"engine": engine_name, **facts,
              "plain": time_calls(plain, samples), "widest": time_calls(widest, samples),
              "filtered": time_calls(filtered, samples),
              "http": http_searches(url, workdir, searched, starts, samples)}
    engine.dispose()
    return result


def populate(engine: Engine, providers: int) -> dict[str, Any]:
    sessions = make_sessionmaker(engine)
    with Progress(transient=True) as progress, UnitOfWork(sessions) as uow:
        task = progress.add_task(f"Demo schedule, {providers} providers", total=None)
        generate_population(uow.session, patients=PATIENTS, history=False)
        stats = generate_schedule(
            uow, patients=demo_patients(uow.session), seed=2026, providers=providers,
            progress=lambda step, done, total: progress.update(task, description=f"{step}", completed=done,
                                                               total=total))
        auth_service.create_user(uow, Actor.cli("bench"), UserCreate(
            username="bench-api", display_name="Bench API", role=Role.admin, password="bench password 123"))
        uow.commit()
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")  # what autovacuum does to a production database
    with UnitOfWork(sessions) as uow:
        follow_up = uow.session.scalar(select(VisitType.id).where(VisitType.code == "follow-up"))
        offering = uow.session.scalar(
            select(func.count(func.distinct(Schedule.provider_id))).select_from(TemplateVisitType)
            .join(AvailabilityTemplate, AvailabilityTemplate.id == TemplateVisitType.template_id)
            .join(Schedule, Schedule.id == AvailabilityTemplate.schedule_id)
            .where(TemplateVisitType.visit_type_id == follow_up)) or 0
        providers_found = uow.session.scalar(select(func.count()).select_from(Provider)) or 0
    return {"providers": providers_found, "offering": offering, "slots": stats.slots, "near_fill": stats.near_fill,
            "appointments": stats.appointments - stats.cancelled}


def visit_ids(sessions: Any) -> dict[str, UUID]:
    with UnitOfWork(sessions) as uow:
        return {row[0]: row[1] for row in uow.session.execute(select(VisitType.code, VisitType.id))}


def http_searches(url: str, workdir: Path, searched: list[UUID], starts: list[date], samples: int) -> Timing:
    """GET /api/slots through a real `careline serve` process on loopback, with a bearer token, keep-alive."""
    with careline_serve(url, workdir, username="bench-api") as served, \
            httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {served.token}"}) as client:

        def call(n: int) -> None:
            params = {"visit_type_id": str(searched[n % len(searched)]),
                      "start": starts[n % len(starts)].isoformat(), "limit": "10"}
            assert client.get("/api/slots", params=params).raise_for_status().json()

        return time_calls(call, samples)


def render(rows: list[dict[str, Any]], providers: int) -> str:
    lines = [f"First 10 available slots, {providers} providers x 90 days (target: p95 ≤ 20 ms).", "",
             "| engine | slots | booked (next 3 weeks) | any visit type p50 / p95 / p99 | follow-up, all providers "
             "p50 / p95 / p99 | female + Spanish + part of day p50 / p95 / p99 | GET /api/slots p50 / p95 / p99 |",
             "| --- | ---: | ---: | --- | --- | --- | --- |"]
    for row in rows:
        cells = [_cell(row[key]) for key in ("plain", "widest", "filtered", "http")]
        lines.append(f"| {row['engine']} | {row['slots']:,} | {row['near_fill']:.0%} | " + " | ".join(cells) + " |")
    lines += ["", f"{rows[0]['offering']} of the {rows[0]['providers']} providers offer a follow-up visit; "
              "\"any visit type\" cycles through " + ", ".join(SEARCHED) + ". Start dates vary from today to "
              "two months out. Each call is a whole unit of work (no commit: a search writes nothing)."]
    return "\n".join(lines)


def _cell(timing: Timing) -> str:
    return f"{timing.p50:.2f} / {timing.pct(95):.2f} / {timing.p99:.2f} ms"


if __name__ == "__main__":
    main()
