"""The waitlist: patients who want an earlier slot, found first come first served when one frees up.

Offering the slot to them (by SMS or a call) belongs to messaging and outreach; this module answers who.
"""

from __future__ import annotations

from uuid import UUID

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.service import records as patient_records
from careline.scheduling import repository
from careline.scheduling.errors import InvalidSchedulingInput, NotFound
from careline.scheduling.models import Appointment, Provider, Site, Slot, WaitlistEntry
from careline.scheduling.schemas import WaitlistIn, WaitlistRead
from careline.scheduling.service import catalog


def join(uow: UnitOfWork, actor: Actor, data: WaitlistIn) -> WaitlistRead:
    patient = patient_records.patient_to_act_on(uow, actor, data.patient_id)
    catalog.visit_type(uow, data.visit_type_id)
    if data.wanted_before <= utcnow():
        raise InvalidSchedulingInput("wanted_before", "The date to wait for has already passed.")
    if data.site_id and repository.get(uow.session, Site, data.site_id) is None:
        raise NotFound("site")
    if data.provider_id and repository.get(uow.session, Provider, data.provider_id) is None:
        raise NotFound("provider")
    if data.appointment_id:
        appointment = repository.get(uow.session, Appointment, data.appointment_id)
        if appointment is None or appointment.patient_id != patient.id:
            raise NotFound("appointment")
    entry = WaitlistEntry(**data.model_dump(), created_by=actor.username)
    repository.add(uow.session, entry)
    audit.record(uow, actor, "waitlist.joined", subject_type="waitlist_entry", subject_id=entry.id,
                 patient_id=patient.id)
    return WaitlistRead.model_validate(entry)


def candidates_for_slot(uow: UnitOfWork, slot_id: UUID) -> list[WaitlistRead]:
    """Who is waiting for a slot like this one (now free), in the order they joined, for every visit type the
    slot's block takes. Call it after a cancellation or when new time opens up."""
    slot = repository.get(uow.session, Slot, slot_id)
    if slot is None:
        raise NotFound("slot")
    if slot.status != "free" or slot.starts_at <= utcnow():
        return []
    info = catalog.schedule_info(uow, slot.schedule_id)
    visit_type_ids = repository.visit_types_of_templates(uow.session, [slot.template_id]).get(slot.template_id, []) \
        if slot.template_id else []
    entries = [entry for visit_type_id in visit_type_ids for entry in repository.waiting_for(
        uow.session, visit_type_id=visit_type_id, site_id=info.site_id, provider_id=info.provider_id,
        starts_at=slot.starts_at)]
    entries.sort(key=lambda entry: (entry.created_at, entry.id))
    return [WaitlistRead.model_validate(entry) for entry in entries]


def close_for_appointment(uow: UnitOfWork, appointment_id: UUID, status: str) -> None:
    for entry in repository.waitlist_for_appointment(uow.session, appointment_id):
        entry.status = status


def close_for_patient(uow: UnitOfWork, patient_id: UUID, visit_type_id: UUID) -> None:
    """A new booking of the same visit ends the patient's open wait for it."""
    for entry in repository.waitlist_of(uow.session, patient_id):
        if entry.status == "waiting" and entry.visit_type_id == visit_type_id and entry.appointment_id is None:
            entry.status = "booked"


def waiting_for_slot(uow: UnitOfWork, actor: Actor, slot_id: UUID) -> list[WaitlistRead]:
    """``candidates_for_slot`` for a person asking: each patient named is an audited read."""
    entries = candidates_for_slot(uow, slot_id)
    for patient_id in dict.fromkeys(entry.patient_id for entry in entries):
        audit.record(uow, actor, "waitlist.viewed", subject_type="slot", subject_id=slot_id, patient_id=patient_id)
    return entries
