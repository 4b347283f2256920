"""The patient CRM's tables: who the patient is, how to reach them, and the lean clinical context.

Rows that come from an EHR carry ``source_id`` (the FHIR resource id), so a re-import finds and updates
them instead of adding copies.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from careline.db import Base, utcnow


def _search_key(length: int) -> String:
    """Byte-order collation on PostgreSQL, so that prefix ranges on the key use its index exactly."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def _patient_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    time_zone: Mapped[str | None] = mapped_column(String(64))


class Practitioner(Base):
    __tablename__ = "practitioners"

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    npi: Mapped[str | None] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200))
    gender: Mapped[str | None] = mapped_column(String(20))


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_family_key_given_key", "family_key", "given_key"),
        Index("ix_patients_given_key", "given_key"),
        Index("ix_patients_family_sound_family_key", "family_sound", "family_key"),
        Index("ix_patients_birth_date", "birth_date"),
        # An e-mail that comes in finds its patient whatever the case of either address (reach.ids_with_email).
        Index("ix_patients_email_lower", text("lower(email)")),
    )

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_names: Mapped[str] = mapped_column(String(150))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    # Search keys: accent-free lower case, and a phonetic code of the family name for typos.
    family_key: Mapped[str] = mapped_column(_search_key(100))
    given_key: Mapped[str] = mapped_column(_search_key(150))
    family_sound: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    gender_identity: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(12), default="en")
    email: Mapped[str | None] = mapped_column(String(254))
    address_line: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str | None] = mapped_column(String(12))
    country: Mapped[str | None] = mapped_column(String(2))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    pcp_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | inactive | deceased | merged
    deceased_at: Mapped[datetime | None]
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    restricted: Mapped[str | None] = mapped_column(String(20))  # None, or why: staff | vip | sensitive
    consents: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    alerts: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_contact_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

class PatientIdentifier(Base):
    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("system", "value"),)

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    system: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(20))  # MR, DL, PPN …  (FHIR identifier type code)


class PatientPhone(Base):
    __tablename__ = "patient_phones"
    __table_args__ = (UniqueConstraint("patient_id", "e164"),)

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    e164: Mapped[str] = mapped_column(String(16), index=True)
    use: Mapped[str] = mapped_column(String(8))  # mobile | home | work


class PatientNote(Base):
    __tablename__ = "patient_notes"

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    author: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (Index("ix_encounters_patient_id_starts_at", "patient_id", "starts_at"),)

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    class_code: Mapped[str | None] = mapped_column(String(20))
    type_code: Mapped[str | None] = mapped_column(String(40))
    type_display: Mapped[str | None] = mapped_column(String(200))
    reason_display: Mapped[str | None] = mapped_column(String(200))
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id", ondelete="SET NULL"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("locations.id", ondelete="SET NULL"))


class _Coded:
    """A coded clinical fact: the code system and code exactly as the source gave them."""

    code_system: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(40), index=True)
    display: Mapped[str | None] = mapped_column(String(300))


class Condition(_Coded, Base):
    __tablename__ = "conditions"

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    clinical_status: Mapped[str | None] = mapped_column(String(20))
    onset: Mapped[datetime | None]
    abatement: Mapped[datetime | None]


class Observation(_Coded, Base):
    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_patient_id_code", "patient_id", "code"),)

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    category: Mapped[str | None] = mapped_column(String(40))
    effective_at: Mapped[datetime | None]
    value: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(40))
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Procedure(_Coded, Base):
    __tablename__ = "procedures"

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    performed_at: Mapped[datetime | None]


class Immunization(_Coded, Base):
    __tablename__ = "immunizations"

    id: Mapped[uuid.UUID] = _id()
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    occurred_at: Mapped[datetime | None]
    status: Mapped[str | None] = mapped_column(String(20))


class IdentityCheck(Base):
    """One agent's identity verification of one patient for one contact (window), with its failures."""

    __tablename__ = "identity_checks"
    __table_args__ = (Index("ix_identity_checks_user_id_patient_id", "user_id", "patient_id"),)

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    user_id: Mapped[uuid.UUID]
    contact_ref: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    # Identifiers the caller already proved to a machine (the IVR's keypad) for this contact: not asked again.
    preverified: Mapped[list[str]] = mapped_column(JSON, default=list)
    verified_at: Mapped[datetime | None]
    locked_at: Mapped[datetime | None]


class BreakGlassGrant(Base):
    __tablename__ = "break_glass_grants"
    __table_args__ = (Index("ix_break_glass_grants_user_id_patient_id", "user_id", "patient_id"),)

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    user_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class SupervisorAlert(Base):
    """Something a supervisor must look at: a caller locked out of verification, a break-glass opening."""

    __tablename__ = "supervisor_alerts"

    id: Mapped[uuid.UUID] = _id()
    kind: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[uuid.UUID] = _patient_fk()
    username: Mapped[str] = mapped_column(String(150))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(150))
