"""The wiring the CLI (and, later, the worker) share: settings → engine → unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.settings import Settings


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.effective_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[UnitOfWork]:
    """A unit of work on its own engine; the caller commits."""
    with open_engine(settings) as engine, UnitOfWork(make_sessionmaker(engine)) as uow:
        yield uow
