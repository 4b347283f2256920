"""Test databases on both engines: a migrated one per test session, and fresh ones for committed data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from careline.db import make_engine
from careline.db.migrate import upgrade_to_head
from careline.settings import Settings

ENGINES = ("sqlite", "postgresql")
POSTGRES_URL = Settings(database_url=os.environ.get(
    "CARELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")).database_url or ""
REQUIRE_POSTGRES = os.environ.get("CARELINE_REQUIRE_POSTGRES") == "1"


def _admin_engine() -> Engine:
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_size=1)


def postgres_available() -> bool:
    try:
        with _admin_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def require_postgres() -> None:
    """Skip where PostgreSQL is absent, except in CI, which sets CARELINE_REQUIRE_POSTGRES=1 to fail."""
    if postgres_available():
        return
    message = f"PostgreSQL is not reachable at {make_url(POSTGRES_URL).render_as_string(hide_password=True)}"
    if REQUIRE_POSTGRES:
        pytest.fail(message + " and CARELINE_REQUIRE_POSTGRES=1", pytrace=False)
    pytest.skip(message)


class DatabaseFactory:
    """Creates migrated databases of one engine: a session-wide template and throw-away copies."""

    def __init__(self, engine_name: str, workdir: Path) -> None:
        self.engine_name = engine_name
        self.workdir = workdir
        self._created: list[str] = []
        self._template: str | None = None

    def _postgres_url(self, name: str) -> str:
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def template(self) -> str:
        """A migrated database whose schema is the Alembic head; copies of it are cheap on PostgreSQL."""
        if self._template is None:
            self._template = self._create_empty()
            engine = make_engine(self._template)
            upgrade_to_head(engine)
            engine.dispose()
        return self._template

    def fresh(self) -> str:
        """A new, migrated, empty database for tests that commit."""
        template = self.template()
        if self.engine_name == "sqlite":
            path = self.workdir / f"{uuid.uuid4().hex}.db"
            path.write_bytes(Path(make_url(template).database or "").read_bytes())
            return f"sqlite:///{path}"
        name = f"careline_t_{uuid.uuid4().hex[:12]}"
        template_name = make_url(template).database
        with _admin_engine().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
        self._created.append(name)
        return self._postgres_url(name)

    def _create_empty(self) -> str:
        if self.engine_name == "sqlite":
            return f"sqlite:///{self.workdir / 'template.db'}"
        name = f"careline_t_{uuid.uuid4().hex[:12]}"
        with _admin_engine().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return self._postgres_url(name)

    def drop_all(self) -> None:
        if self.engine_name != "postgresql":
            return
        with _admin_engine().connect() as connection:
            for name in reversed(self._created):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def database_factory(engine_name: str, workdir: Path) -> Iterator[DatabaseFactory]:
    if engine_name == "postgresql":
        require_postgres()
    factory = DatabaseFactory(engine_name, workdir)
    try:
        yield factory
    finally:
        factory.drop_all()
