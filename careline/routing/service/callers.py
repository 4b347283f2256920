"""Naming the caller: a contact that came in without one patient (a number several patients share, or a new
caller) is tied to the patient the agent found, so it lands on that patient's timeline."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from careline.actor import Actor, Role
from careline.db import UnitOfWork, utcnow
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import PatientCreate, PatientSummary
from careline.patients.service import lookup as patient_lookup
from careline.patients.service import records as patient_records
from careline.routing import repository
from careline.routing.errors import InvalidRoutingInput, NotYours, WrongState
from careline.routing.models import Interaction
from careline.routing.rules import Status
from careline.routing.schemas import InteractionRead
from careline.routing.service import offers, setup
from careline.routing.service.views import read


def who_is_calling(uow: UnitOfWork, actor: Actor, policy: PatientPolicy,
                   interaction_id: UUID) -> tuple[InteractionRead, list[PatientSummary]]:
    """The contact, and the patients who share the caller's number when it names none (the lookup is
    audited by the patients domain)."""
    contact = _open_contact(uow, actor, interaction_id)
    return read(uow, contact), [] if contact.patient_id else _candidates(uow, actor, policy, contact)


def identify(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, interaction_id: UUID, patient_id: UUID, *,
             now: datetime | None = None) -> InteractionRead:
    """The caller is one of the patients on the number they called from."""
    contact = _open_contact(uow, actor, interaction_id)
    if patient_id not in {candidate.id for candidate in _candidates(uow, actor, policy, contact)}:
        raise InvalidRoutingInput("patient_id", "Choose one of the patients who share the caller's number.")
    return _name(uow, contact, patient_id, now or utcnow())


def register(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, interaction_id: UUID, data: PatientCreate, *,
             now: datetime | None = None) -> InteractionRead:
    """A new caller: their record is created (audited by the patients domain) and the contact is theirs."""
    contact = _open_contact(uow, actor, interaction_id)
    if contact.patient_id is not None:
        raise WrongState("This contact already has its patient.")
    patient = patient_records.create_patient(uow, actor, policy, data)
    return _name(uow, contact, patient.id, now or utcnow())


def _open_contact(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> Interaction:
    """The contact, locked, while it is live or in wrap-up; an agent may only name their own caller."""
    contact = offers.lock(uow, interaction_id)
    if contact.status not in (Status.connected, Status.wrap_up):
        raise WrongState("This contact is over; name the caller while it is live or in wrap-up.")
    if actor.role == Role.agent and contact.agent_id != setup.agent_of(uow, actor).id:
        raise NotYours()
    return contact


def _candidates(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, contact: Interaction) -> list[PatientSummary]:
    if contact.candidates < 2 or not contact.address:  # only a phone number several patients share has any
        return []
    return patient_lookup.lookup_by_phone(uow, actor, policy, contact.address)


def _name(uow: UnitOfWork, contact: Interaction, patient_id: UUID, now: datetime) -> InteractionRead:
    contact.patient_id = patient_id
    repository.add_events(uow.session, [offers.event(contact.id, now, "identified", agent_id=contact.agent_id,
                                                     queue_id=contact.queue_id)])
    offers.announce(uow, contact, "identified", contact.agent_id)
    return read(uow, contact)
