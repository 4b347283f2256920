"""Routing end to end: contacts created → offered → accepted → ended through HTTP, two app processes on PostgreSQL.

    .venv/bin/python -m benchmarks.routing_end_to_end [--rate 500] [--duration 300] [--agents 200]
        [--step-seconds 30] [--no-ramp] [--write]

Target (DESIGN.md, issue 5): ≥ 500 interactions/s end to end on 2 cores with PostgreSQL, 0 lost.
Two `careline serve` processes share one fresh PostgreSQL database and Redis (CARELINE_REDIS_URL, so an offer
made by one process reaches a desktop connected to the other); both run the routing loop. This process drives
them with asyncio and httpx. Creators POST /api/interactions at the rate, alternating between the servers,
with an integration's bearer token and an external_ref per contact (the routing benchmark's mix of queues,
channels and languages). Each agent (a bearer token of their own, no after-contact work) listens on one of
the servers to GET /api/agents/me/events, accepts each offer and ends the contact at once.

A short ramp (--step-seconds per rate, up to --rate) first finds the highest rate the machine sustains: every
contact created on schedule, and the line empty within 2 s of the step's end. Then the main run holds --rate
for --duration, or the highest sustained rate if --rate was not. Afterwards the database counts what was
created, completed and left open — lost: not final once nothing has moved for 15 s — and any contact that ever
had two live offers at once (two primary assignments whose [offered_at, ended_at) overlap).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import redis
from sqlalchemy import Engine, and_, distinct, func, or_, select
from sqlalchemy.orm import aliased

from benchmarks.routing_decisions import contact, seed_center
from benchmarks.support import (
    Served,
    Timing,
    bearer_tokens,
    careline_servers,
    cpu_seconds,
    on_each_engine,
    sse_events,
    write_section,
)
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.db import UnitOfWork, make_engine, make_sessionmaker, utcnow
from careline.db.migrate import upgrade_to_head
from careline.routing.models import Assignment, Interaction

REDIS_URL = "redis://127.0.0.1:6379/0"
SERVERS = 2
RAMP = (0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)  # fractions of --rate
SETTLED_SECONDS = 2.0  # a sustained step leaves an empty line this soon after its last contact
QUIET_SECONDS = 15.0  # nothing moved for this long: what is still open is lost
DRAIN_LIMIT_SECONDS = 600.0
CONNECT_SECONDS = 120  # for every agent's event stream to open
CREATES_IN_FLIGHT = 256  # a telephony adapter's webhooks at once; beyond it the creators fall behind
STEPS = ("create", "offer", "accept", "end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500, help="interactions per second asked for")
    parser.add_argument("--duration", type=float, default=300, help="seconds of the main run")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--step-seconds", type=float, default=30, help="seconds of each ramp step")
    parser.add_argument("--no-ramp", action="store_true", help="only the main run, at --rate")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).ping()  # fails here, plainly, when Redis is not running
    (result,) = on_each_engine("postgresql", lambda _engine_name, url, workdir: run(url, workdir, args))
    table = render(result)
    print(table)
    if args.write:
        write_section("routing-end-to-end", f"`.venv/bin/python -m benchmarks.routing_end_to_end --rate {args.rate:g} "
                                            f"--duration {args.duration:g} --agents {args.agents} --write`\n\n{table}")
    if result["lost"] or result["double_offers"]:
        raise SystemExit("LOST CONTACTS OR DOUBLE OFFERS: see the table above.")


def run(url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    tokens = populate(engine, args.agents)
    logs = [workdir / f"serve-{n}.log" for n in range(SERVERS)]
    with careline_servers(url, workdir, username="bench-api", count=SERVERS, env={"CARELINE_REDIS_URL": REDIS_URL},
                          logs=logs) as servers:
        ramp, main_run = asyncio.run(Drive(servers, tokens).run(args))
    result = outcomes(engine) | {"ramp": ramp, "main": main_run, "agents": args.agents,
                                 "errors": Counter(error for log in logs
                                                   for error in re.findall(r'"error_type": "(\w+)"', log.read_text()))}
    engine.dispose()
    return result


def populate(engine: Engine, agents: int) -> list[str]:
    """The center with every agent free and no after-contact work, the integration user; the agents' tokens."""
    print(f"  seeding {agents} agents")
    with UnitOfWork(make_sessionmaker(engine)) as uow:
        staffed = seed_center(uow, agents, now=utcnow(), wrap_up_seconds=0)
        auth_service.create_user(uow, Actor.cli("bench"), UserCreate(
            username="bench-api", display_name="Bench telephony", role=Role.admin, password="bench password 123"))
        tokens = bearer_tokens(uow, [member.actor.username for member in staffed])
        uow.commit()
    return tokens


