"""Agent states: chosen by the agent (or set by a supervisor), or following from their contacts.

Every change is a row in ``agent_state_changes``: the raw material of adherence, occupancy and wellbeing.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from careline import audit
from careline.actor import Actor, Role
from careline.db import UnitOfWork, utcnow
from careline.routing import rules
from careline.routing.errors import InvalidRoutingInput
from careline.routing.models import Agent
from careline.routing.rules import AgentState
from careline.routing.schemas import AgentRead, StateIn
from careline.routing.service import offers, setup
from careline.routing.service.states import change_state


def set_own_state(uow: UnitOfWork, actor: Actor, data: StateIn, *, now: datetime | None = None) -> AgentRead:
    return _choose(uow, actor, setup.agent_of(uow, actor), data, now or utcnow())


def set_state_of(uow: UnitOfWork, actor: Actor, agent_id: UUID, data: StateIn, *,
                 now: datetime | None = None) -> AgentRead:
    """A supervisor moves an agent (e.g. to a break, or offline at the end of a shift); audited."""
    found = setup.agent(uow, agent_id)
    read = _choose(uow, actor, found, data, now or utcnow())
    audit.record(uow, actor, "agent.state_set", subject_type="agent", subject_id=found.id,
                 details={"state": data.state.value})
    return read


def _choose(uow: UnitOfWork, actor: Actor, found: Agent, data: StateIn, now: datetime) -> AgentRead:
    if data.state not in rules.CHOSEN_STATES:
        raise InvalidRoutingInput("state", f"{data.state.value!r} follows from contacts; choose available, "
                                           "break, lunch, training, meeting or offline.")
    found = setup.lock_agent(uow, found.id)
    if data.state == AgentState.available:
        found.missed_offers = 0
        if found.state not in rules.ROUTABLE_STATES:
            found.idle_since = now
        target = rules.settled_state(load_voice=found.load_voice, load_text=found.load_text,
                                     current=AgentState.available)
    else:
        target = data.state
        offers.withdraw_offers_of(uow, found, now, reason="agent_left")
    by = None if actor.role == Role.agent else actor.username
    change_state(uow, found, target, now, reason=data.reason, changed_by=by)
    return setup.read_agent(uow, found)


def sign_off(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> None:
    """The user signs out: an agent left available would be offered contacts no one sees, so they go offline
    (their open offers back to the line). Contacts they still hold stay theirs to finish on sign-in."""
    found = setup.agent_for_user(uow, actor.user_id) if actor.user_id else None
    if found is not None and found.state != AgentState.offline:
        _choose(uow, actor, found, StateIn(state=AgentState.offline, reason="signed_out"), now or utcnow())
