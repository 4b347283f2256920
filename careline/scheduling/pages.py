"""Scheduling pages: the booking panel on the 360 view, reschedule and cancel, and the provider calendar.

Each panel answers an htmx request with its fragment and a plain request with a whole page, so every step
also works without JavaScript. Booking, rescheduling and cancelling are plain form posts that end on the
patient's 360 page (post/redirect/get); a refusal re-renders the step with the message and its status.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError, field_validator

from careline.actor import Actor
from careline.patients.schemas import PatientRef
from careline.patients.service import records
from careline.scheduling.errors import OrderRequired, SchedulingError, SlotTaken
from careline.scheduling.schemas import (
    FIRST_DAY,
    LAST_DAY,
    AppointmentRead,
    BookingIn,
    CalendarDate,
    CancelIn,
    DayPart,
    RescheduleIn,
    SlotOption,
    SlotSearch,
    VisitTypeRead,
)
from careline.scheduling.service import booking, calendar, catalog, history, orders, slots
from careline.web.deps import PatientWorkers, Uow
from careline.web.errors import DOMAIN_STATUS
from careline.web.templates import render

router = APIRouter(include_in_schema=False)

OPTIONS = 10
DAY_PARTS = {"morning": "Morning (before noon)", "afternoon": "Afternoon (noon to 5 pm)",
             "evening": "Evening (after 5 pm)"}
GENDERS = {"female": "Female", "male": "Male", "other": "Other"}


class _Choices(BaseModel):
    """Form or query fields where an empty value means "any" (the default)."""

    @field_validator("*", mode="before")
    @classmethod
    def _blank_means_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class SlotFilters(_Choices):
    """What the agent chose in the panel; carried from step to step so nothing is lost."""

    visit_type_id: UUID | None = None
    site_id: UUID | None = None
    provider_gender: Literal["female", "male", "other"] | None = None
    language: str | None = Field(default=None, max_length=12)
    day_part: DayPart | None = None

    def params(self) -> dict[str, str]:
        """The chosen values as form fields (hidden inputs, query strings)."""
        chosen = self.model_dump(mode="json", include=set(SlotFilters.model_fields))
        return {name: str(value) for name, value in chosen.items() if value is not None}


class ConfirmQuery(SlotFilters):
    slot_id: UUID | None = None


class BookForm(ConfirmQuery):
    reason: str | None = Field(default=None, max_length=300)
    order_override: str | None = Field(default=None, max_length=300)


class CalendarQuery(_Choices):
    schedule_id: UUID | None = None
    day: CalendarDate | None = None
    view: Literal["day", "week"] = "day"


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def _show(request: Request, fragment: str, page_inner: str, context: dict[str, Any], *,
          status_code: int = 200) -> Response:
    """The fragment for htmx, else a whole page around the panel."""
    context = context | {"when": history.when}
    if _is_htmx(request):
        return render(request, fragment, context, status_code=status_code)
    return render(request, "scheduling/panel_page.html", context | {"inner": page_inner}, status_code=status_code)


def _zone(patient: PatientRef) -> ZoneInfo | None:
    return catalog.zone_named(patient.time_zone)


def _zone_label(patient: PatientRef) -> str:
    return f"the patient's time zone ({patient.time_zone})" if patient.time_zone else "each site's own time zone"


def _search(uow: Uow, patient: PatientRef, filters: SlotFilters, visit_type_id: UUID,
            exclude: tuple[UUID, ...] = ()) -> list[SlotOption]:
    search = SlotSearch(visit_type_id=visit_type_id, site_id=filters.site_id,
                        provider_gender=filters.provider_gender, language=filters.language,
                        day_part=filters.day_part, patient_id=patient.id, limit=OPTIONS)
    return slots.first_available(uow, search, zone=_zone(patient), exclude=exclude)


def _choices(uow: Uow) -> dict[str, Any]:
    languages = sorted({language for provider in catalog.list_providers(uow) for language in provider.languages})
    return {"visit_types": catalog.list_visit_types(uow), "sites": catalog.list_sites(uow), "languages": languages,
            "genders": GENDERS, "day_parts": DAY_PARTS}


def _book_context(uow: Uow, patient: PatientRef, filters: SlotFilters, **extra: Any) -> dict[str, Any]:
    return {"patient": patient, "filters": filters, "zone_label": _zone_label(patient), "step": "visit",
            "message": None, "direct": False, "kept": {}} | _choices(uow) | extra


def _confirm_extra(uow: Uow, patient: PatientRef, visit: VisitTypeRead, option: SlotOption) -> dict[str, Any]:
    needs_override = visit.requires_order and not orders.has_active_order(uow, patient.id, visit.id)
    return {"step": "confirm", "visit": visit, "option": option, "needs_override": needs_override,
            "order_message": str(OrderRequired(visit.name)) if needs_override else None}


@router.get("/patients/{patient_id}/book")
def book_start(request: Request, actor: PatientWorkers, uow: Uow, patient_id: UUID,
               filters: Annotated[SlotFilters, Query()]) -> Response:
    """Step 1: the visit type (and optional filters)."""
    patient = records.patient_to_act_on(uow, actor, patient_id)
    context = _book_context(uow, patient, filters)
    return _show(request, "scheduling/_book.html", "scheduling/_book.html", context)


@router.get("/patients/{patient_id}/book/slots")
def book_slots(request: Request, actor: PatientWorkers, uow: Uow, patient_id: UUID,
               filters: Annotated[SlotFilters, Query()]) -> Response:
    """Step 2: the first available times for the visit type, in the patient's zone."""
    patient = records.patient_to_act_on(uow, actor, patient_id)
    if filters.visit_type_id is None:
        context = _book_context(uow, patient, filters, message="Choose a visit type first.")
        return _show(request, "scheduling/_book.html", "scheduling/_book.html", context, status_code=422)
    try:
        visit = catalog.visit_type_read(uow, filters.visit_type_id)
        options = _search(uow, patient, filters, visit.id)
    except SchedulingError as error:
        context = _book_context(uow, patient, filters, message=str(error))
        return _show(request, "scheduling/_book.html", "scheduling/_book.html", context,
                     status_code=DOMAIN_STATUS[type(error)])
    context = _book_context(uow, patient, filters, step="slots", visit=visit, options=options)
    return _show(request, "scheduling/_slots.html", "scheduling/_book.html", context)


