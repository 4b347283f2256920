"""INSERT … ON CONFLICT on both engines: PostgreSQL's and SQLite's own constructs, picked by the session's bind."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_into(session: Session, model: type[Any]) -> PostgresInsert | SqliteInsert:
    """An INSERT into ``model``'s table that can say what to do ON CONFLICT."""
    return postgres_insert(model) if session.get_bind().dialect.name == "postgresql" else sqlite_insert(model)
