"""Scheduling written as FHIR R4 resources (Schedule, Slot, Appointment), and the Appointment an EHR posts read back.

Visit types travel as ``Appointment.appointmentType`` codings in the ``urn:careline:visit-type`` system, whose
codes are our visit type codes (``GET /api/visit-types``). A schedule's actors are the provider
(``Practitioner/<provider id>``) or the resource (``Device/<resource id>``), and its site (``Location/<site id>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from careline.scheduling.schemas import AppointmentRead, ScheduleRead, SlotRead, VisitTypeRead

VISIT_TYPE_SYSTEM = "urn:careline:visit-type"
SPECIALTY_SYSTEM = "urn:careline:specialty"
CREATABLE_STATUSES = frozenset({"proposed", "pending", "booked"})


def _ref(kind: str, row_id: UUID, display: str | None = None) -> dict[str, Any]:
    reference: dict[str, Any] = {"reference": f"{kind}/{row_id}"}
    if display:
        reference["display"] = display
    return reference


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def schedule_actors(schedule: ScheduleRead) -> list[dict[str, Any]]:
    who = (_ref("Practitioner", schedule.provider_id, schedule.actor_name) if schedule.provider_id
           else _ref("Device", schedule.resource_id, schedule.actor_name) if schedule.resource_id else None)
    return [*([who] if who else []), _ref("Location", schedule.site_id, schedule.site_name)]


def schedule_resource(schedule: ScheduleRead) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Schedule", "id": str(schedule.id), "active": schedule.active,
                                "actor": schedule_actors(schedule)}
    if schedule.specialty:
        resource["specialty"] = [{"coding": [{"system": SPECIALTY_SYSTEM, "code": schedule.specialty}]}]
    return resource


def slot_resource(slot: SlotRead) -> dict[str, Any]:
    return {"resourceType": "Slot", "id": str(slot.id), "schedule": _ref("Schedule", slot.schedule_id),
            "status": slot.status, "start": _instant(slot.starts_at), "end": _instant(slot.ends_at)}


def visit_type_concept(visit: VisitTypeRead) -> dict[str, Any]:
    return {"coding": [{"system": VISIT_TYPE_SYSTEM, "code": visit.code, "display": visit.name}], "text": visit.name}


def appointment_resource(appointment: AppointmentRead, schedule: ScheduleRead,
                         visit: VisitTypeRead) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.id),
        "status": appointment.status,
        "appointmentType": visit_type_concept(visit),
        "start": _instant(appointment.starts_at),
        "end": _instant(appointment.ends_at),
        "minutesDuration": int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
        "created": _instant(appointment.booked_at),
        "slot": [_ref("Slot", appointment.slot_id)],
        "participant": [{"actor": _ref("Patient", appointment.patient_id), "required": "required",
                         "status": "accepted"}]
        + [{"actor": actor, "required": "required", "status": "accepted"} for actor in schedule_actors(schedule)],
    }
    if appointment.reason:
        resource["reasonCode"] = [{"text": appointment.reason}]
    if visit.preparation:
        resource["patientInstruction"] = visit.preparation
    if appointment.cancel_reason:
        resource["cancelationReason"] = {"text": appointment.cancel_reason}
    return resource


class UnusableAppointment(ValueError):
    """A posted Appointment that cannot be read as a booking; the message says what to send instead."""


@dataclass(frozen=True, slots=True)
class AppointmentRequest:
    """What a posted Appointment asks for, in our terms."""

    slot_id: UUID
    patient_id: UUID
    visit_type_code: str
    reason: str | None


def read_appointment_request(body: dict[str, Any]) -> AppointmentRequest:
    """Read the slot, the patient and the visit type out of a posted Appointment, or say what is missing."""
    if body.get("resourceType") != "Appointment":
        raise UnusableAppointment("resourceType must be Appointment.")
    status = body.get("status", "booked")
    if not isinstance(status, str) or status not in CREATABLE_STATUSES:
        raise UnusableAppointment("status must be proposed, pending or booked.")
    slot_ids = _referenced(body.get("slot"), "Slot")
    if len(slot_ids) != 1:
        raise UnusableAppointment("slot must name exactly one Slot (slot: [{reference: 'Slot/<id>'}]).")
    participants = body.get("participant")
    patient_ids = _referenced([p.get("actor") for p in participants if isinstance(p, dict)]
                              if isinstance(participants, list) else None, "Patient")
    if len(patient_ids) != 1:
        raise UnusableAppointment("participant must name exactly one Patient (actor: {reference: 'Patient/<id>'}).")
    return AppointmentRequest(slot_id=slot_ids[0], patient_id=patient_ids[0],
                              visit_type_code=_visit_type_code(body.get("appointmentType")),
                              reason=_reason(body.get("reasonCode")))


def _referenced(references: Any, kind: str) -> list[UUID]:
    """The ids of the references to ``kind`` in a list of FHIR References."""
    if not isinstance(references, list):
        return []
    found = []
    for reference in references:
        value = reference.get("reference") if isinstance(reference, dict) else None
        if isinstance(value, str) and value.startswith(f"{kind}/"):
            found.append(_uuid(value.removeprefix(f"{kind}/"), kind))
    return found


def _uuid(value: str, kind: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as error:
        raise UnusableAppointment(f"{kind}/{value[:40]} is not a {kind} on this server.") from error


def _visit_type_code(concept: Any) -> str:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and coding.get("system") == VISIT_TYPE_SYSTEM and coding.get("code"):
            return str(coding["code"])
    raise UnusableAppointment(f"appointmentType must carry a coding in {VISIT_TYPE_SYSTEM} naming the visit type.")


def _reason(concepts: Any) -> str | None:
    if not isinstance(concepts, list) or not concepts or not isinstance(concepts[0], dict):
        return None
    text = concepts[0].get("text")
    if text is not None and (not isinstance(text, str) or len(text) > 300):
        raise UnusableAppointment("reasonCode[0].text must be text of at most 300 characters.")
    return text or None