@router.get("/patients/{patient_id}/book/confirm")
def book_confirm(request: Request, actor: PatientWorkers, uow: Uow, patient_id: UUID,
                 query: Annotated[ConfirmQuery, Query()]) -> Response:
    """Step 3: what will be booked, the preparation, a reason, and an override where an order is missing."""
    patient = records.patient_to_act_on(uow, actor, patient_id)
    if query.visit_type_id is None or query.slot_id is None:
        context = _book_context(uow, patient, query, message="Choose a visit type and a time first.")
        return _show(request, "scheduling/_book.html", "scheduling/_book.html", context, status_code=422)
    visit = catalog.visit_type_read(uow, query.visit_type_id)
    option = slots.free_option(uow, query.slot_id, zone=_zone(patient))
    if option is None:
        taken = SlotTaken(_search(uow, patient, query, visit.id, exclude=(query.slot_id,)))
        context = _book_context(uow, patient, query, step="slots", visit=visit, options=taken.next_options,
                                message=str(taken))
        return _show(request, "scheduling/_slots.html", "scheduling/_book.html", context, status_code=409)
    context = _book_context(uow, patient, query, **_confirm_extra(uow, patient, visit, option))
    return _show(request, "scheduling/_confirm.html", "scheduling/_book.html", context)


@router.post("/patients/{patient_id}/appointments")
def book(request: Request, actor: PatientWorkers, uow: Uow, patient_id: UUID,
         form: Annotated[BookForm, Form()]) -> Response:
    patient = records.patient_to_act_on(uow, actor, patient_id)
    if form.visit_type_id is None or form.slot_id is None:
        context = _book_context(uow, patient, form, message="Choose a visit type and a time first.")
        return _show(request, "scheduling/_book.html", "scheduling/_book.html", context, status_code=422)
    try:
        appointment = booking.book(uow, actor, BookingIn(
            patient_id=patient.id, slot_id=form.slot_id, visit_type_id=form.visit_type_id,
            reason=(form.reason or "").strip() or None, order_override=(form.order_override or "").strip() or None))
    except SlotTaken as error:
        # Straight to the next times, keeping the reason and override typed: Enter on one books it.
        # The next times are searched with the agent's own filters, not the site-only list the refusal carries.
        visit = catalog.visit_type_read(uow, form.visit_type_id)
        options = _search(uow, patient, form, visit.id, exclude=(form.slot_id,))
        kept = {"reason": form.reason or "", "order_override": form.order_override or ""}
        context = _book_context(uow, patient, form, step="slots", visit=visit, options=options,
                                message=str(error), direct=True, kept=kept)
        return _show(request, "scheduling/_slots.html", "scheduling/_book.html", context, status_code=409)
    except SchedulingError as error:
        return _refused_booking(request, uow, patient, form, error)
    return RedirectResponse(f"/patients/{patient.id}?booked={appointment.id}", status_code=303)


