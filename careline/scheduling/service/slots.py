"""Turning templates into bookable slots, and finding the first available ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.service import records as patient_records
from careline.scheduling import repository, rules
from careline.scheduling.errors import InvalidSchedulingInput, NotFound
from careline.scheduling.models import AvailabilityException, AvailabilityTemplate, Slot, VisitType
from careline.scheduling.repository import ScheduleInfo
from careline.scheduling.schemas import GenerationReport, SlotOption, SlotRead, SlotSearch
from careline.scheduling.service.catalog import block_of, schedule_info, visit_type, zone_named

HORIZON_DAYS = 90
Progress = Callable[[int, int], None]


def generate(
    uow: UnitOfWork, *, first_day: date | None = None, days: int = HORIZON_DAYS,
    schedule_ids: Iterable[UUID] | None = None, progress: Progress | None = None,
) -> GenerationReport:
    """Make the slots of the next ``days`` days match the templates and days off.

    Free slots that no longer match are removed; booked slots are never touched, and new slots that
    would overlap a booked one are left out, so regenerating after a template change keeps every booking.
    """
    first = first_day or utcnow().date()
    last = first + timedelta(days=days - 1)
    infos = repository.schedule_infos(uow.session, schedule_ids)
    templates = repository.templates_by_schedule(uow.session, [info.id for info in infos])
    report = GenerationReport(schedules=len(infos), created=0, removed=0, kept_booked=0)
    for done, info in enumerate(infos, start=1):
        _regenerate(uow, info, templates[info.id], first, last, report)
        if progress:
            progress(done, len(infos))
    return report


@dataclass(frozen=True, slots=True)
class _Wanted:
    template_id: UUID
    starts_at: datetime
    ends_at: datetime
    local_minute: int


def _regenerate(uow: UnitOfWork, info: ScheduleInfo, templates: list[AvailabilityTemplate], first: date,
                last: date, report: GenerationReport) -> None:
    zone = ZoneInfo(info.time_zone)
    window_start = _midnight(first, zone)
    cut = _midnight(last + timedelta(days=1), zone)  # the days asked end here, but for blocks past midnight
    existing = repository.slots_between(uow.session, info.id, window_start, _midnight(last + timedelta(days=2), zone))
    wanted = _wanted(templates, first, last, zone,
                     repository.exceptions_for(uow.session, info, first, last + timedelta(days=1)))
    free = {(slot.starts_at, slot.template_id): slot for slot in existing if slot.status == "free"}
    stale = {slot.id for key, slot in free.items() if key not in wanted and slot.starts_at < cut}
    staying = [(slot.starts_at, slot.ends_at) for slot in existing if slot.id not in stale]
    fresh = rules.without_overlaps((row for key, row in wanted.items() if key not in free), staying)
    repository.delete_slots(uow.session, list(stale))
    repository.insert_slots(uow.session, [
        {"id": uuid4(), "schedule_id": info.id, "template_id": row.template_id, "starts_at": row.starts_at,
         "ends_at": row.ends_at, "local_minute": row.local_minute, "status": "free"} for row in fresh])
    report.created += len(fresh)
    report.removed += len(stale)
    report.kept_booked += sum(1 for slot in existing if slot.status != "free")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _wanted(templates: list[AvailabilityTemplate], first: date, last: date, zone: ZoneInfo,
            exceptions: list[AvailabilityException]) -> dict[tuple[datetime, UUID], _Wanted]:
    days_off = {day for exception in exceptions for day in rules.days(exception.first_day, exception.last_day)}
    wanted: dict[tuple[datetime, UUID], _Wanted] = {}
    now = utcnow()
    for template in templates:
        block = block_of(template)
        for day in rules.days(first, last):
            if day in days_off:
                continue
            for slot in rules.block_slots(block, day, zone):
                if slot.starts_at > now:
                    wanted[(slot.starts_at, template.id)] = _Wanted(template.id, slot.starts_at, slot.ends_at,
                                                                    slot.local_minute)
    return wanted


def first_available(
    uow: UnitOfWork, search: SlotSearch, *, zone: ZoneInfo | None, new_patient: bool = False,
    exclude: Iterable[UUID] = (),
) -> list[SlotOption]:
    """The earliest free slots for a visit type across every schedule that can take it, after the filters.

    Times are given in UTC and in ``zone`` (the patient's; each site's own when None). ``start`` and ``end``
    are days in that zone; the search never returns a slot in the past. A patient new to the visit's
    specialty (or ``new_patient``) is offered only providers accepting new patients.
    """
    visit = visit_type(uow, search.visit_type_id)
    if search.patient_id is not None and not new_patient:
        new_patient = new_to(uow, search.patient_id, visit)
    eligible = repository.eligible_schedules(
        uow.session, visit_type_id=search.visit_type_id, site_id=search.site_id, provider_id=search.provider_id,
        provider_gender=search.provider_gender, language=search.language, new_patient=new_patient)
    window = _window(search, zone)
    skipped = set(exclude)
    rows = repository.first_free(uow.session, eligible, visit_type_id=visit.id, window=window,
                                 minutes=rules.day_part_bounds(search.day_part), limit=search.limit + len(skipped))
    by_id = {item.schedule.id: item.schedule for item in eligible}
    return [_offer(by_id[row.schedule_id], row.id, row.starts_at, row.ends_at, zone)
            for row in rows if row.id not in skipped][:search.limit]


def new_to(uow: UnitOfWork, patient_id: UUID, visit: VisitType) -> bool:
    """Whether the patient is new to the visit's specialty: not seen by it within three years."""
    if not visit.specialties:
        return False
    last_seen = repository.last_seen_in_specialty(uow.session, patient_id, visit.specialties)
    return not rules.is_established(last_seen, utcnow())


