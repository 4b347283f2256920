"""Offers are reservations: the agent accepts, rejects, or lets it time out, and the contact moves on.

Each change of an offer is one conditional update of its assignment (offered → something), so an accept
racing a timeout or a hang-up has exactly one winner. Work on one interaction locks the interaction first,
then its assignments, then agents; the sweeps over many (timeouts, an agent leaving) skip an interaction another
transaction holds rather than wait for it while holding agents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.routing import repository, rules
from careline.routing.errors import NotFound, NotYours, WrongState
from careline.routing.models import Agent, Assignment, Interaction
from careline.routing.rules import AgentState, Status
from careline.routing.schemas import InteractionRead
from careline.routing.service import setup
from careline.routing.service.states import change_state, settle
from careline.routing.service.views import read
from careline.worker import outbox

# Written to the outbox when a call's provider must follow what happened here (see careline.telephony.tasks).
VOICE_CHANGED = "interaction.voice_changed"
GONE = "This offer is no longer open: it timed out, went to someone else, or the caller hung up."


def event(interaction_id: UUID, at: datetime, kind: str, *, agent_id: UUID | None = None,
          queue_id: UUID | None = None, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"interaction_id": interaction_id, "at": at, "kind": kind, "agent_id": agent_id, "queue_id": queue_id,
            "detail": detail}


def lock(uow: UnitOfWork, interaction_id: UUID) -> Interaction:
    found = repository.get_for_update(uow.session, Interaction, interaction_id)
    if found is None:
        raise NotFound("interaction")
    return found


def lock_unless_busy(uow: UnitOfWork, interaction_id: UUID) -> Interaction | None:
    """The interaction locked, or None while another transaction works on it, which then settles it itself.

    For the sweeps over many interactions (the pass's timeouts and wrap-ups, an agent's open offers): they
    hold agents they already released, and waiting for an interaction that an accept or a hang-up holds,
    itself waiting for one of those agents, would be a deadlock.
    """
    return repository.get_for_update(uow.session, Interaction, interaction_id, skip_locked=True)


def announce(uow: UnitOfWork, interaction: Interaction, kind: str, *agent_ids: UUID | None) -> None:
    payload = {"type": "interaction", "event": kind, "interaction_id": str(interaction.id),
               "status": interaction.status}
    uow.notify("center", payload)
    for agent_id in {agent_id for agent_id in agent_ids if agent_id}:
        uow.notify(f"agent:{agent_id}", payload)


def tell_provider(uow: UnitOfWork, interaction: Interaction) -> None:
    """A call that a provider carries follows what agents do to it: bridged on an answer, back in line on a
    transfer, hung up at the end. The provider's adapter reads the contact's state when it acts."""
    if (interaction.external_ref and not interaction.routed_externally
            and rules.capacity_kind(interaction.channel) == "voice"):
        outbox.send_later(uow, VOICE_CHANGED, {"interaction_id": str(interaction.id)})


def own_assignment(uow: UnitOfWork, actor: Actor, assignment_id: UUID) -> tuple[Assignment, Agent]:
    me = setup.agent_of(uow, actor)
    assignment = repository.get(uow.session, Assignment, assignment_id)
    if assignment is None:
        raise NotFound("offer")
    if assignment.agent_id != me.id:
        raise NotYours()
    return assignment, me


def _answer(uow: UnitOfWork, actor: Actor, assignment_id: UUID, status: str,
            now: datetime) -> tuple[Assignment, Agent, Interaction]:
    """The agent's answer to their own open offer; exactly one answer (or the timeout) wins."""
    assignment, me = own_assignment(uow, actor, assignment_id)
    interaction = lock(uow, assignment.interaction_id)
    if not repository.set_assignment_status(uow.session, assignment.id, expected=["offered"], status=status,
                                            now=now):
        raise WrongState(GONE)
    return assignment, me, interaction


def accept(uow: UnitOfWork, actor: Actor, assignment_id: UUID, *, now: datetime | None = None) -> InteractionRead:
    now = now or utcnow()
    assignment, me, interaction = _answer(uow, actor, assignment_id, "accepted", now)
    if assignment.role == "primary":
        if interaction.status != Status.offered or interaction.agent_id != me.id:
            raise WrongState(GONE)
        interaction.status = Status.connected
        interaction.answered_at = interaction.answered_at or now
        kind = "answered"
        tell_provider(uow, interaction)
    else:
        kind = "joined"
    me.missed_offers = 0
    if me.state == AgentState.available:
        change_state(uow, me, AgentState.busy, now)
    repository.add_events(uow.session, [event(interaction.id, now, kind, agent_id=me.id,
                                              queue_id=interaction.queue_id)])
    announce(uow, interaction, kind, me.id)
    return read(uow, interaction)


