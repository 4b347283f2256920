"""What the simulated world draws at random: who calls, why, on which channel, how patient they are, how
long agents take. Pure: one seeded ``random.Random``, no I/O, so a seed replays the same world."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from careline.routing.rules import Channel, Reason

Choice = TypeVar("Choice")

REASONS = ((Reason.appointment, 55), (Reason.test_request, 15), (Reason.billing, 12), (Reason.prescription, 10),
           (Reason.nurse_advice, 8))
CHANNELS = ((Channel.voice, 73), (Channel.sms, 10), (Channel.chat, 9), (Channel.email, 3), (Channel.callback, 5))
# Someone holding a line or a chat window gives up; a text or a callback request just waits its turn.
IMPATIENT = frozenset({Channel.voice, Channel.chat})
DISPOSITIONS = {
    Reason.appointment: (("booked", 70), ("rescheduled", 15), ("cancelled", 5), ("information", 10)),
    Reason.test_request: (("booked", 60), ("information", 40)),
    Reason.billing: (("billing", 90), ("callback", 10)),
    Reason.prescription: (("refill", 90), ("information", 10)),
    Reason.nurse_advice: (("nurse_advice", 85), ("callback", 15)),
    Reason.other: (("information", 100),),
}
KNOWN_CALLER_SHARE = 0.8  # of callers, when there are patients: the rest call from numbers nobody has on file
UNKNOWN_AREAS = ("212", "305", "617", "312", "415")
HANDLE_SPREAD = 0.5  # sigma of the log-normal handle time
BIRTH_DATE_SHARE = 0.4  # of phone callers asked for their birth date by the IVR, those who key it in


@dataclass(frozen=True, slots=True)
class Plan:
    """The simulated center's load and people. Times are seconds (means)."""

    agents: int
    per_second: float
    patience_seconds: float = 90.0
    handle_seconds: float = 210.0
    spanish_share: float = 0.15
    miss_share: float = 0.05  # offers a simulated agent lets time out
    break_share: float = 0.03  # contacts after which an agent takes a break
    answer_seconds: tuple[float, float] = (1.0, 4.0)
    wrap_up_seconds: tuple[float, float] = (10.0, 30.0)
    break_seconds: tuple[float, float] = (120.0, 420.0)


@dataclass(frozen=True, slots=True)
class Caller:
    channel: Channel
    reason: Reason
    language: str
    address: str | None
    patience: timedelta | None  # None: waits however long it takes


class Draws:
    def __init__(self, plan: Plan, seed: int | None = None) -> None:
        self.plan = plan
        self._rng = random.Random(seed)  # noqa: S311 - a simulation, not secrets

    def gap(self) -> timedelta:
        """Time to the next arrival: Poisson arrivals at the plan's rate."""
        return timedelta(seconds=self._rng.expovariate(self.plan.per_second))

    def caller(self, numbers: Sequence[str]) -> Caller:
        channel = self._pick(CHANNELS)
        language = "es" if self._rng.random() < self.plan.spanish_share else "en"
        address = (None if channel == Channel.chat else self._email() if channel == Channel.email
                   else self._number(numbers))
        patience = timedelta(seconds=self._rng.expovariate(1 / self.plan.patience_seconds)) \
            if channel in IMPATIENT else None
        return Caller(channel, self._pick(REASONS), language, address, patience)

    def _email(self) -> str:
        # Never a patient's own address: a reserved domain is nobody's mailbox, whatever sends the answer.
        return f"writer{self._rng.randrange(10_000):04d}@example.net"

    def _number(self, numbers: Sequence[str]) -> str:
        if numbers and self._rng.random() < KNOWN_CALLER_SHARE:
            return self._rng.choice(numbers)
        # 555-0100…0199: the fictional lines, which the demo population leaves unused
        return f"+1{self._rng.choice(UNKNOWN_AREAS)}55501{self._rng.randrange(100):02d}"

    def handle(self) -> timedelta:
        """Talk time: log-normal around the plan's mean, as handle times are (a long right tail)."""
        mu = math.log(self.plan.handle_seconds) - HANDLE_SPREAD**2 / 2
        return timedelta(seconds=self._rng.lognormvariate(mu, HANDLE_SPREAD))

    def answer_delay(self) -> timedelta:
        return self._between(self.plan.answer_seconds)

    def wrap_up(self) -> timedelta:
        return self._between(self.plan.wrap_up_seconds)

    def break_length(self) -> timedelta:
        return self._between(self.plan.break_seconds)

    def gives_birth_date(self) -> bool:
        return self._rng.random() < BIRTH_DATE_SHARE

    def misses(self) -> bool:
        return self._rng.random() < self.plan.miss_share

    def takes_break(self) -> bool:
        return self._rng.random() < self.plan.break_share

    def disposition(self, reason: Reason) -> str:
        return self._pick(DISPOSITIONS[reason])

    def _between(self, bounds: tuple[float, float]) -> timedelta:
        return timedelta(seconds=self._rng.uniform(*bounds))

    def _pick(self, weighted: Sequence[tuple[Choice, int]]) -> Choice:
        return self._rng.choices([choice for choice, _ in weighted], [weight for _, weight in weighted])[0]
