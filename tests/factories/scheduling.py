"""A small bookable clinic for tests, set up through the scheduling service as an admin would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from uuid import UUID

from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.scheduling.schemas import (
    ProviderIn,
    ResourceIn,
    ScheduleIn,
    SiteIn,
    TemplateIn,
    VisitTypeIn,
)
from careline.scheduling.service import catalog, slots

ADMIN = Actor.cli("test setup")
WEEKDAYS = [0, 1, 2, 3, 4]


@dataclass(frozen=True)
class Clinic:
    site_id: UUID
    provider_id: UUID
    schedule_id: UUID
    imaging_schedule_id: UUID
    annual_id: UUID  # family medicine annual exam, 30 minutes
    new_patient_id: UUID  # new patients only
    mammogram_id: UUID  # needs an order, done on the mammography unit
    time_zone: str


def make_clinic(uow: UnitOfWork, *, code: str = "main", time_zone: str = "America/New_York",
                days: int = 14, first_day: date | None = None, gender: str = "female",
                languages: tuple[str, ...] = ("en", "es"), start: time = time(8), end: time = time(12)) -> Clinic:
    """One site with a family physician (weekday mornings, 30-minute slots) and a mammography unit."""
    site = catalog.create_site(uow, ADMIN, SiteIn(code=code, name=f"{code.title()} Street Clinic",
                                                  time_zone=time_zone))
    provider = catalog.create_provider(uow, ADMIN, ProviderIn(
        name=f"Dana Whitfield ({code})", credentials="MD", specialty="family_medicine", gender=gender,
        languages=list(languages)))
    unit = catalog.create_resource(uow, ADMIN, ResourceIn(site_id=site.id, name="Mammography 1", kind="mammography"))
    annual = catalog.create_visit_type(uow, ADMIN, VisitTypeIn(
        code=f"annual-{code}", name="Annual exam", duration_minutes=30, specialties=["family_medicine"],
        revenue_cents=18000))
    new_patient = catalog.create_visit_type(uow, ADMIN, VisitTypeIn(
        code=f"new-{code}", name="New patient visit", duration_minutes=30, specialties=["family_medicine"],
        patient_rule="new"))
    mammogram = catalog.create_visit_type(uow, ADMIN, VisitTypeIn(
        code=f"mammo-{code}", name="Screening mammogram", duration_minutes=20, resource_kind="mammography",
        requires_order=True, preparation="No deodorant or powder on the day."))
    schedule = catalog.create_schedule(uow, ADMIN, ScheduleIn(site_id=site.id, provider_id=provider.id))
    imaging = catalog.create_schedule(uow, ADMIN, ScheduleIn(site_id=site.id, resource_id=unit.id))
    catalog.add_template(uow, ADMIN, schedule.id, TemplateIn(
        weekdays=WEEKDAYS, start_time=start, end_time=end, slot_minutes=30,
        visit_type_ids=[annual.id, new_patient.id]))
    catalog.add_template(uow, ADMIN, imaging.id, TemplateIn(
        weekdays=WEEKDAYS, start_time=time(9), end_time=time(15), slot_minutes=20, visit_type_ids=[mammogram.id]))
    slots.generate(uow, first_day=first_day or utcnow().date() + timedelta(days=1), days=days,
                   schedule_ids=[schedule.id, imaging.id])
    return Clinic(site_id=site.id, provider_id=provider.id, schedule_id=schedule.id,
                  imaging_schedule_id=imaging.id, annual_id=annual.id, new_patient_id=new_patient.id,
                  mammogram_id=mammogram.id, time_zone=time_zone)
