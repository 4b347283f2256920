from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from careline.actor import Role


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=150)
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=1, max_length=1024, repr=False)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    username: str
    display_name: str
    role: Role
    is_active: bool
    totp_enabled: bool = False
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


class SignedIn(BaseModel):
    """A resolved browser session or API token: who is calling and how."""

    user: UserRead
    session_token: str | None = Field(default=None, repr=False)
    mfa_pending: bool = False


class LoginOutcome(BaseModel):
    session_token: str = Field(repr=False)
    mfa_required: bool
    user: UserRead


class TotpEnrolment(BaseModel):
    secret: str = Field(repr=False)
    provisioning_uri: str = Field(repr=False)


class ApiTokenIssued(BaseModel):
    token: str = Field(repr=False)
    prefix: str
    name: str
