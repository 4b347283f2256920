"""The dispatcher: lease due outbox rows, run each one's handler outside any transaction, settle the outcome.

A handler must be safe to run twice for one row (it gets the row's ``key`` to make sure of that): a
dispatcher that dies between the side effect and the settling leaves the row to come due again.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from careline.background import Loop
from careline.db import UnitOfWork, utcnow
from careline.live import Bus
from careline.settings import Settings
from careline.worker import repository
from careline.worker.outbox import CHANNEL

log = structlog.get_logger(__name__)
LEASE = timedelta(seconds=60)
BATCH = 50
MAX_BACKOFF_SECONDS = 600
IDLE_SECONDS = 1.0


class GiveUp(Exception):
    """Raised by a handler when trying again cannot help (the call is long over, the number is invalid).

    ``in_doubt``: the side effect may have happened (a provider cut off mid-request), so an admin re-drives it
    only knowingly, one by one."""

    def __init__(self, reason: str, *, in_doubt: bool = False) -> None:
        super().__init__(reason)
        self.in_doubt = in_doubt


class Later(Exception):
    """Not now, and not a failure: run the row again at ``until`` (quiet hours, a rate limit, an earlier
    message in the same thread still on its way). It does not count as an attempt."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until


@dataclass(frozen=True, slots=True)
class Job:
    id: UUID
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    lease: UUID | None = None  # the dispatcher's hold on the row; only it settles the row


@dataclass(slots=True)
class Context:
    """What handlers work with: the database, the settings and the providers (see ``careline.jobs``)."""

    sessions: sessionmaker[Session]
    settings: Settings
    providers: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow  # the time rules run at (quiet hours); tests move it


Handler = Callable[[Context, Job], None]
# A batch handler settles many rows of its kind at once; a job missing from the result succeeded.
BatchHandler = Callable[[Context, Sequence[Job]], Mapping[UUID, Exception]]
GaveUpHook = Callable[[Context, Job, str], None]


@dataclass(frozen=True, slots=True)
class Task:
    """What the dispatcher runs for one kind of row, and what it tells the domain when a row is given up."""

    run: BatchHandler
    gave_up: GaveUpHook | None = None


def one_at_a_time(handler: Handler) -> Task:
    def run(context: Context, jobs: Sequence[Job]) -> dict[UUID, Exception]:
        failures: dict[UUID, Exception] = {}
        for job in jobs:
            try:
                handler(context, job)
            except Exception as error:  # any failure is the row's, never the dispatcher's
                failures[job.id] = error
        return failures

    return Task(run)


def extend_lease(uow: UnitOfWork, jobs: Sequence[Job], seconds: float) -> None:
    """A batch that talks to a slow provider one message at a time keeps its rows for another ``seconds``."""
    token = next((job.lease for job in jobs if job.lease is not None), None)
    if token is not None:
        repository.extend_lease(uow.session, [job.id for job in jobs], token, utcnow() + timedelta(seconds=seconds))


def backoff(attempts: int) -> timedelta:
    """Exponential, capped, with jitter so a provider's outage does not end in a thundering herd."""
    base = min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return timedelta(seconds=base * (0.5 + random.random()))  # noqa: S311 - jitter, not a secret


