"""Engines for the two supported databases, configured the same way everywhere (app, CLI, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "careline_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQL parameters are hidden from errors and logs because they may hold PHI."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    return _postgres_engine(url, **kwargs)


def _postgres_engine(url: str, **kwargs: Any) -> Engine:
    # psycopg prepares a statement after a few runs, and PostgreSQL may then switch to a generic plan that
    # ignores the values: a range it cannot see is planned as tiny, and the first-available search falls
    # from an ordered index scan to reading whole calendars. Custom plans keep planning on the real values;
    # the statements are small enough for that to cost far less than a wrong plan.
    connect_args = {"options": "-c plan_cache_mode=force_custom_plan"} | kwargs.pop("connect_args", {})
    return create_engine(url, hide_parameters=True, connect_args=connect_args, **kwargs)


def make_sessionmaker(bind: Any, **kwargs: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, expire_on_commit=False, **kwargs)


def _sqlite_engine(url: str, database: str | None, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the file will hold PHI
    engine = create_engine(
        url, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that BEGIN below is the only one issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a read-then-write transaction (the audit chain)
        # then waits its turn instead of failing with SQLITE_BUSY when it tries to write.
        # Long read-only walks (audit verify) opt out so that they never hold up the app's writers.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")

    return engine
