"""The agent's desktop: what they hold right now, and the screen pop for an offer.

The pop opens the patient's 360 view as this agent (masked until they verify the caller, and audited as
such by the patients domain), or the candidates sharing the caller's number, or nothing for a new caller.
"""

from __future__ import annotations

from uuid import UUID

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.patients.errors import RestrictedRecord
from careline.patients.policy import PatientPolicy
from careline.patients.service import access as patient_access
from careline.patients.service import lookup as patient_lookup
from careline.routing import repository
from careline.routing.errors import WrongState
from careline.routing.models import Assignment, Interaction
from careline.routing.schemas import MyWork, OfferRead, ScreenPop
from careline.routing.service import offers, setup
from careline.routing.service.views import read


def my_work(uow: UnitOfWork, actor: Actor) -> MyWork:
    me = setup.agent_of(uow, actor)
    legs = repository.assignments_of_agent(uow.session, me.id, ["offered", "accepted"])
    pending = [_offer(uow, leg) for leg in legs if leg.status == "offered"]
    contacts = [read(uow, uow.session.get_one(Interaction, leg.interaction_id))
                for leg in legs if leg.status == "accepted"]
    return MyWork(agent=setup.read_agent(uow, me), offers=pending, contacts=contacts)


def _offer(uow: UnitOfWork, leg: Assignment) -> OfferRead:
    interaction = uow.session.get_one(Interaction, leg.interaction_id)
    return OfferRead(assignment_id=leg.id, role=leg.role, expires_at=leg.expires_at,
                     interaction=read(uow, interaction))


def screen_pop(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, assignment_id: UUID) -> ScreenPop:
    leg, _me = offers.own_assignment(uow, actor, assignment_id)
    if leg.status not in ("offered", "accepted"):  # a past offer opens no record
        raise WrongState(offers.GONE)
    offer = _offer(uow, leg)
    contact = offer.interaction
    if contact.patient_id is not None:
        try:
            if contact.preverified:
                patient_access.preverify(uow, actor, policy, contact.patient_id, contact.preverified)
            return ScreenPop(offer=offer, patient=patient_access.open_360(uow, actor, policy, contact.patient_id))
        except RestrictedRecord:
            return ScreenPop(offer=offer, restricted=True)
    if contact.candidates > 1 and contact.address:
        return ScreenPop(offer=offer, candidates=patient_lookup.lookup_by_phone(uow, actor, policy, contact.address))
    return ScreenPop(offer=offer)
