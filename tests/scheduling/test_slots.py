"""Slot generation from templates and days off, and the first-available search."""

from __future__ import annotations

from datetime import date, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.models import Patient
from careline.scheduling.errors import InvalidSchedulingInput
from careline.scheduling.models import Appointment, Slot
from careline.scheduling.schemas import BookingIn, ExceptionIn, ProviderIn, ScheduleIn, SlotSearch, TemplateIn
from careline.scheduling.service import booking, catalog, slots
from tests.factories.scheduling import ADMIN, Clinic, make_clinic

NEW_YORK = ZoneInfo("America/New_York")


def _count(uow: UnitOfWork, schedule_id: object, status: str | None = None) -> int:
    query = select(func.count()).select_from(Slot).where(Slot.schedule_id == schedule_id)
    if status:
        query = query.where(Slot.status == status)
    return int(uow.session.scalar(query) or 0)


def _weekdays(first: date, days: int) -> int:
    return sum(1 for n in range(days) if (first + timedelta(days=n)).weekday() < 5)


def _first_day() -> date:
    return utcnow().date() + timedelta(days=1)


def _weekday_from(day: date) -> date:
    return next(day + timedelta(days=n) for n in range(7) if (day + timedelta(days=n)).weekday() < 5)


def test_weekday_mornings_make_eight_half_hour_slots_a_day(uow: UnitOfWork, clinic: Clinic) -> None:
    assert _count(uow, clinic.schedule_id) == 8 * _weekdays(_first_day(), 14)


def test_generating_again_changes_nothing(uow: UnitOfWork, clinic: Clinic) -> None:
    report = slots.generate(uow, first_day=_first_day(), days=14, schedule_ids=[clinic.schedule_id])
    assert (report.created, report.removed) == (0, 0)


def test_a_holiday_removes_that_days_free_slots_but_keeps_the_booked_one(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    day = _weekday_from(_first_day())
    options = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, start=day, end=day), zone=NEW_YORK)
    booking.book(uow, supervisor, BookingIn(patient_id=patient.id, slot_id=options[0].slot_id,
                                            visit_type_id=clinic.annual_id))
    catalog.add_exception(uow, ADMIN, ExceptionIn(site_id=clinic.site_id, first_day=day, last_day=day, kind="holiday"))
    report = slots.generate(uow, first_day=_first_day(), days=14, schedule_ids=[clinic.schedule_id])
    assert report.removed == 7
    assert report.kept_booked == 1
    assert slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, start=day, end=day),
                                 zone=NEW_YORK) == []


def test_a_new_template_keeps_bookings_and_never_overlaps_them(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    first = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id), zone=NEW_YORK)[1]  # 08:30
    appointment = booking.book(uow, supervisor, BookingIn(patient_id=patient.id, slot_id=first.slot_id,
                                                          visit_type_id=clinic.annual_id))
    for template in catalog.templates(uow, clinic.schedule_id):
        catalog.remove_template(uow, ADMIN, template.id)
    catalog.add_template(uow, ADMIN, clinic.schedule_id, TemplateIn(
        weekdays=[0, 1, 2, 3, 4], start_time=time(8), end_time=time(12), slot_minutes=40,
        visit_type_ids=[clinic.annual_id]))
    slots.generate(uow, first_day=_first_day(), days=14, schedule_ids=[clinic.schedule_id])
    kept = uow.session.get(Appointment, appointment.id)
    assert kept is not None
    assert kept.status == "booked"
    assert uow.session.get(Slot, first.slot_id).status == "busy"  # type: ignore[union-attr]
    same_day = uow.session.scalars(select(Slot).where(
        Slot.schedule_id == clinic.schedule_id, Slot.starts_at >= first.starts_at - timedelta(hours=1),
        Slot.starts_at < first.starts_at + timedelta(hours=4)).order_by(Slot.starts_at)).all()
    for slot in same_day:
        if slot.id != first.slot_id:
            assert slot.ends_at <= first.starts_at or slot.starts_at >= first.ends_at
    assert [s.starts_at.astimezone(NEW_YORK).strftime("%H:%M") for s in same_day] == \
        ["08:30", "09:20", "10:00", "10:40", "11:20"]  # 08:00 and 08:40 would overlap the booking


