"""scheduling

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 20:27:05.460644
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credentials", sa.String(length=20), nullable=True),
        sa.Column("specialty", sa.String(length=40), nullable=False),
        sa.Column("gender", sa.String(length=10), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("accepting_new", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("npi", name=op.f("uq_providers_npi")),
    )
    op.create_index(op.f("ix_providers_specialty"), "providers", ["specialty"], unique=False)
    op.create_table(
        "sites",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("opening_hours", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("code", name=op.f("uq_sites_code")),
    )
    op.create_table(
        "visit_types",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("resource_kind", sa.String(length=40), nullable=True),
        sa.Column("patient_rule", sa.String(length=12), nullable=False),
        sa.Column("requires_order", sa.Boolean(), nullable=False),
        sa.Column("preparation", sa.Text(), nullable=True),
        sa.Column("revenue_cents", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_types")),
        sa.UniqueConstraint("code", name=op.f("uq_visit_types_code")),
    )
    op.create_table(
        "resources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_resources_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
    )
    op.create_index(op.f("ix_resources_kind"), "resources", ["kind"], unique=False)
    op.create_index(op.f("ix_resources_site_id"), "resources", ["site_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("ordered_by", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_orders_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["visit_type_id"], ["visit_types.id"], name=op.f("fk_orders_visit_type_id_visit_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index("ix_orders_patient_id_visit_type_id", "orders", ["patient_id", "visit_type_id"], unique=False)
    op.create_table(
        "schedules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("(provider_id IS NULL) <> (resource_id IS NULL)", name=op.f("ck_schedules_one_actor")),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], name=op.f("fk_schedules_provider_id_providers")),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], name=op.f("fk_schedules_resource_id_resources")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_schedules_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("site_id", "provider_id", "resource_id", name=op.f("uq_schedules_site_id")),
    )
    op.create_index(op.f("ix_schedules_provider_id"), "schedules", ["provider_id"], unique=False)
    op.create_index(op.f("ix_schedules_resource_id"), "schedules", ["resource_id"], unique=False)
    op.create_index(op.f("ix_schedules_site_id"), "schedules", ["site_id"], unique=False)
    op.create_table(
        "availability_exceptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("schedule_id", sa.Uuid(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_availability_exceptions_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_availability_exceptions_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_exceptions")),
    )
    op.create_index(
        op.f("ix_availability_exceptions_schedule_id"), "availability_exceptions", ["schedule_id"], unique=False
    )
    op.create_index(op.f("ix_availability_exceptions_site_id"), "availability_exceptions", ["site_id"], unique=False)
    op.create_table(
        "availability_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_availability_templates_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_templates")),
    )
    op.create_index(
        op.f("ix_availability_templates_schedule_id"), "availability_templates", ["schedule_id"], unique=False
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_minute", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_slots_schedule_id_schedules"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["availability_templates.id"],
            name=op.f("fk_slots_template_id_availability_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("schedule_id", "starts_at", name=op.f("uq_slots_schedule_id")),
    )
    op.create_index(
        "ix_slots_free",
        "slots",
        ["schedule_id", "starts_at"],
        unique=False,
        sqlite_where=sa.text("status = 'free'"),
        postgresql_where=sa.text("status = 'free'"),
    )
    op.create_index(op.f("ix_slots_template_id"), "slots", ["template_id"], unique=False)
    op.create_table(
        "template_visit_types",
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["availability_templates.id"],
            name=op.f("fk_template_visit_types_template_id_availability_templates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_type_id"], ["visit_types.id"], name=op.f("fk_template_visit_types_visit_type_id_visit_types")
        ),
        sa.PrimaryKeyConstraint("template_id", "visit_type_id", name=op.f("pk_template_visit_types")),
    )
    op.create_index(
        op.f("ix_template_visit_types_visit_type_id"), "template_visit_types", ["visit_type_id"], unique=False
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("booked_by", sa.String(length=150), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("order_override", sa.String(length=300), nullable=True),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_appointments_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_appointments_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], name=op.f("fk_appointments_schedule_id_schedules")),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_appointments_slot_id_slots")),
        sa.ForeignKeyConstraint(
            ["visit_type_id"], ["visit_types.id"], name=op.f("fk_appointments_visit_type_id_visit_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index("ix_appointments_patient_id_starts_at", "appointments", ["patient_id", "starts_at"], unique=False)
    op.create_index("ix_appointments_schedule_id_starts_at", "appointments", ["schedule_id", "starts_at"], unique=False)
    op.create_index(
        "uq_appointments_live_slot",
        "appointments",
        ["slot_id"],
        unique=True,
        sqlite_where=sa.text("status <> 'cancelled'"),
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_table(
        "appointment_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=150), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_events_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_appointment_events_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_events")),
    )
    op.create_index(
        op.f("ix_appointment_events_appointment_id"), "appointment_events", ["appointment_id"], unique=False
    )
    op.create_index("ix_appointment_events_patient_id_at", "appointment_events", ["patient_id", "at"], unique=False)
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("wanted_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_waitlist_entries_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_waitlist_entries_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_waitlist_entries_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["visit_type_id"], ["visit_types.id"], name=op.f("fk_waitlist_entries_visit_type_id_visit_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index(op.f("ix_waitlist_entries_patient_id"), "waitlist_entries", ["patient_id"], unique=False)
    op.create_index(
        "ix_waitlist_entries_visit_type_id_status_created_at",
        "waitlist_entries",
        ["visit_type_id", "status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_waitlist_entries_visit_type_id_status_created_at", table_name="waitlist_entries")
    op.drop_index(op.f("ix_waitlist_entries_patient_id"), table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
    op.drop_index("ix_appointment_events_patient_id_at", table_name="appointment_events")
    op.drop_index(op.f("ix_appointment_events_appointment_id"), table_name="appointment_events")
    op.drop_table("appointment_events")
    op.drop_index(
        "uq_appointments_live_slot",
        table_name="appointments",
        sqlite_where=sa.text("status <> 'cancelled'"),
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.drop_index("ix_appointments_schedule_id_starts_at", table_name="appointments")
    op.drop_index("ix_appointments_patient_id_starts_at", table_name="appointments")
    op.drop_table("appointments")
    op.drop_index(op.f("ix_template_visit_types_visit_type_id"), table_name="template_visit_types")
    op.drop_table("template_visit_types")
    op.drop_index(op.f("ix_slots_template_id"), table_name="slots")
    op.drop_index(
        "ix_slots_free",
        table_name="slots",
        sqlite_where=sa.text("status = 'free'"),
        postgresql_where=sa.text("status = 'free'"),
    )
    op.drop_table("slots")
    op.drop_index(op.f("ix_availability_templates_schedule_id"), table_name="availability_templates")
    op.drop_table("availability_templates")
    op.drop_index(op.f("ix_availability_exceptions_site_id"), table_name="availability_exceptions")
    op.drop_index(op.f("ix_availability_exceptions_schedule_id"), table_name="availability_exceptions")
    op.drop_table("availability_exceptions")
    op.drop_index(op.f("ix_schedules_site_id"), table_name="schedules")
    op.drop_index(op.f("ix_schedules_resource_id"), table_name="schedules")
    op.drop_index(op.f("ix_schedules_provider_id"), table_name="schedules")
    op.drop_table("schedules")
    op.drop_index("ix_orders_patient_id_visit_type_id", table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_resources_site_id"), table_name="resources")
    op.drop_index(op.f("ix_resources_kind"), table_name="resources")
    op.drop_table("resources")
    op.drop_table("visit_types")
    op.drop_table("sites")
    op.drop_index(op.f("ix_providers_specialty"), table_name="providers")
    op.drop_table("providers")
