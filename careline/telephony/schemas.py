"""Telephony's shapes: a number's IVR and hours (admin), calls as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from careline.routing.rules import Reason
from careline.routing.schemas import Extension, Language, OpeningHours

Option = Literal["appointments", "tests", "prescriptions", "billing", "nurse", "operator"]
IvrLanguage = Literal["en", "es"]
OPTIONS: tuple[Option, ...] = ("appointments", "tests", "prescriptions", "billing", "nurse", "operator")


class MenuOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digit: str = Field(pattern=r"^[0-9]$")
    option: Option
    queue: str = Field(min_length=1, max_length=60)


DEFAULT_MENU = [
    MenuOption(digit="1", option="appointments", queue="scheduling"),
    MenuOption(digit="2", option="tests", queue="scheduling"),
    MenuOption(digit="3", option="prescriptions", queue="prescriptions"),
    MenuOption(digit="4", option="billing", queue="billing"),
    MenuOption(digit="5", option="nurse", queue="nurse"),
    MenuOption(digit="0", option="operator", queue="general"),
]


class IvrConfig(BaseModel):
    """What a caller hears on one number. Greetings are the center's own words, one per language."""

    model_config = ConfigDict(extra="forbid")

    languages: list[IvrLanguage] = Field(default=["en", "es"], min_length=1)
    greeting: dict[IvrLanguage, str] = {"en": "Thank you for calling.", "es": "Gracias por llamar."}
    menu: list[MenuOption] = Field(default_factory=lambda: list(DEFAULT_MENU), min_length=1)
    identify_by_birth_date: bool = True
    after_hours: Literal["voicemail", "callback"] = "voicemail"
    after_hours_queue: str = Field(default="general", min_length=1, max_length=60)

    @field_validator("languages")
    @classmethod
    def _once_each(cls, languages: list[IvrLanguage]) -> list[IvrLanguage]:
        return list(dict.fromkeys(languages))

    @field_validator("greeting")
    @classmethod
    def _short(cls, greeting: dict[IvrLanguage, str]) -> dict[IvrLanguage, str]:
        if any(len(text) > 300 for text in greeting.values()):
            raise ValueError("a greeting is at most 300 characters")
        return {language: text.strip() for language, text in greeting.items()}

    @model_validator(mode="after")
    def _one_digit_each(self) -> IvrConfig:
        digits = [item.digit for item in self.menu]
        if len(digits) != len(set(digits)):
            raise ValueError("each menu digit may lead to one option only")
        return self


class NumberIn(OpeningHours):
    """A phone number of the center, with its IVR and its own opening hours."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(pattern=r"^\+[1-9]\d{6,14}$")
    label: str = Field(min_length=1, max_length=100)
    ivr: IvrConfig = Field(default_factory=IvrConfig)


class NumberRead(NumberIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: UUID
    active: bool


class CallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    provider: str
    provider_sid: str | None
    direction: str
    stage: str
    language: str
    option: str | None
    interaction_id: UUID | None
    provider_status: str | None
    recording_url: str | None
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None


class DialIn(BaseModel):
    """Click-to-call: an agent calls a number (one of a patient's, with ``patient_id``), or returns a callback
    (``interaction_id``: its caller's number unless another is given)."""

    model_config = ConfigDict(extra="forbid")

    patient_id: UUID | None = None
    interaction_id: UUID | None = None
    number: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _someone(self) -> DialIn:
        if not (self.patient_id or self.interaction_id or self.number):
            raise ValueError("say whom to call: a patient, a callback or a number")
        return self


# --- the CTI events API (docs/cti.md) ----------------------------------------------------------------------------

CtiEventType = Literal["call.offered", "call.queued", "call.answered", "call.held", "call.resumed",
                       "call.transferred", "call.ended"]
CTI_NEEDS_EXTENSION = frozenset({"call.answered", "call.transferred"})


class CtiEventIn(BaseModel):
    """One thing a PBX saw happen to a call. Unknown keys are ignored, so a PBX may send more than this."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=100)
    type: CtiEventType
    call_id: str = Field(min_length=1, max_length=60)
    at: AwareDatetime
    caller: str | None = Field(default=None, pattern=r"^(\+[1-9]\d{6,14}|(?i:anonymous|restricted|private|unknown"
                                                      r"|unavailable|withheld))$")
    queue: str | None = Field(default=None, min_length=1, max_length=60)
    extension: Extension | None = None
    language: Language | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _extension_when_needed(self) -> CtiEventIn:
        if self.type in CTI_NEEDS_EXTENSION and self.extension is None:
            raise ValueError(f"{self.type} needs the extension of the agent it reached")
        return self


class CtiEventResult(BaseModel):
    """What applying an event did: ``duplicate`` for the last event seen again, ``ignored`` (with why) for one
    that is older than what was applied, arrived after the call ended, or names an extension no agent has."""

    call_id: str
    interaction_id: UUID | None = None
    status: str | None = None
    duplicate: bool = False
    ignored: Literal["out_of_order", "call_ended", "unknown_extension"] | None = None
