"""The load generator: a seeded world stepped on a controlled clock through the real routing services and
engine, its draws, and the command's option parsing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from careline.audit.models import AuditEntry
from careline.auth import crypto
from careline.cli import app
from careline.db import UnitOfWork
from careline.messaging.models import Conversation, Message
from careline.routing.models import Agent, AgentStateChange, Assignment, Interaction
from careline.routing.rules import FINAL, Channel, Reason
from careline.routing.service import desktop, interactions, offers
from careline.routing.simulation import Plan, Simulation, Tally
from careline.routing.simulation.console import parse_duration, parse_rate
from careline.routing.simulation.draws import IMPATIENT, Draws
from tests.factories.auth import PASSWORD
from tests.factories.patients import make_patient
from tests.factories.routing import make_agent

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated agents' users are real users; their argon2 hashes would only slow the tests down."""
    digest = crypto.hash_password(PASSWORD)
    monkeypatch.setattr(crypto, "hash_password", lambda _password: digest)


def _run(simulation: Simulation, uow: UnitOfWork, start: datetime, seconds: int,
         check: bool = True) -> tuple[Tally, datetime]:
    """Step once a simulated second, checking the engine's invariants after every step."""
    tally, now = Tally(), start
    for _ in range(seconds):
        now += timedelta(seconds=1)
        tally.add(simulation.step(uow, now))
        if check:
            _assert_invariants(uow)
    return tally, now


def _assert_invariants(uow: UnitOfWork) -> None:
    """No agent above capacity; each load is exactly the live legs holding it; one live offer per contact."""
    uow.flush()
    legs = uow.session.execute(select(Assignment.agent_id, Assignment.kind, Assignment.interaction_id)
                               .where(Assignment.status.in_(("offered", "accepted")))).all()
    held = Counter((agent_id, kind) for agent_id, kind, _ in legs)
    for agent in uow.session.scalars(select(Agent).execution_options(populate_existing=True)):
        assert agent.load_voice <= agent.voice_slots
        assert agent.load_text <= agent.text_slots
        assert (agent.load_voice, agent.load_text) == (held[agent.id, "voice"], held[agent.id, "text"])
    assert max(Counter(contact for _, _, contact in legs).values(), default=0) <= 1


def _contacts(uow: UnitOfWork) -> list[Interaction]:
    return list(uow.session.scalars(select(Interaction).execution_options(populate_existing=True)))


class TestASeededRun:
    PLAN = Plan(agents=8, per_second=0.3, patience_seconds=30, handle_seconds=20)

    def test_arrivals_answers_abandons_then_a_drain_leaves_every_contact_final(self, uow: UnitOfWork) -> None:
        simulation = Simulation(self.PLAN, seed=7)
        simulation.start(uow, T0)
        tally, now = _run(simulation, uow, T0, 180)

        assert 0.3 * 180 * 0.7 <= tally.arrived <= 0.3 * 180 * 1.3
        assert tally.answered > 15
        assert tally.abandoned > 0
        assert tally.completed > 0
        assert len(_contacts(uow)) == tally.arrived

        simulation.arriving = False
        for _ in range(20):
            if simulation.settled:
                break
            more, now = _run(simulation, uow, now, 30)
            tally.add(more)
        assert simulation.settled
        contacts = _contacts(uow)
        assert {contact.status for contact in contacts} <= FINAL
        statuses = Counter(contact.status for contact in contacts)
        assert statuses == {"abandoned": tally.abandoned, "completed": tally.completed}
        assert all(contact.disposition for contact in contacts if contact.status == "completed")
        assert uow.session.scalar(select(func.count()).select_from(Assignment)
                                  .where(Assignment.status.in_(("offered", "accepted")))) == 0

    def test_the_mix_reaches_every_queue_in_both_languages(self, uow: UnitOfWork) -> None:
        simulation = Simulation(Plan(agents=2, per_second=3.0, patience_seconds=600), seed=3)
        simulation.start(uow, T0)
        _run(simulation, uow, T0, 40, check=False)
        contacts = _contacts(uow)
        queues = Counter(contact.queue_id for contact in contacts)
        assert len(queues) >= 5  # scheduling, scheduling-es, nurse, billing, prescriptions (overflow comes later)
        assert {contact.language for contact in contacts} == {"en", "es"}
        assert all(contact.address is None for contact in contacts if contact.channel == Channel.chat)

    def test_texts_and_chats_come_through_messaging_and_get_an_answer(self, uow: UnitOfWork) -> None:
        simulation = Simulation(Plan(agents=3, per_second=2.0, patience_seconds=600, handle_seconds=60), seed=3)
        simulation.start(uow, T0)
        _run(simulation, uow, T0, 40, check=False)
        written = [contact for contact in _contacts(uow) if contact.channel in ("sms", "email", "chat")]
        threads = {row.interaction_id: row for row in uow.session.scalars(select(Conversation))}
        assert {contact.channel for contact in written} == {"sms", "email", "chat"}
        assert all(contact.id in threads for contact in written)  # each one has its patient's words
        answered = [contact for contact in written if contact.answered_at is not None]
        replies = {row.conversation_id for row in uow.session.scalars(
            select(Message).where(Message.direction == "outbound", Message.kind == "conversation"))}
        assert answered
        assert all(threads[contact.id].id in replies for contact in answered)

    def test_close_hangs_up_the_line_and_signs_the_agents_off(self, uow: UnitOfWork) -> None:
        simulation = Simulation(Plan(agents=3, per_second=1.0, patience_seconds=600, handle_seconds=300), seed=5)
        simulation.start(uow, T0)
        _tally, now = _run(simulation, uow, T0, 30, check=False)
        assert any(contact.status == "connected" for contact in _contacts(uow))

        closed = simulation.close(uow, now)
        contacts = _contacts(uow)
        assert {contact.status for contact in contacts} <= FINAL
        assert closed.abandoned > 0
        assert closed.completed > 0
        agents = uow.session.scalars(select(Agent).where(Agent.id.in_(simulation.agent_ids))
                                     .execution_options(populate_existing=True)).all()
        assert {(agent.state, agent.load_voice, agent.load_text) for agent in agents} == {("offline", 0, 0)}


