"""Patient pages: search, the 360 view (masked until the caller is verified), break-glass, notes, alerts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from careline.messaging.service import history as message_history
from careline.patients.errors import InvalidPatientInput, InvalidPhone, RestrictedRecord, VerificationLocked
from careline.patients.schemas import MaskedPatient, SearchCriteria, VerificationResult
from careline.patients.service import access, lookup, records
from careline.routing.service import history as contact_history
from careline.scheduling.errors import SchedulingError
from careline.scheduling.schemas import AppointmentRead
from careline.scheduling.service import booking, catalog, history
from careline.web.deps import PatientRules, PatientWorkers, Supervisors, Uow
from careline.web.errors import DOMAIN_STATUS
from careline.web.templates import render

router = APIRouter(include_in_schema=False)

IDENTIFIER_LABELS = {"name": "Full name", "birth_date": "Date of birth", "postal_code": "ZIP code", "mrn": "MRN"}


@router.get("/patients")
def search(request: Request, actor: PatientWorkers, uow: Uow, policy: PatientRules,
           criteria: Annotated[SearchCriteria, Query()]) -> Response:
    context: dict[str, object] = {"criteria": criteria, "results": None, "error": None}
    if not criteria.is_empty():
        try:
            context["results"] = lookup.search_patients(uow, actor, policy, criteria)
        except InvalidPhone as error:
            context["error"] = str(error)
    template = "patients/results.html" if request.headers.get("hx-request") else "patients/search.html"
    return render(request, template, context)


@router.get("/patients/{patient_id}")
def patient_360(request: Request, actor: PatientWorkers, uow: Uow, policy: PatientRules, patient_id: UUID,
                booked: UUID | None = None, rescheduled: UUID | None = None,
                cancelled: UUID | None = None) -> Response:
    try:
        view = access.open_360(uow, actor, policy, patient_id)
    except RestrictedRecord:
        return render(request, "patients/restricted.html", {"patient_id": patient_id}, status_code=403)
    if isinstance(view, MaskedPatient):
        return _masked(request, view)
    zone = view.patient.time_zone
    upcoming = booking.upcoming_for(uow, view.patient.id, zone)
    timeline = [*view.timeline, *history.timeline_for(uow, view.patient.id, zone),
                *contact_history.timeline_for(uow, view.patient.id),
                *message_history.timeline_for(uow, view.patient.id)]
    timeline.sort(key=lambda item: (item.at is not None, item.at), reverse=True)
    view = view.model_copy(update={"timeline": timeline})
    return render(request, "patients/360.html", {
        "view": view, "upcoming": upcoming, "when": history.when,
        "done": _scheduling_done(uow, upcoming, booked=booked, rescheduled=rescheduled, cancelled=cancelled)})


def _scheduling_done(uow: Uow, upcoming: list[AppointmentRead], *, booked: UUID | None, rescheduled: UUID | None,
                     cancelled: UUID | None) -> dict[str, object] | None:
    """What the booking panel just did, for the confirmation (with the preparation to read to the caller)."""
    if cancelled:
        return {"kind": "cancelled"}
    wanted = booked or rescheduled
    appointment = next((a for a in upcoming if a.id == wanted), None)
    if appointment is None:
        return None
    try:
        preparation = catalog.visit_type_read(uow, appointment.visit_type_id).preparation
    except SchedulingError:
        preparation = None
    return {"kind": "booked" if booked else "rescheduled", "appointment": appointment, "preparation": preparation}


def _masked(request: Request, view: MaskedPatient, *, result: VerificationResult | None = None,
            status_code: int = 200) -> Response:
    fields = [(name, IDENTIFIER_LABELS[name]) for name in view.identifiers]
    return render(request, "patients/masked.html", {"view": view, "fields": fields, "result": result},
                  status_code=status_code)


@router.post("/patients/{patient_id}/verify")
def verify(request: Request, actor: PatientWorkers, uow: Uow, policy: PatientRules, patient_id: UUID,
           name: Annotated[str, Form(max_length=200)] = "",
           birth_date: Annotated[str, Form(max_length=20)] = "",
           postal_code: Annotated[str, Form(max_length=12)] = "",
           mrn: Annotated[str, Form(max_length=40)] = "") -> Response:
    offered = {"name": name, "birth_date": birth_date, "postal_code": postal_code, "mrn": mrn}
    try:
        result = access.verify_identity(uow, actor, policy, patient_id, offered)
    except VerificationLocked:
        result = VerificationResult(verified=False, matched=[], attempts_left=0, locked=True)
    if result.verified:
        return RedirectResponse(f"/patients/{patient_id}", status_code=303)
    view = access.open_360(uow, actor, policy, patient_id)
    assert isinstance(view, MaskedPatient)
    return _masked(request, view, result=result, status_code=423 if result.locked else 422)


@router.post("/patients/{patient_id}/break-glass")
def break_glass(request: Request, actor: PatientWorkers, uow: Uow, policy: PatientRules, patient_id: UUID,
                reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    try:
        access.break_glass(uow, actor, policy, patient_id, reason)
    except InvalidPatientInput as error:
        return render(request, "patients/restricted.html",
                      {"patient_id": patient_id, "error": str(error), "reason": reason},
                      status_code=DOMAIN_STATUS[InvalidPatientInput])
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/patients/{patient_id}/notes")
def add_note(actor: PatientWorkers, uow: Uow, patient_id: UUID,
             body: Annotated[str, Form(max_length=5000)] = "") -> Response:
    records.add_note(uow, actor, patient_id, body)
    return RedirectResponse(f"/patients/{patient_id}#notes", status_code=303)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(actor: Supervisors, uow: Uow, alert_id: UUID) -> Response:
    access.acknowledge_alert(uow, actor, alert_id)
    return RedirectResponse("/", status_code=303)
