"""``careline simulate`` in a terminal: its option parsers, the live table, the summary.

Everything printed is counts and queue names: no caller, patient or number appears.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections import Counter
from datetime import timedelta

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from careline.bootstrap import open_engine
from careline.db import UnitOfWork, make_sessionmaker, utcnow
from careline.db.migrate import ensure_schema
from careline.live import make_bus
from careline.patients.policy import PatientPolicy
from careline.routing.schemas import Wallboard
from careline.routing.service import board
from careline.routing.simulation.draws import Plan
from careline.routing.simulation.runner import Runner
from careline.routing.simulation.world import Simulation, Tally
from careline.settings import Settings

RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)", re.IGNORECASE)
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h)", re.IGNORECASE)
SECONDS_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
MAX_PER_SECOND = 1000.0
MAX_DURATION = timedelta(days=7)
REFRESH_SECONDS = 1.0


def parse_rate(text: str) -> float:
    """Contacts per second from ``5/s``, ``300/min`` or ``90/h``. Raises ValueError with a message for people."""
    match = RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a rate: write a number per unit, like 5/s, 300/min or 90/h.")
    per_second = float(match[1]) / SECONDS_PER[match[2].lower()]
    if not 0 < per_second <= MAX_PER_SECOND:
        raise ValueError(f"Choose a rate above 0 and at most {MAX_PER_SECOND:g}/s.")
    return per_second


def parse_duration(text: str) -> timedelta:
    """A duration from ``90s``, ``10m`` or ``1.5h``. Raises ValueError with a message for people."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, like 90s, 10m or 2h.")
    length = timedelta(seconds=float(match[1]) * SECONDS_PER[match[2].lower()])
    if not timedelta(0) < length <= MAX_DURATION:
        raise ValueError("Choose a duration above 0 and at most 7 days.")
    return length


def run_live(settings: Settings, plan: Plan, *, duration: timedelta | None, seed: int | None,
             console: Console | None = None) -> Tally:
    """Run the simulation on the configured database until ``duration`` passes or Ctrl-C, showing the live
    table; returns what happened. Raises SchemaOutOfDate for a server database behind the migrations."""
    with open_engine(settings) as engine:
        ensure_schema(engine)
        simulation = Simulation(plan, seed=seed, policy=PatientPolicy.from_settings(settings), settings=settings)
        return asyncio.run(_main(settings, make_sessionmaker(engine), simulation, duration, console or Console()))


async def _main(settings: Settings, sessions: sessionmaker[Session], simulation: Simulation,
                duration: timedelta | None, console: Console) -> Tally:
    bus = make_bus(settings.redis_url)
    await bus.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def interrupted() -> None:  # Ctrl-C: stop stepping, hang up, sign off, summarise; a second one stops at once
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    loop.add_signal_handler(signal.SIGINT, interrupted)
    runner, started = Runner(simulation, sessions, bus), utcnow()
    try:
        with Live(console=console, auto_refresh=False) as live:
            work = asyncio.create_task(runner.run(stop, until=started + duration if duration else None))
            while not work.done():
                await asyncio.wait({work}, timeout=REFRESH_SECONDS)
                figures = await asyncio.to_thread(_wallboard, sessions, settings.center_time_zone)
                if figures is not None:
                    live.update(render(figures, runner.totals, simulation.plan, utcnow() - started), refresh=True)
            totals = work.result()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await bus.stop()
    console.print()
    console.print(summary(totals, utcnow() - started))
    return totals


def _wallboard(sessions: sessionmaker[Session], zone: str) -> Wallboard | None:
    with contextlib.suppress(DBAPIError), UnitOfWork(sessions) as uow:
        return board.wallboard(uow, zone=zone)
    return None  # the database was busy or away for a moment: the table waits for the next second


def render(figures: Wallboard, totals: Tally, plan: Plan, elapsed: timedelta) -> Group:
    table = Table(title=f"Queues today · simulating for {_span(elapsed)}", title_justify="left")
    for heading in ("queue", "waiting", "longest wait", "answered", "abandoned", "service level"):
        table.add_column(heading, justify="left" if heading == "queue" else "right")
    for queue in figures.queues:
        level = "-" if queue.service_level is None else f"{queue.service_level:.0%}"
        table.add_row(queue.name, str(queue.waiting), _span(timedelta(seconds=queue.longest_wait_seconds)),
                      str(queue.answered), str(queue.abandoned), level)
    states = Counter(agent.state.value.replace("_", " ") for agent in figures.agents)
    people = " · ".join(f"{count} {state}" for state, count in states.most_common())
    seconds = max(elapsed.total_seconds(), 1.0)
    pace = (f"Contacts: {totals.arrived:,} ({totals.arrived / seconds:.2f}/s, aiming at {plan.per_second:g}/s) · "
            f"simulated agents answered {totals.answered:,} · {totals.abandoned:,} hung up waiting")
    return Group(table, Text(f"Agents: {people or 'none'}"), Text(pace))


def summary(totals: Tally, elapsed: timedelta) -> str:
    seconds = max(elapsed.total_seconds(), 1.0)
    return (f"Simulated {_span(elapsed)}: {totals.arrived:,} contacts ({totals.arrived / seconds:.2f}/s); "
            f"simulated agents answered {totals.answered:,} and wrapped up {totals.completed:,}; "
            f"{totals.abandoned:,} callers hung up while waiting; offers let time out: {totals.missed:,}.")


def _span(length: timedelta) -> str:
    minutes, seconds = divmod(int(length.total_seconds()), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
