"""The FHIR R4 scheduling resources: Schedule, Slot and Appointment (read, search, and booking by create).

Errors are OperationOutcomes, made by ``FhirRoute``. The endpoint returns normally then, so the route first
undoes the request's writes, as the JSON API's error path does (an audited refusal keeps its audit entry).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from careline.audit import AuditedRefusal
from careline.db import UnitOfWork
from careline.fhir import resources
from careline.fhir import scheduling_resources as fhir
from careline.patients.errors import PatientError
from careline.scheduling.errors import NotFound, SchedulingError
from careline.scheduling.schemas import FIRST_DAY, LAST_DAY, AppointmentRead, AppointmentStatus, BookingIn, Channel
from careline.scheduling.service import booking, catalog, slots
from careline.web.deps import RecordReaders, Uow
from careline.web.errors import DOMAIN_STATUS

ISSUE_CODES = {400: "invalid", 403: "forbidden", 404: "not-found", 409: "conflict", 422: "invalid",
               423: "lock-error", 428: "security"}
PREFIXES = ("eq", "ge", "gt", "le", "lt")
TINY = timedelta(microseconds=1)
# The dates the scheduling API takes; beyond them a window's arithmetic (a day after 9999-12-31) overflows.
EARLIEST = datetime.combine(FIRST_DAY, time(), UTC)
LATEST = datetime.combine(LAST_DAY + timedelta(days=1), time(), UTC)

Count = Annotated[int, Query(alias="_count", ge=1, le=100)]
Page = Annotated[int, Query(alias="_page", ge=1, le=10_000)]


class BadSearch(ValueError):
    """A search parameter this server cannot read; the message says which."""


def _fhir(body: dict[str, Any], status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, media_type=resources.FHIR_JSON, headers=headers)


def _outcome(status_code: int, message: str, code: str | None = None) -> JSONResponse:
    return _fhir(resources.operation_outcome("error", code or ISSUE_CODES.get(status_code, "processing"), message),
                 status_code)


def _error_response(error: Exception) -> JSONResponse:
    if isinstance(error, RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _outcome(400, f"{where}: {first.get('msg', 'not valid')}")  # values left out: they may be PHI
    if isinstance(error, BadSearch):
        return _outcome(400, str(error))
    status = next(code for kind, code in DOMAIN_STATUS.items() if isinstance(error, kind))
    rule_broken = status == 422 and isinstance(error, SchedulingError)  # a past slot, no order on file...
    return _outcome(status, str(error), "business-rule" if rule_broken else None)


def _registered_uow(request: Request, uow: Uow) -> UnitOfWork:
    """The request's unit of work, made known to FhirRoute so that it can undo a refused request's writes."""
    request.state.fhir_uow = uow
    return uow


FhirUow = Annotated[UnitOfWork, Depends(_registered_uow)]


class FhirRoute(APIRoute):
    """Turns domain and validation errors into OperationOutcomes.

    The handler runs inside the request's unit of work, which commits when the endpoint returns: an error
    answered here must first roll back what the request wrote. Without a ``FhirUow`` to do that with, the
    error goes on to the app's handlers (a problem document, the transaction rolled back by ``get_uow``).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:  # raised before the endpoint ran: nothing written
                return _error_response(error)
            except (SchedulingError, PatientError, BadSearch) as error:
                uow: UnitOfWork | None = getattr(request.state, "fhir_uow", None)
                if uow is None:
                    raise
                if not isinstance(error, AuditedRefusal):
                    uow.session.rollback()
                return _error_response(error)

        return fhir_handler


router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)


# --- parameters --------------------------------------------------------------------------------------


def _reference_id(value: str, kind: str) -> UUID:
    """``Kind/<id>`` or a bare id."""
    try:
        return UUID(value.removeprefix(f"{kind}/"))
    except ValueError as error:
        raise BadSearch(f"The {kind} reference is not an id of this server.") from error


def _read_id(value: str, kind: str) -> UUID:
    """The id of a read: one that cannot be ours is simply not found."""
    try:
        return UUID(value)
    except ValueError as error:
        raise NotFound(kind) from error


def _moment(value: str) -> tuple[datetime, timedelta]:
    """A FHIR date or dateTime and its precision: a day, or an instant. Times without a zone are UTC."""
    try:
        if len(value) == 10:
            moment, span = datetime.combine(date.fromisoformat(value), time(), UTC), timedelta(days=1)
        else:
            moment, span = datetime.fromisoformat(value), TINY
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:  # 0001-01-01T00:00+01:00 is before the first UTC instant
        raise BadSearch("A date parameter is not a FHIR date (YYYY-MM-DD) or dateTime.") from error
    if not EARLIEST <= moment < LATEST:
        raise BadSearch(f"A date parameter is outside {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}.")
    return moment, span


def date_bounds(values: list[str] | None) -> tuple[datetime | None, datetime | None]:
    """The window [start, end) that date parameters such as ``ge2026-12-01`` and ``le2026-12-07`` name together."""
    start: datetime | None = None
    end: datetime | None = None
    for value in values or []:
        prefix, text = (value[:2], value[2:]) if value[:2] in PREFIXES else ("eq", value)
        moment, span = _moment(text)
        low = {"eq": moment, "ge": moment, "gt": moment + span}.get(prefix)
        high = {"eq": moment + span, "le": moment + span, "lt": moment}.get(prefix)
        if low is not None:
            start = max(start, low) if start else low
        if high is not None:
            end = min(end, high) if end else high
    return start, end


