"""Appointments: book, reschedule, cancel, and the day-of statuses. Every change is audited and timelined.

No double booking is decided by the database, never by a read before the write: the slot is taken with
one conditional update (free → busy), and the partial unique index on live appointments per slot backs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from careline import audit
from careline.actor import Actor, Role
from careline.db import UnitOfWork, utcnow
from careline.patients.schemas import PatientRef
from careline.patients.service import records as patient_records
from careline.scheduling import repository, rules
from careline.scheduling.errors import InvalidSchedulingInput, NotFound, OrderRequired, SlotTaken, WrongStatus
from careline.scheduling.models import Appointment, AppointmentEvent, Slot, VisitType
from careline.scheduling.repository import ScheduleInfo
from careline.scheduling.schemas import (
    AppointmentRead,
    AppointmentStatus,
    BookingIn,
    CancelIn,
    Channel,
    RescheduleIn,
    SlotOption,
    SlotSearch,
)
from careline.scheduling.service import catalog, slots, waitlist

NEXT_OPTIONS = 5


def book(uow: UnitOfWork, actor: Actor, data: BookingIn) -> AppointmentRead:
    """Book a free slot for a patient. Raises SlotTaken (with the next options) when someone was faster."""
    patient = patient_records.patient_to_act_on(uow, actor, data.patient_id)
    visit = catalog.visit_type(uow, data.visit_type_id)
    slot, info = _bookable_slot(uow, data.slot_id, visit)
    _check_patient_free(uow, patient.id, slot)
    _check_patient_fits(uow, patient.id, visit, info)
    order_id = _order_for(uow, patient.id, visit, data.order_override)
    channel = Channel.agent if actor.role == Role.agent else data.channel  # an agent books as an agent
    appointment = Appointment(patient_id=patient.id, slot_id=slot.id, schedule_id=slot.schedule_id,
                              visit_type_id=visit.id, starts_at=slot.starts_at, ends_at=slot.ends_at,
                              status="booked", channel=channel.value, booked_by=actor.username,
                              reason=data.reason, order_id=order_id,
                              order_override=data.order_override if order_id is None else None)
    with _claiming(uow, slot, visit, patient):
        uow.session.add(appointment)
    waitlist.close_for_patient(uow, patient.id, visit.id)
    _record(uow, actor, appointment, "booked", channel, {"starts_at": slot.starts_at.isoformat(),
                                                              "override": order_id is None and visit.requires_order})
    return _read(uow, appointment, info, visit, patient.time_zone)


def reschedule(uow: UnitOfWork, actor: Actor, appointment_id: UUID, data: RescheduleIn,
               channel: Channel = Channel.agent) -> AppointmentRead:
    """Move a booked appointment to another slot in one transaction: the new slot is taken, the old freed."""
    appointment = _appointment(uow, appointment_id)
    patient = patient_records.patient_to_act_on(uow, actor, appointment.patient_id)
    if appointment.status != "booked":
        raise WrongStatus(appointment.status, "rescheduled")
    if data.slot_id == appointment.slot_id:
        raise InvalidSchedulingInput("slot_id", "The appointment is already in that slot.")
    visit = catalog.visit_type(uow, appointment.visit_type_id)
    slot, info = _bookable_slot(uow, data.slot_id, visit)
    _check_patient_free(uow, patient.id, slot, besides=appointment.id)
    old_slot, old_start = appointment.slot_id, appointment.starts_at
    with _claiming(uow, slot, visit, patient):
        repository.free_slot(uow.session, old_slot)
        appointment.slot_id, appointment.schedule_id = slot.id, slot.schedule_id
        appointment.starts_at, appointment.ends_at = slot.starts_at, slot.ends_at
    waitlist.close_for_appointment(uow, appointment.id, "booked")
    _record(uow, actor, appointment, "rescheduled", channel, {
        "from": old_start.isoformat(), "to": slot.starts_at.isoformat(), "reason": data.reason})
    return _read(uow, appointment, info, visit, patient.time_zone)


def cancel(uow: UnitOfWork, actor: Actor, appointment_id: UUID, data: CancelIn,
           channel: Channel = Channel.agent) -> AppointmentRead:
    """Cancel with a reason; the slot is free again at once (the waitlist can be asked who wants it)."""
    appointment = _appointment(uow, appointment_id)
    patient = patient_records.patient_to_read(uow, actor, appointment.patient_id)
    _move(appointment, "cancelled")
    appointment.cancel_reason = data.reason
    uow.session.flush()  # the appointment leaves the live-slot index before the slot is offered again
    repository.free_slot(uow.session, appointment.slot_id)
    waitlist.close_for_appointment(uow, appointment.id, "withdrawn")
    _record(uow, actor, appointment, "cancelled", channel, {"reason": data.reason})
    return read_one(uow, appointment, patient.time_zone)


def set_status(uow: UnitOfWork, actor: Actor, appointment_id: UUID, status: AppointmentStatus) -> AppointmentRead:
    """Check-in (arrived), completed (fulfilled), no-show, or back to booked to undo a mistake."""
    if status == AppointmentStatus.cancelled:
        raise InvalidSchedulingInput("status", "Cancel with a reason instead.")
    appointment = _appointment(uow, appointment_id)
    patient = patient_records.patient_to_read(uow, actor, appointment.patient_id)
    site_zone = ZoneInfo(catalog.schedule_info(uow, appointment.schedule_id).time_zone)
    if status != AppointmentStatus.booked and \
            appointment.starts_at.astimezone(site_zone).date() > utcnow().astimezone(site_zone).date():
        raise InvalidSchedulingInput("status", "That appointment is on a later day (at the site).")
    _move(appointment, status.value)
    _record(uow, actor, appointment, status.value, Channel.agent, {})
    return read_one(uow, appointment, patient.time_zone)


def _move(appointment: Appointment, target: str) -> None:
    if not rules.may_move(appointment.status, target):
        raise WrongStatus(appointment.status, target)
    appointment.status = target


def _appointment(uow: UnitOfWork, appointment_id: UUID) -> Appointment:
    appointment = repository.get(uow.session, Appointment, appointment_id)
    if appointment is None:
        raise NotFound("appointment")
    return appointment


def _bookable_slot(uow: UnitOfWork, slot_id: UUID, visit: VisitType) -> tuple[Slot, ScheduleInfo]:
    """The slot, if it is still ahead and its block takes this visit (the checks the search made)."""
    slot = repository.get(uow.session, Slot, slot_id)
    if slot is None:
        raise NotFound("slot")
    if slot.starts_at <= utcnow():
        raise InvalidSchedulingInput("slot_id", "That time has already passed. Pick a later slot.")
    info = catalog.schedule_info(uow, slot.schedule_id)
    takes = slot.template_id is not None and visit.id in catalog.visit_types_of_template(uow, slot.template_id)
    if not info.active or not takes or not catalog.can_do(info, visit) or visit.duration_minutes > _minutes(slot):
        raise InvalidSchedulingInput("visit_type_id", f"{visit.name} cannot be booked in that slot.")
    return slot, info


def _minutes(slot: Slot) -> int:
    return int((slot.ends_at - slot.starts_at).total_seconds() // 60)


def _check_patient_free(uow: UnitOfWork, patient_id: UUID, slot: Slot, *, besides: UUID | None = None) -> None:
    """One patient cannot be in two places at once: refuse a time overlapping another of their visits."""
    if repository.overlapping_appointment(uow.session, patient_id, slot.starts_at, slot.ends_at, besides=besides):
        raise InvalidSchedulingInput("slot_id", "The patient already has an appointment at that time.")


def _check_patient_fits(uow: UnitOfWork, patient_id: UUID, visit: VisitType, info: ScheduleInfo) -> None:
    """The visit's new-vs-established rule, and a provider's closed panel for a patient new to them."""
    new = slots.new_to(uow, patient_id, visit)
    if not rules.patient_fits(visit.patient_rule, established=not new):
        who = "new" if visit.patient_rule == "new" else "established"
        raise InvalidSchedulingInput("visit_type_id", f"{visit.name} is for {who} patients only.")
    if new and info.provider_id is not None and not catalog.accepts_new_patients(uow, info.provider_id):
        raise InvalidSchedulingInput("slot_id", f"{info.actor_name} is not taking new patients.")


def _order_for(uow: UnitOfWork, patient_id: UUID, visit: VisitType, override: str | None) -> UUID | None:
    if not visit.requires_order:
        return None
    order = repository.active_order(uow.session, patient_id, visit.id, utcnow().date())
    if order is not None:
        return order.id
    if not override or len(override.strip()) < 10:
        raise OrderRequired(visit.name)
    return None


class _Lost(Exception):
    """The conditional update found the slot busy."""


@contextmanager
def _claiming(uow: UnitOfWork, slot: Slot, visit: VisitType, patient: PatientRef) -> Iterator[None]:
    """Take the slot and write what goes with it in one savepoint: both land, or neither does.

    The conditional update decides who wins; the live-slot unique index backs it up. Either refusal rolls
    the savepoint back, so a caller that reports SlotTaken and commits leaves no busy slot without a booking.
    """
    try:
        with uow.session.begin_nested():
            if not repository.take_slot(uow.session, slot.id):
                raise _Lost
            yield
            uow.session.flush()
    except _Lost as error:
        raise SlotTaken(_next_options(uow, slot, visit, patient)) from error
    except IntegrityError as error:
        if not _live_slot_violation(error):
            raise
        raise SlotTaken(_next_options(uow, slot, visit, patient)) from error


def _live_slot_violation(error: IntegrityError) -> bool:
    """Whether the error is the live-slot unique index (PostgreSQL names it; SQLite names the column)."""
    message = str(error.orig)
    return "uq_appointments_live_slot" in message or "appointments.slot_id" in message


def _next_options(uow: UnitOfWork, slot: Slot, visit: VisitType, patient: PatientRef) -> list[SlotOption]:
    info = catalog.schedule_info(uow, slot.schedule_id)
    search = SlotSearch(visit_type_id=visit.id, site_id=info.site_id, limit=NEXT_OPTIONS)
    return slots.first_available(uow, search, zone=catalog.zone_named(patient.time_zone), exclude=[slot.id])


def _record(uow: UnitOfWork, actor: Actor, appointment: Appointment, kind: str, channel: Channel,
            detail: dict[str, object]) -> None:
    repository.add(uow.session, AppointmentEvent(appointment_id=appointment.id, patient_id=appointment.patient_id,
                                                 kind=kind, by=actor.username, channel=channel.value,
                                                 detail={k: v for k, v in detail.items() if v is not None}))
    audit.record(uow, actor, f"appointment.{kind}", subject_type="appointment", subject_id=appointment.id,
                 patient_id=appointment.patient_id, details={"channel": channel.value})


def _read(uow: UnitOfWork, appointment: Appointment, info: ScheduleInfo, visit: VisitType,
          time_zone: str | None) -> AppointmentRead:
    return _shaped(appointment, info, visit.name, time_zone).model_copy(update={"preparation": visit.preparation})


def _shaped(appointment: Appointment, info: ScheduleInfo, visit_name: str, time_zone: str | None) -> AppointmentRead:
    zone = ZoneInfo(time_zone or info.time_zone)
    return AppointmentRead.model_validate(appointment).model_copy(update={
        "visit_name": visit_name, "site_name": info.site_name, "with_name": info.actor_name,
        "local_start": appointment.starts_at.astimezone(zone)})


def read_one(uow: UnitOfWork, appointment: Appointment, time_zone: str | None) -> AppointmentRead:
    info = catalog.schedule_info(uow, appointment.schedule_id)
    visit = repository.get(uow.session, VisitType, appointment.visit_type_id)
    assert visit is not None  # a foreign key
    return _read(uow, appointment, info, visit, time_zone)


def get_appointment(uow: UnitOfWork, actor: Actor, appointment_id: UUID) -> AppointmentRead:
    appointment = _appointment(uow, appointment_id)
    patient = patient_records.patient_to_read(uow, actor, appointment.patient_id)
    audit.record(uow, actor, "appointment.viewed", subject_type="appointment", subject_id=appointment.id,
                 patient_id=appointment.patient_id)
    return read_one(uow, appointment, patient.time_zone)


def upcoming_for(uow: UnitOfWork, patient_id: UUID, time_zone: str | None, *, limit: int = 10) -> list[AppointmentRead]:
    """The patient's live appointments from now on, soonest first (for the 360 view, already audited there)."""
    rows = repository.appointments_of(uow.session, patient_id, since=utcnow(), live_only=True, limit=limit)
    return _read_many(uow, rows, time_zone)


