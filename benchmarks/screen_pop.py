"""Screen pop latency: a call's POST /api/interactions to the offer with the caller's 360 on the agent's event
stream, with 1,000,000 patients, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.screen_pop [--patients 1000000] [--samples 1000] [--engines sqlite,postgresql]
        [--write]

Target (DESIGN.md, issue 5): p95 ≤ 50 ms on loopback, webhook in → offer with the patient's 360 pushed.
One `careline serve` process (its routing loop on) over the population (people, phones and notes, made as the
caller lookup benchmark makes them) and one queue; one agent, with no after-contact work, connected to
GET /api/agents/me/events. Each sample POSTs a voice call from a caller's number, as a telephony adapter would
(bearer token, the number as the provider sends it); the numbers are drawn at random from those on file for
exactly one patient. The clock runs from just before the POST to the moment the agent's stream delivers the
`offer` event whose pop names that patient (the masked view: the agent has not verified the caller yet). The
agent then accepts and ends the call, not timed, and is free for the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2 as httpx
from sqlalchemy import Engine, func, select

from benchmarks.patient_lookup import populate
from benchmarks.support import (
    Served,
    Timing,
    bearer_tokens,
    careline_serve,
    on_each_engine,
    sse_events,
    staff_users,
    write_section,
)
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.db.migrate import upgrade_to_head
from careline.patients.models import Patient, PatientPhone
from careline.patients.service.common import display_name
from careline.routing.schemas import AgentIn, QueueIn, StateIn
from careline.routing.service import agents, setup

WARMUP = 20
QUEUE = "scheduling"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows = on_each_engine(args.engines, lambda engine_name, url, workdir: run(
        engine_name, url, workdir, patients=args.patients, samples=args.samples))
    table = render(rows, args.patients)
    print(table)
    if args.write:
        write_section("screen-pop", f"`.venv/bin/python -m benchmarks.screen_pop --patients {args.patients} "
                                    f"--samples {args.samples} --write`\n\n{table}")


def run(engine_name: str, url: str, workdir: Path, *, patients: int, samples: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    populate(engine, patients)
    agent_token = seed_desk(engine)
    callers = single_match_callers(engine, WARMUP + samples)
    engine.dispose()
    print(f"  {engine_name}: {len(callers)} callers on file for exactly one patient; {samples} calls")
    with careline_serve(url, workdir, username="bench-api", log=workdir / f"serve-{engine_name}.log") as served:
        pops, creates = asyncio.run(call_in(served, agent_token, callers, samples))
    return {"engine": engine_name, "pop": pops, "create": creates}


def seed_desk(engine: Engine) -> str:
    """One queue open around the clock, one free agent with no after-contact work, the telephony integration's
    user; returns the agent's bearer token."""
    admin = Actor.cli("bench")
    with UnitOfWork(make_sessionmaker(engine)) as uow:
        setup.save_queue(uow, admin, QueueIn(name=QUEUE))
        (user,) = staff_users(uow, 1, prefix="agent")
        setup.create_agent(uow, admin, AgentIn(user_id=user.id, wrap_up_seconds=0))
        agents.set_own_state(uow, Actor(username=user.username, role=Role.agent, user_id=user.id, route="bench"),
                             StateIn(state="available"))
        auth_service.create_user(uow, admin, UserCreate(
            username="bench-api", display_name="Bench telephony", role=Role.admin, password="bench password 123"))
        (token,) = bearer_tokens(uow, [user.username])
        uow.commit()
    return token


def single_match_callers(engine: Engine, count: int) -> list[tuple[str, UUID, str]]:
    """(number, patient id, display name) for numbers drawn at random that reach exactly one patient, an
    active, unrestricted one (a restricted record pops without a name)."""
    with engine.connect() as connection:
        drawn = list(connection.scalars(select(PatientPhone.e164).order_by(func.random()).limit(count * 3)))
        on_number: dict[str, set[UUID]] = defaultdict(set)
        for number, patient_id in connection.execute(select(PatientPhone.e164, PatientPhone.patient_id)
                                                     .where(PatientPhone.e164.in_(drawn))):
            on_number[number].add(patient_id)
        single = {next(iter(ids)): number for number, ids in on_number.items() if len(ids) == 1}
        people = connection.execute(select(Patient).where(Patient.id.in_(list(single)), Patient.status == "active",
                                                          Patient.restricted.is_(None))).all()
    callers = [(single[person.id], person.id, display_name(person)) for person in people]
    random.Random(13).shuffle(callers)
    return callers[:count]


