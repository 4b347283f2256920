"""Shapes in and out of the patient CRM."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

CONSENT_KEYS = ("sms_care", "sms_outreach", "email_care", "email_outreach", "voice_care", "voice_outreach")


class Sex(StrEnum):
    male = "male"
    female = "female"
    other = "other"
    unknown = "unknown"


class PhoneIn(BaseModel):
    number: str = Field(min_length=1, max_length=40)
    use: str = Field(default="mobile", pattern="^(mobile|home|work)$")


class PhoneRead(BaseModel):
    e164: str
    use: str
    display: str


class PatientFields(BaseModel):
    """Fields a person may set on a patient; shared by create (all required ones) and update."""

    given_names: str = Field(min_length=1, max_length=150)
    family_name: str = Field(min_length=1, max_length=100)
    preferred_name: str | None = Field(default=None, max_length=100)
    birth_date: date
    sex: Sex = Sex.unknown
    gender_identity: str | None = Field(default=None, max_length=40)
    language: str = Field(default="en", min_length=2, max_length=12, pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
    email: EmailStr | None = None
    phones: list[PhoneIn] = Field(default_factory=list, max_length=10)
    address_line: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=40)
    postal_code: str | None = Field(default=None, max_length=12)
    country: str | None = Field(default="US", min_length=2, max_length=2)
    time_zone: str | None = Field(default=None, max_length=64)
    consents: dict[str, bool] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=30)
    alerts: list[str] = Field(default_factory=list, max_length=30)
    restricted: str | None = Field(default=None, pattern="^(staff|vip|sensitive)$")


class PatientCreate(PatientFields):
    mrn: str | None = Field(default=None, max_length=40, description="Generated when absent.")
    allow_duplicate: bool = Field(default=False, description="Create even if a same name + birth date exists.")


class PatientUpdate(BaseModel):
    """Only the fields sent are changed."""

    given_names: str | None = Field(default=None, min_length=1, max_length=150)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    preferred_name: str | None = Field(default=None, max_length=100)
    birth_date: date | None = None
    language: str | None = Field(default=None, min_length=2, max_length=12)
    email: EmailStr | None = None
    phones: list[PhoneIn] | None = Field(default=None, max_length=10)
    address_line: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=40)
    postal_code: str | None = Field(default=None, max_length=12)
    time_zone: str | None = Field(default=None, max_length=64)
    consents: dict[str, bool] | None = None
    tags: list[str] | None = Field(default=None, max_length=30)
    alerts: list[str] | None = Field(default=None, max_length=30)
    status: str | None = Field(default=None, pattern="^(active|inactive|deceased)$")
    restricted: str | None = Field(default=None, pattern="^(staff|vip|sensitive|none)$")


class PatientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    mrn: str
    given_names: str
    family_name: str
    preferred_name: str | None
    birth_date: date
    sex: str
    gender_identity: str | None
    language: str
    email: str | None
    phones: list[PhoneRead] = Field(default_factory=list)
    address_line: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    time_zone: str | None
    status: str
    deceased_at: datetime | None
    merged_into_id: UUID | None
    restricted: str | None
    consents: dict[str, bool]
    tags: list[str]
    alerts: list[str]
    pcp_name: str | None = None
    last_contact_at: datetime | None


class PatientRef(BaseModel):
    """What another domain needs of a patient it acts for: who, the zone to show times in, and the status."""

    id: UUID
    display_name: str
    time_zone: str | None
    status: str


class PatientSummary(BaseModel):
    """A search or caller-lookup hit: enough to pick the right person, nothing clinical.

    For a restricted record the caller may not open, names and date of birth are withheld.
    """

    id: UUID
    display_name: str
    birth_date: date | None
    mrn: str | None
    status: str
    restricted: bool
    phone_use: str | None = None


class SearchPage(BaseModel):
    results: list[PatientSummary]
    page: int
    per_page: int
    has_next: bool


class SearchCriteria(BaseModel):
    name: str | None = Field(default=None, max_length=150)
    birth_date: date | None = None
    mrn: str | None = Field(default=None, max_length=40)
    phone: str | None = Field(default=None, max_length=40)
    identifier: str | None = Field(default=None, max_length=100, description="An MRN or other identifier value")
    identifier_system: str | None = Field(default=None, max_length=200)
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=20, ge=1, le=100)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_means_any(cls, value: object) -> object:
        """A search form sends every field; an empty one places no condition."""
        return None if isinstance(value, str) and not value.strip() else value

    def is_empty(self) -> bool:
        return not (self.name or self.birth_date or self.mrn or self.phone or self.identifier)


class TimelineItem(BaseModel):
    at: datetime | None
    kind: str  # encounter | condition | procedure | immunization | note
    title: str
    detail: str | None = None


class CodedFact(BaseModel):
    code: str
    display: str | None
    at: datetime | None
    value: str | None = None


class Patient360(BaseModel):
    patient: PatientRead
    age: int
    timeline: list[TimelineItem]
    active_conditions: list[CodedFact]
    key_observations: list[CodedFact]
    counts: dict[str, int]


class MaskedPatient(BaseModel):
    """What an unverified contact may see: who the record is for, and that records exist."""

    id: UUID
    display_name: str
    counts: dict[str, int]
    restricted: bool
    verification_locked: bool
    attempts_left: int
    identifiers: list[str]  # still to ask for
    preverified: list[str] = []  # proved by the caller on the phone keypad


class VerificationResult(BaseModel):
    verified: bool
    matched: list[str]
    attempts_left: int
    locked: bool


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: str
    patient_id: UUID
    username: str
    reason: str | None
    created_at: datetime


class ImportOutcome(StrEnum):
    imported = "imported"
    updated = "updated"
    unchanged = "unchanged"


# What the FHIR import hands over: one shape per resource type, referencing others by source id.


class OrganizationUpsert(BaseModel):
    source_id: str
    name: str
    phone: str | None = None
    address: str | None = None


class LocationUpsert(BaseModel):
    source_id: str
    name: str
    address: str | None = None
    state: str | None = None
    country: str | None = None


class PractitionerUpsert(BaseModel):
    source_id: str
    name: str
    npi: str | None = None
    gender: str | None = None


class IdentifierIn(BaseModel):
    system: str
    value: str
    kind: str | None = None


class PatientUpsert(BaseModel):
    source_id: str
    mrn: str
    given_names: str
    family_name: str
    preferred_name: str | None = None
    birth_date: date
    sex: Sex = Sex.unknown
    language: str = "en"
    email: str | None = None
    phones: list[PhoneIn] = Field(default_factory=list)
    identifiers: list[IdentifierIn] = Field(default_factory=list)
    address_line: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    deceased: bool = False
    deceased_at: datetime | None = None
    pcp_source_id: str | None = None


class ClinicalUpsert(BaseModel):
    source_id: str
    patient_source_id: str


class EncounterUpsert(ClinicalUpsert):
    starts_at: datetime
    ends_at: datetime | None = None
    class_code: str | None = None
    type_code: str | None = None
    type_display: str | None = None
    reason_display: str | None = None
    practitioner_source_id: str | None = None
    organization_source_id: str | None = None
    location_source_id: str | None = None


class CodedUpsert(ClinicalUpsert):
    code_system: str | None = None
    code: str
    display: str | None = None


class ConditionUpsert(CodedUpsert):
    clinical_status: str | None = None
    onset: datetime | None = None
    abatement: datetime | None = None


class ObservationUpsert(CodedUpsert):
    category: str | None = None
    effective_at: datetime | None = None
    value: float | None = None
    value_text: str | None = None
    unit: str | None = None
    components: list[dict[str, Any]] = Field(default_factory=list)


class ProcedureUpsert(CodedUpsert):
    performed_at: datetime | None = None


class ImmunizationUpsert(CodedUpsert):
    occurred_at: datetime | None = None
    status: str | None = None