def _window(search: SlotSearch, zone: ZoneInfo | None) -> Callable[[ScheduleInfo], tuple[datetime, datetime]]:
    """The search's date range as instants, for each schedule: its days are read in ``zone`` (the patient's),
    or in each site's own zone when there is none."""
    if search.start and search.end and search.end < search.start:
        raise InvalidSchedulingInput("end", "The end of the date range is before its start.")
    now = utcnow()

    def bounds(info: ScheduleInfo) -> tuple[datetime, datetime]:
        day_zone = zone or ZoneInfo(info.time_zone)
        start = _midnight(search.start, day_zone) if search.start else now
        end = _midnight(search.end + timedelta(days=1), day_zone) if search.end else now + timedelta(days=366)
        return max(start, now), end

    return bounds


def _offer(info: ScheduleInfo, slot_id: UUID, starts_at: datetime, ends_at: datetime,
           zone: ZoneInfo | None) -> SlotOption:
    shown_in = zone or ZoneInfo(info.time_zone)
    return SlotOption(slot_id=slot_id, schedule_id=info.id, starts_at=starts_at, ends_at=ends_at,
                      local_start=starts_at.astimezone(shown_in), site_id=info.site_id, site_name=info.site_name,
                      provider_id=info.provider_id, resource_id=info.resource_id, with_name=info.actor_name)


def regenerate(uow: UnitOfWork, actor: Actor, *, first_day: date | None = None, days: int = HORIZON_DAYS,
               schedule_ids: list[UUID] | None = None, progress: Progress | None = None) -> GenerationReport:
    """``generate`` on an administrator's request (API or CLI), audited."""
    report = generate(uow, first_day=first_day, days=days, schedule_ids=schedule_ids, progress=progress)
    audit.record(uow, actor, "scheduling.slots_generated", details=report.model_dump() | {"days": days})
    return report


def search_for(uow: UnitOfWork, actor: Actor, search: SlotSearch, *, new_patient: bool = False) -> list[SlotOption]:
    """First available as an agent or integration asks for it: in the patient's zone when a patient is named
    (their record passes the usual guards), else in ``search.time_zone``, else in each site's own zone."""
    asked_zone = zone_named(search.time_zone)
    if search.patient_id is not None:
        patient_zone = patient_records.patient_to_act_on(uow, actor, search.patient_id).time_zone
        asked_zone = zone_named(patient_zone) or asked_zone
    return first_available(uow, search, zone=asked_zone, new_patient=new_patient)


def get_slot(uow: UnitOfWork, slot_id: UUID) -> SlotRead:
    slot = repository.get(uow.session, Slot, slot_id)
    if slot is None:
        raise NotFound("slot")
    return SlotRead.model_validate(slot)


def search_slots(
    uow: UnitOfWork, *, schedule_id: UUID, start: datetime | None = None, end: datetime | None = None,
    status: str | None = None, limit: int = 20, offset: int = 0,
) -> tuple[list[SlotRead], bool]:
    """One schedule's slots starting in [start, end), in time order, and whether more follow the page."""
    rows = repository.search_slots(uow.session, schedule_id, start=start, end=end, status=status,
                                   limit=limit + 1, offset=offset)
    return [SlotRead.model_validate(row) for row in rows[:limit]], len(rows) > limit


def free_option(uow: UnitOfWork, slot_id: UUID, *, zone: ZoneInfo | None) -> SlotOption | None:
    """One slot as a search would offer it, or None when it is gone, taken or past (for a confirm step;
    booking decides again, atomically)."""
    slot = repository.get(uow.session, Slot, slot_id)
    if slot is None or slot.status != "free" or slot.starts_at <= utcnow():
        return None
    return _offer(schedule_info(uow, slot.schedule_id), slot.id, slot.starts_at, slot.ends_at, zone)
