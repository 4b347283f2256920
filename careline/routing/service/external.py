"""Contacts a provider or an agent starts outside the engine: an agent's own outbound call (click-to-call), and
calls a PBX routes itself (CTI events).

An outbound contact is the agent's from the first second (connected, holding one voice line); a PBX-routed one
is marked ``routed_externally``. Either way the engine never offers it; its end, wrap-up and figures are those
of any other contact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup as patient_lookup
from careline.patients.service import records as patient_records
from careline.routing import repository, rules
from careline.routing.errors import InvalidRoutingInput, NoCapacity
from careline.routing.models import Agent, Assignment, Interaction
from careline.routing.rules import AgentState, Channel, Direction, Reason, Status
from careline.routing.schemas import InteractionIn, InteractionRead
from careline.routing.service import interactions, offers, setup
from careline.routing.service.offers import announce, event, lock
from careline.routing.service.states import change_state
from careline.routing.service.views import read

OUTBOUND_QUEUE = "outbound"  # where agents' own calls are counted; the demo and docs/telephony.md create it
OWN_LEG_SECONDS = 24 * 3600  # an accepted leg does not expire; the column still wants a time


def start_outbound(
    uow: UnitOfWork,
    actor: Actor,
    policy: PatientPolicy,
    *,
    number: str,
    patient_id: UUID | None,
    reason: Reason = Reason.other,
    queue: str = OUTBOUND_QUEUE,
    external_ref: str | None = None,
    now: datetime | None = None,
) -> InteractionRead:
    """The signed-in agent calls ``number`` (a patient's, when ``patient_id`` is given). ``external_ref`` names
    the provider's call, so the call follows the contact (a hang-up on the desktop ends it)."""
    now = now or utcnow()
    me = setup.lock_agent(uow, setup.agent_of(uow, actor).id)
    target = setup.queue_named(uow, queue)
    contact = Interaction(
        id=uuid4(),
        channel=Channel.outbound,
        direction=Direction.outbound,
        reason=reason,
        status=Status.connected,
        queue_id=target.id,
        agent_id=me.id,
        address=patient_lookup.e164(policy, number),
        external_ref=external_ref,
        created_at=now,
        offered_at=now,
        answered_at=now,
    )
    if patient_id is not None:
        contact.patient_id, contact.candidates = patient_records.patient_to_read(uow, actor, patient_id).id, 1
    repository.add(uow.session, contact)
    _leg(uow, contact, me, "accepted", now, must_hold=True)
    repository.add_events(uow.session, [
        event(contact.id, now, "created", agent_id=me.id, queue_id=target.id, detail={"channel": Channel.outbound}),
        event(contact.id, now, "dialled", agent_id=me.id, queue_id=target.id)])
    _taken(uow, me, now)
    announce(uow, contact, "dialled", me.id)
    return read(uow, contact)


# --- contacts a PBX routes itself (the CTI events API) ----------------------------------------------------------

PBX_OFFER_SECONDS = 600  # the PBX decides how long a phone rings; the offer only has to outlive that


def take_external(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, data: InteractionIn, *,
                  now: datetime | None = None) -> InteractionRead:
    """A contact whose agent a PBX's own ACD picks: queued like any other (one per ``external_ref``), but
    marked so Careline's engine never offers it and no provider adapter is told to move the call."""
    created, _new = interactions.create(uow, actor, policy, data, now=now)
    contact = lock(uow, created.id)
    contact.routed_externally = True
    uow.flush()
    return read(uow, contact)


def offer_to_extension(uow: UnitOfWork, interaction_id: UUID, extension: str, *,
                       now: datetime | None = None) -> InteractionRead:
    """The PBX rings the agent at ``extension``: an offer on their desktop, with the screen pop, exactly like
    one from the engine. Ringing another phone first withdraws the earlier agent's offer."""
    now = now or utcnow()
    contact = lock(uow, interaction_id)
    if contact.status not in (Status.queued, Status.offered):
        return read(uow, contact)  # answered or over already: a late ring changes nothing
    agent = agent_at(uow, extension)
    if contact.status == Status.offered and contact.agent_id == agent.id:
        return read(uow, contact)
    offers.settle_all(uow, offers.end_legs(uow, contact, now), now)
    leg = _leg(uow, contact, agent, "offered", now)
    contact.status, contact.agent_id, contact.offers = Status.offered, agent.id, contact.offers + 1
    contact.offered_at = contact.offered_at or now
    repository.add_events(uow.session, [event(contact.id, now, "offered", agent_id=agent.id,
                                              queue_id=contact.queue_id, detail={"by": "pbx"})])
    offers.tell_offered(uow, agent.id, leg.id, contact.id, leg.expires_at)
    announce(uow, contact, "offered")
    return read(uow, contact)


def answered_by_extension(uow: UnitOfWork, interaction_id: UUID, extension: str, *,
                          now: datetime | None = None) -> InteractionRead:
    """The agent at ``extension`` picked up: connected from ``now``; an offer to anyone else is withdrawn."""
    now = now or utcnow()
    contact = lock(uow, interaction_id)
    if contact.status == Status.connected:
        return transferred_to_extension(uow, interaction_id, extension, now=now)
    if contact.status not in (Status.queued, Status.offered):
        return read(uow, contact)
    agent = agent_at(uow, extension)
    legs = repository.live_assignments(uow.session, contact.id)
    mine = next((leg for leg in legs if leg.agent_id == agent.id and leg.role == "primary"), None)
    offers.settle_all(uow, offers.end_legs(uow, contact, now, keep=mine.id if mine else None), now)
    if mine is None or not repository.set_assignment_status(uow.session, mine.id, expected=["offered"],
                                                            status="accepted", now=now):
        _leg(uow, contact, agent, "accepted", now)
    else:  # accepted on the agent's phone, not on the desktop: its offer banner goes
        offers.tell_gone(uow, mine, contact, "answered")
    contact.status, contact.agent_id = Status.connected, agent.id
    contact.offered_at, contact.answered_at = contact.offered_at or now, contact.answered_at or now
    _taken(uow, agent, now)
    repository.add_events(uow.session, [event(contact.id, now, "answered", agent_id=agent.id,
                                              queue_id=contact.queue_id, detail={"by": "pbx"})])
    announce(uow, contact, "answered", agent.id)
    return read(uow, contact)


def transferred_to_extension(uow: UnitOfWork, interaction_id: UUID, extension: str, *,
                             now: datetime | None = None) -> InteractionRead:
    """The PBX moved the live call to the agent at ``extension``: their leg from ``now``, the last agent freed.

    A call not answered yet is simply ringing elsewhere now (an offer to the new agent)."""
    now = now or utcnow()
    contact = lock(uow, interaction_id)
    if contact.status in (Status.queued, Status.offered):
        return offer_to_extension(uow, interaction_id, extension, now=now)
    agent = agent_at(uow, extension)
    if contact.status != Status.connected or contact.agent_id == agent.id:
        return read(uow, contact)
    previous = contact.agent_id
    interactions.stop_hold(contact, now)  # the hold ends with the hand-over
    freed = offers.end_legs(uow, contact, now)
    _leg(uow, contact, agent, "accepted", now)
    contact.agent_id, contact.transferred_at = agent.id, now
    offers.settle_all(uow, freed, now)
    _taken(uow, agent, now)
    repository.add_events(uow.session, [event(contact.id, now, "transferred", agent_id=previous,
                                              queue_id=contact.queue_id,
                                              detail={"mode": "pbx", "to_agent": str(agent.id)})])
    announce(uow, contact, "transferred", previous, agent.id)
    return read(uow, contact)


def has_extension(uow: UnitOfWork, extension: str) -> bool:
    found = repository.agent_by_extension(uow.session, extension)
    return found is not None and found.active


def agent_at(uow: UnitOfWork, extension: str) -> Agent:
    found = repository.agent_by_extension(uow.session, extension)
    if found is None or not found.active:
        raise InvalidRoutingInput("extension", f"No active agent has extension {extension}: set it on the "
                                               "agent's profile in Careline, as on the PBX.")
    return found


def _leg(uow: UnitOfWork, contact: Interaction, agent: Agent, status: str, now: datetime, *,
         must_hold: bool = False) -> Assignment:
    """The agent's voice leg of a call placed or routed outside the engine. Capacity is reserved as for any offer
    when there is room, so the engine does not offer the agent a second call while their phone rings or they
    talk. An agent's own call needs a free line (``must_hold``); but the PBX decides who is on the phone, so an
    agent who is offline or at capacity in Careline still gets a PBX call's leg, holding nothing."""
    reserved = repository.reserve_direct(uow.session, agent.id, "voice")
    if must_hold and not reserved:
        raise NoCapacity()
    kind = "voice" if reserved else rules.UNRESERVED
    leg = Assignment(interaction_id=contact.id, agent_id=agent.id, kind=kind, role="primary", status=status,
                     offered_at=now, accepted_at=now if status == "accepted" else None,
                     expires_at=now + timedelta(seconds=PBX_OFFER_SECONDS if status == "offered"
                                                else OWN_LEG_SECONDS))
    repository.add(uow.session, leg)
    return leg


def _taken(uow: UnitOfWork, agent: Agent, now: datetime) -> None:
    uow.session.refresh(agent)
    agent.missed_offers = 0
    if agent.state == AgentState.available:
        change_state(uow, agent, AgentState.busy, now)
