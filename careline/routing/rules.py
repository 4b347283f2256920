"""Routing's pure rules: vocabularies, who may take what, escalation steps, opening hours. No I/O."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class Channel(enum.StrEnum):
    voice = "voice"
    sms = "sms"
    email = "email"
    chat = "chat"
    callback = "callback"
    outbound = "outbound"


class Direction(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Reason(enum.StrEnum):
    appointment = "appointment"
    test_request = "test_request"
    billing = "billing"
    prescription = "prescription"
    nurse_advice = "nurse_advice"
    other = "other"


class Status(enum.StrEnum):
    queued = "queued"
    offered = "offered"
    connected = "connected"
    wrap_up = "wrap_up"
    completed = "completed"
    abandoned = "abandoned"


FINAL = frozenset({Status.completed, Status.abandoned})


class AgentState(enum.StrEnum):
    available = "available"
    busy = "busy"
    wrap_up = "wrap_up"
    not_ready = "not_ready"
    break_ = "break"
    lunch = "lunch"
    training = "training"
    meeting = "meeting"
    offline = "offline"


# States an agent may choose; busy and wrap-up follow from their contacts, not-ready from missed offers.
CHOSEN_STATES = frozenset({AgentState.available, AgentState.break_, AgentState.lunch, AgentState.training,
                           AgentState.meeting, AgentState.offline})
# States in which the engine may offer a contact (a busy agent may still have text capacity).
ROUTABLE_STATES = frozenset({AgentState.available, AgentState.busy})

VOICE_CHANNELS = frozenset({Channel.voice, Channel.callback, Channel.outbound})
DEFAULT_SKILL_LEVEL = 1
MAX_SKILL_LEVEL = 5
MAX_MISSED_OFFERS = 2
DECLINE_COOLDOWN = timedelta(seconds=30)  # an agent who said no is not asked again straight away
# What carriers and PBXs send for a caller ID the caller withheld (Twilio: "anonymous", sometimes "+266696687").
WITHHELD_NUMBERS = frozenset({"anonymous", "restricted", "private", "unknown", "unavailable", "withheld",
                              "+266696687"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNRESERVED = "none"  # the kind of a leg that holds no capacity (a PBX ringing a phone): releasing it gives nothing


def capacity_kind(channel: str) -> str:
    """Which of an agent's capacities a contact holds: one voice line, or one of several text seats."""
    return "voice" if channel in VOICE_CHANNELS else "text"


@dataclass(frozen=True, slots=True)
class Requirement:
    skill: str
    min_level: int = DEFAULT_SKILL_LEVEL


@dataclass(frozen=True, slots=True)
class Step:
    """What the queue asks of an agent from ``after_seconds`` of waiting on, or the queue to overflow to."""

    after_seconds: int
    requirements: tuple[Requirement, ...] | None = None
    overflow_queue: str | None = None


def requirements_of(raw: Iterable[Mapping[str, object]]) -> tuple[Requirement, ...]:
    return tuple(Requirement(str(item["skill"]), int(str(item.get("min_level", DEFAULT_SKILL_LEVEL))))
                 for item in raw)


def steps_of(base: Iterable[Mapping[str, object]], raw_steps: Iterable[Mapping[str, object]]) -> tuple[Step, ...]:
    """The queue's ladder: step 0 is its own skills from the first second, then its escalation steps in order."""
    steps = [Step(0, requirements_of(base))]
    for raw in sorted(raw_steps, key=lambda item: int(str(item["after_seconds"]))):
        skills = raw.get("skills")
        steps.append(Step(int(str(raw["after_seconds"])),
                          requirements_of(skills) if isinstance(skills, list) else None,
                          str(raw["overflow_queue"]) if raw.get("overflow_queue") else None))
    return tuple(steps)


def step_at(steps: Sequence[Step], waited: timedelta) -> int:
    """The index of the step in force after waiting ``waited`` in this queue."""
    seconds = waited.total_seconds()
    current = 0
    for index, step in enumerate(steps):
        if step.after_seconds <= seconds:
            current = index
    return current


def requirements_at(steps: Sequence[Step], index: int) -> tuple[Requirement, ...]:
    """A step that only overflows, or names no skills, keeps the requirements of the step before it."""
    for step in reversed(steps[: index + 1]):
        if step.requirements is not None:
            return step.requirements
    return ()


def meets(skills: Mapping[str, int], requirements: Iterable[Requirement]) -> bool:
    return all(skills.get(req.skill, 0) >= req.min_level for req in requirements)


def skill_score(skills: Mapping[str, int], requirements: Iterable[Requirement]) -> int:
    """How well an agent fits: the sum of their levels in the skills asked for (most skilled first)."""
    return sum(skills.get(req.skill, 0) for req in requirements)


def has_room(*, kind: str, load_voice: int, load_text: int, voice_slots: int, text_slots: int,
             blend: bool) -> bool:
    """Whether one more contact of this kind fits, with the same rule the database checks."""
    if kind == "voice":
        return load_voice < voice_slots and (blend or load_text == 0)
    return load_text < text_slots and (blend or load_voice == 0)


def settled_state(*, load_voice: int, load_text: int, current: str) -> str:
    """The state an agent returns to after a contact leaves them: busy while they still hold one."""
    if current not in ROUTABLE_STATES:
        return current
    return AgentState.busy if load_voice or load_text else AgentState.available


@dataclass(frozen=True, slots=True)
class Hours:
    """A queue's opening hours in its own zone; no hours at all means always open."""

    zone: ZoneInfo
    weekly: Mapping[str, Sequence[Sequence[str]]]
    holidays: frozenset[date]

    def is_open(self, at: datetime) -> bool:
        if not self.weekly:
            return True
        local = at.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(_clock(start) <= now < _clock(end) for start, end in self.weekly.get(WEEKDAYS[local.weekday()], ()))

    def next_opening(self, at: datetime, *, horizon_days: int = 14) -> datetime | None:
        """The first instant from ``at`` on when the queue is open, or None within the horizon."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start in sorted(span[0] for span in self.weekly.get(WEEKDAYS[day.weekday()], ())):
                # Through UTC: a wall time the spring change skips becomes the real instant it stands for.
                opening = datetime.combine(day, _clock(start), tzinfo=self.zone).astimezone(UTC)
                if opening > at and self.is_open(opening):
                    return opening.astimezone(at.tzinfo)
        return None


def _clock(text: str) -> time:
    return time.fromisoformat(text) if text != "24:00" else time.max


def hours_of(zone: str, weekly: Mapping[str, Sequence[Sequence[str]]], holidays: Iterable[str]) -> Hours:
    return Hours(ZoneInfo(zone), weekly, frozenset(date.fromisoformat(day) for day in holidays))


def service_level(answered_within: int, answered: int, abandoned_after_threshold: int) -> float | None:
    """Share of contacts answered within the threshold, over those answered plus those abandoned after it.

    Callers who hang up before the threshold neither help nor hurt (the usual contact-center convention).
    """
    counted = answered + abandoned_after_threshold
    return None if counted == 0 else answered_within / counted
