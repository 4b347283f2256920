"""Random days in a small center, checked from the database after every step.

Hypothesis drives contacts arriving, agents changing state, engine passes with the clock jumping ahead (so offers
time out and escalations fire), answers, refusals, hang-ups, wrap-ups and transfers. After each step:
- no interaction has two live primary legs, and its status says how many it has (offered/connected/wrap_up one,
  the others none), held by the agent it names;
- every agent's loads equal their live legs, within capacity, voice and text together only if blended;
- an agent away (break, offline, not ready…) has no offer of a waiting contact, and one who chose to leave
  stays where they went until they choose to come back, whatever happens to the contacts they still hold;
- a final state (completed, abandoned) never changes.
At the end every contact is hung up and the clock runs past every timeout: each one is completed or abandoned,
and every agent is free.

Each action runs in its own unit of work, as a request would, and rolls back if the service refuses it. Each
example runs inside a savepoint of the test's connection, rolled back afterwards, so examples never see each
other's data.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork
from careline.routing.errors import InvalidRoutingInput, NoCapacity, RoutingError, WrongState
from careline.routing.models import Agent, Assignment, Interaction
from careline.routing.rules import FINAL, AgentState, Channel, Status
from careline.routing.schemas import RequeueIn, StateIn, TransferIn, WrapUpIn
from careline.routing.service import agents, engine, interactions, offers
from tests.factories.routing import INTEGRATION, SUPERVISOR, Staff, make_agent, make_contact, make_queue

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TEAM = 3
PICK = st.integers(min_value=0, max_value=1000)  # which of the candidates, modulo their number
WHO = st.integers(min_value=0, max_value=TEAM - 1)
AWAY = frozenset({AgentState.break_, AgentState.lunch, AgentState.training, AgentState.meeting,
                  AgentState.offline, AgentState.not_ready})
LONGEST_TIMEOUT = timedelta(hours=2)  # past any offer, escalation, max wait and wrap-up in this center
PROFILE = st.fixed_dictionaries({  # mostly able to take things, or the center would only queue and abandon
    "languages": st.sampled_from([["en", "es"], ["en"], ["en", "es"], ["es"]]),
    "skills": st.sampled_from([{"scheduling": 3}, {"scheduling": 1}, {}]),
    "voice_slots": st.sampled_from([1, 1, 0]),
    "text_slots": st.sampled_from([2, 1, 3, 0]),
    "blend": st.booleans(),
    "wrap_up_seconds": st.sampled_from([15, 0, 45]),
})
CONTACT = st.fixed_dictionaries({
    "queue": st.sampled_from(["front", "back"]),
    "channel": st.sampled_from([channel.value for channel in Channel]),
    "language": st.sampled_from(["en", "es"]),
    "priority": st.integers(0, 3),
})


class RoutingCenter(RuleBasedStateMachine):
    def __init__(self, connection: Connection, sessions: sessionmaker[Session]) -> None:
        super().__init__()
        self.example = connection.begin_nested()
        self.sessions = sessions
        self.now = T0
        self.staff: list[Staff] = []
        self.contacts: list[UUID] = []
        self.finals: dict[UUID, tuple[str, datetime | None, datetime | None]] = {}
        self.seen: Counter[str] = Counter()  # contacts by status, and open offers, as of the last check
        self.away: dict[UUID, str] = {}  # agents who chose to leave, and where to

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _act(self, action: Callable[[UnitOfWork], object], *refusals: type[RoutingError]) -> None:
        """Run one action as a request would: committed if it succeeds, rolled back if refused as expected."""
        self._tick()
        with UnitOfWork(self.sessions) as uow:
            try:
                action(uow)
            except refusals:
                return
            uow.commit()

    def _tick(self) -> datetime:
        """A millisecond between any two actions: no ties in the order of the line or of idle agents, so that
        the same choices replay the same day (which hypothesis needs, its rules depending on the state)."""
        self.now += timedelta(milliseconds=1)
        return self.now

    @staticmethod
    def _contacts_in(uow: UnitOfWork, *statuses: Status) -> list[Any]:
        return list(uow.session.execute(select(Interaction.id, Interaction.agent_id)
                                        .where(Interaction.status.in_(statuses)).order_by(Interaction.created_at)))

    def _busiest_first(self) -> list[Staff]:
        with self.sessions() as session:
            loads = {row.id: row.load for row in session.execute(
                select(Agent.id, (Agent.load_voice + Agent.load_text).label("load")))}
        return sorted(self.staff, key=lambda staff: -loads[staff.id])

    def _staff_of(self, agent_id: UUID) -> Staff:
        return next(staff for staff in self.staff if staff.id == agent_id)

    @staticmethod
    def _pick(candidates: list[Any], pick: int) -> Any:
        return candidates[pick % len(candidates)] if candidates else None

    # --- the center ---------------------------------------------------------------------------------------------

    @initialize(profiles=st.lists(PROFILE, min_size=TEAM, max_size=TEAM))
    def open_the_center(self, profiles: list[dict[str, Any]]) -> None:
        def setup(uow: UnitOfWork) -> None:
            make_queue(uow, "back", offer_seconds=15)
            make_queue(uow, "front", skills=[{"skill": "scheduling"}], offer_seconds=10, max_wait_seconds=90,
                       steps=[{"after_seconds": 20, "skills": []}, {"after_seconds": 60, "overflow_queue": "back"}])
            self.staff = [make_agent(uow, f"agent{n}", available_at=self._tick(), **profile)
                          for n, profile in enumerate(profiles)]
        self._act(setup)

    @rule(arrivals=st.lists(CONTACT, min_size=1, max_size=2))
    def contacts_arrive(self, arrivals: list[dict[str, Any]]) -> None:
        def arrive(uow: UnitOfWork) -> None:
            for fields in arrivals:
                self.contacts.append(make_contact(uow, now=self._tick(), **fields).id)
        self._act(arrive)

    @rule(who=WHO, state=st.sampled_from(["available", "break", "available", "offline", "available", "lunch"]))
    def agent_chooses_a_state(self, who: int, state: str) -> None:
        staff = self._busiest_first()[who]  # leaving while holding contacts is the interesting case
        self._act(lambda uow: agents.set_own_state(uow, staff.actor, StateIn(state=state), now=self.now))
        if state == AgentState.available:
            self.away.pop(staff.id, None)
        else:
            self.away[staff.id] = state

    @rule(seconds=st.sampled_from([1, 3, 5, 8, 0, 2, 12, 25, 70]))  # offers last 10-15 s, steps 20 and 60 s
    def engine_pass(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self._act(lambda uow: engine.run_pass(uow, self.now))

    @precondition(lambda self: self.seen["open_offers"])
    @rule(pick=PICK)
    def agent_accepts(self, pick: int) -> None:
        self._answer(pick, offers.accept)

    @precondition(lambda self: self.seen["open_offers"])
    @rule(pick=PICK)
    def agent_rejects(self, pick: int) -> None:
        self._answer(pick, offers.reject)

    def _answer(self, pick: int, answer: Callable[..., object]) -> None:
        def act(uow: UnitOfWork) -> None:
            offer = self._pick(list(uow.session.scalars(
                select(Assignment).join(Interaction, Interaction.id == Assignment.interaction_id)
                .where(Assignment.status == "offered").order_by(Assignment.offered_at, Interaction.created_at))), pick)
            if offer is not None:  # an open offer is always answerable by its agent
                answer(uow, self._staff_of(offer.agent_id).actor, offer.id, now=self.now)
        self._act(act)

    @precondition(lambda self: self.seen[Status.queued] + self.seen[Status.offered] + self.seen[Status.connected])
    @rule(pick=PICK)
    def caller_hangs_up(self, pick: int) -> None:
        def act(uow: UnitOfWork) -> None:
            gone = self._pick(self._contacts_in(uow, Status.queued, Status.offered, Status.connected), pick)
            if gone is not None:
                interactions.end(uow, INTEGRATION, gone.id, now=self.now)
        self._act(act)

    @precondition(lambda self: self.seen[Status.connected])
    @rule(pick=PICK)
    def agent_ends(self, pick: int) -> None:
        self._as_agent(pick, (Status.connected,), interactions.end)

    @precondition(lambda self: self.seen[Status.wrap_up] + self.seen[Status.connected])
    @rule(pick=PICK, resolved=st.none() | st.booleans())
    def agent_wraps_up(self, pick: int, resolved: bool | None) -> None:
        wrap_up = WrapUpIn(disposition="information", resolved=resolved)
        self._as_agent(pick, (Status.wrap_up, Status.connected),
                       lambda uow, actor, contact_id, now: interactions.finish(uow, actor, contact_id, wrap_up,
                                                                               now=now))

    @precondition(lambda self: self.seen[Status.connected])
    @rule(pick=PICK, mode=st.sampled_from(["queue", "agent", "warm"]), to=WHO)
    def agent_transfers(self, pick: int, mode: str, to: int) -> None:
        target = self.staff[to]
        data = TransferIn(queue="back") if mode == "queue" else \
            TransferIn(agent_id=target.id, mode="warm" if mode == "warm" else "cold")
        self._as_agent(pick, (Status.connected,),
                       lambda uow, actor, contact_id, now: interactions.transfer(uow, actor, contact_id, data,
                                                                                 now=now),
                       NoCapacity, InvalidRoutingInput)  # a busy colleague, or oneself

    @precondition(lambda self: self.seen[Status.connected])
    @rule(pick=PICK)
    def agent_completes_a_warm_transfer(self, pick: int) -> None:
        self._as_agent(pick, (Status.connected,), interactions.complete_transfer, WrongState)  # nobody joined yet

    @precondition(lambda self: self.seen[Status.connected])
    @rule(pick=PICK, hold=st.booleans())
    def agent_holds_or_resumes(self, pick: int, hold: bool) -> None:
        self._as_agent(pick, (Status.connected,), interactions.hold if hold else interactions.resume)

    def _as_agent(self, pick: int, statuses: tuple[Status, ...], action: Callable[..., object],
                  *refusals: type[RoutingError]) -> None:
        """The agent holding one of the contacts in ``statuses`` does ``action`` on it."""
        def act(uow: UnitOfWork) -> None:
            chosen = self._pick(self._contacts_in(uow, *statuses), pick)
            if chosen is not None:
                action(uow, self._staff_of(chosen.agent_id).actor, chosen.id, now=self.now)
        self._act(act, *refusals)

    @precondition(lambda self: self.seen[Status.queued] + self.seen[Status.offered] + self.seen[Status.connected])
    @rule(pick=PICK, queue=st.sampled_from([None, "front", "back"]))
    def supervisor_requeues(self, pick: int, queue: str | None) -> None:
        def act(uow: UnitOfWork) -> None:
            chosen = self._pick(self._contacts_in(uow, Status.queued, Status.offered, Status.connected), pick)
            if chosen is not None:
                interactions.requeue(uow, SUPERVISOR, chosen.id, RequeueIn(queue=queue), now=self.now)
        self._act(act)

    # --- what must always hold ------------------------------------------------------------------------------------

    @invariant()
    def the_database_is_consistent(self) -> None:
        with self.sessions() as session:
            legs = session.execute(select(Assignment.interaction_id, Assignment.agent_id, Assignment.kind,
                                          Assignment.role, Assignment.status)
                                   .where(Assignment.status.in_(("offered", "accepted")))).all()
            contacts = session.execute(select(Interaction.id, Interaction.status, Interaction.agent_id,
                                              Interaction.closed_at, Interaction.abandoned_at)).all()
            team = session.scalars(select(Agent)).all()
            wrapping = set(session.scalars(select(Interaction.agent_id).where(Interaction.status == Status.wrap_up)))
        self.seen = Counter(found.status for found in contacts)
        self.seen["open_offers"] = sum(leg.status == "offered" for leg in legs)
        self._check_primary_legs(legs, contacts)
        self._check_loads(legs, team, wrapping)
        assert {agent.id: agent.state for agent in team if agent.id in self.away} == self.away  # until they return
        self._check_finals(contacts)

    @staticmethod
    def _check_primary_legs(legs: list[Any], contacts: list[Any]) -> None:
        primaries: dict[UUID, list[Any]] = {}
        for leg in legs:
            if leg.role == "primary":
                primaries.setdefault(leg.interaction_id, []).append(leg)
        for found in contacts:
            live = primaries.get(found.id, [])
            if found.status in (Status.offered, Status.connected, Status.wrap_up):
                assert len(live) == 1, (found.status, live)
                expected = "offered" if found.status == Status.offered else "accepted"
                assert (live[0].status, live[0].agent_id) == (expected, found.agent_id), (found, live)
            else:
                assert live == [], (found.status, live)

    @staticmethod
    def _check_loads(legs: list[Any], team: list[Agent], wrapping: set[UUID]) -> None:
        held = Counter((leg.agent_id, leg.kind) for leg in legs)
        waiting_offers = {leg.agent_id for leg in legs if leg.role == "primary" and leg.status == "offered"}
        for agent in team:
            assert (agent.load_voice, agent.load_text) == (held[agent.id, "voice"], held[agent.id, "text"]), agent.name
            assert agent.load_voice <= agent.voice_slots
            assert agent.load_text <= agent.text_slots
            assert agent.blend or not (agent.load_voice and agent.load_text)
            if agent.state == AgentState.busy:
                assert agent.load_voice + agent.load_text > 0, agent.name
            if agent.state == AgentState.wrap_up:
                assert agent.id in wrapping, agent.name
            if agent.state in AWAY:
                assert agent.id not in waiting_offers, (agent.name, agent.state)

    def _check_finals(self, contacts: list[Any]) -> None:
        for found in contacts:
            if found.id in self.finals:
                assert (found.status, found.closed_at, found.abandoned_at) == self.finals[found.id]
            elif found.status in FINAL:
                self.finals[found.id] = (found.status, found.closed_at, found.abandoned_at)

    # --- the end of the day ---------------------------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None and self.staff:  # after a failed step, report that step instead
                self._close_the_day()
        finally:
            self.example.rollback()

    def _close_the_day(self) -> None:
        def hang_up_everything(uow: UnitOfWork) -> None:
            for live in self._contacts_in(uow, Status.queued, Status.offered, Status.connected):
                interactions.end(uow, INTEGRATION, live.id, now=self.now)
        self._act(hang_up_everything)
        self.now += LONGEST_TIMEOUT
        self._act(lambda uow: engine.run_pass(uow, self.now))
        self.the_database_is_consistent()
        with self.sessions() as session:
            outcomes = session.execute(select(Interaction.status, Interaction.closed_at,
                                              Interaction.abandoned_at)).all()
            live_legs = session.scalar(select(Assignment.id).where(Assignment.status.in_(("offered", "accepted"))))
            team = session.execute(select(Agent.state, Agent.load_voice, Agent.load_text)).all()
        assert len(outcomes) == len(self.contacts)
        for status, closed_at, abandoned_at in outcomes:
            assert status in FINAL
            if status == Status.completed:
                assert (closed_at is not None, abandoned_at) == (True, None)
            else:
                assert (closed_at, abandoned_at is not None) == (None, True)
        assert live_legs is None
        assert all(load_voice == load_text == 0 and state not in (AgentState.busy, AgentState.wrap_up)
                   for state, load_voice, load_text in team)


def test_random_days_keep_the_routing_invariants(connection: Connection, sessions: sessionmaker[Session]) -> None:
    run_state_machine_as_test(lambda: RoutingCenter(connection, sessions),
                              settings=settings(max_examples=40, stateful_step_count=50, deadline=None,
                                                database=None))
