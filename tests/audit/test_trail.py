from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from careline import audit
from careline.actor import Actor, Role
from careline.audit import repository
from careline.audit.schemas import AuditFilter
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from tests.support.databases import DatabaseFactory

ADMIN = Actor(username="dana", role=Role.admin, ip="10.0.0.7", route="GET /admin/users/{user_id}")


def _bypass_append_only_guard(uow: UnitOfWork) -> None:
    """What an attacker with database access would do first; rolled back with the test."""
    if uow.dialect == "postgresql":
        uow.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        uow.session.execute(text("DROP TRIGGER audit_log_no_update"))
        uow.session.execute(text("DROP TRIGGER audit_log_no_delete"))


class TestRecord:
    def test_entries_chain_and_verify(self, uow: UnitOfWork) -> None:
        audit.record(uow, ADMIN, "user.viewed", subject_type="user", subject_id="u-1")
        audit.record(uow, ADMIN, "patient.viewed", patient_id="p-42")
        report = audit.verify_chain(uow)
        assert report.ok, report.problem
        assert report.entries_checked == 2
        latest = audit.search(uow, ADMIN, AuditFilter(patient_id="p-42")).entries
        assert [(e.action, e.actor_username, e.ip, e.route) for e in latest] == [
            ("patient.viewed", "dana", "10.0.0.7", "GET /admin/users/{user_id}")]

    def test_write_failure_raises_audit_unavailable(self, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch) -> None:
        def broken_add(*_args: object) -> None:
            raise DBAPIError("INSERT", {}, Exception("disk full"))

        monkeypatch.setattr(repository, "add", broken_add)
        with pytest.raises(audit.AuditUnavailable):
            audit.record(uow, ADMIN, "user.viewed")


class TestAppendOnly:
    def test_database_refuses_update(self, uow: UnitOfWork) -> None:
        audit.record(uow, ADMIN, "user.viewed")
        with pytest.raises(DBAPIError, match="append-only"), uow.session.begin_nested():
            uow.session.execute(text("UPDATE audit_log SET actor_username = 'mallory'"))

    def test_database_refuses_delete(self, uow: UnitOfWork) -> None:
        audit.record(uow, ADMIN, "user.viewed")
        with pytest.raises(DBAPIError, match="append-only"), uow.session.begin_nested():
            uow.session.execute(text("DELETE FROM audit_log"))


class TestTamperDetection:
    def test_edited_entry_breaks_the_chain(self, uow: UnitOfWork) -> None:
        for n in range(3):
            audit.record(uow, ADMIN, "user.viewed", subject_id=f"u-{n}")
        _bypass_append_only_guard(uow)
        uow.session.execute(text("UPDATE audit_log SET actor_username = 'mallory' WHERE seq = 2"))
        report = audit.verify_chain(uow)
        assert not report.ok
        assert report.problem == "entry 2 was altered after it was written"
        assert report.entries_checked == 1

    def test_deleted_entry_breaks_the_chain(self, uow: UnitOfWork) -> None:
        for n in range(3):
            audit.record(uow, ADMIN, "user.viewed", subject_id=f"u-{n}")
        _bypass_append_only_guard(uow)
        uow.session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        report = audit.verify_chain(uow)
        assert report.problem == "entry 2 is missing (next entry is 3)"


def test_concurrent_writers_keep_one_linear_chain(databases: DatabaseFactory) -> None:
    """Writers racing on separate connections must never fork the chain or reuse a position."""
    engine = make_engine(databases.fresh(), pool_size=8)
    sessions = make_sessionmaker(engine)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for n in range(15):
                with UnitOfWork(sessions) as uow:
                    audit.record(uow, ADMIN, "user.viewed", subject_id=f"{worker}-{n}")
                    uow.commit()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with UnitOfWork(sessions) as uow:
        report = audit.verify_chain(uow)
    engine.dispose()
    assert errors == []
    assert report.ok, report.problem
    assert report.entries_checked == 90