def test_a_slot_at_half_past_one_on_the_autumn_change_day_exists_twice_and_books(
        uow: UnitOfWork, patient: Patient, supervisor: Actor) -> None:
    clinic = make_clinic(uow, code="night", days=1)
    change_day = date(2027, 11, 7)  # a Sunday: clocks go back at 02:00 EDT
    catalog.add_template(uow, ADMIN, clinic.schedule_id, TemplateIn(
        weekdays=[6], start_time=time(1), end_time=time(3), slot_minutes=30, visit_type_ids=[clinic.annual_id]))
    slots.generate(uow, first_day=change_day, days=1, schedule_ids=[clinic.schedule_id])
    found = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, start=change_day, end=change_day),
                                  zone=NEW_YORK)
    assert [o.local_start.strftime("%H:%M%z") for o in found] == [
        "01:00-0400", "01:30-0400", "01:00-0500", "01:30-0500", "02:00-0500", "02:30-0500"]
    second_half_past_one = found[3]
    appointment = booking.book(uow, supervisor, BookingIn(patient_id=patient.id, slot_id=second_half_past_one.slot_id,
                                                          visit_type_id=clinic.annual_id))
    assert appointment.starts_at.strftime("%H:%M") == "06:30"  # UTC


def test_search_returns_the_earliest_across_providers_in_the_zone_asked(uow: UnitOfWork) -> None:
    east = make_clinic(uow, code="east", start=time(9))
    west = make_clinic(uow, code="west", time_zone="America/Los_Angeles", start=time(7))
    catalog.add_template(uow, ADMIN, west.schedule_id, TemplateIn(
        weekdays=[0, 1, 2, 3, 4], start_time=time(13), end_time=time(15), slot_minutes=30,
        visit_type_ids=[east.annual_id]))
    slots.generate(uow, first_day=_first_day(), days=14, schedule_ids=[west.schedule_id])
    found = slots.first_available(uow, SlotSearch(visit_type_id=east.annual_id, limit=5), zone=NEW_YORK)
    assert [o.local_start.tzinfo for o in found] == [NEW_YORK] * 5
    assert found == sorted(found, key=lambda o: o.starts_at)
    assert {o.site_name for o in found} <= {"East Street Clinic", "West Street Clinic"}
    assert found[0].local_start.hour == 9  # 9:00 in New York comes before 7:00 in Los Angeles (10:00 New York)


@pytest.mark.parametrize(("filters", "expected"), [
    ({"provider_gender": "female"}, 10),
    ({"provider_gender": "male"}, 0),
    ({"language": "es"}, 10),
    ({"language": "vi"}, 0),
    ({"day_part": "afternoon"}, 0),
    ({"day_part": "morning"}, 10),
])
def test_filters_narrow_the_search(uow: UnitOfWork, clinic: Clinic, filters: dict[str, str], expected: int) -> None:
    assert len(slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, **filters), zone=None)) == expected


def test_a_date_range_is_read_in_the_patients_zone(uow: UnitOfWork, clinic: Clinic) -> None:
    day = _first_day() + timedelta(days=7)
    found = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, start=day, end=day, limit=50),
                                  zone=NEW_YORK)
    assert {o.local_start.date() for o in found} <= {day}
    assert len(found) in (0, 8)


def test_new_patients_only_see_providers_accepting_them(uow: UnitOfWork, clinic: Clinic) -> None:
    closed = catalog.create_provider(uow, ADMIN, ProviderIn(name="Full Panel", specialty="family_medicine",
                                                            accepting_new=False))
    schedule = catalog.create_schedule(uow, ADMIN, ScheduleIn(site_id=clinic.site_id, provider_id=closed.id))
    catalog.add_template(uow, ADMIN, schedule.id, TemplateIn(
        weekdays=list(range(7)), start_time=time(6), end_time=time(8), slot_minutes=30,
        visit_type_ids=[clinic.annual_id]))
    slots.generate(uow, first_day=_first_day(), days=3, schedule_ids=[schedule.id])
    everyone = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id), zone=None)
    new_only = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id), zone=None, new_patient=True)
    assert everyone[0].with_name == "Full Panel"
    assert {o.with_name for o in new_only} == {"Dana Whitfield (main)"}


