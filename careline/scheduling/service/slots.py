"""Turning templates into bookable slots, and finding the first available ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.service import records as patient_records
from careline.scheduling import repository, rules
from careline.scheduling.errors import InvalidSchedulingInput, NotFound
from careline.scheduling.models import AvailabilityException, AvailabilityTemplate, Slot
from careline.scheduling.repository import Eligible, ScheduleInfo
from careline.scheduling.schemas import GenerationReport, SlotOption, SlotRead, SlotSearch
from careline.scheduling.service.catalog import block_of, schedule_info, visit_type

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


def _regenerate(uow: UnitOfWork, info: ScheduleInfo, templates: list[AvailabilityTemplate], first: date,
                last: date, report: GenerationReport) -> None:
    zone = ZoneInfo(info.time_zone)
    window_start = datetime.combine(first, time(), zone).astimezone(UTC)
    window_end = datetime.combine(last + timedelta(days=2), time(), zone).astimezone(UTC)  # blocks past midnight
    existing = repository.slots_between(uow.session, info.id, window_start, window_end)
    wanted = _wanted(info, templates, first, last, zone,
                     repository.exceptions_for(uow.session, info, first, last + timedelta(days=1)))
    busy = [slot for slot in existing if slot.status != "free"]
    keep = {(slot.starts_at, slot.template_id): slot for slot in existing if slot.status == "free"}
    stale = [slot.id for key, slot in keep.items() if key not in wanted]
    fresh = [row for key, row in wanted.items() if key not in keep and not _overlaps_any(row, busy)]
    repository.delete_slots(uow.session, stale)
    repository.insert_slots(uow.session, fresh)
    report.created += len(fresh)
    report.removed += len(stale)
    report.kept_booked += len(busy)


def _wanted(info: ScheduleInfo, templates: list[AvailabilityTemplate], first: date, last: date, zone: ZoneInfo,
            exceptions: list[AvailabilityException]) -> dict[tuple[datetime, UUID], dict[str, Any]]:
    days_off = {day for exception in exceptions for day in rules.days(exception.first_day, exception.last_day)}
    wanted: dict[tuple[datetime, UUID], dict[str, Any]] = {}
    now = utcnow()
    for template in templates:
        block = block_of(template)
        for day in rules.days(first, last):
            if day in days_off:
                continue
            for slot in rules.block_slots(block, day, zone):
                if slot.starts_at <= now:
                    continue
                wanted[(slot.starts_at, template.id)] = {
                    "id": uuid4(), "schedule_id": info.id, "template_id": template.id, "starts_at": slot.starts_at,
                    "ends_at": slot.ends_at, "local_minute": slot.local_minute, "status": "free"}
    return wanted


def _overlaps_any(row: dict[str, Any], busy: list[Slot]) -> bool:
    return any(slot.starts_at < row["ends_at"] and row["starts_at"] < slot.ends_at for slot in busy)


def zone_named(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidSchedulingInput("time_zone", "Use an IANA time zone such as America/New_York.") from error


def first_available(
    uow: UnitOfWork, search: SlotSearch, *, zone: ZoneInfo | None, new_patient: bool = False,
    exclude: Iterable[UUID] = (),
) -> list[SlotOption]:
    """The earliest free slots for a visit type across every schedule that can take it, after the filters.

    Times are given in UTC and in ``zone`` (the patient's; each site's own when None). ``start`` and ``end``
    are days in that zone; the search never returns a slot in the past.
    """
    visit_type(uow, search.visit_type_id)
    eligible = repository.eligible_schedules(
        uow.session, visit_type_id=search.visit_type_id, site_id=search.site_id, provider_id=search.provider_id,
        provider_gender=search.provider_gender, language=search.language, new_patient=new_patient)
    start, end = _window(search, zone)
    skipped = set(exclude)
    rows = repository.first_free(uow.session, eligible, start=start, end=end,
                                 minutes=rules.day_part_bounds(search.day_part),
                                 limit=search.limit + len(skipped))
    by_id = {item.schedule.id: item for item in eligible}
    return [_option(row, by_id[row.schedule_id], zone) for row in rows if row.id not in skipped][:search.limit]


def _window(search: SlotSearch, zone: ZoneInfo | None) -> tuple[datetime, datetime]:
    now = utcnow()
    day_zone = zone or UTC
    start = datetime.combine(search.start, time(), day_zone).astimezone(UTC) if search.start else now
    end = (datetime.combine(search.end + timedelta(days=1), time(), day_zone).astimezone(UTC) if search.end
           else now + timedelta(days=366))
    if end <= start:
        raise InvalidSchedulingInput("end", "The end of the date range is before its start.")
    return max(start, now), end


def _option(row: Any, eligible: Eligible, zone: ZoneInfo | None) -> SlotOption:
    info = eligible.schedule
    shown_in = zone or ZoneInfo(info.time_zone)
    return SlotOption(slot_id=row.id, schedule_id=info.id, starts_at=row.starts_at, ends_at=row.ends_at,
                      local_start=row.starts_at.astimezone(shown_in), site_id=info.site_id, site_name=info.site_name,
                      provider_id=info.provider_id, resource_id=info.resource_id, with_name=info.actor_name)


def regenerate(uow: UnitOfWork, actor: Actor, *, first_day: date | None = None, days: int = HORIZON_DAYS,
               schedule_ids: list[UUID] | None = None) -> GenerationReport:
    """``generate`` on an administrator's request, audited."""
    report = generate(uow, first_day=first_day, days=days, schedule_ids=schedule_ids)
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
    info = schedule_info(uow, slot.schedule_id)
    shown_in = zone or ZoneInfo(info.time_zone)
    return SlotOption(slot_id=slot.id, schedule_id=info.id, starts_at=slot.starts_at, ends_at=slot.ends_at,
                      local_start=slot.starts_at.astimezone(shown_in), site_id=info.site_id,
                      site_name=info.site_name, provider_id=info.provider_id, resource_id=info.resource_id,
                      with_name=info.actor_name)
