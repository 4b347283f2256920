"""Every query on scheduling's tables."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    CompoundSelect,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from careline.scheduling.models import (
    Appointment,
    AppointmentEvent,
    AvailabilityException,
    AvailabilityTemplate,
    Order,
    Provider,
    Resource,
    Schedule,
    Site,
    Slot,
    TemplateVisitType,
    VisitType,
    WaitlistEntry,
)

Model = TypeVar("Model", Site, Provider, Resource, Schedule, VisitType, AvailabilityTemplate, Slot, Appointment,
                Order, WaitlistEntry)
# Written as literal SQL, not a bound parameter, so that both engines see the partial index's condition.
IS_FREE = literal_column("slots.status") == literal_column("'free'")


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def get(session: Session, model: type[Model], row_id: UUID) -> Model | None:
    return session.get(model, row_id)


def all_of(session: Session, model: type[Model], *order_by: Any) -> list[Model]:
    return list(session.scalars(select(model).order_by(*order_by)))


# --- schedules and templates -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A schedule with the names and zone a slot option or a calendar shows."""

    id: UUID
    site_id: UUID
    site_name: str
    time_zone: str
    provider_id: UUID | None
    resource_id: UUID | None
    actor_name: str
    specialty: str | None
    resource_kind: str | None
    active: bool


_SCHEDULE_COLUMNS = (Schedule.id, Schedule.site_id, Site.name, Site.time_zone, Schedule.provider_id,
                     Schedule.resource_id, func.coalesce(Provider.name, Resource.name), Provider.specialty,
                     Resource.kind,
                     # Bookable only while the schedule, its site and its provider or resource are all active.
                     and_(Schedule.active, Site.active, func.coalesce(Provider.active, Resource.active)))


def _schedules_query() -> Any:
    return (select(*_SCHEDULE_COLUMNS).join(Site, Site.id == Schedule.site_id)
            .outerjoin(Provider, Provider.id == Schedule.provider_id)
            .outerjoin(Resource, Resource.id == Schedule.resource_id))


def _info(row: Sequence[Any]) -> ScheduleInfo:
    return ScheduleInfo(*row[:10])


def schedule_infos(session: Session, schedule_ids: Iterable[UUID] | None = None) -> list[ScheduleInfo]:
    query = _schedules_query().order_by(Site.name, func.coalesce(Provider.name, Resource.name))
    if schedule_ids is not None:
        query = query.where(Schedule.id.in_(list(schedule_ids)))
    return [_info(row) for row in session.execute(query)]


def schedule_of(session: Session, site_id: UUID, provider_id: UUID | None, resource_id: UUID | None) -> Schedule | None:
    return session.scalars(select(Schedule).where(
        Schedule.site_id == site_id,
        Schedule.provider_id.is_(None) if provider_id is None else Schedule.provider_id == provider_id,
        Schedule.resource_id.is_(None) if resource_id is None else Schedule.resource_id == resource_id)).first()


def templates_of(session: Session, schedule_id: UUID) -> list[AvailabilityTemplate]:
    return list(session.scalars(select(AvailabilityTemplate).where(AvailabilityTemplate.schedule_id == schedule_id)
                                .order_by(AvailabilityTemplate.start_time)))


def templates_by_schedule(session: Session, schedule_ids: Sequence[UUID]) -> dict[UUID, list[AvailabilityTemplate]]:
    found: dict[UUID, list[AvailabilityTemplate]] = {sid: [] for sid in schedule_ids}
    for template in session.scalars(select(AvailabilityTemplate)
                                    .where(AvailabilityTemplate.schedule_id.in_(schedule_ids))):
        found[template.schedule_id].append(template)
    return found


def visit_types_of_templates(session: Session, template_ids: Sequence[UUID]) -> dict[UUID, list[UUID]]:
    found: dict[UUID, list[UUID]] = {tid: [] for tid in template_ids}
    for template_id, visit_type_id in session.execute(
            select(TemplateVisitType.template_id, TemplateVisitType.visit_type_id)
            .where(TemplateVisitType.template_id.in_(template_ids))):
        found[template_id].append(visit_type_id)
    return found


