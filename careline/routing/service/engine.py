"""The ACD: one pass pairs waiting contacts with agents who can take them, and keeps the clocks.

A pass (run on every routing event and on a one-second tick):
1. times out offers nobody answered and closes after-contact work that ran out;
2. moves each waiting contact up its queue's escalation ladder (wider skills, overflow queue, callback);
3. walks the line best first — highest priority, then longest waiting — and offers each contact to the best
   eligible agent with room: longest idle, or most skilled first if the queue says so.

The pairing is computed in memory from one read of the line and of the routable agents; the offers are then
written with conditional updates, so a pair that stopped being valid meanwhile (a hang-up, a state change,
another process's pass) is skipped, never doubled. On PostgreSQL one pass runs at a time across processes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from careline.db import UnitOfWork, utcnow
from careline.routing import repository, rules
from careline.routing.models import Queue
from careline.routing.rules import Channel, Requirement, Step
from careline.routing.service import interactions, offers

LINE_LIMIT = 5000  # contacts considered per pass; beyond that the line is longer than any center's staff


@dataclass(frozen=True, slots=True)
class Ladder:
    """A queue as the engine reads it."""

    id: UUID
    name: str
    steps: tuple[Step, ...]
    most_skilled_first: bool
    offer_seconds: int
    max_wait: timedelta | None


@dataclass(slots=True)
class Waiting:
    id: UUID
    queue: Ladder
    kind: str
    language: str
    requirements: tuple[Requirement, ...]
    wanted_agent: UUID | None
    avoid_agent: UUID | None


@dataclass(slots=True)
class Seat:
    """A routable agent and the room they have left during this pass. One offer at a time: an agent decides on
    one contact before the next is offered (several at once would run down while they answer the first, and
    count as missed)."""

    id: UUID
    languages: frozenset[str]
    skills: dict[str, int]
    idle_since: datetime
    load_voice: int
    load_text: int
    voice_slots: int
    text_slots: int
    blend: bool
    offered: bool = False

    def has_room(self, kind: str) -> bool:
        return not self.offered and rules.has_room(
            kind=kind, load_voice=self.load_voice, load_text=self.load_text, voice_slots=self.voice_slots,
            text_slots=self.text_slots, blend=self.blend)


@dataclass
class PassReport:
    offered: int = 0
    expired: int = 0
    wrapped_up: int = 0
    escalated: int = 0
    waiting: int = 0
    skipped: bool = False


@dataclass
class _Shortlist:
    """The agents fit for one kind of contact, best first; those out of room are passed for good."""

    seats: list[Seat]
    start: int = 0
    taken: list[tuple[Waiting, Seat]] = field(default_factory=list)

    def best(self, kind: str, avoid: UUID | None) -> Seat | None:
        while self.start < len(self.seats) and not self.seats[self.start].has_room(kind):
            self.start += 1  # room only shrinks during a pass
        for seat in self.seats[self.start:]:
            if seat.id != avoid and seat.has_room(kind):
                return seat
        return None


def run_pass(uow: UnitOfWork, now: datetime | None = None, *, limit: int = LINE_LIMIT) -> PassReport:
    now = now or utcnow()
    if not repository.try_routing_lock(uow.session):
        return PassReport(skipped=True)
    report = PassReport(expired=offers.expire_due(uow, now), wrapped_up=interactions.finish_due(uow, now))
    uow.flush()
    ladders = {queue.id: _ladder(queue) for queue in repository.queues(uow.session, active_only=False)}
    by_name = {ladder.name: ladder for ladder in ladders.values()}
    line = repository.waiting(uow.session, now, limit=limit)
    report.waiting = len(line)
    waiting: list[Waiting] = []
    for row in line:
        item, moved = _climb(uow, row, ladders, by_name, now)
        waiting.append(item)
        report.escalated += moved
    report.offered = _offer_all(uow, waiting, now)
    return report


def _ladder(queue: Queue) -> Ladder:
    return Ladder(id=queue.id, name=queue.name, steps=rules.steps_of(queue.skills, queue.steps),
                  most_skilled_first=queue.agent_order == "most_skilled", offer_seconds=queue.offer_seconds,
                  max_wait=timedelta(seconds=queue.max_wait_seconds) if queue.max_wait_seconds else None)


def _climb(uow: UnitOfWork, row: Any, ladders: dict[UUID, Ladder], by_name: dict[str, Ladder],
           now: datetime) -> tuple[Waiting, int]:
    """Where the contact stands on its queue's ladder now; moves it (overflow, callback) when due."""
    ladder, entered, channel, moved = ladders[row.queue_id], row.entered_queue_at, row.channel, 0
    index = rules.step_at(ladder.steps, now - entered)
    overflow = ladder.steps[index].overflow_queue
    if overflow and overflow in by_name and by_name[overflow].id != ladder.id:
        ladder, entered, index = by_name[overflow], now, 0
        _move(uow, row.id, now, "escalated", {"queue_id": ladder.id, "entered_queue_at": now, "step": 0},
              {"overflow_to": ladder.name}, ladder.id)
        moved = 1
    elif index != row.step:
        _move(uow, row.id, now, "escalated", {"step": index}, {"step": index}, ladder.id)
        moved = 1
    if ladder.max_wait and channel == Channel.voice and now - entered >= ladder.max_wait:
        channel = Channel.callback
        _move(uow, row.id, now, "max_wait", {"channel": channel}, {"became": "callback"}, ladder.id)
    declined_recently = row.declined_at is not None and now - row.declined_at < rules.DECLINE_COOLDOWN
    return Waiting(id=row.id, queue=ladder, kind=rules.capacity_kind(channel), language=row.language,
                   requirements=rules.requirements_at(ladder.steps, index), wanted_agent=row.wanted_agent_id,
                   avoid_agent=row.declined_by if declined_recently else None), moved


