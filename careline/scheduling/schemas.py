"""Shapes in and out of scheduling."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

CODE = r"^[a-z0-9][a-z0-9_-]*$"
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)

# Every date and time that comes in is bounded where it enters: a year such as 9999 or 1 would overflow the
# datetime arithmetic behind it (a week after, a day in another zone) and end as a 500, not a 422.
CalendarDate = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
FIRST_INSTANT = datetime.combine(FIRST_DAY, time(), UTC)
LAST_INSTANT = datetime.combine(LAST_DAY, time.max, UTC)
CalendarDateTime = Annotated[AwareDatetime, Field(ge=FIRST_INSTANT, le=LAST_INSTANT)]


def _in_calendar(moment: datetime) -> datetime:
    if not FIRST_INSTANT <= (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) <= LAST_INSTANT:
        raise ValueError(f"give a time from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    return moment


# A search bound, with or without a zone (without one it is read as UTC), in the same years.
SearchDateTime = Annotated[datetime, AfterValidator(_in_calendar)]


class Channel(StrEnum):
    agent = "agent"
    sms = "sms"
    web = "web"
    import_ = "import"
    fhir = "fhir"


class DayPart(StrEnum):
    morning = "morning"
    afternoon = "afternoon"
    evening = "evening"


class AppointmentStatus(StrEnum):
    booked = "booked"
    arrived = "arrived"
    fulfilled = "fulfilled"
    cancelled = "cancelled"
    noshow = "noshow"


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SiteIn(BaseModel):
    code: str = Field(min_length=1, max_length=20, pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=20)
    time_zone: str = Field(min_length=1, max_length=64)
    opening_hours: dict[str, list[str]] = Field(default_factory=dict)


class SiteRead(_Read):
    id: UUID
    code: str
    name: str
    address: str | None
    phone: str | None
    time_zone: str
    opening_hours: dict[str, list[str]]


class ProviderIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    npi: str | None = Field(default=None, pattern=r"^\d{10}$")
    credentials: str | None = Field(default=None, max_length=20)
    specialty: str = Field(min_length=1, max_length=40, pattern=CODE)
    gender: str | None = Field(default=None, pattern="^(female|male|other)$")
    languages: list[str] = Field(default_factory=lambda: ["en"], max_length=10)
    accepting_new: bool = True


class ProviderRead(_Read):
    id: UUID
    name: str
    npi: str | None
    credentials: str | None
    specialty: str
    gender: str | None
    languages: list[str]
    accepting_new: bool


class ResourceIn(BaseModel):
    site_id: UUID
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=40, pattern=CODE)


class ResourceRead(_Read):
    id: UUID
    site_id: UUID
    name: str
    kind: str


class VisitTypeIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=CODE)
    name: str = Field(min_length=1, max_length=120)
    duration_minutes: int = Field(ge=5, le=480)
    specialties: list[str] = Field(default_factory=list, max_length=20)
    resource_kind: str | None = Field(default=None, max_length=40, pattern=CODE)
    patient_rule: str = Field(default="any", pattern="^(any|new|established)$")
    requires_order: bool = False
    preparation: str | None = Field(default=None, max_length=2000)
    revenue_cents: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _someone_can_do_it(self) -> VisitTypeIn:
        if not self.specialties and not self.resource_kind:
            raise ValueError("name the specialties or the resource kind that can do this visit")
        return self


class VisitTypeRead(_Read):
    id: UUID
    code: str
    name: str
    duration_minutes: int
    specialties: list[str]
    resource_kind: str | None
    patient_rule: str
    requires_order: bool
    preparation: str | None
    revenue_cents: int


class ScheduleIn(BaseModel):
    site_id: UUID
    provider_id: UUID | None = None
    resource_id: UUID | None = None

    @model_validator(mode="after")
    def _one_actor(self) -> ScheduleIn:
        if (self.provider_id is None) == (self.resource_id is None):
            raise ValueError("a schedule belongs to exactly one provider or one resource")
        return self


class ScheduleRead(_Read):
    id: UUID
    site_id: UUID
    site_name: str
    time_zone: str
    provider_id: UUID | None
    resource_id: UUID | None
    actor_name: str
    specialty: str | None
    active: bool


class TemplateIn(BaseModel):
    weekdays: list[int] = Field(min_length=1, max_length=7)
    start_time: time
    end_time: time
    slot_minutes: int = Field(ge=5, le=480)
    visit_type_ids: list[UUID] = Field(min_length=1, max_length=50)
    valid_from: CalendarDate | None = None
    valid_until: CalendarDate | None = None

    @model_validator(mode="after")
    def _sane(self) -> TemplateIn:
        if any(day < 0 or day > 6 for day in self.weekdays):
            raise ValueError("weekdays run from 0 (Monday) to 6 (Sunday)")
        if self.start_time == self.end_time:
            raise ValueError("start and end are the same time; a block past midnight ends before it starts")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class TemplateRead(_Read):
    id: UUID
    schedule_id: UUID
    weekdays: list[int]
    start_time: time
    end_time: time
    slot_minutes: int
    valid_from: date | None
    valid_until: date | None
    visit_type_ids: list[UUID] = Field(default_factory=list)


class ExceptionIn(BaseModel):
    site_id: UUID | None = None
    schedule_id: UUID | None = None
    first_day: CalendarDate
    last_day: CalendarDate
    kind: str = Field(pattern="^(holiday|vacation|training|closure)$")
    note: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> ExceptionIn:
        if self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        return self


class GenerationReport(BaseModel):
    schedules: int
    created: int
    removed: int
    kept_booked: int


class SlotSearch(BaseModel):
    visit_type_id: UUID
    site_id: UUID | None = None
    provider_id: UUID | None = None
    provider_gender: str | None = Field(default=None, pattern="^(female|male|other)$")
    language: str | None = Field(default=None, min_length=2, max_length=12)
    start: CalendarDate | None = None
    end: CalendarDate | None = None
    day_part: DayPart | None = Field(default=None, description=(
        "Morning, afternoon or evening on the site's clock (where the visit happens), even when the times "
        "are shown in the patient's zone."))
    time_zone: str | None = Field(default=None, max_length=64, description="Show times in this zone.")
    patient_id: UUID | None = Field(default=None, description="Show times in the patient's zone.")
    limit: int = Field(default=10, ge=1, le=50)


class SlotOption(BaseModel):
    slot_id: UUID
    schedule_id: UUID
    starts_at: datetime
    ends_at: datetime
    local_start: datetime  # in the zone asked for (the patient's), for reading out
    site_id: UUID
    site_name: str
    provider_id: UUID | None
    resource_id: UUID | None
    with_name: str  # the provider, or the resource for a test


class SlotRead(_Read):
    id: UUID
    schedule_id: UUID
    starts_at: datetime
    ends_at: datetime
    status: str


class BookingIn(BaseModel):
    patient_id: UUID
    slot_id: UUID
    visit_type_id: UUID
    reason: str | None = Field(default=None, max_length=300)
    channel: Channel = Channel.agent
    order_override: str | None = Field(default=None, max_length=300,
                                       description="Why the test is booked without an order on file.")


class RescheduleIn(BaseModel):
    slot_id: UUID
    reason: str | None = Field(default=None, max_length=300)


class CancelIn(BaseModel):
    reason: str = Field(min_length=3, max_length=300)


class StatusIn(BaseModel):
    status: AppointmentStatus


class AppointmentRead(_Read):
    id: UUID
    patient_id: UUID
    slot_id: UUID
    schedule_id: UUID
    visit_type_id: UUID
    visit_name: str = ""
    starts_at: datetime
    ends_at: datetime
    local_start: datetime | None = None
    status: str
    channel: str
    booked_by: str
    booked_at: datetime
    reason: str | None
    site_name: str = ""
    with_name: str = ""
    preparation: str | None = None
    cancel_reason: str | None
    order_id: UUID | None
    order_override: str | None


class OrderIn(BaseModel):
    patient_id: UUID
    visit_type_id: UUID
    reference: str | None = Field(default=None, max_length=64)
    ordered_by: str | None = Field(default=None, max_length=200)
    expires_on: CalendarDate | None = None


class OrderRead(_Read):
    id: UUID
    patient_id: UUID
    visit_type_id: UUID
    reference: str | None
    ordered_by: str | None
    status: str
    expires_on: date | None


class WaitlistIn(BaseModel):
    patient_id: UUID
    visit_type_id: UUID
    wanted_before: CalendarDateTime
    site_id: UUID | None = None
    provider_id: UUID | None = None
    appointment_id: UUID | None = None


class WaitlistRead(_Read):
    id: UUID
    patient_id: UUID
    visit_type_id: UUID
    site_id: UUID | None
    provider_id: UUID | None
    appointment_id: UUID | None
    wanted_before: datetime
    status: str
    created_at: datetime


class CalendarEntry(BaseModel):
    """One slot in a provider's calendar: free, or booked for which visit. No patient, not even by id: the
    calendar is read by many people in passing, without a caller verified or an audited read."""

    slot_id: UUID
    starts_at: datetime
    ends_at: datetime
    local_start: datetime
    status: str
    appointment_id: UUID | None = None
    appointment_status: str | None = None
    visit_name: str | None = None