def link_visit_types(session: Session, template_id: UUID, visit_type_ids: Iterable[UUID]) -> None:
    session.add_all(TemplateVisitType(template_id=template_id, visit_type_id=vid) for vid in visit_type_ids)
    session.flush()


def exceptions_for(session: Session, schedule: ScheduleInfo, first: date, last: date) -> list[AvailabilityException]:
    """Holidays of every site or this one, and this schedule's own days off, that touch the date range."""
    query = select(AvailabilityException).where(
        AvailabilityException.first_day <= last, AvailabilityException.last_day >= first,
        or_(AvailabilityException.schedule_id == schedule.id,
            (AvailabilityException.schedule_id.is_(None))
            & or_(AvailabilityException.site_id.is_(None), AvailabilityException.site_id == schedule.site_id)))
    return list(session.scalars(query))


# --- slots -------------------------------------------------------------------------------------------


def slots_between(session: Session, schedule_id: UUID, start: datetime, end: datetime) -> list[Slot]:
    return list(session.scalars(select(Slot).where(Slot.schedule_id == schedule_id, Slot.starts_at >= start,
                                                   Slot.starts_at < end).order_by(Slot.starts_at)))


def search_slots(session: Session, schedule_id: UUID, *, start: datetime | None, end: datetime | None,
                 status: str | None, limit: int, offset: int) -> list[Slot]:
    query = select(Slot).where(Slot.schedule_id == schedule_id)
    if start is not None:
        query = query.where(Slot.starts_at >= start)
    if end is not None:
        query = query.where(Slot.starts_at < end)
    if status is not None:
        query = query.where(Slot.status == status)
    return list(session.scalars(query.order_by(Slot.starts_at).limit(limit).offset(offset)))


def delete_slots(session: Session, slot_ids: Sequence[UUID]) -> None:
    for start in range(0, len(slot_ids), 500):
        session.execute(delete(Slot).where(Slot.id.in_(slot_ids[start:start + 500]), IS_FREE))


def delete_free_slots_of_template(session: Session, template_id: UUID) -> int:
    result = session.execute(delete(Slot).where(Slot.template_id == template_id, IS_FREE)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))


def insert_slots(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Slot), list(rows))


