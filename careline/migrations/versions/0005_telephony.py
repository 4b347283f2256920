"""telephony and the outbox: phone numbers with their IVR, calls, outbox rows; agents' phones, interactions
routed by a PBX, identifiers an IVR pre-verified

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:02:00.637019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("ivr", sa.JSON(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("business_hours", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("number", name=op.f("uq_phone_numbers_number")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=10), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("number_id", sa.Uuid(), nullable=True),
        sa.Column("caller", sa.String(length=40), nullable=True),
        sa.Column("called", sa.String(length=40), nullable=True),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("option", sa.String(length=20), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("interaction_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("requested", sa.String(length=60), nullable=True),
        sa.Column("provider_status", sa.String(length=16), nullable=True),
        sa.Column("status_order", sa.Integer(), nullable=False),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interactions.id"], name=op.f("fk_calls_interaction_id_interactions")
        ),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_calls_agent_id_agents")),
        sa.ForeignKeyConstraint(["number_id"], ["phone_numbers.id"], name=op.f("fk_calls_number_id_phone_numbers")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_calls_patient_id_patients"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("provider", "provider_sid", name=op.f("uq_calls_provider")),
    )
    op.create_index(op.f("ix_calls_interaction_id"), "calls", ["interaction_id"], unique=False)
    op.add_column("agents", sa.Column("phone", sa.String(length=16), nullable=True))
    op.add_column("identity_checks", sa.Column("preverified", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column(
        "interactions", sa.Column("routed_externally", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("interactions", sa.Column("preverified", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("interactions", "preverified")
    op.drop_column("interactions", "routed_externally")
    op.drop_column("identity_checks", "preverified")
    op.drop_column("agents", "phone")
    op.drop_index(op.f("ix_calls_interaction_id"), table_name="calls")
    op.drop_table("calls")
    op.drop_table("phone_numbers")
    op.drop_index(
        "ix_outbox_due",
        table_name="outbox",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.drop_table("outbox")
