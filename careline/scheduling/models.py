"""Scheduling's tables: who can be booked where (schedules), when (templates → slots), and the bookings.

A slot is booked by at most one live appointment: the partial unique index on ``appointments.slot_id``
(cancelled appointments excluded) makes a second booking impossible whatever the code above it does.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from careline.db import Base, utcnow

LIVE_APPOINTMENT = text("status <> 'cancelled'")
FREE_SLOT = text("status = 'free'")


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


class Site(Base):
    """A place patients are seen: a clinic, an imaging center, a lab."""

    __tablename__ = "sites"

    id: Mapped[uuid.UUID] = _id()
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))
    time_zone: Mapped[str] = mapped_column(String(64))
    # Opening hours as shown to callers: {"mon": ["08:00", "18:00"], ...}; slots come from templates.
    opening_hours: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Provider(Base):
    """A practitioner patients can be booked with."""

    __tablename__ = "providers"

    id: Mapped[uuid.UUID] = _id()
    npi: Mapped[str | None] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[str | None] = mapped_column(String(20))
    specialty: Mapped[str] = mapped_column(String(40), index=True)
    gender: Mapped[str | None] = mapped_column(String(10))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    accepting_new: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Resource(Base):
    """Equipment or a room a test needs, e.g. a mammography unit; booked through its own schedule."""

    __tablename__ = "resources"

    id: Mapped[uuid.UUID] = _id()
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Schedule(Base):
    """The bookable time of one provider or one resource at one site (FHIR Schedule)."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("(provider_id IS NULL) <> (resource_id IS NULL)", name="one_actor"),
        UniqueConstraint("site_id", "provider_id", "resource_id"),
    )

    id: Mapped[uuid.UUID] = _id()
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), index=True)
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("providers.id"), index=True)
    resource_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resources.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class VisitType(Base):
    __tablename__ = "visit_types"

    id: Mapped[uuid.UUID] = _id()
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # Who can do it: providers of these specialties, or a resource of this kind.
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    resource_kind: Mapped[str | None] = mapped_column(String(40))
    patient_rule: Mapped[str] = mapped_column(String(12), default="any")  # any | new | established
    requires_order: Mapped[bool] = mapped_column(Boolean, default=False)
    preparation: Mapped[str | None] = mapped_column(Text)
    revenue_cents: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AvailabilityTemplate(Base):
    """A weekly block of bookable time: on these weekdays, from start to end, slots of this length.

    An end at or before the start runs past midnight into the next day. Breaks are the gaps between blocks.
    """

    __tablename__ = "availability_templates"

    id: Mapped[uuid.UUID] = _id()
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # 0 = Monday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateVisitType(Base):
    """Which visit types a template block takes: the link slot search goes through."""

    __tablename__ = "template_visit_types"

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("availability_templates.id", ondelete="CASCADE"), primary_key=True)
    visit_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_types.id"), primary_key=True, index=True)


class AvailabilityException(Base):
    """Days with no bookable time: a holiday (a site, or every site), or a provider's vacation."""

    __tablename__ = "availability_exceptions"

    id: Mapped[uuid.UUID] = _id()
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"), index=True)
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"),
                                                         index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))  # holiday | vacation | training | closure
    note: Mapped[str | None] = mapped_column(String(200))


class Slot(Base):
    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("schedule_id", "starts_at"),
        # First-available search reads each schedule's free slots in time order from this index alone.
        Index("ix_slots_free", "schedule_id", "starts_at", sqlite_where=FREE_SLOT, postgresql_where=FREE_SLOT),
    )

    id: Mapped[uuid.UUID] = _id()
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("availability_templates.id", ondelete="SET NULL"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    local_minute: Mapped[int] = mapped_column(Integer)  # minutes after local midnight at the site
    status: Mapped[str] = mapped_column(String(8), default="free")  # free | busy


class Order(Base):
    """An order or referral on file that a test needs before it can be booked."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_patient_id_visit_type_id", "patient_id", "visit_type_id"),)

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    visit_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_types.id"))
    reference: Mapped[str | None] = mapped_column(String(64))
    ordered_by: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | cancelled
    expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_patient_id_starts_at", "patient_id", "starts_at"),
        Index("ix_appointments_schedule_id_starts_at", "schedule_id", "starts_at"),
        Index("uq_appointments_live_slot", "slot_id", unique=True,
              sqlite_where=LIVE_APPOINTMENT, postgresql_where=LIVE_APPOINTMENT),
    )

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id"))
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id"))
    visit_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_types.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # booked | arrived | fulfilled | cancelled | noshow  (FHIR Appointment.status)
    status: Mapped[str] = mapped_column(String(12), default="booked")
    channel: Mapped[str] = mapped_column(String(12))  # agent | sms | web | import | fhir
    booked_by: Mapped[str] = mapped_column(String(150))
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(String(300))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"))
    order_override: Mapped[str | None] = mapped_column(String(300))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppointmentEvent(Base):
    """One change to an appointment, for the patient's timeline."""

    __tablename__ = "appointment_events"
    __table_args__ = (Index("ix_appointment_events_patient_id_at", "patient_id", "at"),)

    id: Mapped[uuid.UUID] = _id()
    appointment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"),
                                                      index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # booked | rescheduled | cancelled | arrived | fulfilled | noshow
    by: Mapped[str] = mapped_column(String(150))
    channel: Mapped[str] = mapped_column(String(12))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WaitlistEntry(Base):
    """A patient waiting for an earlier slot; matched in the order they joined when a slot frees up."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (Index("ix_waitlist_entries_visit_type_id_status_created_at",
                            "visit_type_id", "status", "created_at"),)

    id: Mapped[uuid.UUID] = _id()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    visit_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_types.id"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("providers.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id", ondelete="SET NULL"))
    wanted_before: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting | booked | withdrawn
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
