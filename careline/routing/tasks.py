"""The routing loop each app process runs: an engine pass on every routing notice, and at least every second.

Passes run on a worker thread with their own unit of work; the notices they produce (offers for desktops,
changes for wallboards) are published after the commit.
"""

from __future__ import annotations

import random

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from careline.background import Loop
from careline.db import UnitOfWork
from careline.live import Bus, Notice
from careline.routing.service import engine

TICK_SECONDS = 1.0
BUSY_RETRY_SECONDS = 0.02
log = structlog.get_logger(__name__)


def one_pass(sessions: sessionmaker[Session]) -> tuple[engine.PassReport, list[Notice]]:
    """One committed engine pass; its own 'routing' notices are dropped (the pass already routed)."""
    with UnitOfWork(sessions) as uow:
        report = engine.run_pass(uow)
        uow.commit()
        return report, [notice for notice in uow.take_notices() if notice[0] != "routing"]


class RoutingLoop(Loop):
    name = "careline-routing"

    def __init__(self, sessions: sessionmaker[Session], bus: Bus, *, tick: float = TICK_SECONDS) -> None:
        super().__init__()
        self._sessions, self._bus, self._tick = sessions, bus, tick

    async def _run(self) -> None:
        async with self._bus.listen(["routing"]) as listener:
            wait: float | None = self._tick
            while True:
                await listener.get(timeout=wait)
                listener.drain()  # one pass answers every notice that arrived meanwhile
                try:
                    report, notices = await run_in_threadpool(one_pass, self._sessions)
                    await self._bus.publish(notices)
                except Exception as error:  # the engine must outlive any one pass: the next tick tries again
                    # The type only: a database's message (a DETAIL line) may quote row values.
                    log.error("routing.pass_failed", error_type=type(error).__name__)
                    wait = self._tick
                    continue
                # Another process was mid-pass and may have read the line before our news: look again soon,
                # a little later each process, so waiting processes do not knock on the lock in step.
                wait = BUSY_RETRY_SECONDS * (1 + random.random()) if report.skipped else self._tick  # noqa: S311
