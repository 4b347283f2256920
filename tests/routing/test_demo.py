"""The demo center: its queues, desks and simulated agents, set up once however often it runs, and the
simulated callers it serves with."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.actor import Role
from careline.app import create_app
from careline.auth import crypto
from careline.auth.models import User
from careline.db import UnitOfWork
from careline.live import Bus, Notice
from careline.routing import demo, rules
from careline.routing.models import Agent, Assignment, Interaction
from careline.routing.rules import Reason
from careline.routing.schemas import QueueIn
from careline.routing.service import setup
from careline.routing.simulation import Plan, background_traffic
from careline.settings import Settings
from tests.factories.auth import PASSWORD, make_user
from tests.factories.routing import ADMIN

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
QUEUE_NAMES = {"scheduling", "scheduling-es", "nurse", "billing", "prescriptions", "overflow", "outbound",
               "simulated-phone"}


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated agents' users are real users; their argon2 hashes would only slow the tests down."""
    digest = crypto.hash_password(PASSWORD)
    monkeypatch.setattr(crypto, "hash_password", lambda _password: digest)


def _demo_users(uow: UnitOfWork) -> None:
    make_user(uow, role=Role.agent, username="agent", display_name="Alex Rivera")
    make_user(uow, role=Role.supervisor, username="supervisor", display_name="Sam Okafor")


def _sizes(uow: UnitOfWork) -> tuple[int, int, int]:
    count = uow.session.scalar
    return (len(setup.list_queues(uow)), count(select(func.count()).select_from(Agent)) or 0,
            count(select(func.count()).select_from(User)) or 0)


class TestSetUp:
    def test_creates_the_queues_the_demo_users_desks_and_the_simulated_agents(self, uow: UnitOfWork) -> None:
        _demo_users(uow)
        made = demo.set_up(uow, ADMIN, simulated=4, now=T0)
        assert made == demo.DemoRouting(queues=8, staff=("agent", "supervisor"), simulated=4)
        queues = {queue.name: queue for queue in setup.list_queues(uow)}
        assert set(queues) == QUEUE_NAMES
        ladder = [(step.after_seconds, bool(step.skills is not None), step.overflow_queue)
                  for step in queues["scheduling"].steps]
        assert ladder == [(60, True, None), (120, False, "overflow")]
        assert queues["nurse"].max_wait_seconds
        assert not any(step.overflow_queue for step in queues["nurse"].steps)
        desks = {agent.name: agent for agent in setup.list_agents(uow)}
        assert set(desks) == {"Alex Rivera", "Sam Okafor", "Sim Agent 01", "Sim Agent 02", "Sim Agent 03",
                              "Sim Agent 04"}
        assert "es" in desks["Alex Rivera"].languages
        assert desks["Alex Rivera"].skills["scheduling"] >= 2
        assert {desk.state for desk in desks.values()} == {"offline"}

    def test_running_it_again_changes_nothing(self, uow: UnitOfWork) -> None:
        _demo_users(uow)
        demo.set_up(uow, ADMIN, simulated=3, now=T0)
        setup.save_queue(uow, ADMIN, QueueIn(name="billing", offer_seconds=45))  # an operator's own settings
        before = _sizes(uow)
        demo.set_up(uow, ADMIN, simulated=3, now=T0)
        assert _sizes(uow) == before == (8, 5, 5)
        assert setup.queue_named(uow, "billing").offer_seconds == 45

    def test_the_whole_team_covers_every_queue_in_both_languages(self, uow: UnitOfWork) -> None:
        demo.set_up(uow, ADMIN, simulated=len(demo.TEAM), now=T0)
        team = setup.list_agents(uow)
        for queue in setup.list_queues(uow):
            steps = rules.steps_of([need.model_dump() for need in queue.skills],
                                   [step.model_dump() for step in queue.steps])
            for language in ("en", "es"):
                fit = [agent for agent in team if language in agent.languages and any(
                    rules.meets(agent.skills, rules.requirements_at(steps, index)) for index in range(len(steps)))]
                overflows = any(step.overflow_queue for step in steps)
                if queue.name == demo.PHONE_QUEUE:  # the simulated phone's texts are for the demo's own people
                    assert not fit, language
                else:
                    assert fit or overflows, (queue.name, language)

    @pytest.mark.parametrize(("reason", "language", "queue"), [
        (Reason.appointment, "en", "scheduling"), (Reason.appointment, "es", "scheduling-es"),
        (Reason.test_request, "es", "scheduling-es"), (Reason.billing, "es", "billing"),
        (Reason.nurse_advice, "en", "nurse"), (Reason.prescription, "en", "prescriptions"),
    ])
    def test_each_reason_has_its_queue(self, reason: Reason, language: str, queue: str) -> None:
        assert demo.queue_for(reason, language) == queue


class TestBackgroundTraffic:
    def test_a_short_run_offers_contacts_to_agents_and_stops_cleanly(
            self, sessions: sessionmaker[Session]) -> None:
        with UnitOfWork(sessions) as uow:
            _demo_users(uow)
            demo.set_up(uow, ADMIN, simulated=3)
            sims = [agent.id for agent in setup.list_agents(uow) if agent.name.startswith("Sim Agent")]
            uow.commit()
        heard = asyncio.run(self._listen_while_running(sessions, [f"agent:{agent_id}" for agent_id in sims]))
        assert any(payload["type"] == "offer" for _channel, payload in heard)

        with UnitOfWork(sessions) as uow:
            assert (uow.session.scalar(select(func.count()).select_from(Assignment)) or 0) > 0
            statuses = set(uow.session.scalars(select(Interaction.status)))
            assert statuses
            assert statuses <= rules.FINAL
            states = set(uow.session.scalars(select(Agent.state).where(Agent.id.in_(sims))))
            assert states == {"offline"}

    @staticmethod
    async def _listen_while_running(sessions: sessionmaker[Session], channels: list[str]) -> list[Notice]:
        bus, heard = Bus(), []
        traffic = background_traffic(Plan(agents=3, per_second=5.0), seed=1)(sessions, bus)
        async with bus.listen(channels) as listener:
            traffic.start()
            for _ in range(100):
                notice = await listener.get(timeout=0.1)
                if notice is not None:
                    heard.append(notice)
                if any(payload["type"] == "offer" for _channel, payload in heard):
                    break
            await traffic.stop()
        return heard


def test_the_app_starts_its_background_tasks_after_opening_and_stops_them(
        settings: Settings, sessions: sessionmaker[Session]) -> None:
    events: list[Any] = []

    class Recorder:
        def __init__(self, given: sessionmaker[Session], bus: Bus) -> None:
            events.append(("made", given is sessions, isinstance(bus, Bus)))

        def start(self) -> None:
            events.append("started")

        async def stop(self) -> None:
            events.append("stopped")

    with TestClient(create_app(settings, sessions=sessions, background=[Recorder])):
        assert events == [("made", True, True), "started"]
    assert events[-1] == "stopped"
