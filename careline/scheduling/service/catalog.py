"""Setting up what can be booked: sites, providers, resources, visit types, schedules, templates, days off."""

from __future__ import annotations

from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError

from careline import audit
from careline.actor import Actor
from careline.db import Base, UnitOfWork
from careline.scheduling import repository, rules
from careline.scheduling.errors import InvalidSchedulingInput, NotFound
from careline.scheduling.models import (
    AvailabilityException,
    AvailabilityTemplate,
    Provider,
    Resource,
    Schedule,
    Site,
    VisitType,
)
from careline.scheduling.repository import ScheduleInfo
from careline.scheduling.schemas import (
    ExceptionIn,
    ProviderIn,
    ProviderRead,
    ResourceIn,
    ResourceRead,
    ScheduleIn,
    ScheduleRead,
    SiteIn,
    SiteRead,
    TemplateIn,
    TemplateRead,
    VisitTypeIn,
    VisitTypeRead,
)


def _insert(uow: UnitOfWork, row: object, *, field: str, taken: str) -> None:
    """Add a row; a unique key already in use is the caller's mistake, not a crash."""
    try:
        with uow.session.begin_nested():
            repository.add(uow.session, row)
    except IntegrityError as error:
        raise InvalidSchedulingInput(field, taken) from error


def _audit(uow: UnitOfWork, actor: Actor, action: str, subject_type: str, subject_id: UUID) -> None:
    audit.record(uow, actor, action, subject_type=subject_type, subject_id=subject_id)


def zone_named(name: str | None) -> ZoneInfo | None:
    """The IANA zone by name (None for none); an unknown name is the caller's mistake."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidSchedulingInput("time_zone", "Use an IANA time zone such as America/New_York.") from error


def create_site(uow: UnitOfWork, actor: Actor, data: SiteIn) -> SiteRead:
    zone_named(data.time_zone)
    site = Site(**data.model_dump())
    _insert(uow, site, field="code", taken="A site with this code already exists.")
    _audit(uow, actor, "scheduling.site_created", "site", site.id)
    return SiteRead.model_validate(site)


def create_provider(uow: UnitOfWork, actor: Actor, data: ProviderIn) -> ProviderRead:
    provider = Provider(**data.model_dump())
    _insert(uow, provider, field="npi", taken="A provider with this NPI already exists.")
    _audit(uow, actor, "scheduling.provider_created", "provider", provider.id)
    return ProviderRead.model_validate(provider)


def create_resource(uow: UnitOfWork, actor: Actor, data: ResourceIn) -> ResourceRead:
    _require(uow, Site, data.site_id, "site")
    resource = Resource(**data.model_dump())
    repository.add(uow.session, resource)
    _audit(uow, actor, "scheduling.resource_created", "resource", resource.id)
    return ResourceRead.model_validate(resource)


def create_visit_type(uow: UnitOfWork, actor: Actor, data: VisitTypeIn) -> VisitTypeRead:
    visit_type = VisitType(**data.model_dump())
    _insert(uow, visit_type, field="code", taken="A visit type with this code already exists.")
    _audit(uow, actor, "scheduling.visit_type_created", "visit_type", visit_type.id)
    return VisitTypeRead.model_validate(visit_type)


def create_schedule(uow: UnitOfWork, actor: Actor, data: ScheduleIn) -> ScheduleRead:
    _require(uow, Site, data.site_id, "site")
    if data.provider_id:
        _require(uow, Provider, data.provider_id, "provider")
    if data.resource_id:
        _require(uow, Resource, data.resource_id, "resource")
    if repository.schedule_of(uow.session, data.site_id, data.provider_id, data.resource_id):
        raise InvalidSchedulingInput("site_id", "This provider or resource already has a schedule at this site.")
    schedule = Schedule(**data.model_dump())
    repository.add(uow.session, schedule)
    _audit(uow, actor, "scheduling.schedule_created", "schedule", schedule.id)
    return schedule_read(repository.schedule_infos(uow.session, [schedule.id])[0])


def schedule_read(info: ScheduleInfo) -> ScheduleRead:
    return ScheduleRead.model_validate(info)


def schedule_info(uow: UnitOfWork, schedule_id: UUID) -> ScheduleInfo:
    found = repository.schedule_infos(uow.session, [schedule_id])
    if not found:
        raise NotFound("schedule")
    return found[0]


def list_schedules(uow: UnitOfWork) -> list[ScheduleRead]:
    return [schedule_read(info) for info in repository.schedule_infos(uow.session)]


def list_sites(uow: UnitOfWork) -> list[SiteRead]:
    return [SiteRead.model_validate(site) for site in repository.all_of(uow.session, Site, Site.name)]


def list_providers(uow: UnitOfWork) -> list[ProviderRead]:
    return [ProviderRead.model_validate(p) for p in repository.all_of(uow.session, Provider, Provider.name)]


def list_visit_types(uow: UnitOfWork, *, active_only: bool = True) -> list[VisitTypeRead]:
    rows = sorted(repository.all_of(uow.session, VisitType, VisitType.name), key=lambda v: v.name.casefold())
    return [VisitTypeRead.model_validate(v) for v in rows if v.active or not active_only]


def visit_type(uow: UnitOfWork, visit_type_id: UUID) -> VisitType:
    found = repository.get(uow.session, VisitType, visit_type_id)
    if found is None or not found.active:
        raise NotFound("visit type")
    return found


def visit_type_read(uow: UnitOfWork, visit_type_id: UUID) -> VisitTypeRead:
    """An active visit type as pages show it (its name, length and preparation)."""
    return VisitTypeRead.model_validate(visit_type(uow, visit_type_id))


def visit_types_of_template(uow: UnitOfWork, template_id: UUID) -> list[UUID]:
    return repository.visit_types_of_templates(uow.session, [template_id])[template_id]


def accepts_new_patients(uow: UnitOfWork, provider_id: UUID) -> bool:
    provider = repository.get(uow.session, Provider, provider_id)
    return provider is not None and provider.accepting_new


def can_do(info: ScheduleInfo, visit: VisitType | VisitTypeRead) -> bool:
    """Whether the schedule's provider (by specialty) or resource (by kind) can do the visit."""
    if info.provider_id is not None:
        return info.specialty in visit.specialties
    return info.resource_kind is not None and info.resource_kind == visit.resource_kind