def _move(uow: UnitOfWork, interaction_id: UUID, now: datetime, kind: str, values: dict[str, Any],
          detail: dict[str, Any], queue_id: UUID) -> None:
    repository.update_waiting(uow.session, interaction_id, values)
    repository.add_events(uow.session, [offers.event(interaction_id, now, kind, queue_id=queue_id, detail=detail)])


def _offer_all(uow: UnitOfWork, waiting: Sequence[Waiting], now: datetime) -> int:
    if not waiting:
        return 0
    seats = {row.id: Seat(id=row.id, languages=frozenset(row.languages), skills={}, idle_since=row.idle_since,
                          load_voice=row.load_voice, load_text=row.load_text, voice_slots=row.voice_slots,
                          text_slots=row.text_slots, blend=row.blend)
             for row in repository.routable_agents(uow.session)}
    if not seats:
        return 0
    for agent_id, skills in repository.skills_of(uow.session, seats).items():
        seats[agent_id].skills = skills
    pairs = _pair(waiting, seats)
    return _write_offers(uow, pairs, now)


def _pair(waiting: Sequence[Waiting], seats: dict[UUID, Seat]) -> list[tuple[Waiting, Seat]]:
    shortlists: dict[tuple[Any, ...], _Shortlist] = {}
    pairs: list[tuple[Waiting, Seat]] = []
    # A contact meant for one agent (a transfer to them) can go nowhere else: it gets that agent's one offer of
    # the pass before anything older that any agent may take. The sort is stable: each group keeps its order.
    for item in sorted(waiting, key=lambda waiting_item: waiting_item.wanted_agent is None):
        if item.wanted_agent is not None:
            seat = seats.get(item.wanted_agent)
            chosen = seat if seat is not None and seat.has_room(item.kind) else None
        else:
            key = (item.kind, item.language, item.requirements, item.queue.most_skilled_first)
            shortlist = shortlists.get(key)
            if shortlist is None:
                shortlist = shortlists[key] = _Shortlist(_fit(seats.values(), item))
            chosen = shortlist.best(item.kind, item.avoid_agent)
        if chosen is not None:
            chosen.offered = True
            pairs.append((item, chosen))
    return pairs


def _fit(seats: Any, item: Waiting) -> list[Seat]:
    fit = [seat for seat in seats if item.language in seat.languages and rules.meets(seat.skills, item.requirements)]
    if item.queue.most_skilled_first:
        fit.sort(key=lambda seat: (-rules.skill_score(seat.skills, item.requirements), seat.idle_since))
    else:
        fit.sort(key=lambda seat: seat.idle_since)
    return fit


def _write_offers(uow: UnitOfWork, pairs: Sequence[tuple[Waiting, Seat]], now: datetime) -> int:
    """Write the pairs in a few batched conditional statements; a pair whose contact or agent changed since the
    line was read (a hang-up, a state change) is dropped, the rest stand."""
    session = uow.session
    claimed = repository.claim_many(session, [item.id for item, _seat in pairs], now)
    pairs = [(item, seat) for item, seat in pairs if item.id in claimed]
    reserved = {kind: repository.reserve_many(session, kind, Counter(seat.id for item, seat in pairs
                                                                     if item.kind == kind))
                for kind in ("voice", "text")}
    kept = [(item, seat) for item, seat in pairs if seat.id in reserved[item.kind]]
    repository.unclaim_many(session, [item.id for item, seat in pairs if seat.id not in reserved[item.kind]])
    repository.assign(session, [(item.id, seat.id) for item, seat in kept])
    assignments, history = [], []
    for item, seat in kept:
        expires = now + timedelta(seconds=item.queue.offer_seconds)
        assignment_id = uuid4()
        assignments.append({"id": assignment_id, "interaction_id": item.id, "agent_id": seat.id, "kind": item.kind,
                            "role": "primary", "status": "offered", "offered_at": now, "expires_at": expires})
        history.append(offers.event(item.id, now, "offered", agent_id=seat.id, queue_id=item.queue.id))
        offers.tell_offered(uow, seat.id, assignment_id, item.id, expires)
        uow.notify("center", {"type": "interaction", "event": "offered", "interaction_id": str(item.id),
                              "status": "offered"})
    repository.insert_assignments(session, assignments)
    repository.add_events(session, history)
    return len(kept)
