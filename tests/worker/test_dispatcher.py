"""The outbox: written with the change that causes it, sent once per key, retried with backoff after a
failure, given up when retrying cannot help or has gone on too long, and shared by dispatchers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, utcnow
from careline.settings import Settings
from careline.worker import outbox, repository
from careline.worker.models import OutboxMessage
from careline.worker.runner import Context, Dispatcher, GiveUp, Job, backoff, one_at_a_time


class Recorder:
    def __init__(self, *failures: Exception) -> None:
        self.jobs: list[Job] = []
        self._failures = list(failures)

    def __call__(self, context: Context, job: Job) -> None:
        self.jobs.append(job)
        if self._failures:
            raise self._failures.pop(0)


def _dispatcher(sessions: sessionmaker[Session], settings: Settings, handler: Any) -> Dispatcher:
    return Dispatcher(Context(sessions, settings), {"test.kind": one_at_a_time(handler)})


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.query(OutboxMessage).order_by(OutboxMessage.created_at))


def test_a_row_is_written_with_its_change_and_sent_once(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "test.kind", {"n": 1}, key="same")
        outbox.send_later(uow, "test.kind", {"n": 2}, key="same")  # asked twice under one key: once
        uow.commit()
    handler = Recorder()

    assert _dispatcher(sessions, settings, handler).drain() == 1

    assert [job.payload for job in handler.jobs] == [{"n": 1}]
    assert [row.status for row in _rows(sessions)] == ["sent"]


def test_nothing_is_written_when_the_change_rolls_back(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "test.kind", {})
    assert _rows(sessions) == []


def test_a_failure_is_retried_later_and_then_sent(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "test.kind", {})
        uow.commit()
    handler = Recorder(ConnectionError("provider down"))
    dispatcher = _dispatcher(sessions, settings, handler)

    assert dispatcher.run_once() == 1
    [row] = _rows(sessions)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error == "ConnectionError: provider down"
    assert row.due_at > utcnow()
    assert dispatcher.run_once() == 0  # not due yet

    assert dispatcher.run_once(now=row.due_at + timedelta(seconds=1)) == 1
    assert [row.status for row in _rows(sessions)] == ["sent"]
    assert len(handler.jobs) == 2


def test_give_up_goes_straight_to_dead(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "test.kind", {})
        outbox.send_later(uow, "unknown.kind", {})
        uow.commit()

    _dispatcher(sessions, settings, Recorder(GiveUp("number invalid"))).drain()

    rows = {row.kind: row for row in _rows(sessions)}
    assert rows["test.kind"].status == "dead"
    assert rows["test.kind"].last_error == "GiveUp: number invalid"
    assert rows["unknown.kind"].status == "dead"


def test_a_row_older_than_the_maximum_age_is_given_up(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "test.kind", {})
        uow.commit()
    short = settings.model_copy(update={"outbox_max_age_minutes": 1})
    with sessions() as session:
        row = session.query(OutboxMessage).one()
        row.created_at = utcnow() - timedelta(minutes=5)
        session.commit()

    _dispatcher(sessions, short, Recorder(ConnectionError("still down"))).run_once()

    assert [row.status for row in _rows(sessions)] == ["dead"]


def test_a_leased_row_is_not_leased_again_until_its_lease_runs_out(sessions: sessionmaker[Session]) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "test.kind", {})
        uow.commit()
    now = utcnow()
    with sessions() as session:
        assert len(repository.lease_due(session, now, limit=10, lease=timedelta(seconds=60), token=uuid4())) == 1
        session.commit()
    with sessions() as session:
        assert repository.lease_due(session, now, limit=10, lease=timedelta(seconds=60), token=uuid4()) == []
        # A dispatcher that died mid-send: the row comes due again when its lease ends.
        again = repository.lease_due(session, now + timedelta(seconds=61), limit=10, lease=timedelta(seconds=60),
                                     token=uuid4())
        assert [row.attempts for row in again] == [2]


@pytest.mark.parametrize("attempts", [1, 3, 12])
def test_backoff_grows_and_is_capped(attempts: int) -> None:
    delay = backoff(attempts).total_seconds()
    base = min(2 ** (attempts - 1), 600)
    assert base * 0.5 <= delay <= base * 1.5


def test_a_dispatcher_whose_lease_ran_out_cannot_settle_the_row_another_one_holds(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        outbox.send_later(uow, "test.kind", {"n": 1}, key="slow")
        uow.commit()
    now = utcnow()
    slow, fast = uuid4(), uuid4()
    with UnitOfWork(sessions) as uow:
        [row] = repository.lease_due(uow.session, now, limit=1, lease=timedelta(seconds=60), token=slow)
        uow.commit()
    with UnitOfWork(sessions) as uow:  # the slow one's lease ran out: another dispatcher takes the row
        repository.lease_due(uow.session, now + timedelta(seconds=61), limit=1, lease=timedelta(seconds=60),
                             token=fast)
        assert repository.give_up(uow.session, row.id, slow, "late and wrong") is False
        repository.mark_sent(uow.session, [row.id], fast, now)
        uow.commit()
    [settled] = _rows(sessions)
    assert (settled.status, settled.last_error) == ("sent", None)
