"""The simulated world: callers who arrive, wait and sometimes hang up; agents who answer, talk, wrap up and
take a break now and then.

Everything they do goes through the routing services and the engine, as the agents' desktops would; a voice
caller rings the demo line through the simulated telephony provider (``careline.telephony.simulator``), so the
IVR, the wait in line and the hang-up take the same paths as a Twilio call's webhooks. It is load on the real
code, never a copy of it. The world keeps only what a caller or an
agent would remember (whom they are talking to, when they will give up); the database decides the rest, and an
action that finds the contact moved on (a timeout, a hang-up, a supervisor) is simply dropped.

Whoever drives it calls ``start``, then ``step`` with any clock, and ``close``, each in a unit of work that the
driver commits (see ``runner``); tests drive it with a controlled clock and a seed.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec
from uuid import UUID

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.messaging import simulator as simulated_patients
from careline.messaging.errors import MessagingError
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup as patient_lookup
from careline.routing import demo
from careline.routing.errors import RoutingError
from careline.routing.rules import AgentState, Channel, Reason, Status
from careline.routing.schemas import InteractionIn, OfferRead, StateIn, WrapUpIn
from careline.routing.service import agents, desktop, engine, interactions, offers, setup
from careline.routing.simulation.draws import IMPATIENT, Caller, Draws, Plan
from careline.settings import Settings
from careline.telephony import demo as telephony_demo
from careline.telephony.errors import TelephonyError
from careline.telephony.simulator import Dial, SimulatedLine

P = ParamSpec("P")
# The callers' side of the line, as the telephony adapter reports it (not an agent: its hang-ups abandon).
CALLERS = Actor(username="simulator", role=None, route="careline simulate")
WAITING = frozenset({Status.queued, Status.offered})
NUMBER_SAMPLE = 1000
OFFER_SCAN = 1000
READY_DELAY = timedelta(seconds=5)  # an agent set not ready for missed offers notices it and comes back
# A caller talking to a person (not a simulated agent) hangs up after this, so a desktop left alone mid-call
# does not hold the contact for ever.
PERSON_CALL_LIMIT = timedelta(minutes=10)
# The IVR's menu option a caller picks for their reason.
OPTION_OF_REASON = {Reason.appointment: "appointments", Reason.test_request: "tests",
                    Reason.prescription: "prescriptions", Reason.billing: "billing", Reason.nurse_advice: "nurse",
                    Reason.other: "operator"}


@dataclass
class Tally:
    """What happened, summed over steps by whoever commits them."""

    arrived: int = 0
    answered: int = 0  # by simulated agents
    abandoned: int = 0
    completed: int = 0  # wrapped up by simulated agents
    missed: int = 0  # offers simulated agents let time out

    def add(self, other: Tally) -> None:
        for name in (item.name for item in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class Turn:
    uow: UnitOfWork
    now: datetime
    tally: Tally = field(default_factory=Tally)


@dataclass(slots=True)
class Member:
    """A simulated agent, as they know themselves: what they hold and which offers they are answering."""

    actor: Actor
    holding: set[UUID] = field(default_factory=set)
    deciding: set[UUID] = field(default_factory=set)
    on_break: bool = False


@dataclass(order=True, slots=True)
class Job:
    due: datetime
    order: int
    action: Callable[[Turn], None] = field(compare=False)


class Simulation:
    def __init__(self, plan: Plan, *, seed: int | None = None, policy: PatientPolicy | None = None,
                 settings: Settings | None = None, actor: Actor = CALLERS) -> None:
        self.plan, self.draws, self.actor = plan, Draws(plan, seed), actor
        self.arriving = True
        self._policy = policy or PatientPolicy()
        self._settings = settings or Settings()
        self._crew: dict[UUID, Member] = {}
        self._numbers: list[str] = []
        self._open: set[UUID] = set()  # contacts this world created that it has not seen end
        self._lines: dict[UUID, str] = {}  # voice contacts whose caller is still on the line: their call's sid
        self._line = SimulatedLine(self._policy, run=secrets.token_hex(4))
        self._jobs: list[Job] = []
        self._order = itertools.count()
        self._next_arrival: datetime | None = None

    @property
    def agent_ids(self) -> frozenset[UUID]:
        return frozenset(self._crew)

    @property
    def settled(self) -> bool:
        """Nothing left to do: no contact of ours is open and no agent holds or is answering anything."""
        return not self._open and not any(member.holding or member.deciding for member in self._crew.values())

    def start(self, uow: UnitOfWork, now: datetime) -> Tally:
        """Queues and simulated agents (created if missing), callers' numbers, and everyone available."""
        turn = Turn(uow, now)
        demo.ensure_queues(uow, self.actor)
        telephony_demo.ensure_number(uow, self.actor)
        for found in demo.ensure_simulated_agents(uow, self.actor, self.plan.agents, now=now):
            self._crew[found.agent_id] = Member(found.actor)
            self._run(turn, self._clock_in, self._crew[found.agent_id])
        self._numbers = patient_lookup.sample_phone_numbers(uow, self.actor, limit=NUMBER_SAMPLE)
        self._next_arrival = now + self.draws.gap()
        return turn.tally

    def step(self, uow: UnitOfWork, now: datetime) -> Tally:
        """Everything due by ``now``: agents' and callers' actions, new arrivals, one engine pass, and the
        offers that the agents now see on their desktops."""
        turn = Turn(uow, now)
        while self._jobs and self._jobs[0].due <= now:
            self._run(turn, heapq.heappop(self._jobs).action)
        while self.arriving and self._next_arrival is not None and self._next_arrival <= now:
            self._next_arrival += self.draws.gap()
            self._run(turn, self._call, self.draws.caller(self._numbers))
        engine.run_pass(uow, now)
        self._see_offers(turn)
        return turn.tally

    def close(self, uow: UnitOfWork, now: datetime) -> Tally:
        """Stop: waiting callers hang up, simulated agents wrap up what they hold and sign off."""
        turn, self.arriving = Turn(uow, now), False
        self._jobs.clear()
        held = {contact for member in self._crew.values() for contact in member.holding}
        for contact_id in sorted(self._open | held):
            self._run(turn, self._wind_up, contact_id)
        self._open.clear()
        for contact_id in list(self._lines):  # callers who became callbacks, still on a line nobody answers
            self._run(turn, self._hang_up_line, contact_id)
        for member in self._crew.values():
            member.holding.clear()
            member.deciding.clear()
            self._run(turn, self._set_state, member, AgentState.offline)
        return turn.tally

    def _run(self, turn: Turn, action: Callable[Concatenate[Turn, P], object], *args: P.args,
             **kwargs: P.kwargs) -> None:
        try:
            with turn.uow.savepoint():
                action(turn, *args, **kwargs)
        except (RoutingError, TelephonyError, MessagingError):
            pass  # the contact or offer moved on (answered elsewhere, timed out, hung up): nothing to do

    def _at(self, due: datetime, action: Callable[Concatenate[Turn, P], None], *args: P.args,
            **kwargs: P.kwargs) -> None:
        heapq.heappush(self._jobs, Job(due, next(self._order), lambda turn: action(turn, *args, **kwargs)))

    # --- callers --------------------------------------------------------------------------------------------

    def _call(self, turn: Turn, caller: Caller) -> None:
        if caller.channel == Channel.voice:
            self._ring(turn, caller)
        elif caller.channel in simulated_patients.TEXT_CHANNELS:
            self._write(turn, caller)
        else:
            contact, _new = interactions.create(turn.uow, self.actor, self._policy, InteractionIn(
                channel=caller.channel, queue=demo.queue_for(caller.reason, caller.language), reason=caller.reason,
                language=caller.language, address=caller.address), now=turn.now)
            self._arrived(turn, contact.id, caller)

    def _write(self, turn: Turn, caller: Caller) -> None:
        """A text, an e-mail or a chat: through messaging, as the provider's webhook or the chat widget would."""
        contact_id = simulated_patients.write(turn.uow, self._policy, self._settings, channel=caller.channel.value,
                                              address=caller.address, reason=caller.reason.value,
                                              language=caller.language, now=turn.now)
        if contact_id is not None:
            self._arrived(turn, contact_id, caller)

    def _ring(self, turn: Turn, caller: Caller) -> None:
        """A phone call: the caller rings the demo line and keys their way through its IVR into a queue."""
        placed = self._line.ring(turn.uow, Dial(
            caller=caller.address, called=telephony_demo.DEMO_NUMBER, language=caller.language,
            option=OPTION_OF_REASON[caller.reason], gives_birth_date=self.draws.gives_birth_date()), turn.now)
        if placed.interaction_id is None:  # turned away by the IVR: the call is over, nobody waits
            self._line.hang_up(turn.uow, placed.sid, turn.now)
            return
        self._lines[placed.interaction_id] = placed.sid
        self._arrived(turn, placed.interaction_id, caller)

    def _arrived(self, turn: Turn, contact_id: UUID, caller: Caller) -> None:
        turn.tally.arrived += 1
        self._open.add(contact_id)
        if caller.patience is not None:
            self._at(turn.now + caller.patience, self._lose_patience, contact_id)

    def _lose_patience(self, turn: Turn, contact_id: UUID) -> None:
        contact = interactions.get(turn.uow, contact_id)
        if contact.channel not in IMPATIENT:  # became a callback (the queue's longest wait): nobody holds on
            self._caller_hangs_up(turn, contact_id)  # the call ends; the callback keeps its place
            return
        if contact.status in WAITING:
            self._caller_hangs_up(turn, contact_id)
            turn.tally.abandoned += 1
            self._open.discard(contact_id)
        elif contact.status == Status.connected and contact.agent_id not in self._crew and contact.answered_at:
            self._at(max(turn.now, contact.answered_at + PERSON_CALL_LIMIT), self._hang_up_on_person, contact_id)

    def _hang_up_on_person(self, turn: Turn, contact_id: UUID) -> None:
        contact = interactions.get(turn.uow, contact_id)
        if contact.status == Status.connected and contact.agent_id not in self._crew:
            self._caller_hangs_up(turn, contact_id)
            self._open.discard(contact_id)

    def _caller_hangs_up(self, turn: Turn, contact_id: UUID) -> None:
        """A phone caller's hang-up reaches routing as the provider reports it; any other contact just ends."""
        if not self._hang_up_line(turn, contact_id) and interactions.get(turn.uow, contact_id).channel in IMPATIENT:
            interactions.end(turn.uow, self.actor, contact_id, now=turn.now)

    def _hang_up_line(self, turn: Turn, contact_id: UUID) -> bool:
        """The phone caller of this contact hangs up (the provider's status callback); False: no one on a line."""
        sid = self._lines.pop(contact_id, None)
        if sid is not None:
            self._line.hang_up(turn.uow, sid, turn.now)
        return sid is not None

    def _wind_up(self, turn: Turn, contact_id: UUID) -> None:
        contact = interactions.get(turn.uow, contact_id)
        if contact.status in WAITING:
            self._caller_hangs_up(turn, contact_id)
            if interactions.get(turn.uow, contact_id).status in WAITING:  # a callback or a text: it is closed
                interactions.end(turn.uow, self.actor, contact_id, now=turn.now)
            turn.tally.abandoned += 1
        elif contact.agent_id in self._crew and contact.status in (Status.connected, Status.wrap_up):
            self._hang_up_line(turn, contact_id)
            interactions.finish(turn.uow, self._crew[contact.agent_id].actor, contact_id,
                                WrapUpIn(disposition=self.draws.disposition(contact.reason)), now=turn.now)
            turn.tally.completed += 1

    # --- simulated agents -----------------------------------------------------------------------------------

    def _clock_in(self, turn: Turn, member: Member) -> None:
        """Available; whatever they still hold from an earlier run is wrapped up at once."""
        self._set_state(turn, member, AgentState.available)
        for contact in desktop.my_work(turn.uow, member.actor).contacts:
            member.holding.add(contact.id)
            self._at(turn.now, self._finish, member, contact.id, self.draws.disposition(contact.reason))

    def _see_offers(self, turn: Turn) -> None:
        """Offers our agents have not noticed yet, wherever they came from (this pass or another process's)."""
        unnoticed: dict[UUID, Member] = {}
        for row in interactions.search(turn.uow, statuses=[Status.offered], limit=OFFER_SCAN):
            if row.agent_id in self._crew and row.agent_id is not None:
                member = self._crew[row.agent_id]
                if row.id not in member.deciding:
                    unnoticed[row.agent_id] = member
        for member in unnoticed.values():
            self._run(turn, self._notice, member)

    def _notice(self, turn: Turn, member: Member) -> None:
        for offer in desktop.my_work(turn.uow, member.actor).offers:
            if offer.role == "primary" and offer.interaction.id not in member.deciding:
                self._decide(turn, member, offer)

    def _decide(self, turn: Turn, member: Member, offer: OfferRead) -> None:
        contact_id = offer.interaction.id
        member.deciding.add(contact_id)
        if self.draws.misses():
            turn.tally.missed += 1
            self._at(offer.expires_at + READY_DELAY, self._after_miss, member, contact_id)
        else:
            self._at(turn.now + self.draws.answer_delay(), self._accept, member, offer.assignment_id, contact_id)

    def _accept(self, turn: Turn, member: Member, assignment_id: UUID, contact_id: UUID) -> None:
        member.deciding.discard(contact_id)
        contact = offers.accept(turn.uow, member.actor, assignment_id, now=turn.now)
        member.holding.add(contact_id)
        turn.tally.answered += 1
        if contact.channel in simulated_patients.TEXT_CHANNELS:  # a reply of its own: a refusal undoes no accept
            self._at(turn.now, self._reply, member, contact_id, contact.language)
        self._at(turn.now + self.draws.handle(), self._end, member, contact_id)

    def _reply(self, turn: Turn, member: Member, contact_id: UUID, language: str) -> None:
        simulated_patients.answer(turn.uow, member.actor, self._settings, contact_id, language=language, now=turn.now)

    def _after_miss(self, turn: Turn, member: Member, contact_id: UUID) -> None:
        member.deciding.discard(contact_id)
        if not member.on_break and setup.agent_of(turn.uow, member.actor).state == AgentState.not_ready:
            self._set_state(turn, member, AgentState.available)

    def _end(self, turn: Turn, member: Member, contact_id: UUID) -> None:
        """The conversation is over: a phone caller hangs up (the provider ends the contact), else the agent ends."""
        contact = interactions.get(turn.uow, contact_id)
        if (contact_id in self._lines and contact.status == Status.connected
                and contact.agent_id == setup.agent_of(turn.uow, member.actor).id):
            self._hang_up_line(turn, contact_id)
            ended = interactions.get(turn.uow, contact_id)
        else:
            try:
                ended = interactions.end(turn.uow, member.actor, contact_id, now=turn.now)
            except RoutingError:
                member.holding.discard(contact_id)  # taken back meanwhile (a supervisor's requeue)
                raise
        self._at(turn.now + self.draws.wrap_up(), self._finish, member, contact_id,
                 self.draws.disposition(ended.reason))

    def _finish(self, turn: Turn, member: Member, contact_id: UUID, disposition: str) -> None:
        member.holding.discard(contact_id)
        self._open.discard(contact_id)
        interactions.finish(turn.uow, member.actor, contact_id, WrapUpIn(disposition=disposition), now=turn.now)
        turn.tally.completed += 1
        if not member.holding and not member.deciding and self.draws.takes_break():
            self._set_state(turn, member, AgentState.break_)
            member.on_break = True
            self._at(turn.now + self.draws.break_length(), self._back_from_break, member)

    def _back_from_break(self, turn: Turn, member: Member) -> None:
        member.on_break = False
        self._set_state(turn, member, AgentState.available)

    def _set_state(self, turn: Turn, member: Member, state: AgentState) -> None:
        agents.set_own_state(turn.uow, member.actor, StateIn(state=state), now=turn.now)
