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


def upgrade() -> None:
    op.create_index("ix_patients_email_lower", "patients", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_patients_email_lower", table_name="patients")