def test_a_block_taking_a_visit_the_provider_cannot_do_is_refused(uow: UnitOfWork, clinic: Clinic) -> None:
    with pytest.raises(InvalidSchedulingInput, match="cannot do Screening mammogram"):
        catalog.add_template(uow, ADMIN, clinic.schedule_id, TemplateIn(
            weekdays=[5], start_time=time(8), end_time=time(9), slot_minutes=30, visit_type_ids=[clinic.mammogram_id]))


def test_overlapping_blocks_are_refused_and_nothing_is_written(uow: UnitOfWork, clinic: Clinic) -> None:
    before = len(catalog.templates(uow, clinic.schedule_id))
    with pytest.raises(InvalidSchedulingInput, match="overlaps"):
        catalog.add_template(uow, ADMIN, clinic.schedule_id, TemplateIn(
            weekdays=[2], start_time=time(11), end_time=time(13), slot_minutes=30, visit_type_ids=[clinic.annual_id]))
    assert len(catalog.templates(uow, clinic.schedule_id)) == before


def test_a_visit_longer_than_the_slots_is_refused(uow: UnitOfWork, clinic: Clinic) -> None:
    with pytest.raises(InvalidSchedulingInput, match="30 minutes"):
        catalog.add_template(uow, ADMIN, clinic.schedule_id, TemplateIn(
            weekdays=[5], start_time=time(8), end_time=time(9), slot_minutes=15, visit_type_ids=[clinic.annual_id]))


def test_booked_slots_leave_the_search(uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    first, second = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, limit=2), zone=None)
    booking.book(uow, supervisor, BookingIn(patient_id=patient.id, slot_id=first.slot_id,
                                            visit_type_id=clinic.annual_id))
    assert slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, limit=1), zone=None)[0] == second


def test_spring_forward_blocks_on_both_sides_of_the_gap_never_overlap(uow: UnitOfWork) -> None:
    clinic = make_clinic(uow, code="gap", days=1)
    change_day = date(2027, 3, 14)  # a Sunday: 02:00 to 03:00 does not exist
    for start, end in ((time(0), time(2, 30)), (time(3), time(5))):
        catalog.add_template(uow, ADMIN, clinic.schedule_id, TemplateIn(
            weekdays=[6], start_time=start, end_time=end, slot_minutes=45, visit_type_ids=[clinic.annual_id]))
    slots.generate(uow, first_day=change_day, days=1, schedule_ids=[clinic.schedule_id])
    found = slots.first_available(uow, SlotSearch(visit_type_id=clinic.annual_id, start=change_day, end=change_day,
                                                  limit=50), zone=NEW_YORK)
    assert len(found) == 4
    assert all(a.ends_at <= b.starts_at for a, b in pairwise(found))


def test_a_shorter_run_leaves_the_days_after_it_alone(uow: UnitOfWork, clinic: Clinic) -> None:
    before = _count(uow, clinic.schedule_id)
    report = slots.generate(uow, first_day=_first_day(), days=3, schedule_ids=[clinic.schedule_id])
    assert (report.created, report.removed) == (0, 0)
    assert _count(uow, clinic.schedule_id) == before


def test_without_a_zone_a_date_range_means_each_sites_own_days(uow: UnitOfWork) -> None:
    west = make_clinic(uow, code="west", time_zone="America/Los_Angeles", start=time(16), end=time(20))
    day = _weekday_from(_first_day() + timedelta(days=1))
    found = slots.first_available(uow, SlotSearch(visit_type_id=west.annual_id, start=day, end=day, limit=50),
                                  zone=None)
    assert len(found) == 8  # 16:00 to 20:00 in Los Angeles runs past midnight in UTC
    assert {o.local_start.date() for o in found} == {day}
