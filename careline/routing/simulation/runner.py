"""Driving a simulation on the real clock: each step one committed unit of work on a worker thread, its live
notices published afterwards (through Redis too when configured), so desktops and wallboards move.

``Runner`` is used by ``careline simulate``; ``Traffic`` runs one in a served app (``create_app``'s
``background``), which is how ``careline demo`` has callers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, utcnow
from careline.live import Bus, Notice
from careline.patients.policy import PatientPolicy
from careline.routing.simulation.draws import Plan
from careline.routing.simulation.world import Simulation, Tally
from careline.settings import Settings

TICK_SECONDS = 0.25
log = structlog.get_logger(__name__)
Action = Callable[[UnitOfWork, datetime], Tally]


class Runner:
    def __init__(self, simulation: Simulation, sessions: sessionmaker[Session], bus: Bus, *,
                 tick: float = TICK_SECONDS) -> None:
        self.simulation, self.totals = simulation, Tally()
        self._sessions, self._bus, self._tick = sessions, bus, tick

    async def run(self, stop: asyncio.Event, *, until: datetime | None = None) -> Tally:
        """Start, step every tick until ``stop`` is set or ``until`` passes, then close; returns the totals."""
        started = False
        try:
            while not stop.is_set() and (until is None or utcnow() < until):
                if started:
                    await self._once(self.simulation.step)
                else:  # until it succeeds: the database may be busy or away for a moment
                    started = await self._once(self.simulation.start)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._tick)
        finally:
            if started:
                await self._once(self.simulation.close)
        return self.totals

    async def _once(self, action: Action) -> bool:
        """Run and commit ``action``, then publish its notices; False if the database failed it."""
        try:
            notices = await asyncio.to_thread(self._commit, action)
        except DBAPIError:  # a lost connection or a broken deadlock: the next tick carries on
            log.warning("simulation.step_failed", exc_info=True)
            return False
        await self._bus.publish(notices)
        return True

    def _commit(self, action: Action) -> list[Notice]:
        with UnitOfWork(self._sessions) as uow:
            tally = action(uow, utcnow())
            uow.commit()
            notices = uow.take_notices()
        self.totals.add(tally)
        # Each step ended with an engine pass, which answered its own 'routing' notices already.
        return [notice for notice in notices if notice[0] != "routing"]


class Traffic:
    """A simulation running in the background of a served app, stopped (callers hang up, agents sign off)
    with the app."""

    def __init__(self, simulation: Simulation, sessions: sessionmaker[Session], bus: Bus) -> None:
        self._runner = Runner(simulation, sessions, bus)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="careline-simulation")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        try:
            await self._runner.run(self._stop)
        except Exception as error:  # the app serves on; the traffic stops, and says why (no PHI: type only)
            log.error("simulation.failed", error=type(error).__name__)


def background_traffic(plan: Plan, *, seed: int | None = None, policy: PatientPolicy | None = None,
                       settings: Settings | None = None) -> Callable[[sessionmaker[Session], Bus], Traffic]:
    """For ``create_app(background=[...])``: the app hands over its sessions and bus when it starts."""

    def make(sessions: sessionmaker[Session], bus: Bus) -> Traffic:
        return Traffic(Simulation(plan, seed=seed, policy=policy, settings=settings), sessions, bus)

    return make