class Dispatcher:
    def __init__(
        self, context: Context, tasks: Mapping[str, Task], *, batch: int = BATCH, lease: timedelta = LEASE
    ) -> None:
        self.context, self._tasks, self._batch, self._lease = context, tasks, batch, lease

    def run_once(self, now: datetime | None = None) -> int:
        """Lease one batch of due rows, carry them out kind by kind, and settle them; returns how many."""
        now, token = now or utcnow(), uuid4()
        with UnitOfWork(self.context.sessions) as uow:
            jobs = [
                Job(row.id, row.kind, row.key, dict(row.payload), row.attempts, row.redriven_at or row.created_at,
                    token)
                for row in repository.lease_due(uow.session, now, limit=self._batch, lease=self._lease, token=token)
            ]
            uow.commit()
        by_kind: dict[str, list[Job]] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, group in by_kind.items():
            self._settle(group, self._run(kind, group))
        return len(jobs)

    def _run(self, kind: str, jobs: Sequence[Job]) -> Mapping[UUID, Exception]:
        task = self._tasks.get(kind)
        if task is None:
            return {job.id: GiveUp(f"no handler for {kind!r}") for job in jobs}
        try:
            return task.run(self.context, jobs)
        except Exception as error:  # the whole batch failed (the database went away): every row tries again
            return {job.id: error for job in jobs}

    def _settle(self, jobs: Sequence[Job], failures: Mapping[UUID, Exception]) -> None:
        now = utcnow()
        given_up: list[tuple[Job, str]] = []
        token = jobs[0].lease if jobs else None
        if token is None:
            return
        with UnitOfWork(self.context.sessions) as uow:
            repository.mark_sent(uow.session, [job.id for job in jobs if job.id not in failures], token, now)
            for job in jobs:
                error = failures.get(job.id)
                if error is None:
                    continue
                if isinstance(error, Later):
                    repository.postpone(uow.session, job.id, token, error.until, str(error))
                elif isinstance(error, GiveUp) or now - job.created_at > self._max_age:
                    in_doubt = isinstance(error, GiveUp) and error.in_doubt
                    if repository.give_up(uow.session, job.id, token, _describe(error), in_doubt=in_doubt):
                        given_up.append((job, _describe(error)))
                    log.warning("outbox.gave_up", kind=job.kind, attempts=job.attempts, error_type=type(error).__name__)
                else:
                    repository.retry_at(uow.session, job.id, token, now + backoff(job.attempts), _describe(error))
                    log.info("outbox.retry", kind=job.kind, attempts=job.attempts, error_type=type(error).__name__)
            uow.commit()
        for job, reason in given_up:
            self._tell_gave_up(job, reason)

    def _tell_gave_up(self, job: Job, reason: str) -> None:
        task = self._tasks.get(job.kind)
        if task is None or task.gave_up is None:
            return
        try:
            task.gave_up(self.context, job, reason)
        except Exception as error:  # the row is settled; the domain's own record can be mended by a re-drive
            log.error("outbox.gave_up_hook_failed", kind=job.kind, error_type=type(error).__name__)

    @property
    def _max_age(self) -> timedelta:
        return timedelta(minutes=self.context.settings.outbox_max_age_minutes)

    def drain(self) -> int:
        """Run until nothing is due; returns how many rows were leased in all (tests and the CLI)."""
        total = 0
        while count := self.run_once():
            total += count
        return total


def _describe(error: Exception) -> str:
    """The error's type and message, which handlers keep free of PHI (they name SIDs, not numbers)."""
    return f"{type(error).__name__}: {error}"[:300]


class OutboxLoop(Loop):
    """The in-process dispatcher under ``careline serve``: wakes on new outbox rows, and every second."""

    name = "careline-outbox"

    def __init__(self, dispatcher: Dispatcher, bus: Bus, *, tick: float = IDLE_SECONDS) -> None:
        super().__init__()
        self._dispatcher, self._bus, self._tick = dispatcher, bus, tick

    async def _run(self) -> None:
        async with self._bus.listen([CHANNEL]) as listener:
            while True:
                await listener.get(timeout=self._tick)
                listener.drain()
                try:
                    await run_in_threadpool(self._dispatcher.drain)
                except Exception as error:  # e.g. the database away for a moment: the next tick tries again
                    log.error("outbox.pass_failed", error_type=type(error).__name__)


def run_until(dispatcher: Dispatcher, stop: threading.Event, *, idle_seconds: float = IDLE_SECONDS) -> int:
    """``careline worker``: dispatch until ``stop`` is set (on SIGTERM), finishing the row in hand first."""
    total = 0
    while not stop.is_set():
        try:
            count = dispatcher.run_once()
        except Exception as error:  # the database away for a moment: wait, then try again
            log.error("outbox.pass_failed", error_type=type(error).__name__)
            count = 0
        total += count
        if not count:
            stop.wait(idle_seconds)
    return total
