"""The demo catalogue, set up through the catalogue service as an admin would, so every row is validated:
sites, providers, machines, visit types, schedules with their weekly blocks, holidays and a vacation or two."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from faker import Faker

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.scheduling.demo.catalog import (
    CREDENTIALS,
    EVENING,
    NAME_LOCALES,
    PROVIDER_WEEKS,
    RESOURCE_WEEKS,
    RESOURCES,
    SATURDAY,
    SATURDAY_SITES,
    SECOND_LANGUAGES,
    SITE_SHARES,
    SITES,
    SPECIALTY_SHARES,
    VISITS,
    DemoBlock,
    DemoVisit,
    holidays,
)
from careline.scheduling.schemas import (
    ExceptionIn,
    ProviderIn,
    ResourceIn,
    ScheduleIn,
    SiteIn,
    TemplateIn,
    VisitTypeIn,
)
from careline.scheduling.service import catalog

ADMIN = Actor.cli("demo")


@dataclass(slots=True)
class Catalogue:
    """What the booking fill needs to know of the catalogue it booked into."""

    visits: dict[UUID, DemoVisit] = field(default_factory=dict)  # visit type id → its demo definition
    template_weights: dict[UUID, list[tuple[UUID, int]]] = field(default_factory=dict)  # → (visit id, weight)
    schedule_order: dict[UUID, int] = field(default_factory=dict)  # schedule id → creation order (stable)
    provider_names: list[str] = field(default_factory=list)
    sites: int = 0
    providers: int = 0
    resources: int = 0


def set_up_catalogue(uow: UnitOfWork, rng: random.Random, *, providers: int, first_day: date,
                     days: int) -> Catalogue:
    """Create the whole catalogue in the caller's transaction. Deterministic for the generator's state."""
    found = Catalogue()
    sites = {site.code: catalog.create_site(uow, ADMIN, SiteIn(
        code=site.code, name=site.name, address=site.address, phone=site.phone, time_zone=site.time_zone,
        opening_hours=site.opening_hours)).id for site in SITES}
    found.sites = len(sites)
    visit_ids = {}
    for visit in VISITS:
        created = catalog.create_visit_type(uow, ADMIN, VisitTypeIn(
            code=visit.code, name=visit.name, duration_minutes=visit.minutes, specialties=list(visit.specialties),
            resource_kind=visit.resource_kind, patient_rule=visit.patient_rule, requires_order=visit.requires_order,
            preparation=visit.preparation, revenue_cents=visit.revenue_cents))
        visit_ids[visit.code] = created.id
        found.visits[created.id] = visit
    _providers(uow, rng, found, sites, visit_ids, providers)
    _resources(uow, found, sites, visit_ids)
    _days_off(uow, rng, found, first_day, days)
    return found


def _providers(uow: UnitOfWork, rng: random.Random, found: Catalogue, sites: dict[str, UUID],
               visit_ids: dict[str, UUID], count: int) -> None:
    fakers = {locale: _faker(locale, rng.getrandbits(32)) for locale, _ in NAME_LOCALES}
    npis: set[str] = set()
    for specialty, site_code in _assignments(count):
        gender = "female" if rng.random() < (0.75 if specialty == "obgyn" else 0.5) else "male"
        faker = fakers[_weighted(rng, NAME_LOCALES)]
        name = f"{_given(faker, gender)} {_family(faker)}"
        languages = ["en", *(code for code, share in SECOND_LANGUAGES if rng.random() < share)]
        if faker.locales[0] == "es_MX" and "es" not in languages:
            languages.append("es")
        provider = catalog.create_provider(uow, ADMIN, ProviderIn(
            name=name, npi=_npi(rng, npis), credentials=rng.choice(CREDENTIALS[specialty]), specialty=specialty,
            gender=gender, languages=languages, accepting_new=rng.random() < 0.85))
        schedule = catalog.create_schedule(uow, ADMIN, ScheduleIn(site_id=sites[site_code], provider_id=provider.id))
        found.schedule_order[schedule.id] = len(found.schedule_order)
        found.provider_names.append(name)
        weekdays_off = {rng.randrange(5)} if rng.random() < 0.2 else set()  # part time: four days a week
        blocks = list(PROVIDER_WEEKS[specialty])
        if specialty == "family_medicine" and rng.random() < 0.35:
            blocks.append(EVENING)
        if specialty == "family_medicine" and site_code in SATURDAY_SITES and rng.random() < 0.3:
            blocks.append(SATURDAY)
        for block in blocks:
            _add_block(uow, found, schedule.id, block, visit_ids, weekdays_off)
        found.providers += 1


def _assignments(count: int) -> list[tuple[str, str]]:
    """(specialty, site) for ``count`` providers, in the catalogue's shares, rounded so they add up."""
    by_specialty = _apportion(SPECIALTY_SHARES, count)
    pairs = []
    for specialty, number in by_specialty.items():
        by_site = _apportion(SITE_SHARES, number)
        pairs += [(specialty, site) for site, n in by_site.items() for _ in range(n)]
    return pairs


