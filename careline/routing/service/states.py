"""Recording an agent's state, and settling it after a contact leaves them."""

from __future__ import annotations

from datetime import datetime

from careline.db import UnitOfWork
from careline.routing import repository, rules
from careline.routing.models import Agent
from careline.routing.rules import AgentState


def change_state(uow: UnitOfWork, found: Agent, state: str, now: datetime, *, reason: str | None = None,
                 changed_by: str | None = None) -> None:
    """Move the agent to ``state`` (no-op if already there), recorded and announced."""
    if found.state == state:
        return
    found.state, found.state_since = state, now
    repository.record_state(uow.session, found.id, state, now, reason=reason, changed_by=changed_by)
    payload = {"type": "state", "agent_id": str(found.id), "state": state, "since": now.isoformat()}
    uow.notify(f"agent:{found.id}", payload)
    uow.notify("center", payload)
    if state in rules.ROUTABLE_STATES:
        uow.notify("routing", {"type": "agent_ready"})


def settle(uow: UnitOfWork, found: Agent, now: datetime) -> None:
    """After a contact leaves the agent: busy while they hold one, available when they hold none.

    An agent in after-contact work stays there until their last wrap-up is done.
    """
    uow.session.refresh(found, ["load_voice", "load_text", "state"])
    if found.state == AgentState.wrap_up and repository.wrap_ups_of(uow.session, found.id):
        return
    current = AgentState.available if found.state == AgentState.wrap_up else found.state
    change_state(uow, found, rules.settled_state(load_voice=found.load_voice, load_text=found.load_text,
                                                 current=current), now)
