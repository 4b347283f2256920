"""The wiring the CLI (and, later, the worker) share: settings → engine → unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.db.engine import READ_ONLY
from careline.db.migrate import ensure_schema
from careline.settings import Settings


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.effective_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def unit_of_work(settings: Settings, *, read_only: bool = False) -> Iterator[UnitOfWork]:
    """A unit of work on a database at the current schema (the embedded one is migrated first).

    The caller commits. Raises SchemaOutOfDate for a server database that needs ``careline db upgrade``.
    """
    with open_engine(settings) as engine:
        ensure_schema(engine)
        bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
        with UnitOfWork(make_sessionmaker(bind)) as uow:
            yield uow