def _apportion(shares: dict[str, float], total: int) -> dict[str, int]:
    counts = {key: int(share * total) for key, share in shares.items()}
    rest = sorted(shares, key=lambda key: shares[key] * total - counts[key], reverse=True)
    for key in rest[:total - sum(counts.values())]:
        counts[key] += 1
    return counts


def _resources(uow: UnitOfWork, found: Catalogue, sites: dict[str, UUID], visit_ids: dict[str, UUID]) -> None:
    for kind, (label, per_site) in RESOURCES.items():
        for site_code, units in per_site.items():
            for unit in range(1, units + 1):
                resource = catalog.create_resource(uow, ADMIN, ResourceIn(
                    site_id=sites[site_code], name=f"{label} {unit}", kind=kind))
                schedule = catalog.create_schedule(uow, ADMIN, ScheduleIn(site_id=sites[site_code],
                                                                          resource_id=resource.id))
                found.schedule_order[schedule.id] = len(found.schedule_order)
                for block in RESOURCE_WEEKS[kind]:
                    if block.weekdays == (5,) and (site_code not in SATURDAY_SITES or unit > 1):
                        continue  # one unit opens on Saturday, where the site does
                    _add_block(uow, found, schedule.id, block, visit_ids, set())
                found.resources += 1


def _add_block(uow: UnitOfWork, found: Catalogue, schedule_id: UUID, block: DemoBlock,
               visit_ids: dict[str, UUID], weekdays_off: set[int]) -> None:
    weekdays = [day for day in block.weekdays if day not in weekdays_off]
    if not weekdays:
        return
    template = catalog.add_template(uow, ADMIN, schedule_id, TemplateIn(
        weekdays=weekdays, start_time=block.start, end_time=block.end, slot_minutes=block.slot_minutes,
        visit_type_ids=[visit_ids[code] for code in block.visits]))
    found.template_weights[template.id] = [(visit_ids[code], weight) for code, weight in block.visits.items()]


def _days_off(uow: UnitOfWork, rng: random.Random, found: Catalogue, first_day: date, days: int) -> None:
    """The federal holidays in the horizon, for every site; and a week's vacation for a few providers."""
    for day, name in holidays(first_day, first_day + timedelta(days=days)):
        catalog.add_exception(uow, ADMIN, ExceptionIn(first_day=day, last_day=day, kind="holiday", note=name))
    provider_schedules = list(found.schedule_order)[:found.providers]
    for schedule_id in rng.sample(provider_schedules, k=min(3, len(provider_schedules))):
        start = first_day + timedelta(days=rng.randrange(21, max(22, days - 7)))
        start -= timedelta(days=start.weekday())  # a Monday to Friday week
        catalog.add_exception(uow, ADMIN, ExceptionIn(schedule_id=schedule_id, first_day=start,
                                                      last_day=start + timedelta(days=4), kind="vacation"))


def _faker(locale: str, seed: int) -> Faker:
    faker = Faker(locale)
    faker.seed_instance(seed)
    return faker


def _given(faker: Faker, gender: str) -> str:
    if "zh_CN" in faker.locales:
        return str(faker.first_romanized_name())
    return str(faker.first_name_female() if gender == "female" else faker.first_name_male())


def _family(faker: Faker) -> str:
    return str(faker.last_romanized_name() if "zh_CN" in faker.locales else faker.last_name())


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([key for key, _ in choices], weights=[share for _, share in choices])[0]


def _npi(rng: random.Random, taken: set[str]) -> str:
    """A well-formed NPI (Luhn check digit over the 80840 prefix), unique in the demo, fictional."""
    while True:
        body = f"1{rng.randrange(10**8):08d}"
        digits = [int(d) for d in "80840" + body]
        total = sum(d if i % 2 else sum(divmod(d * 2, 10)) for i, d in enumerate(reversed(digits)))
        npi = body + str((10 - total % 10) % 10)
        if npi not in taken:
            taken.add(npi)
            return npi