@dataclass
class Phase:
    """One rate held for some seconds, and what came of it."""

    rate: float
    seconds: float
    created: int = 0
    ended: int = 0
    window: float = 0.0  # from the first create sent to the last create answered
    drain: float = 0.0  # from then until every contact of the phase was ended (or nothing moved)
    left_open: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: {step: [] for step in STEPS})
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def sustained(self) -> bool:
        return (self.created >= 0.95 * self.rate * self.seconds and self.window <= 1.05 * self.seconds
                and self.left_open == 0 and self.drain <= SETTLED_SECONDS)

    @property
    def achieved(self) -> float:
        return self.ended / max(self.window + self.drain, 1e-9)


class Drive:
    """The creators and the agents' desktops, all in this process's event loop."""

    def __init__(self, servers: list[Served], tokens: list[str]) -> None:
        self.servers, self.tokens = servers, tokens
        self.rng, self.numbers = random.Random(3), itertools.count()
        self.sent: dict[str, float] = {}  # external_ref → when its create was sent, until its first offer
        self.open: set[str] = set()  # created, not yet ended
        self.phase = Phase(0, 0)
        self.connected = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, args: argparse.Namespace) -> tuple[list[Phase], Phase]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        timeout = httpx.Timeout(60, read=None)
        self.clients = [httpx.AsyncClient(base_url=served.base_url, limits=limits, timeout=timeout)
                        for served in self.servers]
        self.creators = [{"Authorization": f"Bearer {served.token}"} for served in self.servers]
        listeners = [asyncio.create_task(self.desktop(self.clients[n % SERVERS], token))
                     for n, token in enumerate(self.tokens)]
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                while self.connected < len(self.tokens):
                    await asyncio.sleep(0.1)
            print(f"  {len(self.tokens)} agents connected to {SERVERS} servers")
            ramp = [] if args.no_ramp else await self.ramp(args.rate, args.step_seconds)
            sustained = [phase.rate for phase in ramp if phase.sustained]
            main_rate = args.rate if args.no_ramp or args.rate in sustained else max(sustained, default=ramp[0].rate)
            main_run = await self.hold(main_rate, args.duration, measure_cpu=True)
        finally:
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
            for client in self.clients:
                await client.aclose()
        return ramp, main_run

    async def ramp(self, target: float, seconds: float) -> list[Phase]:
        """Rising rates until one is not sustained; then one step at the target itself, to say what it gives."""
        phases: list[Phase] = []
        for fraction in RAMP:
            phases.append(await self.hold(target * fraction, seconds))
            if not phases[-1].sustained:
                if fraction != 1.0:
                    phases.append(await self.hold(target, seconds))
                break
        return phases

    async def hold(self, rate: float, seconds: float, *, measure_cpu: bool = False) -> Phase:
        phase = self.phase = Phase(rate, seconds)
        print(f"  {rate:g} interactions/s for {seconds:g} s ...")
        cpu_before = self.cpu_now() if measure_cpu else {}
        loop = asyncio.get_running_loop()
        started, gate, creates = loop.time(), asyncio.Semaphore(CREATES_IN_FLIGHT), []
        for n in itertools.count():
            due = started + n / rate
            if due >= started + seconds:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            await gate.acquire()
            creates.append(asyncio.create_task(self.create(n % SERVERS, gate)))
        await asyncio.gather(*creates)
        phase.window = loop.time() - started
        await self.drain(phase)
        if measure_cpu:
            phase.cpu = {name: self.cpu_now()[name] - before for name, before in cpu_before.items()}
        print(f"    created {phase.created} in {phase.window:.1f} s, ended {phase.ended}, line empty "
              f"{phase.drain:.1f} s later{'' if phase.sustained else ' (not sustained)'}; {dict(phase.problems)}")
        return phase

    async def drain(self, phase: Phase) -> None:
        loop = asyncio.get_running_loop()
        started = last_change = loop.time()
        left = len(self.open)
        while self.open and loop.time() - last_change < QUIET_SECONDS and loop.time() - started < DRAIN_LIMIT_SECONDS:
            await asyncio.sleep(0.05)
            if len(self.open) != left:
                left, last_change = len(self.open), loop.time()
        phase.drain, phase.left_open = loop.time() - started, len(self.open)

    async def create(self, server: int, gate: asyncio.Semaphore) -> None:
        phase, ref = self.phase, f"bench-{next(self.numbers)}"
        body = contact(self.rng, external_ref=ref).model_dump(mode="json", exclude_defaults=True)
        self.open.add(ref)
        self.sent[ref] = time.perf_counter()
        try:
            status = await self.timed(phase, "create", self.clients[server].post(
                "/api/interactions", json=body, headers=self.creators[server]))
        finally:
            gate.release()
        if status == 201:
            phase.created += 1
        else:
            phase.problems[f"create {status}"] += 1
            self.open.discard(ref)
            self.sent.pop(ref, None)

    async def desktop(self, client: httpx.AsyncClient, token: str) -> None:
        """One agent's desktop: its event stream, reconnecting as a browser does."""
        headers = {"Authorization": f"Bearer {token}"}
        while True:
            try:
                async with client.stream("GET", "/api/agents/me/events", headers=headers) as response:
                    response.raise_for_status()
                    async for name, data in sse_events(response):
                        if name == "hello":
                            self.connected += 1
                        elif name == "offer":
                            self.spawn(self.answer(client, headers, data))
                        elif name == "state" and data.get("state") == "not_ready":  # missed offers: back at once
                            self.phase.problems["agent set not ready"] += 1
                            self.spawn(self.ready(client, headers))
            except httpx.HTTPError:  # dropped, or refused while the server was busy
                self.phase.problems["event stream reconnected"] += 1
                await asyncio.sleep(0.5)

    def spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def answer(self, client: httpx.AsyncClient, headers: dict[str, str], pop: dict[str, Any]) -> None:
        arrived, phase = time.perf_counter(), self.phase
        offer = pop["offer"]
        ref, interaction_id = offer["interaction"]["external_ref"], offer["interaction"]["id"]
        sent = self.sent.pop(ref, None)
        if sent is not None:  # the first offer of the contact
            phase.latency_ms["offer"].append((arrived - sent) * 1000)
        accepted = await self.timed(phase, "accept", client.post(f"/api/offers/{offer['assignment_id']}/accept",
                                                                 headers=headers))
        if accepted != 200:  # gone meanwhile (timed out): the engine offers it again
            phase.problems[f"accept {accepted}"] += 1
            return
        ended = await self.timed(phase, "end", client.post(f"/api/interactions/{interaction_id}/end", headers=headers))
        if ended == 200:
            phase.ended += 1
            self.open.discard(ref)
        else:
            phase.problems[f"end {ended}"] += 1

    async def ready(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        await client.put("/api/agents/me/state", json={"state": "available"}, headers=headers)

    @staticmethod
    async def timed(phase: Phase, step: str, request: Any) -> int:
        started = time.perf_counter()
        try:
            response = await request
        except httpx.TransportError as error:
            phase.problems[f"{step} {type(error).__name__}"] += 1
            return -1
        phase.latency_ms[step].append((time.perf_counter() - started) * 1000)
        return int(response.status_code)

    def cpu_now(self) -> dict[str, float]:
        return {"driver": time.process_time(), "machine": machine_busy_seconds()} | {
            f"server {n + 1}": cpu_seconds(served.pid) for n, served in enumerate(self.servers)}


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy (not idle, not waiting on I/O) so far."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / 100  # USER_HZ


def outcomes(engine: Engine) -> dict[str, int]:
    """What the database says: contacts created, completed, still open; contacts ever offered twice at once."""
    final = ("completed", "abandoned")
    first, second = aliased(Assignment), aliased(Assignment)
    overlapping = and_(second.interaction_id == first.interaction_id, first.id < second.id,
                       or_(second.ended_at.is_(None), first.offered_at < second.ended_at),
                       or_(first.ended_at.is_(None), second.offered_at < first.ended_at))
    with engine.connect() as connection:
        created, completed, still_open = connection.execute(select(
            func.count(), func.count().filter(Interaction.status == "completed"),
            func.count().filter(Interaction.status.not_in(final)))).one()
        doubled = connection.scalar(select(func.count(distinct(first.interaction_id))).join(second, overlapping)
                                    .where(first.role == "primary", second.role == "primary"))
    return {"db_created": created, "db_completed": completed, "lost": still_open, "double_offers": doubled or 0}


def render(result: dict[str, Any]) -> str:
    main_run: Phase = result["main"]
    lines = [f"Interactions created → offered → accepted → ended through HTTP: 2 `careline serve` processes on "
             f"PostgreSQL with Redis, {result['agents']} agents on event streams, this process driving "
             "(target: ≥ 500 interactions/s on 2 cores, 0 lost).", ""]
    if result["ramp"]:
        lines += ["Ramp (each step until its contacts are all ended; sustained = created on schedule and the line "
                  f"empty within {SETTLED_SECONDS:g} s):", "",
                  "| asked /s | created /s | achieved /s | line empty after | create p95 | create → offer p95 | "
                  "sustained |", "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for phase in result["ramp"]:
            lines.append(f"| {phase.rate:g} | {per_second(phase.created / phase.window)} "
                         f"| {per_second(phase.achieved)} | {phase.drain:.1f} s | {pct(phase, 'create', 95)} "
                         f"| {pct(phase, 'offer', 95)} | {'yes' if phase.sustained else 'no'} |")
        lines.append("")
    cpu = ", ".join(f"{name} {seconds / (main_run.window + main_run.drain):.2f}"
                    for name, seconds in main_run.cpu.items())
    servers = sum(seconds for name, seconds in main_run.cpu.items() if name.startswith("server"))
    per_contact = (f"servers {servers * 1000 / max(main_run.ended, 1):.1f} ms, driver "
                   f"{main_run.cpu['driver'] * 1000 / max(main_run.ended, 1):.1f} ms")
    lines += [f"Main run: {main_run.rate:g} interactions/s asked for {main_run.seconds:g} s.", "",
              "| achieved /s | created | completed | lost | double offers | create p50 / p95 | create → offer "
              "p50 / p95 | accept p50 / p95 | end p50 / p95 |", "| ---: | ---: | ---: | ---: | ---: | --- | --- | --- "
              "| --- |",
              f"| {per_second(main_run.achieved)} | {main_run.created:,} | {main_run.ended:,} | {result['lost']} "
              f"| {result['double_offers']} | " + " | ".join(f"{pct(main_run, step, 50)} / {pct(main_run, step, 95)}"
                                                              for step in STEPS) + " |", "",
              f"Whole run, from the database: {result['db_created']:,} created, {result['db_completed']:,} completed, "
              f"{result['lost']} left open. Cores busy during the main run (CPU seconds per second; the machine's "
              f"figure counts PostgreSQL, Redis and anything else running): {cpu}. CPU per completed "
              f"interaction: {per_contact}."]
    problems = sum((phase.problems for phase in [*result["ramp"], main_run]), Counter[str]())
    if problems or result["errors"]:
        lines.append(f"Other answers and events: {dict(problems)}; server errors: {dict(result['errors'])}.")
    return "\n".join(lines)


def per_second(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.1f}"


def pct(phase: Phase, step: str, q: float) -> str:
    samples = phase.latency_ms[step]
    return f"{Timing(samples).pct(q):.0f} ms" if samples else "n/a"


if __name__ == "__main__":
    main()
