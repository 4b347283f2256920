"""Messaging's tables: conversations, their messages and attachments, SMS opt-outs, and message templates.

A conversation is one thread with one address (a phone number, an e-mail address, a chat session); the
contact an agent answers is a routing interaction, which the conversation points at while it is open.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from careline.db import Base, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_address", "channel", "address"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(10))  # sms | email | chat
    address: Mapped[str] = mapped_column(String(320))  # the patient's E.164 number, e-mail, or chat session id
    center_address: Mapped[str | None] = mapped_column(String(320))  # our number or mailbox they wrote to
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"), index=True)
    candidates: Mapped[int] = mapped_column(Integer, default=0)  # patients on the address
    language: Mapped[str] = mapped_column(String(8), default="en")
    subject: Mapped[str | None] = mapped_column(String(300))
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interactions.id"), index=True)
    # A chat's secret, hashed: the widget proves it is the patient's browser with the token it was given.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    identify_tries: Mapped[int] = mapped_column(Integer, default=0)
    preverified: Mapped[list[str]] = mapped_column(JSON, default=list)  # identifiers the chat's patient gave
    patient_typing_at: Mapped[datetime | None]
    agent_typing_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """One message in or out. Outbound ones are sent by the worker; ``status`` follows the provider's word."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel", "provider_id"), UniqueConstraint("conversation_id", "seq"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # its place in the thread
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    kind: Mapped[str] = mapped_column(String(40), default="conversation")  # conversation | opt_out … | a template
    purpose: Mapped[str] = mapped_column(String(10), default="reply")  # reply | care | outreach
    author: Mapped[str | None] = mapped_column(String(150))  # the agent's name for a reply; None for the patient
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    # queued | held | sending | sent | delivered | undelivered | failed | blocked | received
    status: Mapped[str] = mapped_column(String(12))
    status_rank: Mapped[int] = mapped_column(Integer, default=0)  # status callbacks only move it forward
    provider_id: Mapped[str | None] = mapped_column(String(300))  # MessageSid, or the e-mail's Message-ID
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(String(300))  # why it is held, blocked or failed (no PHI)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # MMS media: url, content_type
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    send_after: Mapped[datetime | None]  # held for quiet hours or a rate limit until then
    sent_at: Mapped[datetime | None]
    status_at: Mapped[datetime | None]


class Attachment(Base):
    __tablename__ = "message_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OptOutEvent(Base):
    """An address opting out of or back in to a channel. Append-only: the latest row is the address's state."""

    __tablename__ = "opt_out_events"
    __table_args__ = (Index("ix_opt_out_events_address", "channel", "address", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(320))
    opted_out: Mapped[bool]
    source: Mapped[str] = mapped_column(String(20))  # keyword | carrier | agent | admin
    detail: Mapped[str | None] = mapped_column(String(60))  # the keyword, or the carrier's error code
    at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageTemplate(Base):
    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("kind", "channel", "language"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(150))


class RateWindow(Base):
    """Messages handed to a provider in one second by one sender (or ``*`` for all): the shared rate limit."""

    __tablename__ = "message_rate_windows"

    bucket: Mapped[str] = mapped_column(String(330), primary_key=True)
    second: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer, default=0)
