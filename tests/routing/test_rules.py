"""Routing's pure rules: opening hours (holidays, nights, daylight-saving days), escalation ladders, who may
take what, and the service-level convention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from careline.routing import rules
from careline.routing.rules import AgentState, Requirement, Step

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
NIGHTS = {"mon": [["20:00", "24:00"]], "tue": [["00:00", "06:00"]]}  # Monday night into Tuesday
BASE_SKILLS = [{"skill": "scheduling", "min_level": 2}]
RAW_STEPS = [{"after_seconds": 120, "overflow_queue": "overflow"},
             {"after_seconds": 60, "skills": [{"skill": "scheduling"}]}]


def _ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


def _hours(weekly: dict[str, list[list[str]]], holidays: tuple[str, ...] = ()) -> rules.Hours:
    return rules.hours_of("America/New_York", weekly, holidays)


class TestOpeningHours:
    def test_no_hours_at_all_means_always_open(self) -> None:
        hours = _hours({})
        at = _ny(2026, 12, 25, 3, 0)
        assert hours.is_open(at)
        assert hours.next_opening(at) == at

    def test_open_from_the_start_of_a_span_up_to_but_not_at_its_end(self) -> None:
        hours = _hours(WEEKDAYS_9_TO_5)
        assert not hours.is_open(_ny(2026, 12, 1, 8, 59, 59))
        assert hours.is_open(_ny(2026, 12, 1, 9, 0))
        assert hours.is_open(_ny(2026, 12, 1, 16, 59, 59))
        assert not hours.is_open(_ny(2026, 12, 1, 17, 0))

    def test_hours_are_read_on_the_queues_clock_whatever_zone_the_instant_is_in(self) -> None:
        hours = _hours(WEEKDAYS_9_TO_5)
        assert hours.is_open(datetime(2026, 12, 1, 14, 0, tzinfo=UTC))  # 09:00 EST
        assert not hours.is_open(datetime(2026, 12, 1, 13, 59, tzinfo=UTC))  # 08:59 EST

    def test_a_day_without_spans_is_closed_and_the_next_opening_skips_it(self) -> None:
        hours = _hours(WEEKDAYS_9_TO_5)
        saturday = _ny(2026, 12, 5, 11, 0)
        assert not hours.is_open(saturday)
        assert hours.next_opening(saturday) == _ny(2026, 12, 7, 9, 0)

    def test_a_holiday_is_closed_all_day_and_the_next_opening_is_the_day_after(self) -> None:
        hours = _hours(WEEKDAYS_9_TO_5, holidays=("2026-12-25",))
        christmas = _ny(2026, 12, 25, 10, 0)
        assert not hours.is_open(christmas)
        assert hours.next_opening(_ny(2026, 12, 24, 18, 0)) == _ny(2026, 12, 28, 9, 0)  # Fri holiday, weekend

    def test_the_next_opening_from_a_gap_between_spans_is_the_afternoon_span(self) -> None:
        hours = _hours({"tue": [["13:00", "17:00"], ["08:00", "12:00"]]})
        assert hours.next_opening(_ny(2026, 12, 1, 12, 30)) == _ny(2026, 12, 1, 13, 0)
        assert hours.next_opening(_ny(2026, 12, 1, 6, 0)) == _ny(2026, 12, 1, 8, 0)

    def test_while_open_the_next_opening_is_now(self) -> None:
        at = _ny(2026, 12, 1, 10, 0)
        assert _hours(WEEKDAYS_9_TO_5).next_opening(at) == at

    def test_the_next_opening_comes_back_in_the_zone_it_was_asked_in(self) -> None:
        opening = _hours(WEEKDAYS_9_TO_5).next_opening(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
        assert opening is not None
        assert opening.tzinfo is UTC
        assert opening == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)

    def test_a_queue_closed_beyond_the_horizon_has_no_next_opening(self) -> None:
        hours = _hours({"mon": [["09:00", "17:00"]]}, holidays=("2026-12-07", "2026-12-14"))
        assert hours.next_opening(_ny(2026, 12, 1, 10, 0), horizon_days=14) is None
        assert hours.next_opening(_ny(2026, 12, 1, 10, 0), horizon_days=21) == _ny(2026, 12, 21, 9, 0)


class TestNightsAndMidnight:
    def test_24_00_keeps_the_queue_open_to_the_last_instant_of_the_day(self) -> None:
        hours = _hours(NIGHTS)
        assert hours.is_open(_ny(2026, 11, 30, 23, 59, 59))
        assert hours.is_open(_ny(2026, 12, 1, 0, 0))  # Tuesday's span carries the night on
        assert hours.is_open(_ny(2026, 12, 1, 5, 59))
        assert not hours.is_open(_ny(2026, 12, 1, 6, 0))

    def test_an_overnight_shift_opens_in_the_evening(self) -> None:
        hours = _hours(NIGHTS)
        assert not hours.is_open(_ny(2026, 11, 30, 19, 59))
        assert hours.next_opening(_ny(2026, 11, 30, 12, 0)) == _ny(2026, 11, 30, 20, 0)
        assert hours.next_opening(_ny(2026, 12, 1, 7, 0)) == _ny(2026, 12, 7, 20, 0)

    def test_a_whole_day_to_24_00_is_open_all_day(self) -> None:
        hours = _hours({"sat": [["00:00", "24:00"]]})
        assert hours.is_open(_ny(2026, 12, 5, 0, 0))
        assert hours.is_open(_ny(2026, 12, 5, 23, 59, 59))
        assert not hours.is_open(_ny(2026, 12, 6, 0, 0))


class TestDaylightSavingDays:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT. 2026-11-01: 02:00 EDT falls back to 01:00 EST.

    def test_before_and_after_the_spring_change_nine_o_clock_is_local(self) -> None:
        hours = _hours({"sat": [["09:00", "17:00"]], "mon": [["09:00", "17:00"]]})
        assert hours.next_opening(_ny(2026, 3, 7, 18, 0)) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # EDT
        assert hours.is_open(datetime(2026, 3, 7, 14, 0, tzinfo=UTC))  # 09:00 EST the day before

    def test_a_span_starting_in_the_skipped_hour_opens_when_the_clock_resumes(self) -> None:
        hours = _hours({"sun": [["02:30", "05:00"]]})
        opening = hours.next_opening(_ny(2026, 3, 8, 0, 0))
        assert opening is not None
        assert opening.astimezone(NEW_YORK).strftime("%H:%M%z") == "03:30-0400"
        assert hours.is_open(opening)

    def test_a_span_wholly_inside_the_skipped_hour_never_opens_that_day(self) -> None:
        hours = _hours({"sun": [["02:00", "03:00"]]})
        opening = hours.next_opening(datetime(2026, 3, 8, 5, 0, tzinfo=UTC))  # midnight EST
        assert opening == datetime(2026, 3, 15, 6, 0, tzinfo=UTC)  # a week later, 02:00 EDT

    def test_the_repeated_autumn_hour_is_open_both_times(self) -> None:
        hours = _hours({"sun": [["01:00", "02:00"]]})
        first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
        second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, an hour later
        assert hours.is_open(first)
        assert hours.is_open(second)
        assert not hours.is_open(datetime(2026, 11, 1, 7, 0, tzinfo=UTC))  # 02:00 EST

    def test_the_morning_after_the_autumn_change_opens_on_standard_time(self) -> None:
        hours = _hours(WEEKDAYS_9_TO_5)
        opening = hours.next_opening(_ny(2026, 10, 31, 12, 0))  # Saturday, still EDT
        assert opening == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 EST

    def test_an_autumn_span_starting_in_the_repeated_hour_opens_the_first_time(self) -> None:
        hours = _hours({"sun": [["01:30", "03:00"]]})
        opening = hours.next_opening(datetime(2026, 11, 1, 4, 0, tzinfo=UTC))  # midnight EDT
        assert opening == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not the EST one


class TestEscalationLadder:
    def test_steps_are_ordered_by_time_after_the_queues_own_skills(self) -> None:
        steps = rules.steps_of(BASE_SKILLS, RAW_STEPS)
        assert steps == (Step(0, (Requirement("scheduling", 2),)),
                         Step(60, (Requirement("scheduling", 1),)),
                         Step(120, None, "overflow"))

    @pytest.mark.parametrize(("seconds", "index"), [(0, 0), (59.9, 0), (60, 1), (119, 1), (120, 2), (9999, 2)])
    def test_the_step_in_force_is_the_last_one_reached(self, seconds: float, index: int) -> None:
        assert rules.step_at(rules.steps_of(BASE_SKILLS, RAW_STEPS), timedelta(seconds=seconds)) == index

    def test_a_step_without_skills_keeps_the_requirements_of_the_step_before(self) -> None:
        steps = rules.steps_of(BASE_SKILLS, RAW_STEPS)
        assert rules.requirements_at(steps, 0) == (Requirement("scheduling", 2),)
        assert rules.requirements_at(steps, 2) == (Requirement("scheduling", 1),)

    def test_a_step_with_an_empty_skill_list_lets_anyone_answer(self) -> None:
        steps = rules.steps_of(BASE_SKILLS, [{"after_seconds": 30, "skills": []}])
        assert rules.requirements_at(steps, 1) == ()

    def test_a_queue_without_skills_asks_for_none(self) -> None:
        steps = rules.steps_of([], [])
        assert rules.step_at(steps, timedelta(hours=5)) == 0
        assert rules.requirements_at(steps, 0) == ()


class TestEligibility:
    def test_meets_needs_every_skill_at_its_minimum_level(self) -> None:
        needs = (Requirement("scheduling", 2), Requirement("spanish"))
        assert rules.meets({"scheduling": 2, "spanish": 1}, needs)
        assert not rules.meets({"scheduling": 1, "spanish": 5}, needs)
        assert not rules.meets({"scheduling": 5}, needs)
        assert rules.meets({}, ())

    def test_skill_score_sums_the_levels_of_the_skills_asked_for_only(self) -> None:
        needs = (Requirement("scheduling"), Requirement("billing"))
        assert rules.skill_score({"scheduling": 3, "billing": 2, "nurse": 5}, needs) == 5
        assert rules.skill_score({"nurse": 5}, needs) == 0

    def test_voice_and_text_channels_hold_different_capacity(self) -> None:
        assert [rules.capacity_kind(channel) for channel in rules.Channel] == \
            ["voice", "text", "text", "text", "voice", "voice"]


class TestRoom:
    @staticmethod
    def _room(kind: str, voice: int, text: int, *, blend: bool = False, text_slots: int = 3) -> bool:
        return rules.has_room(kind=kind, load_voice=voice, load_text=text, voice_slots=1, text_slots=text_slots,
                              blend=blend)

    def test_one_call_at_a_time(self) -> None:
        assert self._room("voice", 0, 0)
        assert not self._room("voice", 1, 0)

    def test_texts_up_to_the_text_slots(self) -> None:
        assert self._room("text", 0, 2)
        assert not self._room("text", 0, 3)
        assert not self._room("text", 0, 0, text_slots=0)

    def test_without_blend_a_call_and_texts_never_mix(self) -> None:
        assert not self._room("text", 1, 0)
        assert not self._room("voice", 0, 1)

    def test_with_blend_texts_may_wait_during_a_call_and_the_reverse(self) -> None:
        assert self._room("text", 1, 0, blend=True)
        assert self._room("voice", 0, 2, blend=True)
        assert not self._room("voice", 1, 2, blend=True)


class TestSettledState:
    @pytest.mark.parametrize(("voice", "text", "current", "expected"), [
        (0, 0, AgentState.busy, AgentState.available),
        (0, 1, AgentState.available, AgentState.busy),
        (1, 0, AgentState.busy, AgentState.busy),
        (0, 0, AgentState.break_, AgentState.break_),
        (1, 0, AgentState.not_ready, AgentState.not_ready),
        (0, 0, AgentState.offline, AgentState.offline),
    ])
    def test_routable_agents_follow_their_load_and_others_keep_their_state(
            self, voice: int, text: int, current: AgentState, expected: AgentState) -> None:
        assert rules.settled_state(load_voice=voice, load_text=text, current=current) == expected


class TestServiceLevel:
    def test_answered_within_over_answered_plus_late_abandons(self) -> None:
        assert rules.service_level(answered_within=8, answered=10, abandoned_after_threshold=0) == 0.8
        assert rules.service_level(answered_within=8, answered=8, abandoned_after_threshold=2) == 0.8

    def test_nothing_counted_is_no_figure_rather_than_zero_or_full(self) -> None:
        assert rules.service_level(answered_within=0, answered=0, abandoned_after_threshold=0) is None
        assert rules.service_level(answered_within=0, answered=0, abandoned_after_threshold=1) == 0.0
