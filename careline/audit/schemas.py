from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    occurred_at: datetime
    actor_user_id: UUID | None
    actor_username: str
    actor_role: str | None
    action: str
    outcome: str
    subject_type: str | None
    subject_id: str | None
    patient_id: str | None
    route: str | None
    ip: str | None
    details: dict[str, Any]
    hash: str


class AuditFilter(BaseModel):
    """Search criteria; every field is optional and they combine with AND."""

    actor: str | None = Field(default=None, max_length=150)
    action: str | None = Field(default=None, max_length=80)
    patient_id: str | None = Field(default=None, max_length=80)
    subject_id: str | None = Field(default=None, max_length=80)
    outcome: str | None = Field(default=None, pattern="^(success|denied|failure)$")
    since: date | None = None
    until: date | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_means_any(cls, value: object) -> object:
        """A search form sends every field; an empty one places no condition."""
        return None if isinstance(value, str) and not value.strip() else value


class AuditPage(BaseModel):
    entries: list[AuditEntryRead]
    page: int
    per_page: int
    has_next: bool


class ChainReport(BaseModel):
    ok: bool
    entries_checked: int
    head_seq: int | None
    head_hash: str | None
    problem: str | None = None