def take_slot(session: Session, slot_id: UUID) -> bool:
    """Mark a free slot busy; False if it is not free any more. One atomic statement: the row is locked
    while a competing transaction's update waits, and that one then finds the slot busy."""
    result = session.execute(update(Slot).where(Slot.id == slot_id, IS_FREE).values(status="busy")
                             .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def free_slot(session: Session, slot_id: UUID) -> None:
    session.execute(update(Slot).where(Slot.id == slot_id).values(status="free")
                    .execution_options(synchronize_session=False))


@dataclass(frozen=True, slots=True)
class Eligible:
    schedule: ScheduleInfo
    template_ids: tuple[UUID, ...]


@functools.lru_cache(maxsize=32)
def _eligible_query(site: bool, provider: bool, gender: bool, new_patient: bool) -> Select[Any]:
    """Built once per combination of filters: building the statement costs more than running it."""
    query = (_schedules_query().add_columns(AvailabilityTemplate.id, Provider.languages)
             .join(AvailabilityTemplate, AvailabilityTemplate.schedule_id == Schedule.id)
             .join(TemplateVisitType, TemplateVisitType.template_id == AvailabilityTemplate.id)
             .where(TemplateVisitType.visit_type_id == bindparam("visit_type_id"), Schedule.active, Site.active,
                    or_(Provider.id.is_(None), Provider.active), or_(Resource.id.is_(None), Resource.active)))
    if site:
        query = query.where(Schedule.site_id == bindparam("site_id"))
    if provider:
        query = query.where(Schedule.provider_id == bindparam("provider_id"))
    if gender:
        query = query.where(Provider.gender == bindparam("provider_gender"))
    if new_patient:
        query = query.where(or_(Provider.id.is_(None), Provider.accepting_new))
    return query  # type: ignore[no-any-return]


def eligible_schedules(
    session: Session, *, visit_type_id: UUID, site_id: UUID | None, provider_id: UUID | None,
    provider_gender: str | None, language: str | None, new_patient: bool,
) -> list[Eligible]:
    """Schedules with a template block that takes the visit type, with those blocks, after the filters."""
    query = _eligible_query(bool(site_id), bool(provider_id), bool(provider_gender), new_patient)
    params = {"visit_type_id": visit_type_id, "site_id": site_id, "provider_id": provider_id,
              "provider_gender": provider_gender}
    grouped: dict[UUID, tuple[ScheduleInfo, list[UUID], list[str]]] = {}
    for row in session.execute(query, {key: value for key, value in params.items() if value}):
        info, template_id, languages = _info(row), row[10], row[11]
        entry = grouped.setdefault(info.id, (info, [], languages or []))
        entry[1].append(template_id)
    return [Eligible(info, tuple(templates)) for info, templates, languages in grouped.values()
            if language is None or info.provider_id is None or language in languages]


@functools.lru_cache(maxsize=512)
def _first_free_query(blocks: tuple[int, ...], by_minute: bool) -> CompoundSelect[Any]:
    """The merge of one read per schedule (``blocks``: how many template blocks each schedule searches),
    built once per shape and kept, every value a bound parameter: building and compiling a few hundred
    sub-selects on each search cost far more than the database spent answering them. The ORDER BY on the
    compound itself lets SQLite merge the ordered parts and stop at the limit."""
    selects = []
    for n, count in enumerate(blocks):
        part = (select(Slot.id, Slot.schedule_id, Slot.starts_at, Slot.ends_at)
                .where(Slot.schedule_id == bindparam(f"schedule_{n}"), IS_FREE,
                       Slot.starts_at >= bindparam(f"start_{n}"), Slot.starts_at < bindparam(f"end_{n}"),
                       Slot.template_id.in_([bindparam(f"template_{n}_{k}", type_=Slot.template_id.type)
                                             for k in range(count)]))
                .order_by(Slot.starts_at).limit(bindparam("limit")))
        if by_minute:
            part = part.where(Slot.local_minute >= bindparam("minute_from"),
                              Slot.local_minute < bindparam("minute_to"))
        selects.append(select(part.subquery()))
    merged = union_all(*selects)
    return merged.order_by(merged.selected_columns.starts_at).limit(bindparam("limit"))


def first_free(
    session: Session, eligible: Sequence[Eligible], *, visit_type_id: UUID,
    window: Callable[[ScheduleInfo], tuple[datetime, datetime]], minutes: tuple[int, int] | None, limit: int,
) -> list[Row[Any]]:
    """The earliest free slots across schedules: each schedule's first ``limit`` read in index order, then merged.

    Reading per schedule keeps the cost bounded by the number of schedules, however booked-up or
    selective the search is; one query over all of them would walk the calendar until it found enough.
    """
    if not eligible:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _first_free_lateral(session, eligible, visit_type_id=visit_type_id, window=window, minutes=minutes,
                                   limit=limit)
    params: dict[str, Any] = {"limit": limit}
    if minutes:
        params["minute_from"], params["minute_to"] = minutes
    for n, item in enumerate(eligible):
        params[f"start_{n}"], params[f"end_{n}"] = window(item.schedule)
        params[f"schedule_{n}"] = item.schedule.id
        params |= {f"template_{n}_{k}": template_id for k, template_id in enumerate(item.template_ids)}
    shape = tuple(len(item.template_ids) for item in eligible)
    return list(session.execute(_first_free_query(shape, bool(minutes)), params))


# PostgreSQL reads each schedule's first free slots with one LATERAL subquery over the array of schedules:
# one small statement, planned once per call, instead of a union of hundreds of parts.
_LATERAL_FIRST_FREE = """
SELECT s.id, s.schedule_id, s.starts_at, s.ends_at
FROM unnest(CAST(:schedule_ids AS uuid[])) AS e(schedule_id)
CROSS JOIN LATERAL (
    SELECT slots.id, slots.schedule_id, slots.starts_at, slots.ends_at FROM slots
    WHERE slots.schedule_id = e.schedule_id AND slots.status = 'free'
      AND slots.starts_at >= :lo AND slots.starts_at < :hi {minutes}
      AND EXISTS (SELECT 1 FROM template_visit_types AS tv
                  WHERE tv.template_id = slots.template_id AND tv.visit_type_id = :visit_type_id)
    ORDER BY slots.starts_at LIMIT :limit
) AS s
ORDER BY s.starts_at LIMIT :limit
"""
_LATERAL_QUERIES = {
    False: text(_LATERAL_FIRST_FREE.format(minutes="")),
    True: text(_LATERAL_FIRST_FREE.format(
        minutes="AND slots.local_minute >= :minute_from AND slots.local_minute < :minute_to")),
}


def _first_free_lateral(
    session: Session, eligible: Sequence[Eligible], *, visit_type_id: UUID,
    window: Callable[[ScheduleInfo], tuple[datetime, datetime]], minutes: tuple[int, int] | None, limit: int,
) -> list[Row[Any]]:
    """One statement per distinct date window (sites in different zones may differ), with the window's
    bounds as plain values so that the planner sees how much of each calendar they cover."""
    by_window: dict[tuple[datetime, datetime], list[UUID]] = {}
    for item in eligible:
        by_window.setdefault(window(item.schedule), []).append(item.schedule.id)
    params: dict[str, Any] = {"visit_type_id": visit_type_id, "limit": limit}
    if minutes:
        params["minute_from"], params["minute_to"] = minutes
    rows = [row for (lo, hi), schedule_ids in by_window.items()
            for row in session.execute(_LATERAL_QUERIES[bool(minutes)],
                                       params | {"schedule_ids": schedule_ids, "lo": lo, "hi": hi})]
    return sorted(rows, key=lambda row: row.starts_at)[:limit]


def slot_rows_for_calendar(session: Session, schedule_id: UUID, start: datetime, end: datetime) -> list[Any]:
    """Each slot with its live appointment's id, status and visit name; no patient column, by design."""
    query = (select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.status, Appointment.id, Appointment.status,
                    VisitType.name)
             .outerjoin(Appointment, (Appointment.slot_id == Slot.id) & (Appointment.status != "cancelled"))
             .outerjoin(VisitType, VisitType.id == Appointment.visit_type_id)
             .where(Slot.schedule_id == schedule_id, Slot.starts_at >= start, Slot.starts_at < end)
             .order_by(Slot.starts_at))
    return list(session.execute(query))