def _read_many(uow: UnitOfWork, rows: list[Appointment], time_zone: str | None) -> list[AppointmentRead]:
    infos = {info.id: info for info in repository.schedule_infos(uow.session, {a.schedule_id for a in rows})}
    names = repository.visit_type_names(uow.session, (a.visit_type_id for a in rows))
    return [_shaped(a, infos[a.schedule_id], names.get(a.visit_type_id, ""), time_zone) for a in rows]


def search_appointments(
    uow: UnitOfWork, actor: Actor, *, patient_id: UUID | None = None, schedule_id: UUID | None = None,
    start: datetime | None = None, end: datetime | None = None, status: AppointmentStatus | None = None,
    limit: int = 50, offset: int = 0,
) -> list[AppointmentRead]:
    """Appointments by patient or by schedule, starting in [start, end), soonest first.

    A patient's appointments pass the same guards as acting for them (an agent's caller verified, restricted
    records refused). A schedule's appointments span many patients, so agents, who verify one caller at a
    time, must name the patient. Each distinct patient returned is an audited read.
    """
    if patient_id is None and schedule_id is None:
        raise InvalidSchedulingInput("patient_id", "Name a patient or a schedule to search appointments.")
    time_zone = None
    if patient_id is not None:
        time_zone = patient_records.patient_to_read(uow, actor, patient_id).time_zone
    elif actor.role == Role.agent:
        raise InvalidSchedulingInput("patient_id", "Search the appointments of the patient you have verified.")
    rows = repository.search_appointments(
        uow.session, patient_id=patient_id, schedule_id=schedule_id, start=_utc(start), end=_utc(end),
        status=status.value if status else None, limit=limit, offset=offset)
    for seen in dict.fromkeys(row.patient_id for row in rows):
        audit.record(uow, actor, "appointment.viewed", subject_type="patient", subject_id=seen, patient_id=seen,
                     details={"search": True})
    return _read_many(uow, rows, time_zone)


def _utc(moment: datetime | None) -> datetime | None:
    """A bound given without a zone is read as UTC, as stored."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def follow_merge(uow: UnitOfWork, *, duplicate_id: UUID, survivor_id: UUID) -> None:
    """After two patient records are merged, the duplicate's appointments, orders and waits move along."""
    repository.move_patient(uow.session, from_id=duplicate_id, to_id=survivor_id)
