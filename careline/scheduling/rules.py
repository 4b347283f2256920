"""Pure scheduling rules: template blocks → slot times across time zones and DST, overlaps, status changes."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

DAY_PARTS: dict[str, tuple[int, int]] = {  # minutes after local midnight, end excluded
    "morning": (0, 12 * 60),
    "afternoon": (12 * 60, 17 * 60),
    "evening": (17 * 60, 24 * 60),
}
# Which status an appointment may move to from which (FHIR Appointment.status values).
TRANSITIONS: dict[str, frozenset[str]] = {
    "booked": frozenset({"arrived", "cancelled", "noshow"}),
    "arrived": frozenset({"fulfilled", "booked"}),  # "booked" undoes a check-in by mistake
    "fulfilled": frozenset(),
    "cancelled": frozenset(),
    "noshow": frozenset({"booked"}),
}
ESTABLISHED_YEARS = 3  # a patient seen by the specialty within three years is established


@dataclass(frozen=True, slots=True)
class Block:
    """One template block: weekdays (0 = Monday), local start and end (end ≤ start: past midnight)."""

    weekdays: frozenset[int]
    start: time
    end: time
    slot_minutes: int
    valid_from: date | None = None
    valid_until: date | None = None

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def applies_on(self, day: date) -> bool:
        return (day.weekday() in self.weekdays
                and (self.valid_from is None or day >= self.valid_from)
                and (self.valid_until is None or day <= self.valid_until))


@dataclass(frozen=True, slots=True)
class SlotTime:
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    local_minute: int


def _start_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """When a block starting at this wall-clock time starts: the first of a repeated time, and a time the
    spring change skips moves on with the clock (02:30 → 03:30)."""
    return datetime.combine(day, at, zone).astimezone(UTC)


def _end_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """When a block ending at this wall-clock time ends: the earlier reading, so that a block ending in the
    skipped or the repeated hour never runs into the block after it."""
    wall = datetime.combine(day, at, zone)
    return min(wall.replace(fold=fold).astimezone(UTC) for fold in (0, 1))


def block_slots(block: Block, day: date, zone: ZoneInfo) -> Iterator[SlotTime]:
    """The slots of a block on one day, in real time: from the local start to the local end.

    Stepping in UTC keeps every slot the same real length across a DST change: on the autumn day a
    01:00 to 03:00 block holds three hours of slots (01:30 happens twice), in spring one hour.
    """
    if not block.applies_on(day):
        return
    start = _start_instant(day, block.start, zone)
    end = _end_instant(day + timedelta(days=1) if block.crosses_midnight else day, block.end, zone)
    step = timedelta(minutes=block.slot_minutes)
    at = start
    while at + step <= end:
        local = at.astimezone(zone)
        yield SlotTime(starts_at=at, ends_at=at + step, local_minute=local.hour * 60 + local.minute)
        at += step


class Timed(Protocol):
    @property
    def starts_at(self) -> datetime: ...

    @property
    def ends_at(self) -> datetime: ...


TimedT = TypeVar("TimedT", bound=Timed)


def without_overlaps(candidates: Iterable[TimedT], taken: Iterable[tuple[datetime, datetime]]) -> list[TimedT]:
    """The candidates, earliest first, that overlap neither a taken interval nor an earlier candidate kept.

    ``taken`` must not overlap itself (one schedule's existing slots); each check is a binary search.
    """
    kept_starts: list[datetime] = []
    kept_ends: list[datetime] = []
    for start, end in sorted(taken):
        kept_starts.append(start)
        kept_ends.append(end)
    fresh: list[TimedT] = []
    for slot in sorted(candidates, key=lambda s: s.starts_at):
        before = bisect_left(kept_starts, slot.ends_at) - 1  # the last interval starting before this slot ends
        if before >= 0 and kept_ends[before] > slot.starts_at:
            continue
        if fresh and fresh[-1].ends_at > slot.starts_at:
            continue
        fresh.append(slot)
    return fresh


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def weekly_spans(block: Block) -> Iterator[tuple[int, int]]:
    """The block's minutes within the week (0 = Monday 00:00), past-midnight parts wrapped."""
    week = 7 * 24 * 60
    length = (_minutes(block.end) - _minutes(block.start)) % (24 * 60) or 24 * 60
    for weekday in block.weekdays:
        start = weekday * 24 * 60 + _minutes(block.start)
        end = start + length
        if end <= week:
            yield start, end
        else:
            yield start, week
            yield 0, end - week


def _dates_overlap(a: Block, b: Block) -> bool:
    a_from, a_until = a.valid_from or date.min, a.valid_until or date.max
    b_from, b_until = b.valid_from or date.min, b.valid_until or date.max
    return a_from <= b_until and b_from <= a_until


def overlaps(new: Block, existing: Iterable[Block]) -> bool:
    """Whether a new block shares any weekly minute with a block of the same schedule in effect at the same time."""
    new_spans = list(weekly_spans(new))
    for other in existing:
        if not _dates_overlap(new, other):
            continue
        for start, end in weekly_spans(other):
            if any(start < new_end and new_start < end for new_start, new_end in new_spans):
                return True
    return False


def may_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def day_part_bounds(part: str | None) -> tuple[int, int] | None:
    return DAY_PARTS[part] if part else None


def is_established(last_seen: datetime | None, now: datetime) -> bool:
    return last_seen is not None and last_seen >= now - timedelta(days=365 * ESTABLISHED_YEARS)


def patient_fits(rule: str, *, established: bool) -> bool:
    """A visit type's new-vs-established rule: ``new`` visits only for new patients, and the reverse."""
    if rule == "new":
        return not established
    if rule == "established":
        return established
    return True