def reject(uow: UnitOfWork, actor: Actor, assignment_id: UUID, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    assignment, me, interaction = _answer(uow, actor, assignment_id, "rejected", now)
    _undo_offer(uow, interaction, assignment, now, kind="rejected", declined=True)
    settle(uow, me, now)


def expire_due(uow: UnitOfWork, now: datetime) -> int:
    """Offers nobody answered in time go to the next agent; an agent who misses too many is set not ready."""
    expired = 0
    for assignment in repository.expired_offers(uow.session, now):
        interaction = lock_unless_busy(uow, assignment.interaction_id)
        if interaction is None or not repository.set_assignment_status(
                uow.session, assignment.id, expected=["offered"], status="missed", now=now):
            continue
        expired += 1
        _undo_offer(uow, interaction, assignment, now, kind="offer_timeout", declined=True)
        agent = setup.agent(uow, assignment.agent_id)
        agent.missed_offers += 1
        if agent.missed_offers >= rules.MAX_MISSED_OFFERS and agent.state in rules.ROUTABLE_STATES:
            withdraw_offers_of(uow, agent, now, reason="not_ready")
            change_state(uow, agent, AgentState.not_ready, now, reason="missed_offers")
        else:
            settle(uow, agent, now)
    return expired


def withdraw_offers_of(uow: UnitOfWork, agent: Agent, now: datetime, *, reason: str) -> None:
    """The agent left (break, offline, not ready): their open offers go back to the line, no blame."""
    for assignment in repository.assignments_of_agent(uow.session, agent.id, ["offered"]):
        interaction = lock_unless_busy(uow, assignment.interaction_id)
        if interaction is not None and repository.set_assignment_status(
                uow.session, assignment.id, expected=["offered"], status="withdrawn", now=now):
            _undo_offer(uow, interaction, assignment, now, kind="offer_withdrawn", declined=False,
                        detail={"reason": reason})


def _undo_offer(uow: UnitOfWork, interaction: Interaction, assignment: Assignment, now: datetime, *, kind: str,
                declined: bool, detail: dict[str, Any] | None = None) -> None:
    repository.release(uow.session, assignment.agent_id, assignment.kind, now)
    if assignment.role == "primary":
        repository.back_to_queue(uow.session, interaction.id, assignment.agent_id, now, declined=declined)
        uow.session.refresh(interaction)
    repository.add_events(uow.session, [event(interaction.id, now, kind, agent_id=assignment.agent_id,
                                              queue_id=interaction.queue_id, detail=detail)])
    tell_gone(uow, assignment, interaction, kind)
    uow.notify("routing", {"type": "requeued"})
    announce(uow, interaction, kind)


def end_legs(uow: UnitOfWork, interaction: Interaction, now: datetime, *, status: str = "ended",
             keep: UUID | None = None) -> list[UUID]:
    """Close every live leg of the interaction (but ``keep``), giving back capacity; returns the agents."""
    freed: list[UUID] = []
    for assignment in repository.live_assignments(uow.session, interaction.id):
        if assignment.id == keep:
            continue
        final = status if assignment.status == "accepted" else "withdrawn"
        if repository.set_assignment_status(uow.session, assignment.id, expected=["offered", "accepted"],
                                            status=final, now=now):
            repository.release(uow.session, assignment.agent_id, assignment.kind, now)
            freed.append(assignment.agent_id)
            if final == "withdrawn":
                tell_gone(uow, assignment, interaction, "caller_left" if status == "withdrawn" else "taken_back")
    return freed


def tell_offered(uow: UnitOfWork, agent_id: UUID, assignment_id: UUID, interaction_id: UUID,
                 expires_at: datetime) -> None:
    """The agent's desktop pops the offer, with its countdown."""
    uow.notify(f"agent:{agent_id}", {"type": "offer", "assignment_id": str(assignment_id),
                                     "interaction_id": str(interaction_id), "expires_at": expires_at.isoformat()})


def tell_gone(uow: UnitOfWork, assignment: Assignment, interaction: Interaction, reason: str) -> None:
    """The agent's desktop drops the offer, and can say why (timed out, declined, left, the caller hung up)."""
    uow.notify(f"agent:{assignment.agent_id}", {"type": "offer_gone", "assignment_id": str(assignment.id),
                                                "interaction_id": str(interaction.id), "reason": reason})


def settle_all(uow: UnitOfWork, agent_ids: list[UUID], now: datetime) -> None:
    for agent_id in agent_ids:
        settle(uow, setup.agent(uow, agent_id), now)
