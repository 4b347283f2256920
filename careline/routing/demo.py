"""The demo center's routing: its queues, desks for the demo agent and supervisor, and simulated agents.

Everything goes through the routing and auth services, as an admin's set-up would, and each function only
adds what is missing: run twice, it changes nothing; a queue an operator already configured is left alone.
``careline demo`` and ``careline simulate`` both use it; the simulation's traffic is spread over these queues
by ``queue_for``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.db import UnitOfWork
from careline.routing.rules import Reason
from careline.routing.schemas import AgentIn, EscalationStep, QueueIn, SkillNeed
from careline.routing.service import setup
from careline.routing.service.external import OUTBOUND_QUEUE

OVERFLOW = "overflow"
# Texts from the demo's simulated phone wait here for the people trying the demo: simulated agents lack the skill.
PHONE_QUEUE = "simulated-phone"
DEMO_DESK = "demo_desk"
SIMULATED_PREFIX = "sim-agent-"
SIMULATED_AGENTS = 12  # few enough that the demo's own agent gets calls too
TRAFFIC_PER_MINUTE = 8.0
HANDLE_SECONDS = 75.0  # shorter than a real call, so the demo moves while someone watches


def _needs(**levels: int) -> list[SkillNeed]:
    return [SkillNeed(skill=skill, min_level=level) for skill, level in levels.items()]


def _ladder(**widened: int) -> list[EscalationStep]:
    """After a minute, ask less of the agent; after two, anyone who speaks the caller's language."""
    return [EscalationStep(after_seconds=60, skills=_needs(**widened)),
            EscalationStep(after_seconds=120, overflow_queue=OVERFLOW)]


# The overflow queue first: the others name it.
QUEUES = (
    QueueIn(name=OVERFLOW, description="Contacts that waited two minutes: any agent who speaks the language",
            priority=1),
    QueueIn(name="scheduling", description="Appointments and test requests", skills=_needs(scheduling=2),
            steps=_ladder(scheduling=1)),
    QueueIn(name="scheduling-es", description="Appointments and test requests in Spanish",
            skills=_needs(scheduling=1, spanish=2), steps=_ladder(scheduling=1, spanish=1)),
    # Clinical advice never overflows to non-nurses: a caller who waited three minutes is called back instead.
    QueueIn(name="nurse", description="Nurse advice", priority=2, skills=_needs(nurse=2), agent_order="most_skilled",
            steps=[EscalationStep(after_seconds=60, skills=_needs(nurse=1))], max_wait_seconds=180),
    QueueIn(name="billing", description="Bills, insurance and payments", priority=1, skills=_needs(billing=2),
            steps=_ladder(billing=1)),
    QueueIn(name="prescriptions", description="Refill requests", skills=_needs(prescriptions=1),
            steps=_ladder(scheduling=2)),
    QueueIn(name=PHONE_QUEUE, description="Texts from the simulated phone, for the demo's own users",
            skills=_needs(**{DEMO_DESK: 1})),
    # Agents' own calls (click-to-call) are counted here; nothing waits in it.
    QueueIn(name=OUTBOUND_QUEUE, description="Calls agents place to patients"),
)
QUEUE_OF_REASON = {Reason.appointment: "scheduling", Reason.test_request: "scheduling", Reason.billing: "billing",
                   Reason.prescription: "prescriptions", Reason.nurse_advice: "nurse", Reason.other: "scheduling"}


def queue_for(reason: Reason, language: str) -> str:
    queue = QUEUE_OF_REASON[reason]
    return f"{queue}-es" if queue == "scheduling" and language == "es" else queue


@dataclass(frozen=True, slots=True)
class Profile:
    languages: tuple[str, ...]
    skills: dict[str, int]

    def agent_in(self, user_id: UUID) -> AgentIn:
        return AgentIn(user_id=user_id, languages=list(self.languages), skills=self.skills)