# --- appointments ------------------------------------------------------------------------------------


def appointments_of(session: Session, patient_id: UUID, *, since: datetime | None = None,
                    live_only: bool = False, limit: int = 50) -> list[Appointment]:
    query = select(Appointment).where(Appointment.patient_id == patient_id)
    if since is not None:
        query = query.where(Appointment.starts_at >= since)
    if live_only:
        query = query.where(Appointment.status.in_(("booked", "arrived")))
    order = Appointment.starts_at if since is not None else Appointment.starts_at.desc()
    return list(session.scalars(query.order_by(order).limit(limit)))


def overlapping_appointment(session: Session, patient_id: UUID, start: datetime, end: datetime, *,
                            besides: UUID | None = None) -> Appointment | None:
    """A live appointment of the patient's that overlaps [start, end), other than ``besides``."""
    query = select(Appointment).where(Appointment.patient_id == patient_id,
                                      Appointment.status.in_(("booked", "arrived")),
                                      Appointment.starts_at < end, Appointment.ends_at > start)
    if besides is not None:
        query = query.where(Appointment.id != besides)
    return session.scalars(query.limit(1)).first()


def search_appointments(session: Session, *, patient_id: UUID | None, schedule_id: UUID | None,
                        start: datetime | None, end: datetime | None, status: str | None,
                        limit: int, offset: int) -> list[Appointment]:
    query = select(Appointment)
    if patient_id:
        query = query.where(Appointment.patient_id == patient_id)
    if schedule_id:
        query = query.where(Appointment.schedule_id == schedule_id)
    if start:
        query = query.where(Appointment.starts_at >= start)
    if end:
        query = query.where(Appointment.starts_at < end)
    if status:
        query = query.where(Appointment.status == status)
    return list(session.scalars(query.order_by(Appointment.starts_at, Appointment.id).limit(limit).offset(offset)))