def _refused_booking(request: Request, uow: Uow, patient: PatientRef, form: BookForm,
                     error: SchedulingError) -> Response:
    """The confirm step again, with the refusal, what was typed, and the override field when an order is missing."""
    status = DOMAIN_STATUS[type(error)]
    assert form.visit_type_id is not None
    assert form.slot_id is not None
    try:
        visit = catalog.visit_type_read(uow, form.visit_type_id)
    except SchedulingError:
        context = _book_context(uow, patient, form, message=str(error))
        return _show(request, "scheduling/_book.html", "scheduling/_book.html", context, status_code=status)
    option = slots.free_option(uow, form.slot_id, zone=_zone(patient))
    if option is None:
        context = _book_context(uow, patient, form, step="slots", visit=visit, message=str(error),
                                options=_search(uow, patient, form, visit.id, exclude=(form.slot_id,)))
        return _show(request, "scheduling/_slots.html", "scheduling/_book.html", context, status_code=status)
    extra = _confirm_extra(uow, patient, visit, option)
    if isinstance(error, OrderRequired):
        extra |= {"needs_override": True, "order_message": str(error)}
    context = _book_context(uow, patient, form, message=str(error), kept=form.model_dump(), **extra)
    return _show(request, "scheduling/_confirm.html", "scheduling/_book.html", context, status_code=status)


# --- reschedule and cancel -----------------------------------------------------------------------------


def _appointment_context(uow: Uow, actor: Actor, appointment_id: UUID, *, moving: bool) -> dict[str, Any]:
    """The appointment and its patient. Moving it starts something new, which needs an active record;
    cancelling only winds one down, which a deceased or inactive patient's record still allows."""
    appointment = booking.get_appointment(uow, actor, appointment_id)
    find = records.patient_to_act_on if moving else records.patient_to_read
    patient = find(uow, actor, appointment.patient_id)
    return {"appointment": appointment, "patient": patient, "zone_label": _zone_label(patient), "message": None}


def _reschedule_options(uow: Uow, context: dict[str, Any], filters: SlotFilters,
                        exclude: tuple[UUID, ...] = ()) -> list[SlotOption]:
    appointment: AppointmentRead = context["appointment"]
    if appointment.status != "booked":
        return []
    return _search(uow, context["patient"], filters, appointment.visit_type_id,
                   exclude=(appointment.slot_id, *exclude))


@router.get("/appointments/{appointment_id}/reschedule")
def reschedule_form(request: Request, actor: PatientWorkers, uow: Uow, appointment_id: UUID,
                    filters: Annotated[SlotFilters, Query()]) -> Response:
    """The first available times for the appointment's visit type; Enter on one moves the appointment."""
    context = _appointment_context(uow, actor, appointment_id, moving=True)
    options = _reschedule_options(uow, context, filters)
    context |= {"filters": filters, "options": options, "kept": {}} | _choices(uow)
    return _show(request, "scheduling/_reschedule.html", "scheduling/_reschedule.html", context)


