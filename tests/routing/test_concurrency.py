"""Real threads on a committed database: engine passes racing each other and agents answering, refusing, ending
and wrapping up, callers hanging up, agents leaving and coming back — 20 agents, 200 contacts.

The clock is shared and moves in ticks: every action reads the tick's time, and the tick only moves on when no
action is in flight. Within a tick the actions race freely on the database; across ticks their times follow the
order they were committed in, so the history's intervals can be compared: an interaction's primary legs,
[offered_at, ended_at), must never overlap.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.routing.errors import RoutingError
from careline.routing.models import Agent, Assignment, Interaction
from careline.routing.rules import FINAL, Status
from careline.routing.schemas import StateIn, WrapUpIn
from careline.routing.service import agents, engine, interactions, offers
from tests.factories.routing import INTEGRATION, Staff, make_agent, make_contact, make_queue
from tests.support.databases import DatabaseFactory

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
AGENTS = 20
CONTACTS = 200
ENGINES = 3
DESKS = 4  # threads acting for the agents, five agents each
TICKS = 150
TICK_SECONDS = 0.01  # real time per tick, one second of the center's clock
CHANNELS = ("voice", "voice", "callback", "sms", "chat", "email")


class Clock:
    """The center's time: many actions read it at once; it moves on only between actions."""

    def __init__(self) -> None:
        self.now = T0
        self._busy = 0
        self._moving = False
        self._change = threading.Condition()

    @contextmanager
    def action(self) -> Iterator[datetime]:
        with self._change:
            self._change.wait_for(lambda: not self._moving)
            self._busy += 1
            now = self.now
        try:
            yield now
        finally:
            with self._change:
                self._busy -= 1
                self._change.notify_all()

    def tick(self) -> None:
        with self._change:
            self._moving = True
            self._change.wait_for(lambda: self._busy == 0)
            self.now += timedelta(seconds=1)
            self._moving = False
            self._change.notify_all()


@dataclass
class Center:
    sessions: sessionmaker[Session]
    staff: list[Staff]
    clock: Clock = field(default_factory=Clock)
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[BaseException] = field(default_factory=list)
    done: Counter[str] = field(default_factory=Counter)

    def act(self, name: str, action: Callable[[UnitOfWork, datetime], object], *, count: int = 1) -> None:
        """One request: committed if it succeeds; a refusal (the contact moved on) is normal, anything else is not."""
        with self.clock.action() as now, UnitOfWork(self.sessions) as uow:
            try:
                action(uow, now)
            except RoutingError:
                self.done[f"{name} refused"] += 1
                return
            except Exception as error:  # a deadlock, a constraint the code should never have hit
                self.failures.append(error)
                return
            uow.commit()
            self.done[name] += count

    def loop(self, step: Callable[[random.Random], None], seed: int) -> Callable[[], None]:
        def run() -> None:
            chance = random.Random(seed)
            while not self.stop.is_set():
                step(chance)
        return run


@pytest.fixture
def committed(databases: DatabaseFactory) -> Iterator[sessionmaker[Session]]:
    pool = {} if databases.engine_name == "sqlite" else {"pool_size": ENGINES + DESKS + 4, "max_overflow": 0}
    bind = make_engine(databases.fresh(), **pool)
    yield make_sessionmaker(bind)
    bind.dispose()


def _open_center(sessions: sessionmaker[Session]) -> list[Staff]:
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "overflow", offer_seconds=5)
        make_queue(uow, offer_seconds=5, skills=[{"skill": "scheduling", "min_level": 2}],
                   steps=[{"after_seconds": 10, "skills": []}, {"after_seconds": 30, "overflow_queue": "overflow"}])
        staff = [make_agent(uow, f"agent{n:02d}", available_at=T0 + timedelta(milliseconds=n),
                            languages=["en", "es"] if n % 3 else ["en"], skills={"scheduling": 1 + n % 3},
                            text_slots=1 + n % 3, blend=n % 4 == 0, wrap_up_seconds=n % 3 * 2)
                 for n in range(AGENTS)]
        uow.commit()
    return staff


def _arrivals(center: Center) -> Callable[[random.Random], None]:
    """Contacts come in small bursts until all have arrived."""
    def step(chance: random.Random) -> None:
        burst = min(chance.randint(1, 4), CONTACTS - center.done["arrived"])
        if not burst:
            center.stop.wait(TICK_SECONDS)
            return
        center.stop.wait(TICK_SECONDS / 4)
        center.act("arrived", lambda uow, now: [make_contact(
            uow, chance.choice(["scheduling", "scheduling", "overflow"]), now=now, channel=chance.choice(CHANNELS),
            language=chance.choice(["en", "en", "es"]), priority=chance.choice([0, 0, 0, 2])) for _n in range(burst)],
                   count=burst)
    return step


def _engine(center: Center) -> Callable[[random.Random], None]:
    def step(_chance: random.Random) -> None:
        center.stop.wait(TICK_SECONDS / 2)  # the app's loop runs on events and a tick, not flat out
        center.act("pass", engine.run_pass)
    return step