def _next_url(request: Request, page: int, has_next: bool) -> str | None:
    if not has_next:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_page"]
    return f"{_base(request)}/{request.url.path.rsplit('/', 1)[-1]}?{urlencode([*params, ('_page', page + 1)])}"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _bundle(request: Request, found: list[dict[str, Any]], page: int, has_next: bool) -> JSONResponse:
    return _fhir(resources.searchset(_base(request), found, self_url=str(request.url),
                                next_url=_next_url(request, page, has_next)))


# --- Schedule ----------------------------------------------------------------------------------------


@router.get("/Schedule/{schedule_id}")
def read_schedule(_actor: RecordReaders, uow: FhirUow, schedule_id: str) -> JSONResponse:
    return _fhir(fhir.schedule_resource(catalog.get_schedule(uow, _read_id(schedule_id, "Schedule"))))


@router.get("/Schedule")
def search_schedules(request: Request, _actor: RecordReaders, uow: FhirUow, actor: str | None = None,
                     count: Count = 20, page: Page = 1) -> JSONResponse:
    """Schedules, optionally of one actor: ``Practitioner/<id>``, ``Device/<id>`` or ``Location/<id>``."""
    found = [fhir.schedule_resource(schedule) for schedule in catalog.list_schedules(uow)]
    if actor:
        found = [r for r in found if any(a["reference"] == actor or a["reference"].endswith(f"/{actor}")
                                         for a in r["actor"])]
    first = (page - 1) * count
    return _bundle(request, found[first:first + count], page, len(found) > first + count)


# --- Slot --------------------------------------------------------------------------------------------


@router.get("/Slot/{slot_id}")
def read_slot(_actor: RecordReaders, uow: FhirUow, slot_id: str) -> JSONResponse:
    return _fhir(fhir.slot_resource(slots.get_slot(uow, _read_id(slot_id, "Slot"))))


@router.get("/Slot")
def search_slots(
    request: Request, _actor: RecordReaders, uow: FhirUow, schedule: str | None = None,
    start: Annotated[list[str] | None, Query()] = None,
    status: Annotated[str | None, Query(pattern="^(free|busy)$")] = None, count: Count = 20, page: Page = 1,
) -> JSONResponse:
    """One schedule's slots (``schedule`` is required), by ``start`` (``ge``/``gt``/``le``/``lt``/``eq``) and
    ``status``, in time order."""
    if not schedule:
        return _outcome(400, "Give the schedule to search the slots of (schedule=Schedule/<id>).", "too-costly")
    window_start, window_end = date_bounds(start)
    found, has_next = slots.search_slots(uow, schedule_id=_reference_id(schedule, "Schedule"), start=window_start,
                                         end=window_end, status=status, limit=count, offset=(page - 1) * count)
    return _bundle(request, [fhir.slot_resource(slot) for slot in found], page, has_next)


# --- Appointment -------------------------------------------------------------------------------------


def _appointment_resources(uow: UnitOfWork, found: list[AppointmentRead]) -> list[dict[str, Any]]:
    schedules = catalog.schedules_by_id(uow, {a.schedule_id for a in found})
    visits = catalog.visit_types_by_id(uow, {a.visit_type_id for a in found})
    return [fhir.appointment_resource(a, schedules[a.schedule_id], visits[a.visit_type_id]) for a in found]


@router.get("/Appointment/{appointment_id}")
def read_appointment(actor: RecordReaders, uow: FhirUow, appointment_id: str) -> JSONResponse:
    """One Appointment (an audited read)."""
    found = booking.get_appointment(uow, actor, _read_id(appointment_id, "Appointment"))
    return _fhir(_appointment_resources(uow, [found])[0])


@router.get("/Appointment")
def search_appointments(
    request: Request, actor: RecordReaders, uow: FhirUow, patient: str | None = None,
    dates: Annotated[list[str] | None, Query(alias="date")] = None, status: AppointmentStatus | None = None,
    count: Count = 20, page: Page = 1,
) -> JSONResponse:
    """A patient's Appointments (``patient`` is required), by ``date`` of start and ``status``; audited."""
    if not patient:
        return _outcome(400, "Give the patient to search the appointments of (patient=Patient/<id>).", "too-costly")
    start, end = date_bounds(dates)
    found = booking.search_appointments(uow, actor, patient_id=_reference_id(patient, "Patient"), start=start,
                                        end=end, status=status, limit=count + 1, offset=(page - 1) * count)
    return _bundle(request, _appointment_resources(uow, found[:count]), page, len(found) > count)


@router.post("/Appointment")
def create_appointment(request: Request, actor: RecordReaders, uow: FhirUow,
                       body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Book a free slot the way an EHR or a patient app does: an Appointment naming one ``slot``, the
    ``Patient`` participant and the visit type as an ``appointmentType`` coding in ``urn:careline:visit-type``.
    201 with a Location; 422 when it cannot be booked as sent; 409 when the slot was taken."""
    try:
        wanted = fhir.read_appointment_request(body)
    except fhir.UnusableAppointment as error:
        return _outcome(422, str(error), "required")
    try:
        visit = catalog.visit_type_by_code(uow, wanted.visit_type_code)
    except NotFound:
        return _outcome(422, "appointmentType names no visit type of this server.", "code-invalid")
    booked = booking.book(uow, actor, BookingIn(patient_id=wanted.patient_id, slot_id=wanted.slot_id,
                                                visit_type_id=visit.id, reason=wanted.reason, channel=Channel.fhir))
    location = f"{_base(request)}/Appointment/{booked.id}"
    return _fhir(_appointment_resources(uow, [booked])[0], 201, headers={"Location": location})
