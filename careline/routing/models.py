"""Routing's tables: queues, agents and their states, interactions, and the offers (reservations) between them.

Two guarantees live in the database, whatever the code above does or however many engines run at once:
- an interaction has at most one live primary assignment (partial unique index ``uq_assignments_live``), so it
  is never offered to two agents at once;
- an agent's load never exceeds their capacity (check constraints on ``agents``), and the engine only ever
  raises a load with a conditional update that re-reads it, so a second engine's reservation simply fails.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from careline.db import Base, utcnow

LIVE_ASSIGNMENT = text("status IN ('offered', 'accepted') AND role = 'primary'")
WAITING = text("status = 'queued'")
SERIAL = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only an INTEGER primary key


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


class Queue(Base):
    """Where interactions wait: who may answer them (skills), how long before widening, and when it is open."""

    __tablename__ = "routing_queues"

    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(60), unique=True)
    description: Mapped[str | None] = mapped_column(String(300))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # [{"skill": "scheduling", "min_level": 1}]: every one must be met.
    skills: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{"after_seconds": 60, "skills": [...]}, {"after_seconds": 120, "overflow_queue": "overflow"}]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    agent_order: Mapped[str] = mapped_column(String(20), default="longest_idle")
    offer_seconds: Mapped[int] = mapped_column(Integer, default=20)
    service_level_seconds: Mapped[int] = mapped_column(Integer, default=30)
    service_level_target: Mapped[int] = mapped_column(Integer, default=80)  # percent
    max_wait_seconds: Mapped[int | None] = mapped_column(Integer)
    time_zone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    # {"mon": [["08:00", "18:00"]], ...}; an empty dict means always open.
    business_hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates in the queue's zone
    after_hours: Mapped[str] = mapped_column(String(20), default="callback")  # callback | voicemail
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Agent(Base):
    """A user who takes contacts: their state, skills, capacity and what they hold right now."""

    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint("load_voice >= 0 AND load_text >= 0", name="load_not_negative"),
        CheckConstraint("load_voice <= voice_slots AND load_text <= text_slots", name="load_within_capacity"),
        CheckConstraint("blend OR load_voice = 0 OR load_text = 0", name="voice_alone_unless_blended"),
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    extension: Mapped[str | None] = mapped_column(String(20), unique=True)
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164: calls ring here instead of the softphone
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["en"])
    state: Mapped[str] = mapped_column(String(20), default="offline", index=True)
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    idle_since: Mapped[datetime] = mapped_column(default=utcnow)
    wrap_up_seconds: Mapped[int] = mapped_column(Integer, default=60)
    voice_slots: Mapped[int] = mapped_column(Integer, default=1)  # voice, callback, outbound
    text_slots: Mapped[int] = mapped_column(Integer, default=3)  # sms, chat, e-mail
    blend: Mapped[bool] = mapped_column(Boolean, default=False)  # may hold texts during a call
    load_voice: Mapped[int] = mapped_column(Integer, default=0)
    load_text: Mapped[int] = mapped_column(Integer, default=0)
    missed_offers: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AgentSkill(Base):
    __tablename__ = "agent_skills"

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=1)  # 1 (can) … 5 (expert)


class AgentStateChange(Base):
    """Every state an agent was in and from when: the raw material of adherence, occupancy and wellbeing."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (Index("ix_agent_state_changes_agent_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(60))
    changed_by: Mapped[str | None] = mapped_column(String(150))


class Disposition(Base):
    """How a contact ended, as the center names it (configurable); ``resolves`` counts it as resolved."""

    __tablename__ = "dispositions"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    resolves: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Interaction(Base):
    """One contact on any channel, from its creation to its single final state (completed or abandoned)."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_waiting", "priority", "queued_at", postgresql_where=WAITING, sqlite_where=WAITING),
        Index("ix_interactions_patient_created", "patient_id", "created_at"),
        Index("ix_interactions_queue_created", "queue_id", "created_at"),
        Index("ix_interactions_queued_at", "queued_at"),  # the wallboard's day, per queue
        Index("ix_interactions_closed_at", "closed_at"),  # the wallboard's day, per agent
    )

    id: Mapped[uuid.UUID] = _id()
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    reason: Mapped[str] = mapped_column(String(20), default="other")
    language: Mapped[str] = mapped_column(String(8), default="en")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), index=True)
    address: Mapped[str | None] = mapped_column(String(320))  # the caller's number (E.164) or e-mail
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    candidates: Mapped[int] = mapped_column(Integer, default=0)  # patients on the caller's number
    queue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("routing_queues.id"))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"), index=True)
    wanted_agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    declined_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    declined_at: Mapped[datetime | None]
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)  # e.g. a CallSid
    # A PBX's own ACD picks the agent (CTI events): Careline's engine never offers it.
    routed_externally: Mapped[bool] = mapped_column(Boolean, default=False)
    # Identifiers the caller already proved to a machine (the IVR): the agent asks only for the others.
    preverified: Mapped[list[str]] = mapped_column(JSON, default=list)
    step: Mapped[int] = mapped_column(Integer, default=0)
    offers: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]  # a callback due later, or after hours until the queue opens
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]  # first due in line: its place in line and the speed of answer
    entered_queue_at: Mapped[datetime | None]  # this wait in this queue: escalation and maximum wait count from here
    offered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    held_at: Mapped[datetime | None]
    hold_seconds: Mapped[int] = mapped_column(Integer, default=0)
    transferred_at: Mapped[datetime | None]
    wrap_up_at: Mapped[datetime | None]
    wrap_up_until: Mapped[datetime | None]  # after-contact work ends by itself then
    ended_at: Mapped[datetime | None]
    abandoned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    disposition: Mapped[str | None] = mapped_column(ForeignKey("dispositions.code"))
    resolved: Mapped[bool | None] = mapped_column(Boolean)


class Assignment(Base):
    """An offer of an interaction to an agent (a reservation of their capacity) and, once accepted, their leg."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("uq_assignments_live", "interaction_id", unique=True,
              postgresql_where=LIVE_ASSIGNMENT, sqlite_where=LIVE_ASSIGNMENT),
        Index("ix_assignments_agent_status", "agent_id", "status"),
        Index("ix_assignments_interaction", "interaction_id"),
        Index("ix_assignments_offer_expiry", "expires_at", postgresql_where=text("status = 'offered'"),
              sqlite_where=text("status = 'offered'")),
    )

    id: Mapped[uuid.UUID] = _id()
    interaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    kind: Mapped[str] = mapped_column(String(6))  # voice | text: which capacity it holds
    role: Mapped[str] = mapped_column(String(10), default="primary")  # primary | consult
    status: Mapped[str] = mapped_column(String(10))  # offered, accepted, rejected, missed, withdrawn, ended
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class InteractionEvent(Base):
    """The interaction's history, one row per stage or action: the timeline, the wallboard and the KPIs."""

    __tablename__ = "interaction_events"
    __table_args__ = (Index("ix_interaction_events_interaction_at", "interaction_id", "at"),)

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    interaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    queue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("routing_queues.id"))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
