"""Queues, agents and contacts for routing tests, made through the routing services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from careline.actor import Actor, Role
from careline.db import UnitOfWork
from careline.patients.policy import PatientPolicy
from careline.routing.models import Agent
from careline.routing.schemas import AgentIn, InteractionIn, InteractionRead, QueueIn, QueueRead, StateIn
from careline.routing.service import agents, interactions, setup
from careline.settings import Settings
from tests.factories.auth import make_user

ADMIN = Actor(username="routing-admin", role=Role.admin, route="test")
INTEGRATION = Actor(username="telephony", role=Role.admin, route="test")
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
