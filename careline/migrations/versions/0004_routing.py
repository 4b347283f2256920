"""routing: queues, agents and their states, interactions, offers, dispositions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:25:44.731010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The codes a new center wraps up with; admins relabel, add and retire them.
DEFAULT_DISPOSITIONS = (
    ("booked", "Appointment booked", True),
    ("rescheduled", "Appointment rescheduled", True),
    ("cancelled", "Appointment cancelled", True),
    ("information", "Information given", True),
    ("refill", "Prescription request taken", True),
    ("billing", "Billing question answered", True),
    ("nurse_advice", "Nurse advice given", True),
    ("callback", "Callback arranged", False),
    ("transferred", "Transferred elsewhere", False),
    ("left_message", "Left a message", False),
    ("no_answer", "No answer", False),
    ("wrong_number", "Wrong number", True),
)


def upgrade() -> None:
    dispositions = op.create_table(
        "dispositions",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("resolves", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_dispositions")),
    )
    op.create_table(
        "routing_queues",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("agent_order", sa.String(length=20), nullable=False),
        sa.Column("offer_seconds", sa.Integer(), nullable=False),
        sa.Column("service_level_seconds", sa.Integer(), nullable=False),
        sa.Column("service_level_target", sa.Integer(), nullable=False),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("business_hours", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("after_hours", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_routing_queues_name")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("extension", sa.String(length=20), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrap_up_seconds", sa.Integer(), nullable=False),
        sa.Column("voice_slots", sa.Integer(), nullable=False),
        sa.Column("text_slots", sa.Integer(), nullable=False),
        sa.Column("blend", sa.Boolean(), nullable=False),
        sa.Column("load_voice", sa.Integer(), nullable=False),
        sa.Column("load_text", sa.Integer(), nullable=False),
        sa.Column("missed_offers", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "blend OR load_voice = 0 OR load_text = 0", name=op.f("ck_agents_voice_alone_unless_blended")
        ),
        sa.CheckConstraint(
            "load_voice <= voice_slots AND load_text <= text_slots", name=op.f("ck_agents_load_within_capacity")
        ),
        sa.CheckConstraint("load_voice >= 0 AND load_text >= 0", name=op.f("ck_agents_load_not_negative")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_agents_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("extension", name=op.f("uq_agents_extension")),
        sa.UniqueConstraint("user_id", name=op.f("uq_agents_user_id")),
    )
    op.create_index(op.f("ix_agents_state"), "agents", ["state"], unique=False)
    op.create_table(
        "agent_skills",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("skill", sa.String(length=40), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_skills_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "skill", name=op.f("pk_agent_skills")),
    )
    op.create_table(
        "agent_state_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("changed_by", sa.String(length=150), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_state_changes_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_changes")),
    )
    op.create_index("ix_agent_state_changes_agent_at", "agent_state_changes", ["agent_id", "at"], unique=False)
    op.create_table(
        "interactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("wanted_agent_id", sa.Uuid(), nullable=True),
        sa.Column("declined_by", sa.Uuid(), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entered_queue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_seconds", sa.Integer(), nullable=False),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wrap_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wrap_up_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("disposition", sa.String(length=40), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_interactions_agent_id_agents")),
        sa.ForeignKeyConstraint(["declined_by"], ["agents.id"], name=op.f("fk_interactions_declined_by_agents")),
        sa.ForeignKeyConstraint(
            ["disposition"], ["dispositions.code"], name=op.f("fk_interactions_disposition_dispositions")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_interactions_patient_id_patients"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["routing_queues.id"], name=op.f("fk_interactions_queue_id_routing_queues")
        ),
        sa.ForeignKeyConstraint(
            ["wanted_agent_id"], ["agents.id"], name=op.f("fk_interactions_wanted_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_interactions_external_ref")),
    )
    op.create_index(op.f("ix_interactions_agent_id"), "interactions", ["agent_id"], unique=False)
    op.create_index("ix_interactions_patient_created", "interactions", ["patient_id", "created_at"], unique=False)
    op.create_index("ix_interactions_queue_created", "interactions", ["queue_id", "created_at"], unique=False)
    op.create_index("ix_interactions_queued_at", "interactions", ["queued_at"], unique=False)
    op.create_index("ix_interactions_closed_at", "interactions", ["closed_at"], unique=False)
    op.create_index(op.f("ix_interactions_status"), "interactions", ["status"], unique=False)
    op.create_index(
        "ix_interactions_waiting",
        "interactions",
        ["priority", "queued_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("interaction_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=6), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_assignments_agent_id_agents")),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_assignments_interaction_id_interactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index("ix_assignments_agent_status", "assignments", ["agent_id", "status"], unique=False)
    op.create_index("ix_assignments_interaction", "assignments", ["interaction_id"], unique=False)
    op.create_index(
        "ix_assignments_offer_expiry",
        "assignments",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'offered'"),
        sqlite_where=sa.text("status = 'offered'"),
    )
    op.create_index(
        "uq_assignments_live",
        "assignments",
        ["interaction_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('offered', 'accepted') AND role = 'primary'"),
        sqlite_where=sa.text("status IN ('offered', 'accepted') AND role = 'primary'"),
    )
    op.create_table(
        "interaction_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("interaction_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_interaction_events_agent_id_agents")),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_interaction_events_interaction_id_interactions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["routing_queues.id"], name=op.f("fk_interaction_events_queue_id_routing_queues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction_events")),
    )
    op.create_index(
        "ix_interaction_events_interaction_at", "interaction_events", ["interaction_id", "at"], unique=False
    )

    op.bulk_insert(
        dispositions,
        [
            {"code": code, "label": label, "resolves": resolves, "active": True}
            for code, label, resolves in DEFAULT_DISPOSITIONS
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_interaction_events_interaction_at", table_name="interaction_events")
    op.drop_table("interaction_events")
    op.drop_index(
        "uq_assignments_live",
        table_name="assignments",
        postgresql_where=sa.text("status IN ('offered', 'accepted') AND role = 'primary'"),
        sqlite_where=sa.text("status IN ('offered', 'accepted') AND role = 'primary'"),
    )
    op.drop_index(
        "ix_assignments_offer_expiry",
        table_name="assignments",
        postgresql_where=sa.text("status = 'offered'"),
        sqlite_where=sa.text("status = 'offered'"),
    )
    op.drop_index("ix_assignments_interaction", table_name="assignments")
    op.drop_index("ix_assignments_agent_status", table_name="assignments")
    op.drop_table("assignments")
    op.drop_index(
        "ix_interactions_waiting",
        table_name="interactions",
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )
    op.drop_index(op.f("ix_interactions_status"), table_name="interactions")
    op.drop_index("ix_interactions_closed_at", table_name="interactions")
    op.drop_index("ix_interactions_queued_at", table_name="interactions")
    op.drop_index("ix_interactions_queue_created", table_name="interactions")
    op.drop_index("ix_interactions_patient_created", table_name="interactions")
    op.drop_index(op.f("ix_interactions_agent_id"), table_name="interactions")
    op.drop_table("interactions")
    op.drop_index("ix_agent_state_changes_agent_at", table_name="agent_state_changes")
    op.drop_table("agent_state_changes")
    op.drop_table("agent_skills")
    op.drop_index(op.f("ix_agents_state"), table_name="agents")
    op.drop_table("agents")
    op.drop_table("routing_queues")
    op.drop_table("dispositions")