def add_template(uow: UnitOfWork, actor: Actor, schedule_id: UUID, data: TemplateIn) -> TemplateRead:
    """Add a weekly block. Refused if it overlaps another block of the schedule or takes a visit that the
    provider cannot do or that does not fit in one slot. Slots appear when they are next generated."""
    info = schedule_info(uow, schedule_id)
    for visit_type_id in data.visit_type_ids:
        visit = visit_type(uow, visit_type_id)
        if not can_do(info, visit):
            raise InvalidSchedulingInput("visit_type_ids", f"{info.actor_name} cannot do {visit.name}.")
        if visit.duration_minutes > data.slot_minutes:
            raise InvalidSchedulingInput(
                "slot_minutes", f"{visit.name} takes {visit.duration_minutes} minutes; the slots are shorter.")
    block = block_of(data)
    if rules.overlaps(block, (block_of(t) for t in repository.templates_of(uow.session, schedule_id))):
        raise InvalidSchedulingInput("start_time", "This block overlaps another block of the same schedule.")
    template = AvailabilityTemplate(schedule_id=schedule_id, **data.model_dump(exclude={"visit_type_ids"}))
    repository.add(uow.session, template)
    repository.link_visit_types(uow.session, template.id, dict.fromkeys(data.visit_type_ids))
    _audit(uow, actor, "scheduling.template_added", "schedule", schedule_id)
    return TemplateRead.model_validate(template).model_copy(update={"visit_type_ids": list(data.visit_type_ids)})


def remove_template(uow: UnitOfWork, actor: Actor, template_id: UUID) -> None:
    """Remove a block. Its booked slots stay (and keep their appointments); its free slots are dropped."""
    template = repository.get(uow.session, AvailabilityTemplate, template_id)
    if template is None:
        raise NotFound("template")
    schedule_id = template.schedule_id
    repository.delete_free_slots_of_template(uow.session, template.id)
    uow.session.delete(template)
    uow.session.flush()
    _audit(uow, actor, "scheduling.template_removed", "schedule", schedule_id)


def templates(uow: UnitOfWork, schedule_id: UUID) -> list[TemplateRead]:
    _require(uow, Schedule, schedule_id, "schedule")
    rows = repository.templates_of(uow.session, schedule_id)
    links = repository.visit_types_of_templates(uow.session, [t.id for t in rows])
    return [TemplateRead.model_validate(t).model_copy(update={"visit_type_ids": links[t.id]}) for t in rows]


def block_of(template: TemplateIn | AvailabilityTemplate) -> rules.Block:
    return rules.Block(weekdays=frozenset(template.weekdays), start=template.start_time, end=template.end_time,
                       slot_minutes=template.slot_minutes, valid_from=template.valid_from,
                       valid_until=template.valid_until)


def add_exception(uow: UnitOfWork, actor: Actor, data: ExceptionIn) -> UUID:
    """Record a holiday or time off. Free slots on those days go at the next generation; booked ones stay
    for the agents to move."""
    if data.site_id:
        _require(uow, Site, data.site_id, "site")
    if data.schedule_id:
        _require(uow, Schedule, data.schedule_id, "schedule")
    exception = AvailabilityException(**data.model_dump())
    repository.add(uow.session, exception)
    _audit(uow, actor, "scheduling.exception_added", "availability_exception", exception.id)
    return exception.id


def _require(uow: UnitOfWork, model: type[Base], row_id: UUID, what: str) -> None:
    if uow.session.get(model, row_id) is None:
        raise NotFound(what)


def get_schedule(uow: UnitOfWork, schedule_id: UUID) -> ScheduleRead:
    return schedule_read(schedule_info(uow, schedule_id))


def schedules_by_id(uow: UnitOfWork, schedule_ids: set[UUID]) -> dict[UUID, ScheduleRead]:
    """Several schedules in one query (for a page of appointments)."""
    return {info.id: schedule_read(info) for info in repository.schedule_infos(uow.session, schedule_ids)}


def visit_types_by_id(uow: UnitOfWork, visit_type_ids: set[UUID]) -> dict[UUID, VisitTypeRead]:
    """Visit types by id, retired ones included: old appointments still name theirs (one query)."""
    found = repository.visit_types_by_ids(uow.session, visit_type_ids)
    return {visit.id: VisitTypeRead.model_validate(visit) for visit in found}


def visit_type_by_code(uow: UnitOfWork, code: str) -> VisitTypeRead:
    """An active visit type by its code, as integrations name it."""
    visit = repository.visit_type_by_code(uow.session, code)
    if visit is None or not visit.active:
        raise NotFound("visit type")
    return VisitTypeRead.model_validate(visit)
