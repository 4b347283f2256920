"""Fixtures shared by the whole suite. Database tests run once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.app import create_app
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.settings import Settings
from tests.support.databases import ENGINES, DatabaseFactory, database_factory

TEST_SECRET = "test-secret-key-not-for-production"


@pytest.fixture(scope="session", params=ENGINES)
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    engine_name: str = request.param
    with database_factory(engine_name, tmp_path_factory.mktemp(engine_name)) as factory:
        yield factory


@pytest.fixture(scope="session")
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    engine = make_engine(databases.fresh())
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end: commits inside become savepoints."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    return make_sessionmaker(connection, join_transaction_mode="create_savepoint")


@pytest.fixture
def uow(sessions: sessionmaker[Session]) -> Iterator[UnitOfWork]:
    with UnitOfWork(sessions) as uow:
        yield uow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, log_format="console", log_level="WARNING")


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    return create_app(settings, sessions=sessions)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)
