"""The Alembic migrations build exactly the schema the models declare, on both engines."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from careline.models import metadata


# SQLite's reflection cannot read an index on an expression; the test below looks for those by name.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_the_expression_indexes_are_built(engine: Engine) -> None:
    catalogue = ("SELECT sql FROM sqlite_master WHERE name = :name" if engine.dialect.name == "sqlite"
                 else "SELECT indexdef FROM pg_indexes WHERE indexname = :name")
    with engine.connect() as connection:
        definition = connection.scalar(text(catalogue), {"name": "ix_patients_email_lower"})
    assert definition is not None
    assert "lower(email)" in definition.lower().replace("(email)::text", "email")  # PostgreSQL spells out the cast
