"""Routing's shapes: what the API takes and returns, and what the desktop and wallboard show."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from careline.patients.schemas import MaskedPatient, Patient360, PatientSummary
from careline.routing.rules import WEEKDAYS, AgentState, Channel, Direction, Reason, Status

# The pattern is checked before the lowering, so it admits capitals: "Scheduling" becomes "scheduling".
SkillName = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                             pattern=r"^[a-zA-Z][a-zA-Z0-9_:-]{0,39}$")]
Language = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                            pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z]{2})?$")]
Level = Annotated[int, Field(ge=1, le=5)]
Extension = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9*#]{2,20}$")]
E164 = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9]\d{6,14}$")]
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


def known_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {zone!r}") from error
    return zone


def weekly_hours(hours: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
    """Opening hours by weekday, each span like 08:00-18:00 (24:00 closes at midnight)."""
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"{day!r} is not one of {', '.join(WEEKDAYS)}")
        for start, end in spans:
            if not (re.match(CLOCK, start) and re.match(CLOCK, end)) or start >= end:
                raise ValueError(f"{day}: {start}-{end} is not a span like 08:00-18:00")
    return hours


def iso_dates(days: list[str]) -> list[str]:
    for day in days:
        date.fromisoformat(day)
    return sorted(set(days))


class SkillNeed(BaseModel):
    skill: SkillName
    min_level: Level = 1


class EscalationStep(BaseModel):
    """From ``after_seconds`` of waiting: ask for these skills instead, or move to another queue."""

    after_seconds: int = Field(ge=1, le=24 * 3600)
    skills: list[SkillNeed] | None = None
    overflow_queue: str | None = None

    @model_validator(mode="after")
    def _does_something(self) -> EscalationStep:
        if self.skills is None and not self.overflow_queue:
            raise ValueError("a step widens the skills asked for or names an overflow queue")
        return self


class OpeningHours(BaseModel):
    """When something (a queue, a phone number) is open, in its own time zone; no hours means always."""

    time_zone: str = "America/New_York"
    business_hours: dict[str, list[tuple[str, str]]] = {}
    holidays: list[str] = []

    _zone = field_validator("time_zone")(known_zone)
    _hours = field_validator("business_hours")(weekly_hours)
    _dates = field_validator("holidays")(iso_dates)


class QueueIn(OpeningHours):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_-]{0,59}$")]
    description: str | None = Field(default=None, max_length=300)
    priority: int = Field(default=0, ge=-10, le=10)
    skills: list[SkillNeed] = []
    steps: list[EscalationStep] = []
    agent_order: Literal["longest_idle", "most_skilled"] = "longest_idle"
    offer_seconds: int = Field(default=20, ge=5, le=300)
    service_level_seconds: int = Field(default=30, ge=1, le=3600)
    service_level_target: int = Field(default=80, ge=1, le=100)
    max_wait_seconds: int | None = Field(default=None, ge=10, le=24 * 3600)
    after_hours: Literal["callback", "voicemail"] = "callback"


class QueueRead(QueueIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: UUID
    active: bool


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UUID
    extension: Extension | None = None
    phone: E164 | None = None  # calls ring this number instead of the browser softphone
    languages: list[Language] = ["en"]
    skills: dict[SkillName, Level] = {}
    voice_slots: int = Field(default=1, ge=0, le=1)
    text_slots: int = Field(default=3, ge=0, le=10)
    blend: bool = False
    wrap_up_seconds: int = Field(default=60, ge=0, le=1800)

    @field_validator("languages")
    @classmethod
    def _some_language(cls, languages: list[str]) -> list[str]:
        if not languages:
            raise ValueError("an agent speaks at least one language")
        return list(dict.fromkeys(languages))


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extension: Extension | None = None
    phone: E164 | None = None
    languages: list[Language] | None = Field(default=None, min_length=1)
    skills: dict[SkillName, Level] | None = None
    voice_slots: int | None = Field(default=None, ge=0, le=1)
    text_slots: int | None = Field(default=None, ge=0, le=10)
    blend: bool | None = None
    wrap_up_seconds: int | None = Field(default=None, ge=0, le=1800)
    active: bool | None = None


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    user_id: UUID
    name: str
    extension: str | None
    phone: str | None = None
    languages: list[str]
    skills: dict[str, int] = {}
    state: AgentState
    state_since: datetime
    idle_since: datetime
    voice_slots: int
    text_slots: int
    blend: bool
    load_voice: int
    load_text: int
    wrap_up_seconds: int
    missed_offers: int
    active: bool


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: AgentState
    reason: str | None = Field(default=None, max_length=60)


class InteractionIn(BaseModel):
    """What a provider adapter (or an agent logging a contact) reports when a contact begins."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    queue: str
    direction: Direction = Direction.inbound
    reason: Reason = Reason.other
    language: Language = "en"
    priority: int = Field(default=0, ge=-10, le=10)
    address: str | None = Field(default=None, max_length=320)
    patient_id: UUID | None = None
    external_ref: str | None = Field(default=None, max_length=100)
    not_before: datetime | None = None

    @field_validator("not_before")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-27T09:00:00-05:00")
        return value


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str | None = None
    agent_id: UUID | None = None
    mode: Literal["cold", "warm"] = "cold"

    @model_validator(mode="after")
    def _one_target(self) -> TransferIn:
        if (self.queue is None) == (self.agent_id is None):
            raise ValueError("transfer to a queue or to an agent (one of them)")
        if self.mode == "warm" and self.agent_id is None:
            raise ValueError("a warm transfer goes to an agent, who joins before you leave")
        return self


class WrapUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: str = Field(min_length=1, max_length=40)
    notes: str | None = Field(default=None, max_length=4000)
    resolved: bool | None = None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: str = Field(max_length=4000)


class RequeueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue: str | None = None
    priority: int | None = Field(default=None, ge=-10, le=10)


class DispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: str = Field(min_length=1, max_length=100)
    resolves: bool = True


class DispositionRead(DispositionIn):
    model_config = ConfigDict(from_attributes=True)

    active: bool


class InteractionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    channel: Channel
    direction: Direction
    reason: Reason
    language: str
    priority: int
    status: Status
    address: str | None
    patient_id: UUID | None
    candidates: int
    queue_id: UUID
    queue: str = ""
    agent_id: UUID | None
    external_ref: str | None
    routed_externally: bool = False
    preverified: list[str] = []
    step: int
    offers: int
    not_before: datetime | None
    created_at: datetime
    queued_at: datetime | None
    offered_at: datetime | None
    answered_at: datetime | None
    held_at: datetime | None
    hold_seconds: int
    transferred_at: datetime | None
    wrap_up_at: datetime | None
    wrap_up_until: datetime | None
    ended_at: datetime | None
    abandoned_at: datetime | None
    closed_at: datetime | None
    notes: str | None
    disposition: str | None
    resolved: bool | None


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    agent_id: UUID | None
    queue_id: UUID | None
    detail: dict[str, Any] | None


class OfferRead(BaseModel):
    assignment_id: UUID
    role: str
    expires_at: datetime
    interaction: InteractionRead


class ScreenPop(BaseModel):
    """What an agent sees as a contact is offered: the contact, and the patient (masked until verified)."""

    offer: OfferRead
    patient: Patient360 | MaskedPatient | None = None
    candidates: list[PatientSummary] = []
    restricted: bool = False


class MyWork(BaseModel):
    agent: AgentRead
    offers: list[OfferRead]
    contacts: list[InteractionRead]


class QueueFigures(BaseModel):
    queue_id: UUID
    name: str
    waiting: int
    longest_wait_seconds: int
    offered: int
    answered: int
    abandoned: int
    service_level: float | None
    service_level_target: int
    service_level_seconds: int
    average_answer_seconds: float | None


class AgentFigures(BaseModel):
    agent_id: UUID
    name: str
    state: AgentState
    seconds_in_state: int
    load_voice: int
    load_text: int
    handled: int
    average_handle_seconds: float | None


class Wallboard(BaseModel):
    at: datetime
    queues: list[QueueFigures]
    agents: list[AgentFigures]