class TestSimulatedAgents:
    def test_are_created_once_with_desks_and_go_available(self, uow: UnitOfWork) -> None:
        Simulation(Plan(agents=3, per_second=0.1), seed=1).start(uow, T0)
        again = Simulation(Plan(agents=3, per_second=0.1), seed=1)
        again.start(uow, T0 + timedelta(minutes=1))
        agents = uow.session.scalars(select(Agent).execution_options(populate_existing=True)).all()
        assert sorted(agent.name for agent in agents) == ["Sim Agent 01", "Sim Agent 02", "Sim Agent 03"]
        assert {agent.id for agent in agents} == again.agent_ids
        assert {agent.state for agent in agents} == {"available"}

    def test_an_agent_who_lets_offers_time_out_is_set_not_ready_then_comes_back(self, uow: UnitOfWork) -> None:
        plan = Plan(agents=1, per_second=0.2, patience_seconds=3600, miss_share=1.0)
        simulation = Simulation(plan, seed=2)
        simulation.start(uow, T0)
        tally, _now = _run(simulation, uow, T0, 120)
        assert tally.missed >= 2
        assert tally.answered == 0
        (agent_id,) = simulation.agent_ids
        states = list(uow.session.scalars(select(AgentStateChange.state).where(AgentStateChange.agent_id == agent_id)
                                          .order_by(AgentStateChange.id)))
        came_back = states.index("not_ready") + 1
        assert states[came_back] == "available"


