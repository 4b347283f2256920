"""patients found by e-mail in any case

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_patients_email_lower"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(INDEX, "patients", [sa.text("lower(email)")])
        return
    # Built CONCURRENTLY, outside the migration's transaction: a large patients table stays writable meanwhile.
    # A build that failed earlier leaves an invalid index of this name behind; it is dropped and built again.
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="patients", postgresql_concurrently=True, if_exists=True)
        op.create_index(INDEX, "patients", [sa.text("lower(email)")], postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="patients")
