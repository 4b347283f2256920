"""patients

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 18:12:18.855878
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "locations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("source_id", name=op.f("uq_locations_source_id")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("source_id", name=op.f("uq_organizations_source_id")),
    )
    op.create_table(
        "practitioners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("npi", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("gender", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
        sa.UniqueConstraint("source_id", name=op.f("uq_practitioners_source_id")),
    )
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioners_npi"), ["npi"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("mrn", sa.String(length=40), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_names", sa.String(length=150), nullable=False),
        sa.Column("preferred_name", sa.String(length=100), nullable=True),
        sa.Column("family_key", sa.String(length=100).with_variant(sa.String(length=100, collation="C"), "postgresql"), nullable=False),
        sa.Column("given_key", sa.String(length=150).with_variant(sa.String(length=150, collation="C"), "postgresql"), nullable=False),
        sa.Column("family_sound", sa.String(length=8), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("gender_identity", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=12), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address_line", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=40), nullable=True),
        sa.Column("postal_code", sa.String(length=12), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("pcp_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("deceased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("restricted", sa.String(length=20), nullable=True),
        sa.Column("consents", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merged_into_id"], ["patients.id"], name=op.f("fk_patients_merged_into_id_patients")),
        sa.ForeignKeyConstraint(
            ["pcp_id"], ["practitioners.id"], name=op.f("fk_patients_pcp_id_practitioners"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("mrn", name=op.f("uq_patients_mrn")),
        sa.UniqueConstraint("source_id", name=op.f("uq_patients_source_id")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index("ix_patients_birth_date", ["birth_date"], unique=False)
        batch_op.create_index("ix_patients_family_key_given_key", ["family_key", "given_key"], unique=False)
        batch_op.create_index("ix_patients_family_sound_family_key", ["family_sound", "family_key"], unique=False)
        batch_op.create_index("ix_patients_given_key", ["given_key"], unique=False)

    op.create_table(
        "break_glass_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_break_glass_grants_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_grants")),
    )
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_break_glass_grants_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_break_glass_grants_user_id_patient_id", ["user_id", "patient_id"], unique=False)

    op.create_table(
        "conditions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("clinical_status", sa.String(length=20), nullable=True),
        sa.Column("onset", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abatement", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_system", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("display", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_conditions_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conditions")),
        sa.UniqueConstraint("source_id", name=op.f("uq_conditions_source_id")),
    )
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conditions_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_conditions_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "encounters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("class_code", sa.String(length=20), nullable=True),
        sa.Column("type_code", sa.String(length=40), nullable=True),
        sa.Column("type_display", sa.String(length=200), nullable=True),
        sa.Column("reason_display", sa.String(length=200), nullable=True),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_encounters_location_id_locations"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_encounters_organization_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_encounters_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_encounters_practitioner_id_practitioners"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encounters")),
        sa.UniqueConstraint("source_id", name=op.f("uq_encounters_source_id")),
    )
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.create_index("ix_encounters_patient_id_starts_at", ["patient_id", "starts_at"], unique=False)

    op.create_table(
        "identity_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("contact_ref", sa.String(length=80), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_identity_checks_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_checks")),
    )
    with op.batch_alter_table("identity_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_checks_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_identity_checks_user_id_patient_id", ["user_id", "patient_id"], unique=False)

    op.create_table(
        "immunizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("code_system", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("display", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_immunizations_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunizations")),
        sa.UniqueConstraint("source_id", name=op.f("uq_immunizations_source_id")),
    )
    with op.batch_alter_table("immunizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_immunizations_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_immunizations_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "observations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=True),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("code_system", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("display", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_observations_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("source_id", name=op.f("uq_observations_source_id")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observations_code"), ["code"], unique=False)
        batch_op.create_index("ix_observations_patient_id_code", ["patient_id", "code"], unique=False)

    op.create_table(
        "patient_identifiers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_identifiers_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_identifiers")),
        sa.UniqueConstraint("system", "value", name=op.f("uq_patient_identifiers_system")),
    )
    with op.batch_alter_table("patient_identifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_identifiers_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "patient_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("author", sa.String(length=150), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_notes_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_notes")),
    )
    with op.batch_alter_table("patient_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_notes_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "patient_phones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("use", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_phones_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_phones")),
        sa.UniqueConstraint("patient_id", "e164", name=op.f("uq_patient_phones_patient_id")),
    )
    with op.batch_alter_table("patient_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_phones_e164"), ["e164"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_phones_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "procedures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_system", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("display", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_procedures_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
        sa.UniqueConstraint("source_id", name=op.f("uq_procedures_source_id")),
    )
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedures_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_procedures_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "supervisor_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=150), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_supervisor_alerts_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisor_alerts")),
    )
    with op.batch_alter_table("supervisor_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervisor_alerts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervisor_alerts_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("supervisor_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervisor_alerts_patient_id"))
        batch_op.drop_index(batch_op.f("ix_supervisor_alerts_created_at"))

    op.drop_table("supervisor_alerts")
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedures_patient_id"))
        batch_op.drop_index(batch_op.f("ix_procedures_code"))

    op.drop_table("procedures")
    with op.batch_alter_table("patient_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_phones_patient_id"))
        batch_op.drop_index(batch_op.f("ix_patient_phones_e164"))

    op.drop_table("patient_phones")
    with op.batch_alter_table("patient_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_notes_patient_id"))

    op.drop_table("patient_notes")
    with op.batch_alter_table("patient_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_identifiers_patient_id"))

    op.drop_table("patient_identifiers")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_patient_id_code")
        batch_op.drop_index(batch_op.f("ix_observations_code"))

    op.drop_table("observations")
    with op.batch_alter_table("immunizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_immunizations_patient_id"))
        batch_op.drop_index(batch_op.f("ix_immunizations_code"))

    op.drop_table("immunizations")
    with op.batch_alter_table("identity_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_checks_user_id_patient_id")
        batch_op.drop_index(batch_op.f("ix_identity_checks_patient_id"))

    op.drop_table("identity_checks")
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.drop_index("ix_encounters_patient_id_starts_at")

    op.drop_table("encounters")
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conditions_patient_id"))
        batch_op.drop_index(batch_op.f("ix_conditions_code"))

    op.drop_table("conditions")
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_break_glass_grants_user_id_patient_id")
        batch_op.drop_index(batch_op.f("ix_break_glass_grants_patient_id"))

    op.drop_table("break_glass_grants")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_given_key")
        batch_op.drop_index("ix_patients_family_sound_family_key")
        batch_op.drop_index("ix_patients_family_key_given_key")
        batch_op.drop_index("ix_patients_birth_date")

    op.drop_table("patients")
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioners_npi"))

    op.drop_table("practitioners")
    op.drop_table("organizations")
    op.drop_table("locations")
