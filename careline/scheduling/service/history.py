"""Appointment changes as lines of the patient's timeline: "Booked Annual exam for Tue 3 Dec 9:00 AM".

Read for the 360 view, which has already audited the read; nothing here writes.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

from careline.db import UnitOfWork
from careline.patients.schemas import TimelineItem
from careline.scheduling import repository
from careline.scheduling.models import Appointment, AppointmentEvent

HISTORY_LENGTH = 30
_VERBS = {"arrived": "Checked in for", "fulfilled": "Completed", "noshow": "No-show for"}


def when(at: datetime, zone: tzinfo | None = None) -> str:
    """A time as an agent reads it out: 'Tue 3 Dec 9:00 AM' (in ``zone``, else the time's own)."""
    local = at.astimezone(zone) if zone else at
    return f"{local:%a} {local.day} {local:%b} {local.hour % 12 or 12}:{local:%M} {local:%p}"


def timeline_for(uow: UnitOfWork, patient_id: UUID, time_zone: str | None, *,
                 limit: int = HISTORY_LENGTH) -> list[TimelineItem]:
    """The patient's appointment changes, newest first, with times in the patient's zone (else the site's)."""
    events = repository.events_of(uow.session, patient_id, limit=limit)
    if not events:
        return []
    # Only the appointments these events name, in one query: this runs on every 360 view.
    appointments = {a.id: a for a in repository.appointments_by_ids(
        uow.session, (event.appointment_id for event in events))}
    names = repository.visit_type_names(uow.session, (a.visit_type_id for a in appointments.values()))
    zones = {info.id: info.time_zone for info in repository.schedule_infos(
        uow.session, {a.schedule_id for a in appointments.values()})}
    items = []
    for event in events:
        appointment = appointments.get(event.appointment_id)
        if appointment is None:
            continue
        zone = ZoneInfo(time_zone or zones.get(appointment.schedule_id, "UTC"))
        items.append(TimelineItem(at=event.at, kind="appointment",
                                  title=_title(event, appointment, names.get(appointment.visit_type_id, "visit"), zone),
                                  detail=_detail(event)))
    return items


def _title(event: AppointmentEvent, appointment: Appointment, visit: str, zone: ZoneInfo) -> str:
    detail = event.detail or {}
    if event.kind == "booked":
        starts = _instant(detail.get("starts_at")) or appointment.starts_at
        return f"Booked {visit} for {when(starts, zone)}"
    if event.kind == "rescheduled":
        old, new = _instant(detail.get("from")), _instant(detail.get("to"))
        if old and new:
            return f"Rescheduled {visit} from {when(old, zone)} to {when(new, zone)}"
        return f"Rescheduled {visit}"
    if event.kind == "cancelled":
        return f"Cancelled {visit} for {when(appointment.starts_at, zone)}"
    return f"{_VERBS.get(event.kind, event.kind.capitalize())} {visit} on {when(appointment.starts_at, zone)}"


def _detail(event: AppointmentEvent) -> str:
    reason = (event.detail or {}).get("reason")
    parts = [f"by {event.by}", f"via {event.channel}"]
    if reason:
        parts.append(f"reason: {reason}")
    return " · ".join(parts)


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
