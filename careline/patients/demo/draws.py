"""The one random source a population is drawn from, and the shapes passed between its builders."""

from __future__ import annotations

import random
import uuid
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

Row = dict[str, Any]
T = TypeVar("T")
# The day's five-minute steps (00:00, 00:05 … 23:55) as offsets from noon.
FROM_NOON = tuple(timedelta(minutes=5 * step - 12 * 60) for step in range(24 * 12))


@dataclass(slots=True)
class Directory:
    """The clinicians and clinics the population is cared by: rows, and the ids to pick from."""

    rows: dict[str, list[Row]]
    clinicians: dict[tuple[str, str], list[uuid.UUID]]  # (specialty, state) → practitioner ids
    organizations: dict[str, uuid.UUID]
    locations: dict[str, uuid.UUID]


@dataclass(slots=True)
class Person:
    """One patient while their rows are built; the clinical window is in days before today."""

    id: uuid.UUID
    age: int
    sex: str
    birth_date: date
    zone: ZoneInfo
    state: str
    pcp_id: uuid.UUID
    oldest: int
    newest: int
    conditions: set[str] = field(default_factory=set)


class Draws:
    """Random choices from one ``random.Random``, drawn in a fixed order so that a seed replays exactly.

    The helpers are lean on purpose: a million patients take some 200 million draws. ``now`` (aware) is the
    clock every date is measured back from. Ids are sequential under a random prefix: the same for a seed,
    and appended in order to the primary-key and foreign-key indexes, which keeps big inserts fast.
    """

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.random = rng.random
        self.now = now.astimezone(UTC)
        self.today = self.now.date()
        self._id_prefix = (rng.getrandbits(64) & ~(0xF << 12) | 0x8 << 12) << 64 | 0b10 << 62  # UUID version 8
        self._ids = 0
        self._noons: dict[tuple[str, int], datetime] = {}

    def new_id(self) -> uuid.UUID:
        self._ids += 1
        return uuid.UUID(int=self._id_prefix | self._ids)

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def between(self, low: int, high: int) -> int:
        """An integer from ``low`` to ``high``, both included."""
        return low + int(self.random() * (high - low + 1))

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def weighted(self, options: Sequence[T], cumulative: Sequence[float]) -> T:
        """One of ``options``, weighted by the running totals ``cumulative`` (see itertools.accumulate)."""
        return options[bisect(cumulative, self.random() * cumulative[-1])]

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def age_days(self, person: Person) -> int:
        return (self.today - person.birth_date).days

    def at(self, person: Person, days_ago: int, *, hours: tuple[int, int] = (8, 17)) -> datetime:
        """A moment ``days_ago`` days before today, at a local hour in ``hours`` (clinic hours), in UTC.

        Measured from local noon, whose UTC offset holds all day after 2 am, when clocks change.
        """
        key = (person.zone.key, days_ago)
        noon = self._noons.get(key)
        if noon is None:
            day = self.today - timedelta(days=days_ago)
            noon = self._noons[key] = datetime.combine(day, time(12), person.zone).astimezone(UTC)
        first, last = hours
        return noon + FROM_NOON[first * 12 + int(self.random() * (last - first) * 12)]

    def days_ago(self, person: Person, oldest: int) -> int | None:
        """A day of the person's life no further back than ``oldest`` nor before their window's newest day.

        None when there is no such day (a newborn, or someone who died before it).
        """
        oldest = min(oldest, self.age_days(person))
        return self.between(person.newest, oldest) if oldest >= person.newest else None
