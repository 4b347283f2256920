"""Queues, agents and contacts for routing tests, made through the routing services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from careline.actor import Actor, Role
from careline.db import UnitOfWork
from careline.patients.policy import PatientPolicy
from careline.routing.models import Agent, AgentStateChange, Assignment, Interaction
from careline.routing.schemas import AgentIn, InteractionIn, InteractionRead, QueueIn, QueueRead, StateIn
from careline.routing.service import agents, engine, interactions, offers, setup
from careline.settings import Settings
from tests.factories.auth import make_user

ADMIN = Actor(username="routing-admin", role=Role.admin, route="test")
INTEGRATION = Actor(username="telephony", role=Role.admin, route="test")
SUPERVISOR = Actor(username="sam", role=Role.supervisor, route="test")
POLICY = PatientPolicy.from_settings(Settings(secret_key="x" * 32))


@dataclass(frozen=True)
class Staff:
    """An agent profile and the actor that signs in as it."""

    id: Any
    actor: Actor

    def row(self, uow: UnitOfWork) -> Agent:
        found = uow.session.get(Agent, self.id, populate_existing=True)
        assert found is not None
        return found


def make_queue(uow: UnitOfWork, name: str = "scheduling", **settings: Any) -> QueueRead:
    return setup.save_queue(uow, ADMIN, QueueIn(name=name, **settings))


def make_agent(uow: UnitOfWork, username: str, *, available_at: datetime | None = None, role: Role = Role.agent,
               **profile: Any) -> Staff:
    user = make_user(uow, role=role, username=username, display_name=username.title())
    created = setup.create_agent(uow, ADMIN, AgentIn(user_id=user.id, **profile), now=available_at)
    actor = Actor(username=user.username, role=role, user_id=user.id, route="test")
    if available_at is not None:
        agents.set_own_state(uow, actor, StateIn(state="available"), now=available_at)
    return Staff(created.id, actor)


def make_contact(uow: UnitOfWork, queue: str = "scheduling", *, now: datetime, channel: str = "voice",
                 **fields: Any) -> InteractionRead:
    created, _new = interactions.create(uow, INTEGRATION, POLICY, InteractionIn(channel=channel, queue=queue, **fields),
                                        now=now)
    return created


def contact(uow: UnitOfWork, interaction_id: Any) -> Interaction:
    """The interaction as the database has it now (the engine writes with bulk statements)."""
    found = uow.session.get(Interaction, interaction_id, populate_existing=True)
    assert found is not None
    return found


def open_offers(uow: UnitOfWork, staff: Staff) -> list[Assignment]:
    """The agent's offers still waiting for an answer, oldest first."""
    return list(uow.session.scalars(select(Assignment).where(Assignment.agent_id == staff.id,
                                                             Assignment.status == "offered")
                                    .order_by(Assignment.offered_at).execution_options(populate_existing=True)))


def legs_of(uow: UnitOfWork, interaction_id: Any) -> list[Assignment]:
    """Every offer and leg of the interaction, in the order they were made."""
    return list(uow.session.scalars(select(Assignment).where(Assignment.interaction_id == interaction_id)
                                    .order_by(Assignment.offered_at, Assignment.role.desc())
                                    .execution_options(populate_existing=True)))


def event_kinds(uow: UnitOfWork, interaction_id: Any) -> list[str]:
    return [row.kind for row in interactions.history(uow, interaction_id)]


def states_of(uow: UnitOfWork, staff: Staff) -> list[tuple[str, str | None]]:
    """The agent's recorded states and why, in order."""
    return [(row.state, row.reason) for row in uow.session.scalars(
        select(AgentStateChange).where(AgentStateChange.agent_id == staff.id).order_by(AgentStateChange.id))]


def make_answered(uow: UnitOfWork, *, now: datetime, username: str = "alex", channel: str = "voice",
                  **profile: Any) -> tuple[Staff, InteractionRead]:
    """A new agent holding one answered contact: queued, offered by an engine pass and accepted, all at ``now``.

    Needs the default queue, and no other agent free for the contact."""
    staff = make_agent(uow, username, available_at=now, **profile)
    created = make_contact(uow, now=now, channel=channel)
    engine.run_pass(uow, now)
    offers.accept(uow, staff.actor, open_offers(uow, staff)[0].id, now=now)
    return staff, created
