"""Contacts a provider or an agent starts outside the engine: an agent's own outbound call (click-to-call).

The contact is the agent's from the first second (connected, holding one voice line), so the engine never
offers it; its end, wrap-up and figures are those of any other contact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup as patient_lookup
from careline.patients.service import records as patient_records
from careline.routing import repository
from careline.routing.errors import NoCapacity
from careline.routing.models import Assignment, Interaction
from careline.routing.rules import AgentState, Channel, Direction, Reason, Status
from careline.routing.schemas import InteractionRead
from careline.routing.service import setup
from careline.routing.service.offers import announce, event
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
    now: datetime | None = None,
) -> InteractionRead:
    """The signed-in agent calls ``number`` (a patient's, when ``patient_id`` is given)."""
    now = now or utcnow()
    me = setup.lock_agent(uow, setup.agent_of(uow, actor).id)
    target = setup.queue_named(uow, queue)
    if not repository.reserve_direct(uow.session, me.id, "voice"):
        raise NoCapacity()
    contact = Interaction(
        id=uuid4(),
        channel=Channel.outbound,
        direction=Direction.outbound,
        reason=reason,
        status=Status.connected,
        queue_id=target.id,
        agent_id=me.id,
        address=patient_lookup.e164(policy, number),
        created_at=now,
        offered_at=now,
        answered_at=now,
    )
    if patient_id is not None:
        contact.patient_id, contact.candidates = patient_records.patient_to_read(uow, actor, patient_id).id, 1
    repository.add(uow.session, contact)
    repository.add(
        uow.session,
        Assignment(
            interaction_id=contact.id,
            agent_id=me.id,
            kind="voice",
            role="primary",
            status="accepted",
            offered_at=now,
            accepted_at=now,
            expires_at=now + timedelta(seconds=OWN_LEG_SECONDS),
        ),
    )
    repository.add_events(
        uow.session,
        [
            event(contact.id, now, "created", agent_id=me.id, queue_id=target.id, detail={"channel": Channel.outbound}),
            event(contact.id, now, "dialled", agent_id=me.id, queue_id=target.id),
        ],
    )
    uow.session.refresh(me)
    if me.state == AgentState.available:
        change_state(uow, me, AgentState.busy, now)
    announce(uow, contact, "dialled", me.id)
    return read(uow, contact)
