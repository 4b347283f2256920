"""Routing decisions per second: the ACD pass with 500 agents free and 1,000 contacts waiting, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.routing_decisions [--agents 500] [--waiting 1000] [--passes 20]
        [--engines sqlite,postgresql] [--profile] [--write]

Target (DESIGN.md, issue 5): ≥ 2,000 routing decisions/s per core. The center has three queues (scheduling,
which widens from level 2 to level 1 after 45 s; nurse, most skilled first, higher priority; billing), agents
with a mix of skills, levels and Spanish, one in ten on text (three chats or texts each), the rest on voice
(one call each); the line mixes calls and texts, English and Spanish, queued over the last five minutes.
Each timed call is ``engine.run_pass`` in its own committed unit of work, as the routing loop runs it; a
decision is one offer made. Between passes (not timed) every offer is withdrawn through the offers service,
so each pass again finds every agent free and the whole line waiting. "Per core" divides the decisions by the
CPU time the pass took in this process; on PostgreSQL the database server's CPU (its backend, read from
/proc) is shown as well.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.support import Timing, cpu_seconds, on_each_engine, staff_users, write_section
from careline.actor import Actor, Role
from careline.db import UnitOfWork, make_engine, make_sessionmaker, utcnow
from careline.db.migrate import upgrade_to_head
from careline.patients.policy import PatientPolicy
from careline.routing.models import Assignment
from careline.routing.schemas import AgentIn, EscalationStep, InteractionIn, QueueIn, SkillNeed, StateIn
from careline.routing.service import agents, engine, interactions, offers, setup
from careline.settings import Settings

WARMUP_PASSES = 3
INTEGRATION = Actor(username="bench-telephony", role=Role.admin, route="bench")
QUEUES = (
    QueueIn(name="scheduling", skills=[SkillNeed(skill="scheduling", min_level=2)],
            steps=[EscalationStep(after_seconds=45, skills=[SkillNeed(skill="scheduling", min_level=1)])]),
    QueueIn(name="nurse", priority=2, agent_order="most_skilled", skills=[SkillNeed(skill="nurse", min_level=2)],
            steps=[EscalationStep(after_seconds=120, skills=[SkillNeed(skill="nurse", min_level=1)])]),
    QueueIn(name="billing", priority=-1, skills=[SkillNeed(skill="billing", min_level=1)]),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--waiting", type=int, default=1_000)
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true", help="print where the timed passes spend their time")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows = on_each_engine(args.engines, lambda engine_name, url, _workdir: run(
        engine_name, url, agents=args.agents, waiting=args.waiting, passes=args.passes, profile=args.profile))
    table = render(rows)
    print(table)
    if args.write:
        write_section("routing-decisions", f"`.venv/bin/python -m benchmarks.routing_decisions --agents {args.agents} "
                                           f"--waiting {args.waiting} --passes {args.passes} --write`\n\n{table}")


# --- the center: shared with the end-to-end benchmark --------------------------------------------------------


@dataclass(frozen=True)
class Staffed:
    agent_id: Any
    actor: Actor


def seed_center(uow: UnitOfWork, count: int, *, now: datetime, wrap_up_seconds: int = 60,
                seed: int = 5) -> list[Staffed]:
    """The queues, and ``count`` agents signed in and available (idle since various moments of the last hour)."""
    rng = random.Random(seed)
    admin = Actor.cli("bench")
    for queue in QUEUES:
        setup.save_queue(uow, admin, queue)
    staffed = []
    for n, user in enumerate(staff_users(uow, count, prefix="agent")):
        created = setup.create_agent(uow, admin, AgentIn(user_id=user.id, wrap_up_seconds=wrap_up_seconds,
                                                         **agent_profile(n, rng)))
        actor = Actor(username=user.username, role=Role.agent, user_id=user.id, route="bench")
        agents.set_own_state(uow, actor, StateIn(state="available"), now=now - timedelta(seconds=rng.randrange(3600)))
        staffed.append(Staffed(created.id, actor))
    uow.flush()
    return staffed


def agent_profile(n: int, rng: random.Random) -> dict[str, Any]:
    """Every fourth agent speaks Spanish, every tenth works texts, one in five is a nurse, one in three does
    billing; everyone schedules. Membership follows ``n`` so that even a small center covers every kind of
    contact; the levels are drawn."""
    skills = {"scheduling": rng.choice((1, 2, 2, 3, 4))}
    if n % 5 == 0:
        skills["nurse"] = rng.randint(2, 5)
    if n % 3 == 0:
        skills["billing"] = rng.randint(1, 3)
    text_agent = n % 10 == 4
    return {"languages": ["en", "es"] if n % 4 == 0 else ["en"], "skills": skills,
            "voice_slots": 0 if text_agent else 1, "text_slots": 3 if text_agent else 0}


def contact(rng: random.Random, **fields: Any) -> InteractionIn:
    """A contact as the center gets them: mostly scheduling calls, some texts, nurse and billing calls; one in
    five in Spanish."""
    draw = rng.random()
    queue, channel = (("scheduling", "voice") if draw < 0.55 else ("scheduling", rng.choice(("sms", "chat")))
                      if draw < 0.70 else ("nurse", "voice") if draw < 0.85 else ("billing", "voice"))
    return InteractionIn(channel=channel, queue=queue, language="es" if rng.random() < 0.2 else "en",
                         priority=1 if rng.random() < 0.05 else 0, **fields)


def bench_policy() -> PatientPolicy:
    return PatientPolicy.from_settings(Settings(secret_key="benchmark-secret-key"))


# --- the measurement ------------------------------------------------------------------------------------------


def run(engine_name: str, url: str, *, agents: int, waiting: int, passes: int, profile: bool) -> dict[str, Any]:
    # One pooled connection, so every pass runs on the same database backend and its CPU can be read.
    db = make_engine(url, pool_size=1, max_overflow=0)
    upgrade_to_head(db)
    sessions = make_sessionmaker(db)
    populate(sessions, agents, waiting)
    backend = backend_pid(sessions)
    for _ in range(WARMUP_PASSES):
        timed_pass(sessions, backend)
        take_back(sessions)
    profiler = cProfile.Profile() if profile else None
    samples: list[PassSample] = []
    for n in range(passes):
        sample = timed_pass(sessions, backend, profiler)
        samples.append(sample)
        take_back(sessions)
        print(f"  {engine_name}: pass {n + 1}/{passes}: {sample.offered} offers in {sample.wall * 1000:.0f} ms")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    same_backend = backend_pid(sessions) == backend
    db.dispose()
    return {"engine": engine_name, "agents": agents, "waiting": waiting, "samples": samples,
            "database_cpu": backend is not None and same_backend}


def populate(sessions: sessionmaker[Session], agents: int, waiting: int) -> None:
    now, rng, policy = utcnow(), random.Random(9), bench_policy()
    print(f"  seeding {agents} agents and {waiting} waiting contacts")
    with UnitOfWork(sessions) as uow:
        seed_center(uow, agents, now=now)
        for _ in range(waiting):
            interactions.create(uow, INTEGRATION, policy, contact(rng),
                                now=now - timedelta(seconds=rng.uniform(0, 300)))
        uow.commit()


@dataclass(frozen=True)
class PassSample:
    offered: int
    wall: float
    cpu: float
    database_cpu: float


def timed_pass(sessions: sessionmaker[Session], backend: int | None,
               profiler: cProfile.Profile | None = None) -> PassSample:
    database_before, cpu_before, started = backend_cpu(backend), time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    with UnitOfWork(sessions) as uow:
        report = engine.run_pass(uow)
        uow.commit()
    if profiler is not None:
        profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    return PassSample(report.offered, wall, cpu, backend_cpu(backend) - database_before)


def take_back(sessions: sessionmaker[Session]) -> None:
    """Withdraw every open offer (no blame, as when an agent steps away): the agents are free again and the
    contacts back in line, in their places."""
    now = utcnow()
    with UnitOfWork(sessions) as uow:
        offered_to = uow.session.scalars(select(Assignment.agent_id).where(Assignment.status == "offered")
                                         .distinct()).all()
        for agent_id in offered_to:
            offers.withdraw_offers_of(uow, setup.agent(uow, agent_id), now, reason="benchmark")
        uow.commit()


def backend_pid(sessions: sessionmaker[Session]) -> int | None:
    """The PostgreSQL server process behind the one pooled connection, if its CPU time can be read here."""
    with UnitOfWork(sessions) as uow:
        if uow.dialect != "postgresql":
            return None
        pid = int(uow.session.scalar(text("SELECT pg_backend_pid()")) or 0)
    return pid if Path(f"/proc/{pid}/stat").exists() else None


def backend_cpu(pid: int | None) -> float:
    return 0.0 if pid is None else cpu_seconds(pid)


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["ACD passes in committed units of work (target: ≥ 2,000 decisions/s per core). A decision is one offer; "
             "between passes the offers are withdrawn (not timed), so each pass finds every agent free.", "",
             "| engine | agents / waiting | offers per pass | passes | decisions/s (wall) | per core (this "
             "process's CPU) | per core (+ database server CPU) | pass p50 / p95 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        samples: list[PassSample] = row["samples"]
        offered = sum(sample.offered for sample in samples)
        timing = Timing([sample.wall * 1000 for sample in samples])
        with_database = (f"{offered / total(samples, lambda s: s.cpu + s.database_cpu):,.0f}"
                         if row["database_cpu"] else "n/a (in process)" if row["engine"] == "sqlite" else "n/a")
        lines.append(f"| {row['engine']} | {row['agents']} / {row['waiting']} | {offered / len(samples):,.0f} "
                     f"| {len(samples)} | {offered / total(samples, lambda s: s.wall):,.0f} "
                     f"| {offered / total(samples, lambda s: s.cpu):,.0f} | {with_database} "
                     f"| {timing.p50:.0f} / {timing.pct(95):.0f} ms |")
    return "\n".join(lines)


def total(samples: list[PassSample], value: Callable[[PassSample], float]) -> float:
    return max(sum(value(sample) for sample in samples), 1e-9)


if __name__ == "__main__":
    main()
