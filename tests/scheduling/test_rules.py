"""Template blocks → slot times: time zones, daylight-saving days, blocks past midnight, overlaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from careline.scheduling import rules
from careline.scheduling.rules import Block

NEW_YORK = ZoneInfo("America/New_York")
EVERY_DAY = frozenset(range(7))


def _block(start: time, end: time, minutes: int = 30, **kwargs: object) -> Block:
    return Block(weekdays=EVERY_DAY, start=start, end=end, slot_minutes=minutes, **kwargs)  # type: ignore[arg-type]


def _local_times(block: Block, day: date) -> list[str]:
    return [slot.starts_at.astimezone(NEW_YORK).strftime("%H:%M%z") for slot in rules.block_slots(block, day, NEW_YORK)]


def test_a_plain_morning_block_gives_slots_in_utc_from_the_local_clock() -> None:
    slots = list(rules.block_slots(_block(time(8), time(10)), date(2026, 12, 1), NEW_YORK))
    assert [s.starts_at.strftime("%H:%M") for s in slots] == ["13:00", "13:30", "14:00", "14:30"]  # EST = UTC-5
    assert all(s.starts_at.tzinfo == UTC for s in slots)
    assert [s.local_minute for s in slots] == [480, 510, 540, 570]
    assert [s.ends_at.strftime("%H:%M") for s in slots][-1] == "15:00"


def test_on_the_autumn_change_day_the_hour_from_one_to_two_happens_twice() -> None:
    # 2026-11-01: clocks go back from 02:00 EDT to 01:00 EST; a 01:00 to 03:00 block is three real hours.
    times = _local_times(_block(time(1), time(3)), date(2026, 11, 1))
    assert times == ["01:00-0400", "01:30-0400", "01:00-0500", "01:30-0500", "02:00-0500", "02:30-0500"]


def test_on_the_spring_change_day_the_skipped_hour_has_no_slots() -> None:
    # 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT; 02:30 does not exist.
    times = _local_times(_block(time(1), time(4)), date(2026, 3, 8))
    assert times == ["01:00-0500", "01:30-0500", "03:00-0400", "03:30-0400"]


def test_a_block_starting_in_the_skipped_hour_starts_when_the_clock_resumes() -> None:
    times = _local_times(_block(time(2, 30), time(4)), date(2026, 3, 8))
    assert times[0] == "03:30-0400"


def test_a_block_ending_at_or_before_its_start_runs_past_midnight() -> None:
    slots = list(rules.block_slots(_block(time(22), time(2), minutes=60), date(2026, 12, 4), NEW_YORK))
    local = [s.starts_at.astimezone(NEW_YORK) for s in slots]
    assert [(t.day, t.hour) for t in local] == [(4, 22), (4, 23), (5, 0), (5, 1)]
    assert [s.local_minute for s in slots] == [1320, 1380, 0, 60]


def test_a_slot_that_would_not_fit_before_the_end_is_left_out() -> None:
    assert _local_times(_block(time(8), time(9, 15), minutes=30), date(2026, 12, 1)) == ["08:00-0500", "08:30-0500"]


def test_blocks_apply_only_on_their_weekdays_and_dates() -> None:
    block = Block(weekdays=frozenset({0}), start=time(8), end=time(9), slot_minutes=30,
                  valid_from=date(2026, 12, 7), valid_until=date(2026, 12, 14))
    assert not block.applies_on(date(2026, 11, 30))  # a Monday before the block starts
    assert block.applies_on(date(2026, 12, 7))
    assert not block.applies_on(date(2026, 12, 8))  # a Tuesday
    assert not block.applies_on(date(2026, 12, 21))  # after it ends


@pytest.mark.parametrize(("other", "expected"), [
    (Block(frozenset({0}), time(9), time(11), 30), True),  # same day, overlapping hours
    (Block(frozenset({0}), time(12), time(13), 30), False),  # after lunch
    (Block(frozenset({1}), time(9), time(11), 30), False),  # another weekday
    (Block(frozenset({6}), time(23), time(8, 30), 30), True),  # Sunday night into Monday morning
    (Block(frozenset({0}), time(9), time(11), 30, valid_from=date(2027, 1, 1)), True),
    (Block(frozenset({0}), time(9), time(11), 30, valid_until=date(2020, 1, 1)), False),  # expired long ago
])
def test_overlapping_blocks_are_found_across_midnight_and_dates(other: Block, expected: bool) -> None:
    monday_morning = Block(frozenset({0}), time(8), time(12), 30, valid_from=date(2026, 1, 1))
    assert rules.overlaps(monday_morning, [other]) is expected


def test_touching_blocks_do_not_overlap() -> None:
    morning, lunch = Block(frozenset({2}), time(8), time(12), 30), Block(frozenset({2}), time(12), time(13), 30)
    assert not rules.overlaps(morning, [lunch])


@pytest.mark.parametrize(("current", "target", "allowed"), [
    ("booked", "arrived", True), ("arrived", "fulfilled", True), ("booked", "noshow", True),
    ("booked", "fulfilled", False), ("cancelled", "booked", False), ("fulfilled", "cancelled", False),
    ("noshow", "booked", True),
])
def test_status_changes_follow_the_visit(current: str, target: str, allowed: bool) -> None:
    assert rules.may_move(current, target) is allowed


def test_new_and_established_patients() -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert rules.is_established(datetime(2024, 1, 1, tzinfo=UTC), now)
    assert not rules.is_established(datetime(2022, 1, 1, tzinfo=UTC), now)
    assert not rules.is_established(None, now)
    assert rules.patient_fits("new", established=False)
    assert not rules.patient_fits("new", established=True)
    assert rules.patient_fits("established", established=True)
    assert not rules.patient_fits("established", established=False)
    assert rules.patient_fits("any", established=True)


def test_a_block_ending_in_the_skipped_hour_ends_before_the_next_block_starts() -> None:
    # 2026-03-08: 02:30 does not exist; the block ends at the earlier reading (01:30 EST), not at 03:30 EDT.
    until_half_two = _block(time(0), time(2, 30), minutes=45)
    from_three = _block(time(3), time(5), minutes=45)
    first = list(rules.block_slots(until_half_two, date(2026, 3, 8), NEW_YORK))
    second = list(rules.block_slots(from_three, date(2026, 3, 8), NEW_YORK))
    assert first[-1].ends_at <= second[0].starts_at
    assert _local_times(until_half_two, date(2026, 3, 8)) == ["00:00-0500", "00:45-0500"]


def test_a_block_ending_in_the_repeated_hour_ends_at_its_first_reading() -> None:
    times = _local_times(_block(time(0), time(1, 30)), date(2026, 11, 1))
    assert times == ["00:00-0400", "00:30-0400", "01:00-0400"]


def test_candidates_overlapping_what_is_taken_or_each_other_are_left_out() -> None:
    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)

    candidates = [rules.SlotTime(at(h, m), at(h, m) + (at(0, 30) - at(0)), 0)
                  for h, m in ((9, 0), (9, 30), (9, 45), (10, 0), (11, 0))]
    kept = rules.without_overlaps(candidates, [(at(10, 15), at(10, 45))])
    assert [(s.starts_at.hour, s.starts_at.minute) for s in kept] == [(9, 0), (9, 30), (11, 0)]
