"""What messaging's API and pages take in and give back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from careline.messaging.rules import Channel

BODY_LIMIT = 20_000


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=BODY_LIMIT)

    @field_validator("body")
    @classmethod
    def _not_blank(cls, body: str) -> str:
        if not body.strip():
            raise ValueError("write something to send")
        return body.strip()


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    channel: Channel
    language: str = Field(min_length=2, max_length=8, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    subject: str | None = Field(default=None, max_length=300)
    body: str = Field(min_length=1, max_length=BODY_LIMIT)
    allow_phi: bool = False  # the patients this kind goes to opted in to details by text


class TemplateRead(BaseModel):
    kind: str
    channel: str
    language: str
    subject: str | None
    body: str
    customised: bool
    phi_fields: list[str]
    updated_by: str | None
    updated_at: datetime | None


class Preview(BaseModel):
    subject: str | None
    body: str
    problem: str | None
    phi_fields: list[str]
    segments: int  # SMS segments of 160 characters; 0 for other channels


class AttachmentRead(BaseModel):
    id: UUID
    filename: str
    content_type: str
    size: int


class MessageRead(BaseModel):
    id: UUID
    seq: int
    direction: str
    kind: str
    author: str | None
    subject: str | None
    body: str
    status: str
    error: str | None
    links: list[dict[str, str]] = []
    attachments: list[AttachmentRead] = []
    created_at: datetime
    send_after: datetime | None


class ConversationRead(BaseModel):
    id: UUID
    channel: str
    address: str
    patient_id: UUID | None
    language: str
    subject: str | None
    interaction_id: UUID | None
    opted_out: bool
    patient_typing: bool
    messages: list[MessageRead]


class ChatStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(default="en", pattern=r"^(en|es)$")


class ChatStarted(BaseModel):
    token: str
    conversation_id: UUID


class ChatSay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=2000)
    # The widget's own id for the line: a retry after a lost answer sends it again and is one line, not two.
    line_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")


class ChatWho(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200)
    birth_date: date


class ChatTranscript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ChatLine(BaseModel):
    seq: int
    from_patient: bool
    author: str | None
    body: str
    at: datetime


class ChatNews(BaseModel):
    lines: list[ChatLine]
    agent_typing: bool
    ended: bool


class EmailTaken(BaseModel):
    message_id: UUID  # the message in its thread (the same one again when a provider delivers it twice)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message from a patient, as a provider delivered it."""

    channel: Channel
    address: str
    body: str
    provider_id: str | None = None  # MessageSid or Message-ID: the same one twice is one message
    center_address: str | None = None
    subject: str | None = None
    html: str | None = None
    references: tuple[str, ...] = ()  # an e-mail's In-Reply-To first, then its References
    links: tuple[dict[str, str], ...] = ()
    attachments: tuple[tuple[str, str, bytes], ...] = field(default=())  # filename, content type, data