# Desks for the demo's own users (see careline.cli), broad enough that the demo agent gets calls.
STAFF = {
    "agent": Profile(("en", "es"), {"scheduling": 3, "spanish": 2, "billing": 2, "prescriptions": 1, DEMO_DESK: 1}),
    "supervisor": Profile(("en",), {"scheduling": 2, "billing": 1, "nurse": 1, DEMO_DESK: 1}),
}
# Simulated agent n gets TEAM[n % 12]: everyone schedules; some speak Spanish, some are nurses or do billing.
TEAM = (
    Profile(("en",), {"scheduling": 3, "billing": 2}),
    Profile(("en", "es"), {"scheduling": 2, "spanish": 3}),
    Profile(("en",), {"scheduling": 2, "nurse": 3}),
    Profile(("en",), {"scheduling": 2, "billing": 3}),
    Profile(("en",), {"scheduling": 2, "prescriptions": 2}),
    Profile(("en", "es"), {"scheduling": 3, "spanish": 2, "nurse": 2}),
    Profile(("en",), {"scheduling": 1, "billing": 1}),
    Profile(("en",), {"scheduling": 2, "billing": 2, "prescriptions": 1}),
    Profile(("en", "es"), {"scheduling": 2, "spanish": 3, "billing": 1}),
    Profile(("en",), {"scheduling": 3, "prescriptions": 2, "billing": 1}),
    Profile(("en",), {"scheduling": 2, "nurse": 2}),
    Profile(("en", "es"), {"scheduling": 1, "spanish": 2, "prescriptions": 1}),
)


@dataclass(frozen=True, slots=True)
class SimulatedAgent:
    agent_id: UUID
    actor: Actor  # signs in as the agent's user


@dataclass(frozen=True, slots=True)
class DemoRouting:
    queues: int
    staff: tuple[str, ...]
    simulated: int

    def summary(self) -> str:
        desks = ", ".join(self.staff) or "none"
        return (f"Routing: {self.queues} queues, agent desks for {desks}, {self.simulated} simulated agents.")


def set_up(uow: UnitOfWork, actor: Actor, *, simulated: int = SIMULATED_AGENTS,
           now: datetime | None = None) -> DemoRouting:
    """The queues, a desk for each demo user in ``STAFF``, and ``simulated`` simulated agents."""
    ensure_queues(uow, actor)
    staff = _ensure_staff(uow, actor, now)
    agents = ensure_simulated_agents(uow, actor, simulated, now=now)
    return DemoRouting(queues=len(QUEUES), staff=staff, simulated=len(agents))


def ensure_queues(uow: UnitOfWork, actor: Actor) -> None:
    existing = {queue.name for queue in setup.list_queues(uow)}
    for queue in QUEUES:
        if queue.name not in existing:
            setup.save_queue(uow, actor, queue)


def _ensure_staff(uow: UnitOfWork, actor: Actor, now: datetime | None) -> tuple[str, ...]:
    with_desk = {agent.user_id for agent in setup.list_agents(uow)}
    users = [user for role in (Role.agent, Role.supervisor) for user in auth_service.list_users(uow, role=role)
             if user.username in STAFF]
    for user in users:
        if user.id not in with_desk:
            setup.create_agent(uow, actor, STAFF[user.username].agent_in(user.id), now=now)
    return tuple(sorted(user.username for user in users))


def ensure_simulated_agents(uow: UnitOfWork, actor: Actor, count: int, *,
                            now: datetime | None = None) -> list[SimulatedAgent]:
    """Users ``sim-agent-01`` … with agent desks, created if missing, each with a random password nobody is
    told: nobody signs in as them."""
    users = {user.username: user for user in auth_service.list_users(uow, role=Role.agent)
             if user.username.startswith(SIMULATED_PREFIX)}
    desks = {agent.user_id: agent for agent in setup.list_agents(uow)}
    found = []
    for index in range(count):
        username = f"{SIMULATED_PREFIX}{index + 1:02d}"
        user = users.get(username) or auth_service.create_user(uow, actor, UserCreate(
            username=username, display_name=f"Sim Agent {index + 1:02d}", role=Role.agent,
            password=secrets.token_urlsafe(32)))
        desk = desks.get(user.id) or setup.create_agent(uow, actor, TEAM[index % len(TEAM)].agent_in(user.id),
                                                        now=now)
        if desk.active:
            found.append(SimulatedAgent(desk.id, Actor(username=user.username, role=Role.agent, user_id=user.id,
                                                       route=actor.route)))
    return found
