"""Caller lookup by phone and name search at scale, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.patient_lookup --patients 1000000 --write

Targets (DESIGN.md, issue 3): lookup p99 ≤ 2 ms inside the service and ≤ 10 ms through HTTP; name search
p99 ≤ 50 ms; all at 1,000,000 patients. Each timed call is a whole unit of work as a request runs it,
audit entry included; the commit is timed separately.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import httpx2 as httpx
from rich.progress import Progress
from sqlalchemy import func, select

from benchmarks.support import Timing, careline_serve, on_each_engine, time_calls, write_section
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.db.migrate import upgrade_to_head
from careline.patients.demo import generate_population
from careline.patients.models import Patient, PatientPhone
from careline.patients.policy import PatientPolicy
from careline.patients.rules import display_phone
from careline.patients.schemas import SearchCriteria
from careline.patients.service import lookup

SAMPLES = 2_000
CARELINE = str(Path(sys.executable).parent / "careline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows = on_each_engine(args.engines, lambda engine_name, url, workdir: run(engine_name, url, args.patients,
                                                                               workdir))
    table = render(rows, args.patients)
    print(table)
    if args.write:
        write_section("patient-lookup", f"`.venv/bin/python -m benchmarks.patient_lookup --patients "
                                        f"{args.patients} --write`\n\n{table}")


def run(engine_name: str, url: str, patients: int, workdir: Path) -> dict[str, object]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    populate(engine, patients)
    sessions = make_sessionmaker(engine)
    actor, policy = seed_agent(sessions), PatientPolicy()
    numbers, names = samples(sessions)
    rng = random.Random(7)

    def lookup_call(n: int) -> None:
        with UnitOfWork(sessions) as uow:
            lookup.lookup_by_phone(uow, actor, policy, numbers[n % len(numbers)])

    def lookup_commit_call(n: int) -> None:
        with UnitOfWork(sessions) as uow:
            lookup.lookup_by_phone(uow, actor, policy, numbers[n % len(numbers)])
            uow.commit()

    def search_call(n: int) -> None:
        with UnitOfWork(sessions) as uow:
            lookup.search_patients(uow, actor, policy, SearchCriteria(name=names[n % len(names)]))

    rng.shuffle(numbers)
    result = {
        "engine": engine_name,
        "lookup": time_calls(lookup_call, SAMPLES),
        "lookup_commit": time_calls(lookup_commit_call, SAMPLES),
        "search": time_calls(search_call, 1_000),
        "http": http_lookups(url, numbers, workdir),
    }
    engine.dispose()
    return result


def populate(engine: object, patients: int) -> None:
    with Progress(transient=True) as progress, engine.begin() as connection:  # type: ignore[attr-defined]
        task = progress.add_task(f"Generating {patients:,} patients", total=patients)
        # People, phones and notes only: lookups and name searches never read the clinical history.
        generate_population(connection, patients=patients, history=False,
                            progress=lambda done: progress.update(task, completed=done))
    with engine.begin() as connection:  # type: ignore[attr-defined]
        connection.exec_driver_sql("ANALYZE")  # what autovacuum does to a production database


def seed_agent(sessions: object) -> Actor:
    with UnitOfWork(sessions) as uow:  # type: ignore[arg-type]
        user = auth_service.create_user(uow, Actor.cli("bench"), UserCreate(
            username="bench-agent", display_name="Bench", role=Role.agent, password="bench password 123"))
        auth_service.create_user(uow, Actor.cli("bench"), UserCreate(
            username="bench-api", display_name="Bench API", role=Role.admin, password="bench password 123"))
        uow.commit()
    return Actor(username=user.username, role=Role.agent, user_id=user.id, ip="127.0.0.1", route="bench")


def samples(sessions: object) -> tuple[list[str], list[str]]:
    """Numbers as callers' IDs arrive and as agents type them (9 in 10 on file), and typed names."""
    with UnitOfWork(sessions) as uow:  # type: ignore[arg-type]
        rng = random.Random(11)
        phones = uow.session.scalar(select(func.count()).select_from(PatientPhone)) or 1
        patients = uow.session.scalar(select(func.count()).select_from(Patient)) or 1
        on_file = [uow.session.scalar(select(PatientPhone.e164).order_by(PatientPhone.id).offset(o).limit(1))
                   for o in sorted(rng.randrange(phones) for _ in range(200))]
        people = [uow.session.execute(select(Patient.given_names, Patient.family_name).order_by(Patient.id)
                                      .offset(o).limit(1)).one()
                  for o in sorted(rng.randrange(patients) for _ in range(200))]
    numbers = [n for n in on_file if n] + [f"+1617555{rng.randrange(10_000):04d}" for _ in range(20)]
    typed = [display_phone(n) if i % 2 else n for i, n in enumerate(numbers)]
    names = [f"{given.split()[0]} {family}" if i % 3 == 0 else family[: max(3, len(family) - 2)]
             for i, (given, family) in enumerate(people)]
    return typed, names


def http_lookups(url: str, numbers: list[str], workdir: Path) -> Timing:
    """Through a real `careline serve` process on loopback, with a bearer token, keep-alive."""
    with careline_serve(url, workdir, username="bench-api") as served, \
            httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {served.token}"}) as client:
        return time_calls(lambda n: client.get("/api/patients/lookup", params={"phone": numbers[n % len(numbers)]})
                          .raise_for_status(), SAMPLES)


def render(rows: list[dict[str, object]], patients: int) -> str:
    lines = [f"Caller lookup and name search, {patients:,} patients (targets: lookup p99 ≤ 2 ms in the service, "
             "≤ 10 ms through HTTP; name search p99 ≤ 50 ms).", "",
             "| engine | lookup in service p50 / p99 | + commit p50 / p99 | through HTTP p50 / p99 "
             "| name search p50 / p99 |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        cells = [f"{t.p50:.2f} / {t.p99:.2f} ms" for t in (row["lookup"], row["lookup_commit"], row["http"],
                                                            row["search"]) if isinstance(t, Timing)]
        lines.append(f"| {row['engine']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