def last_seen_in_specialty(session: Session, patient_id: UUID, specialties: Sequence[str]) -> datetime | None:
    """When the patient last came to a visit with a provider of one of these specialties."""
    query = (select(func.max(Appointment.starts_at))
             .join(Schedule, Schedule.id == Appointment.schedule_id)
             .join(Provider, Provider.id == Schedule.provider_id)
             .where(Appointment.patient_id == patient_id, Appointment.status.in_(("arrived", "fulfilled")),
                    Provider.specialty.in_(specialties)))
    return session.scalar(query)


def active_order(session: Session, patient_id: UUID, visit_type_id: UUID, today: date) -> Order | None:
    return session.scalars(select(Order).where(
        Order.patient_id == patient_id, Order.visit_type_id == visit_type_id, Order.status == "active",
        or_(Order.expires_on.is_(None), Order.expires_on >= today)).order_by(Order.created_at)).first()


def orders_of(session: Session, patient_id: UUID) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.patient_id == patient_id)
                                .order_by(Order.created_at.desc())))


def events_of(session: Session, patient_id: UUID, *, limit: int) -> list[AppointmentEvent]:
    return list(session.scalars(select(AppointmentEvent).where(AppointmentEvent.patient_id == patient_id)
                                .order_by(AppointmentEvent.at.desc()).limit(limit)))


def visit_type_names(session: Session, ids: Iterable[UUID]) -> dict[UUID, str]:
    wanted = list(set(ids))
    rows = session.execute(select(VisitType.id, VisitType.name).where(VisitType.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}  # dict(result) would read the result as a mapping


# --- waitlist ----------------------------------------------------------------------------------------


def waiting_for(session: Session, *, visit_type_id: UUID, site_id: UUID, provider_id: UUID | None,
                starts_at: datetime) -> list[WaitlistEntry]:
    """Waiting patients a slot would suit, first come first served."""
    query = select(WaitlistEntry).where(
        WaitlistEntry.visit_type_id == visit_type_id, WaitlistEntry.status == "waiting",
        WaitlistEntry.wanted_before > starts_at,
        or_(WaitlistEntry.site_id.is_(None), WaitlistEntry.site_id == site_id))
    query = query.where(WaitlistEntry.provider_id.is_(None) if provider_id is None
                        else or_(WaitlistEntry.provider_id.is_(None), WaitlistEntry.provider_id == provider_id))
    return list(session.scalars(query.order_by(WaitlistEntry.created_at, WaitlistEntry.id)))


def waitlist_of(session: Session, patient_id: UUID) -> list[WaitlistEntry]:
    return list(session.scalars(select(WaitlistEntry).where(WaitlistEntry.patient_id == patient_id)
                                .order_by(WaitlistEntry.created_at.desc())))


def waitlist_for_appointment(session: Session, appointment_id: UUID) -> list[WaitlistEntry]:
    return list(session.scalars(select(WaitlistEntry).where(WaitlistEntry.appointment_id == appointment_id,
                                                            WaitlistEntry.status == "waiting")))


def move_patient(session: Session, *, from_id: UUID, to_id: UUID) -> None:
    for model in (Appointment, AppointmentEvent, Order, WaitlistEntry):
        session.execute(update(model).where(model.patient_id == from_id).values(patient_id=to_id)
                        .execution_options(synchronize_session=False))


# --- lookups by key ----------------------------------------------------------------------------------


def appointments_by_ids(session: Session, ids: Iterable[UUID]) -> list[Appointment]:
    """The appointments with these ids (any patient, any status), in one query."""
    wanted = list(set(ids))
    if not wanted:
        return []
    return list(session.scalars(select(Appointment).where(Appointment.id.in_(wanted))))


def visit_type_by_code(session: Session, code: str) -> VisitType | None:
    """The visit type with this code (unique), active or retired."""
    return session.scalars(select(VisitType).where(VisitType.code == code)).first()


def visit_types_by_ids(session: Session, ids: Iterable[UUID]) -> list[VisitType]:
    """The visit types with these ids, retired ones included, in one query."""
    wanted = list(set(ids))
    if not wanted:
        return []
    return list(session.scalars(select(VisitType).where(VisitType.id.in_(wanted))))