@router.post("/appointments/{appointment_id}/reschedule")
def reschedule(request: Request, actor: PatientWorkers, uow: Uow, appointment_id: UUID,
               form: Annotated[BookForm, Form()]) -> Response:
    context = _appointment_context(uow, actor, appointment_id, moving=True)
    appointment: AppointmentRead = context["appointment"]
    if form.slot_id is None:
        return _refused_move(request, uow, context, form, "Choose one of the times.", 422)
    try:
        moved = booking.reschedule(uow, actor, appointment_id, RescheduleIn(
            slot_id=form.slot_id, reason=(form.reason or "").strip() or None))
    except SlotTaken as error:
        return _refused_move(request, uow, context, form, str(error), 409, exclude=(form.slot_id,))
    except SchedulingError as error:
        return _refused_move(request, uow, context, form, str(error), DOMAIN_STATUS[type(error)])
    return RedirectResponse(f"/patients/{appointment.patient_id}?rescheduled={moved.id}", status_code=303)


def _refused_move(request: Request, uow: Uow, context: dict[str, Any], form: BookForm, message: str, status: int,
                  exclude: tuple[UUID, ...] = ()) -> Response:
    """The move's times again with the refusal, searched with the agent's filters (never the taken time)."""
    options = _reschedule_options(uow, context, form, exclude)
    context = context | {"filters": form, "options": options, "message": message,
                         "kept": {"reason": form.reason or ""}} | _choices(uow)
    return _show(request, "scheduling/_reschedule.html", "scheduling/_reschedule.html", context, status_code=status)


@router.get("/appointments/{appointment_id}/cancel")
def cancel_form(request: Request, actor: PatientWorkers, uow: Uow, appointment_id: UUID) -> Response:
    context = _appointment_context(uow, actor, appointment_id, moving=False) | {"reason": ""}
    return _show(request, "scheduling/_cancel.html", "scheduling/_cancel.html", context)


@router.post("/appointments/{appointment_id}/cancel")
def cancel(request: Request, actor: PatientWorkers, uow: Uow, appointment_id: UUID,
           reason: Annotated[str, Form(max_length=300)] = "") -> Response:
    context = _appointment_context(uow, actor, appointment_id, moving=False) | {"reason": reason}
    appointment: AppointmentRead = context["appointment"]
    try:
        data = CancelIn(reason=" ".join(reason.split()))
    except ValidationError:
        context["message"] = "Give the reason for cancelling (at least 3 characters)."
        return _show(request, "scheduling/_cancel.html", "scheduling/_cancel.html", context, status_code=422)
    try:
        booking.cancel(uow, actor, appointment_id, data)
    except SchedulingError as error:
        context["message"] = str(error)
        return _show(request, "scheduling/_cancel.html", "scheduling/_cancel.html", context,
                     status_code=DOMAIN_STATUS[type(error)])
    return RedirectResponse(f"/patients/{appointment.patient_id}?cancelled={appointment.id}", status_code=303)


# --- the provider calendar -----------------------------------------------------------------------------


@router.get("/schedule")
def schedule_calendar(request: Request, actor: PatientWorkers, uow: Uow,
                      query: Annotated[CalendarQuery, Query()]) -> Response:
    """A provider's or resource's day or week: free slots, and booked ones by visit and status. No patient at
    all, not even a link to the record: the calendar is read in passing, without a caller verified."""
    schedules = catalog.list_schedules(uow)
    chosen = next((s for s in schedules if s.id == query.schedule_id), schedules[0] if schedules else None)
    context: dict[str, Any] = {"schedules": schedules, "chosen": chosen, "view": query.view, "days": [],
                               "when": history.when}
    if chosen is None:
        return render(request, "scheduling/calendar.html", context)
    today = datetime.now(ZoneInfo(chosen.time_zone)).date()
    day = query.day or today
    first = day - timedelta(days=day.weekday()) if query.view == "week" else day
    length = 7 if query.view == "week" else 1
    entries = calendar.calendar_of(uow, chosen.id, first, length)
    days = [(first + timedelta(days=n), [e for e in entries if e.local_start.date() == first + timedelta(days=n)])
            for n in range(length)]
    step = timedelta(days=length)
    # No link past the calendar's bounds: the next or previous day or week would only be refused.
    context |= {"day": day, "today": today, "days": days, "entries": entries,
                "first_day": FIRST_DAY, "last_day": LAST_DAY,
                "previous": max(first - step, FIRST_DAY) if first > FIRST_DAY else None,
                "next": first + step if first + step <= LAST_DAY else None,
                "free": sum(1 for e in entries if e.status == "free"),
                "booked": sum(1 for e in entries if e.appointment_id is not None)}
    return render(request, "scheduling/calendar.html", context)