class TestCallers:
    def test_dial_from_patients_numbers_without_printing_or_logging_them(self, uow: UnitOfWork) -> None:
        patients = [make_patient(uow, given=f"Pat{n}", phones=((f"+1617555{2000 + n:04d}", "mobile"),))
                    for n in range(5)]
        simulation = Simulation(Plan(agents=2, per_second=3.0, patience_seconds=600), seed=4)
        simulation.start(uow, T0)
        _run(simulation, uow, T0, 20, check=False)
        known = {patient.id for patient in patients}
        phoned = [contact for contact in _contacts(uow) if contact.address and contact.channel != Channel.email]
        recognised = [contact for contact in phoned if contact.patient_id in known]
        assert 0.5 * len(phoned) < len(recognised) < len(phoned)  # most callers are on file, some are not
        unknown = {contact.address for contact in phoned if contact.patient_id is None}
        assert all(address and address[-4:-2] == "01" for address in unknown)  # the fictional 555-01xx lines
        sampled = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.phones_sampled")).one()
        assert sampled.details == {"count": 5}


    def test_a_caller_talking_to_a_person_hangs_up_after_a_long_call(self, uow: UnitOfWork) -> None:
        every_skill = {"scheduling": 3, "spanish": 3, "billing": 3, "nurse": 3, "prescriptions": 3}
        alex = make_agent(uow, "alex", available_at=T0 - timedelta(minutes=5), skills=every_skill,
                          languages=["en", "es"])
        simulation = Simulation(Plan(agents=1, per_second=1.0, patience_seconds=5, miss_share=1.0), seed=6)
        simulation.start(uow, T0)
        now = T0
        while not _contacts(uow):
            now += timedelta(seconds=1)
            simulation.step(uow, now)
        simulation.arriving = False
        (contact,) = _contacts(uow)
        assert contact.channel in IMPATIENT
        (offer,) = desktop.my_work(uow, alex.actor).offers  # the person has been idle longest
        offers.accept(uow, alex.actor, offer.assignment_id, now=now)

        for _ in range(24):
            now += timedelta(seconds=30)
            simulation.step(uow, now)
        ended = interactions.get(uow, contact.id)
        assert ended.answered_at is not None
        assert ended.ended_at is not None
        assert timedelta(minutes=10) <= ended.ended_at - ended.answered_at <= timedelta(minutes=10, seconds=30)


class TestDraws:
    def test_the_same_seed_replays_the_same_world(self) -> None:
        plan = Plan(agents=1, per_second=2.0)
        first, second = Draws(plan, seed=9), Draws(plan, seed=9)
        assert [(first.gap(), first.caller(["+16175550123"])) for _ in range(50)] == \
               [(second.gap(), second.caller(["+16175550123"])) for _ in range(50)]

    def test_the_mix_and_the_clocks(self) -> None:
        plan = Plan(agents=1, per_second=5.0, patience_seconds=90, handle_seconds=210)
        draws = Draws(plan, seed=11)
        callers = [draws.caller([]) for _ in range(4000)]
        channels = Counter(caller.channel for caller in callers)
        assert 0.70 < channels[Channel.voice] / 4000 < 0.80
        assert {Channel.sms, Channel.email, Channel.chat, Channel.callback} <= set(channels)
        assert all("@" in (caller.address or "") for caller in callers if caller.channel == Channel.email)
        assert Counter(caller.reason for caller in callers).most_common(1)[0][0] == Reason.appointment
        assert 0.12 < sum(caller.language == "es" for caller in callers) / 4000 < 0.18
        assert all(caller.patience is None for caller in callers if caller.channel in (Channel.sms, Channel.callback))
        mean = sum(draws.gap().total_seconds() for _ in range(4000)) / 4000
        assert 0.18 < mean < 0.22  # 5 per second
        handle = sum(draws.handle().total_seconds() for _ in range(4000)) / 4000
        assert 190 < handle < 230
        patience = [caller.patience.total_seconds() for caller in callers if caller.patience is not None]
        assert 80 < sum(patience) / len(patience) < 100


class TestOptions:
    @pytest.mark.parametrize(("text", "per_second"), [("5/s", 5.0), ("300/min", 5.0), ("90/h", 0.025),
                                                       ("0.5 / sec", 0.5)])
    def test_rates(self, text: str, per_second: float) -> None:
        assert parse_rate(text) == pytest.approx(per_second)

    @pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("90s", 90), ("1.5h", 5400), ("3.5m", 210)])
    def test_durations(self, text: str, seconds: float) -> None:
        assert parse_duration(text) == timedelta(seconds=seconds)

    @pytest.mark.parametrize(("option", "value", "message"), [
        ("--rate", "fast", "is not a rate"), ("--rate", "5", "is not a rate"), ("--rate", "0/s", "above 0"),
        ("--duration", "10", "is not a duration"), ("--duration", "0s", "above 0"),
        ("--patience", "-5s", "is not a duration"), ("--handle", "2 days", "is not a duration"),
    ])
    def test_bad_values_are_refused_with_a_clear_message(self, option: str, value: str, message: str) -> None:
        result = runner.invoke(app, ["simulate", option, value])
        assert result.exit_code == 2
        assert f"Invalid value for '{option}'" in result.output
        assert message in result.output

    def test_help_explains_each_option(self) -> None:
        result = runner.invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        for option in ("--agents", "--rate", "--duration", "--patience", "--handle", "--seed"):
            assert option in result.output
        assert "300/min" in result.output
        assert "Ctrl-C" in result.output