async def call_in(served: Served, agent_token: str, callers: list[tuple[str, UUID, str]],
                  samples: int) -> tuple[Timing, Timing]:
    """The calls one after another; returns the create → pop latencies and the POST latencies."""
    telephony = {"Authorization": f"Bearer {served.token}"}
    desk = {"Authorization": f"Bearer {agent_token}"}
    async with httpx.AsyncClient(base_url=served.base_url, timeout=httpx.Timeout(30, read=None)) as client:
        arrivals: asyncio.Queue[tuple[str, Any, float]] = asyncio.Queue()
        listening = asyncio.Event()
        stream = asyncio.create_task(listen(client, desk, arrivals, listening))
        await listening.wait()
        pops, creates = [], []
        try:
            for n, (number, patient_id, name) in enumerate(callers[:WARMUP + samples]):
                pop_ms, create_ms = await one_call(client, telephony, desk, arrivals, number, patient_id, name, n)
                if n >= WARMUP:
                    pops.append(pop_ms)
                    creates.append(create_ms)
                if (n + 1) % 100 == 0:
                    print(f"    {n + 1} calls")
        finally:
            stream.cancel()
    return Timing(pops), Timing(creates)


async def listen(client: httpx.AsyncClient, desk: dict[str, str], arrivals: asyncio.Queue[tuple[str, Any, float]],
                 listening: asyncio.Event) -> None:
    async with client.stream("GET", "/api/agents/me/events", headers=desk) as response:
        response.raise_for_status()
        async for name, data in sse_events(response):
            if name == "hello":
                listening.set()
            else:
                arrivals.put_nowait((name, data, time.perf_counter()))


async def one_call(client: httpx.AsyncClient, telephony: dict[str, str], desk: dict[str, str],
                   arrivals: asyncio.Queue[tuple[str, Any, float]], number: str, patient_id: UUID, name: str,
                   n: int) -> tuple[float, float]:
    started = time.perf_counter()
    created = await client.post("/api/interactions", headers=telephony, json={
        "channel": "voice", "queue": QUEUE, "address": number, "external_ref": f"CA-bench-{n}"})
    create_ms = (time.perf_counter() - started) * 1000
    created.raise_for_status()
    interaction_id = created.json()["id"]
    while True:
        event, data, arrived = await asyncio.wait_for(arrivals.get(), 30)
        if event == "offer" and data["offer"]["interaction"]["id"] == interaction_id:
            break
    patient = data.get("patient") or {}
    if patient.get("id") != str(patient_id) or patient.get("display_name") != name:
        raise SystemExit(f"the pop of call {n} does not name its caller's patient: {data!r}"[:500])
    (await client.post(f"/api/offers/{data['offer']['assignment_id']}/accept", headers=desk)).raise_for_status()
    (await client.post(f"/api/interactions/{interaction_id}/end", headers=desk)).raise_for_status()
    return (arrived - started) * 1000, create_ms


def render(rows: list[dict[str, Any]], patients: int) -> str:
    lines = [f"Screen pop, {patients:,} patients: POST /api/interactions with the caller's number → the `offer` event "
             "with the patient's (masked) 360 on the agent's stream, one `careline serve` process on loopback "
             "(target: p95 ≤ 50 ms).", "",
             "| engine | calls | create → pop p50 / p95 / p99 | POST /api/interactions p50 / p95 |",
             "| --- | ---: | --- | --- |"]
    for row in rows:
        pop, create = row["pop"], row["create"]
        lines.append(f"| {row['engine']} | {len(pop.samples_ms)} | {pop.p50:.1f} / {pop.pct(95):.1f} / "
                     f"{pop.p99:.1f} ms | {create.p50:.1f} / {create.pct(95):.1f} ms |")
    lines += ["", "Each call waits for the one before it to be accepted and ended, so the agent is always free; "
              "the pop is built by the server as it pushes the offer (caller lookup, patient record, audit entry)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