def _desk(center: Center, staff: list[Staff]) -> Callable[[random.Random], None]:
    """An agent at a time: answers an offer (mostly yes), ends or wraps up a contact, or steps away and back."""
    def step(chance: random.Random) -> None:
        me = chance.choice(staff)
        roll = chance.random()
        if roll < 0.5:
            center.act("answered", lambda uow, now: _answer_offer(uow, me, now, accept=chance.random() < 0.85))
        elif roll < 0.8:
            center.act("ended", lambda uow, now: _end_or_finish(uow, me, now, chance))
        else:
            state = "available" if chance.random() < 0.7 else chance.choice(["break", "offline"])
            center.act("state", lambda uow, now: agents.set_own_state(uow, me.actor, StateIn(state=state), now=now))
    return step


def _answer_offer(uow: UnitOfWork, me: Staff, now: datetime, *, accept: bool) -> None:
    offer = uow.session.scalars(select(Assignment.id).where(Assignment.agent_id == me.id,
                                                            Assignment.status == "offered").limit(1)).first()
    if offer is not None:
        (offers.accept if accept else offers.reject)(uow, me.actor, offer, now=now)


def _end_or_finish(uow: UnitOfWork, me: Staff, now: datetime, chance: random.Random) -> None:
    mine = uow.session.execute(select(Interaction.id, Interaction.status).where(
        Interaction.agent_id == me.id, Interaction.status.in_((Status.connected, Status.wrap_up))).limit(1)).first()
    if mine is None:
        return
    if mine.status == Status.connected and chance.random() < 0.5:
        interactions.end(uow, me.actor, mine.id, now=now)
    else:
        interactions.finish(uow, me.actor, mine.id, WrapUpIn(disposition="information"), now=now)


def _callers(center: Center) -> Callable[[random.Random], None]:
    """Now and then a caller gives up waiting, or hangs up on the agent."""
    def step(chance: random.Random) -> None:
        center.stop.wait(TICK_SECONDS / 2)
        center.act("hung up", lambda uow, now: _hang_up_one(uow, now, chance))
    return step


def _hang_up_one(uow: UnitOfWork, now: datetime, chance: random.Random) -> None:
    live = list(uow.session.scalars(select(Interaction.id).where(
        Interaction.status.in_((Status.queued, Status.offered, Status.connected)))))
    if live:
        interactions.end(uow, INTEGRATION, chance.choice(live), now=now)


def _run_the_day(center: Center) -> None:
    workers = [center.loop(_arrivals(center), 1), center.loop(_callers(center), 2)]
    workers += [center.loop(_engine(center), 10 + n) for n in range(ENGINES)]
    per_desk = AGENTS // DESKS
    workers += [center.loop(_desk(center, center.staff[n * per_desk:(n + 1) * per_desk]), 20 + n)
                for n in range(DESKS)]
    threads = [threading.Thread(target=work) for work in workers]
    for thread in threads:
        thread.start()
    try:
        ticks = 0
        while ticks < TICKS or (center.done["arrived"] < CONTACTS and ticks < 10 * TICKS):  # a slow machine
            time.sleep(TICK_SECONDS)
            center.clock.tick()
            ticks += 1
    finally:
        center.stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


def _close_the_day(center: Center) -> None:
    center.clock.tick()

    def hang_up_everything(uow: UnitOfWork, now: datetime) -> None:
        for live in uow.session.scalars(select(Interaction.id).where(
                Interaction.status.in_((Status.queued, Status.offered, Status.connected)))):
            interactions.end(uow, INTEGRATION, live, now=now)
    center.act("closing", hang_up_everything)
    for _hour in range(2):
        center.clock.now += timedelta(hours=1)
        center.act("closing pass", engine.run_pass)


def _assert_consistent(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        legs = session.scalars(select(Assignment)).all()
        team = session.scalars(select(Agent)).all()
    primaries: dict[UUID, list[Assignment]] = {}
    for leg in legs:
        if leg.role == "primary":
            primaries.setdefault(leg.interaction_id, []).append(leg)
    for interaction_id, its_legs in primaries.items():
        its_legs.sort(key=lambda leg: (leg.offered_at, leg.ended_at or datetime.max.replace(tzinfo=UTC)))
        for before, after in pairwise(its_legs):
            assert before.ended_at is not None, interaction_id
            assert after.offered_at >= before.ended_at, (interaction_id, before.ended_at, after.offered_at)
    live = Counter((leg.agent_id, leg.kind) for leg in legs if leg.status in ("offered", "accepted"))
    for agent in team:
        assert (agent.load_voice, agent.load_text) == (live[agent.id, "voice"], live[agent.id, "text"]), agent.name
        assert agent.load_voice <= agent.voice_slots
        assert agent.load_text <= agent.text_slots
        assert agent.blend or not (agent.load_voice and agent.load_text)


def test_engines_agents_and_callers_racing_keep_the_routing_invariants(committed: sessionmaker[Session]) -> None:
    center = Center(committed, _open_center(committed))
    _run_the_day(center)
    assert center.failures == []
    assert center.done["arrived"] == CONTACTS
    _assert_consistent(committed)

    _close_the_day(center)
    assert center.failures == []
    _assert_consistent(committed)
    with committed() as session:
        statuses = Counter(session.scalars(select(Interaction.status)))
        answered = session.scalars(select(Interaction.id).where(Interaction.answered_at.is_not(None))).all()
        loads = session.execute(select(Agent.load_voice, Agent.load_text)).all()
    assert set(statuses) <= FINAL
    assert sum(statuses.values()) == CONTACTS
    assert len(answered) > AGENTS  # the day did route: agents took contacts, some more than one
    assert all(load == (0, 0) for load in loads)
