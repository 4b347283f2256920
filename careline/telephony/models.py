"""Telephony's tables: the center's phone numbers (each with its IVR and hours) and every call on them.

A call is the provider's view (its id, its status, where the caller is in the IVR); the contact it becomes
is a routing interaction, and every figure is counted from that one model.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from careline.db import Base, utcnow


class PhoneNumber(Base):
    __tablename__ = "phone_numbers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # E.164
    label: Mapped[str] = mapped_column(String(100))
    ivr: Mapped[dict[str, Any]] = mapped_column(JSON)  # an IvrConfig
    time_zone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    # {"mon": [["08:00", "18:00"]], ...}; empty means always open.
    business_hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("provider", "provider_sid"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(10))  # twilio | cti | simulated
    provider_sid: Mapped[str | None] = mapped_column(String(64))  # None until an outbound call is placed
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    number_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("phone_numbers.id"))
    caller: Mapped[str | None] = mapped_column(String(40))  # E.164, or what the provider sent for a hidden one
    called: Mapped[str | None] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(12), default="start")
    language: Mapped[str] = mapped_column(String(8), default="en")
    option: Mapped[str | None] = mapped_column(String(20))  # the menu option chosen
    tries: Mapped[int] = mapped_column(Integer, default=0)  # unusable answers at this stage
    candidates: Mapped[int] = mapped_column(Integer, default=0)  # patients on the caller's number
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interactions.id"), index=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))  # the agent it is bridged to
    # What Careline last asked the provider to do with the call (e.g. "connect:<agent>"), until the provider
    # comes for those instructions: a second request for the same thing is not sent.
    requested: Mapped[str | None] = mapped_column(String(60))
    provider_status: Mapped[str | None] = mapped_column(String(16))
    status_order: Mapped[int] = mapped_column(Integer, default=-1)  # the latest status callback applied
    recording_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]  # the far end picked up (an outbound call's patient)
    ended_at: Mapped[datetime | None]
