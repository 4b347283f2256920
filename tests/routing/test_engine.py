"""The ACD pass with a controlled clock: who is offered what, when, and what happens to offers nobody takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from careline.db import UnitOfWork
from careline.routing import rules
from careline.routing.models import Assignment
from careline.routing.schemas import InteractionRead, StateIn, TransferIn, WrapUpIn
from careline.routing.service import agents, engine, interactions, offers
from tests.factories.routing import (
    INTEGRATION,
    Staff,
    contact,
    event_kinds,
    legs_of,
    make_agent,
    make_answered,
    make_contact,
    make_queue,
    open_offers,
    states_of,
)

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _accept_first(uow: UnitOfWork, staff: Staff, seconds: float) -> Assignment:
    offer = open_offers(uow, staff)[0]
    offers.accept(uow, staff.actor, offer.id, now=_at(seconds))
    return offer


def _answering_a_chat(uow: UnitOfWork, name: str, *, text_slots: int) -> tuple[Staff, InteractionRead]:
    """An agent, idle the longest, who has accepted the one chat waiting in a new queue."""
    make_queue(uow)
    staff = make_agent(uow, name, available_at=_at(-600), text_slots=text_slots)
    chat = make_contact(uow, now=_at(-300), channel="chat")
    engine.run_pass(uow, T0)
    _accept_first(uow, staff, 1)
    return staff, chat


def _offered_to(uow: UnitOfWork, staff: Staff) -> set[object]:
    return {offer.interaction_id for offer in open_offers(uow, staff)}


class TestSkillsAndLanguage:
    def test_only_an_agent_at_the_minimum_level_is_offered_the_contact(self, uow: UnitOfWork) -> None:
        make_queue(uow, skills=[{"skill": "scheduling", "min_level": 3}])
        novice = make_agent(uow, "novice", available_at=_at(-600), skills={"scheduling": 2})
        expert = make_agent(uow, "expert", available_at=_at(-10), skills={"scheduling": 3})
        call = make_contact(uow, now=T0)
        assert engine.run_pass(uow, T0).offered == 1
        assert contact(uow, call.id).agent_id == expert.id
        assert open_offers(uow, novice) == []

    def test_with_nobody_skilled_enough_the_contact_waits(self, uow: UnitOfWork) -> None:
        make_queue(uow, skills=[{"skill": "scheduling", "min_level": 3}])
        make_agent(uow, "novice", available_at=_at(-600), skills={"scheduling": 2, "billing": 5})
        call = make_contact(uow, now=T0)
        report = engine.run_pass(uow, _at(5))
        assert (report.offered, report.waiting) == (0, 1)
        assert contact(uow, call.id).status == "queued"

    def test_a_spanish_contact_goes_only_to_a_spanish_speaker(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        english = make_agent(uow, "english", available_at=_at(-600), languages=["en"])
        bilingual = make_agent(uow, "bilingual", available_at=_at(-5), languages=["en", "es"])
        chat = make_contact(uow, now=T0, channel="chat", language="es")
        engine.run_pass(uow, T0)
        assert _offered_to(uow, bilingual) == {chat.id}
        assert open_offers(uow, english) == []

    def test_a_spanish_contact_waits_while_only_english_speakers_are_free(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        make_agent(uow, "english", available_at=_at(-600), languages=["en"])
        call = make_contact(uow, now=T0, language="es")
        assert engine.run_pass(uow, _at(30)).offered == 0
        assert contact(uow, call.id).status == "queued"


class TestOrderOfTheLine:
    def test_priority_comes_before_time_waited(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        old = make_contact(uow, now=_at(-300))
        urgent = make_contact(uow, now=_at(-1), priority=5)
        alex = make_agent(uow, "alex", available_at=T0)
        engine.run_pass(uow, T0)
        assert _offered_to(uow, alex) == {urgent.id}
        assert contact(uow, old.id).status == "queued"

    def test_among_equals_the_longest_waiting_goes_first(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        later = make_contact(uow, now=_at(-10))
        earlier = make_contact(uow, now=_at(-20))
        alex = make_agent(uow, "alex", available_at=T0)
        engine.run_pass(uow, T0)
        assert _offered_to(uow, alex) == {earlier.id}
        assert contact(uow, later.id).status == "queued"

    def test_the_longest_idle_agent_is_offered_first(self, uow: UnitOfWork) -> None:
        make_queue(uow, skills=[{"skill": "scheduling"}])
        make_agent(uow, "expert", available_at=_at(-60), skills={"scheduling": 5})
        idle_longest = make_agent(uow, "idler", available_at=_at(-600), skills={"scheduling": 1})
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, T0)
        assert _offered_to(uow, idle_longest) == {call.id}

    def test_a_most_skilled_queue_offers_the_best_fit_first(self, uow: UnitOfWork) -> None:
        make_queue(uow, agent_order="most_skilled", skills=[{"skill": "scheduling"}, {"skill": "billing"}])
        make_agent(uow, "idler", available_at=_at(-600), skills={"scheduling": 3, "billing": 1})
        expert = make_agent(uow, "expert", available_at=_at(-60), skills={"scheduling": 2, "billing": 3})
        tied = make_agent(uow, "tied", available_at=_at(-120), skills={"scheduling": 3, "billing": 2, "nurse": 5})
        first, second = make_contact(uow, now=_at(-2)), make_contact(uow, now=_at(-1))
        engine.run_pass(uow, T0)
        # expert and tied both score 5; of those the longer idle comes first.
        assert _offered_to(uow, tied) == {first.id}
        assert _offered_to(uow, expert) == {second.id}


class TestEscalation:
    """A scheduling queue asks for level 3; after 60 s any scheduler will do; after 120 s it overflows."""

    @staticmethod
    def _ladder(uow: UnitOfWork) -> None:
        make_queue(uow, "overflow")
        make_queue(uow, skills=[{"skill": "scheduling", "min_level": 3}],
                   steps=[{"after_seconds": 60, "skills": [{"skill": "scheduling", "min_level": 1}]},
                          {"after_seconds": 120, "overflow_queue": "overflow"}])

    def test_after_60_seconds_the_skills_widen(self, uow: UnitOfWork) -> None:
        self._ladder(uow)
        junior = make_agent(uow, "junior", available_at=T0, skills={"scheduling": 1})
        call = make_contact(uow, now=T0)
        assert engine.run_pass(uow, _at(59)).offered == 0
        assert contact(uow, call.id).step == 0
        report = engine.run_pass(uow, _at(60))
        assert (report.escalated, report.offered) == (1, 1)
        found = contact(uow, call.id)
        assert (found.step, found.status, found.agent_id) == (1, "offered", junior.id)
        escalated = [row for row in interactions.history(uow, call.id) if row.kind == "escalated"]
        assert [(row.at, row.detail) for row in escalated] == [(_at(60), {"step": 1})]

    def test_after_120_seconds_the_contact_overflows_to_another_queue(self, uow: UnitOfWork) -> None:
        self._ladder(uow)
        generalist = make_agent(uow, "generalist", available_at=T0)
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, _at(60))
        assert engine.run_pass(uow, _at(119)).offered == 0
        report = engine.run_pass(uow, _at(120))
        assert (report.escalated, report.offered) == (1, 1)
        found = contact(uow, call.id)
        overflow = interactions.search(uow, queue="overflow")
        assert [row.id for row in overflow] == [call.id]
        assert (found.step, found.entered_queue_at, found.queued_at) == (0, _at(120), T0)
        assert found.agent_id == generalist.id
        details = [row.detail for row in interactions.history(uow, call.id) if row.kind == "escalated"]
        assert details == [{"step": 1}, {"overflow_to": "overflow"}]
        assert event_kinds(uow, call.id)[-2:] == ["escalated", "offered"]

    def test_steps_are_not_climbed_twice(self, uow: UnitOfWork) -> None:
        self._ladder(uow)
        call = make_contact(uow, now=T0)
        assert engine.run_pass(uow, _at(61)).escalated == 1
        assert engine.run_pass(uow, _at(62)).escalated == 0
        assert event_kinds(uow, call.id).count("escalated") == 1


class TestMaxWait:
    def test_a_call_waiting_too_long_becomes_a_callback_keeping_its_place(self, uow: UnitOfWork) -> None:
        make_queue(uow, max_wait_seconds=90)
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, _at(89))
        assert contact(uow, call.id).channel == "voice"
        engine.run_pass(uow, _at(90))
        found = contact(uow, call.id)
        assert (found.channel, found.status, found.queued_at) == ("callback", "queued", T0)
        assert [row.detail for row in interactions.history(uow, call.id) if row.kind == "max_wait"] == \
            [{"became": "callback"}]
        alex = make_agent(uow, "alex", available_at=_at(100))
        engine.run_pass(uow, _at(100))
        assert _offered_to(uow, alex) == {call.id}
        assert alex.row(uow).load_voice == 1
        assert event_kinds(uow, call.id).count("max_wait") == 1

    def test_texts_are_not_turned_into_callbacks(self, uow: UnitOfWork) -> None:
        make_queue(uow, max_wait_seconds=30)
        chat = make_contact(uow, now=T0, channel="chat")
        engine.run_pass(uow, _at(300))
        assert contact(uow, chat.id).channel == "chat"
        assert "max_wait" not in event_kinds(uow, chat.id)


class TestBusinessHours:
    HOURS: ClassVar = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    SATURDAY_NOON = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    MONDAY_OPENING = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 09:00 EST

    def test_a_call_after_hours_becomes_a_callback_due_at_the_next_opening(self, uow: UnitOfWork) -> None:
        make_queue(uow, business_hours=self.HOURS)
        call = make_contact(uow, now=self.SATURDAY_NOON)
        # Its wait (place in line, speed of answer, service level) starts when it is due, not over the weekend.
        assert (call.channel, call.not_before, call.queued_at) == ("callback", self.MONDAY_OPENING,
                                                                   self.MONDAY_OPENING)
        assert call.created_at == self.SATURDAY_NOON
        after_hours = [row.detail for row in interactions.history(uow, call.id) if row.kind == "after_hours"]
        assert after_hours == [{"action": "callback", "until": self.MONDAY_OPENING.isoformat()}]

    def test_it_is_not_offered_before_the_opening_and_is_offered_at_it(self, uow: UnitOfWork) -> None:
        make_queue(uow, business_hours=self.HOURS)
        weekend = make_agent(uow, "weekend", available_at=self.SATURDAY_NOON)
        call = make_contact(uow, now=self.SATURDAY_NOON)
        report = engine.run_pass(uow, self.MONDAY_OPENING - timedelta(seconds=1))
        assert (report.waiting, report.offered) == (0, 0)
        assert contact(uow, call.id).status == "queued"
        assert engine.run_pass(uow, self.MONDAY_OPENING).offered == 1
        assert _offered_to(uow, weekend) == {call.id}

    def test_a_chat_after_hours_stays_a_chat_and_waits_for_the_opening(self, uow: UnitOfWork) -> None:
        make_queue(uow, business_hours=self.HOURS)
        chat = make_contact(uow, now=self.SATURDAY_NOON, channel="chat")
        assert (chat.channel, chat.not_before) == ("chat", self.MONDAY_OPENING)

    def test_a_contact_in_open_hours_is_due_at_once(self, uow: UnitOfWork) -> None:
        make_queue(uow, business_hours=self.HOURS)
        call = make_contact(uow, now=self.MONDAY_OPENING)
        assert (call.channel, call.not_before) == ("voice", None)
        assert "after_hours" not in event_kinds(uow, call.id)

    def test_escalation_counts_from_the_opening_not_from_the_night(self, uow: UnitOfWork) -> None:
        make_queue(uow, "overflow")
        make_queue(uow, business_hours=self.HOURS, steps=[{"after_seconds": 120, "overflow_queue": "overflow"}])
        call = make_contact(uow, now=self.SATURDAY_NOON)
        engine.run_pass(uow, self.MONDAY_OPENING)
        found = contact(uow, call.id)
        assert (found.queue_id, found.step) == (call.queue_id, 0)
        engine.run_pass(uow, self.MONDAY_OPENING + timedelta(seconds=120))
        assert contact(uow, call.id).queue_id != call.queue_id


class TestCapacity:
    def test_one_call_at_a_time(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex = make_agent(uow, "alex", available_at=T0)
        make_contact(uow, now=_at(-2))
        make_contact(uow, now=_at(-1))
        assert engine.run_pass(uow, T0).offered == 1
        assert engine.run_pass(uow, _at(1)).offered == 0
        assert alex.row(uow).load_voice == 1

    def test_texts_up_to_the_agents_text_slots_one_offer_at_a_time(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex = make_agent(uow, "alex", available_at=T0, text_slots=2)
        for n in range(4):
            make_contact(uow, now=_at(n - 10), channel="sms")
        assert engine.run_pass(uow, T0).offered == 1
        assert engine.run_pass(uow, _at(1)).offered == 0  # nothing more while Alex decides on that one
        _accept_first(uow, alex, 2)
        assert engine.run_pass(uow, _at(3)).offered == 1
        _accept_first(uow, alex, 4)
        assert engine.run_pass(uow, _at(5)).offered == 0  # two texts: Alex's text slots are full
        assert (alex.row(uow).load_text, len(open_offers(uow, alex))) == (2, 0)

    def test_no_text_during_a_call_unless_blended(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        solo = make_agent(uow, "solo", available_at=_at(-600))
        blended = make_agent(uow, "blended", available_at=_at(-300), blend=True)
        make_contact(uow, now=_at(-2))
        make_contact(uow, now=_at(-1))
        engine.run_pass(uow, T0)
        _accept_first(uow, solo, 1)
        _accept_first(uow, blended, 1)
        chat = make_contact(uow, now=_at(2), channel="chat")
        engine.run_pass(uow, _at(3))
        assert _offered_to(uow, blended) == {chat.id}
        assert open_offers(uow, solo) == []
        assert (solo.row(uow).load_voice, solo.row(uow).load_text) == (1, 0)
        assert (blended.row(uow).load_voice, blended.row(uow).load_text) == (1, 1)

    def test_no_call_while_holding_texts_unless_blended(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        solo = make_agent(uow, "solo", available_at=_at(-600))
        make_contact(uow, now=_at(-5), channel="email")
        engine.run_pass(uow, T0)
        make_contact(uow, now=_at(1))
        assert engine.run_pass(uow, _at(2)).offered == 0
        assert solo.row(uow).load_voice == 0

    def test_many_waiting_never_push_an_agent_past_capacity(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        team = [make_agent(uow, f"agent{n}", available_at=_at(-n), text_slots=3) for n in range(2)]
        for n in range(10):
            make_contact(uow, now=_at(n - 20), channel="chat")
        make_contact(uow, now=_at(-5))  # a call, behind the chats: nobody holding texts may take it
        offered = [engine.run_pass(uow, T0).offered]
        for second in range(1, 5):
            for staff in team:
                if open_offers(uow, staff):
                    _accept_first(uow, staff, second)
            offered.append(engine.run_pass(uow, _at(second)).offered)
        assert offered == [2, 2, 2, 0, 0]  # one offer per agent a pass, until each holds three chats
        for staff in team:
            row = staff.row(uow)
            assert (row.load_text, row.load_voice, len(open_offers(uow, staff))) == (3, 0, 0)


class TestOfferTimeouts:
    def test_an_unanswered_offer_goes_to_the_next_agent(self, uow: UnitOfWork) -> None:
        make_queue(uow, offer_seconds=10)
        first = make_agent(uow, "first", available_at=_at(-60))
        second = make_agent(uow, "second", available_at=_at(-30))
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, T0)
        assert engine.run_pass(uow, _at(9.9)).expired == 0
        report = engine.run_pass(uow, _at(10))
        assert (report.expired, report.offered) == (1, 1)
        assert _offered_to(uow, second) == {call.id}
        assert [leg.status for leg in legs_of(uow, call.id)] == ["missed", "offered"]
        assert (first.row(uow).load_voice, first.row(uow).missed_offers, first.row(uow).state) == (0, 1, "available")
        assert event_kinds(uow, call.id)[-3:] == ["offered", "offer_timeout", "offered"]
        assert contact(uow, call.id).offered_at == T0  # the first offer counts for the speed of answer

    def test_an_agent_who_misses_too_many_offers_is_set_not_ready(self, uow: UnitOfWork) -> None:
        make_queue(uow, offer_seconds=10)
        dozy = make_agent(uow, "dozy", available_at=T0)
        call = make_contact(uow, now=T0)
        for attempt in range(rules.MAX_MISSED_OFFERS):
            start = attempt * 60  # past the cooldown, so the only agent is asked again
            engine.run_pass(uow, _at(start))
            assert _offered_to(uow, dozy) == {call.id}
            engine.run_pass(uow, _at(start + 10))
        row = dozy.row(uow)
        assert (row.state, row.missed_offers, row.load_voice) == ("not_ready", rules.MAX_MISSED_OFFERS, 0)
        assert states_of(uow, dozy)[-1] == ("not_ready", "missed_offers")
        assert engine.run_pass(uow, _at(600)).offered == 0
        assert contact(uow, call.id).status == "queued"

    def test_choosing_available_again_resets_the_count(self, uow: UnitOfWork) -> None:
        make_queue(uow, offer_seconds=10)
        dozy = make_agent(uow, "dozy", available_at=T0)
        call = make_contact(uow, now=T0)
        for attempt in range(rules.MAX_MISSED_OFFERS):
            engine.run_pass(uow, _at(attempt * 60))
            engine.run_pass(uow, _at(attempt * 60 + 10))
        agents.set_own_state(uow, dozy.actor, StateIn(state="available"), now=_at(700))
        row = dozy.row(uow)
        assert (row.state, row.missed_offers, row.idle_since) == ("available", 0, _at(700))
        engine.run_pass(uow, _at(701))
        assert _offered_to(uow, dozy) == {call.id}
        engine.run_pass(uow, _at(711))
        assert dozy.row(uow).state == "available"  # one miss after the reset is not yet too many

    def test_the_miss_that_makes_an_agent_not_ready_sends_the_contact_back_and_offers_them_nothing_else(
            self, uow: UnitOfWork) -> None:
        make_queue(uow, offer_seconds=10)
        dozy = make_agent(uow, "dozy", available_at=T0, text_slots=2)
        dozy_row = dozy.row(uow)
        dozy_row.missed_offers = rules.MAX_MISSED_OFFERS - 1
        uow.flush()
        early = make_contact(uow, now=T0, channel="chat")
        engine.run_pass(uow, T0)
        late = make_contact(uow, now=_at(5), channel="chat")
        engine.run_pass(uow, _at(5))
        assert _offered_to(uow, dozy) == {early.id}  # one offer at a time: the later chat waits its turn
        engine.run_pass(uow, _at(10))
        assert open_offers(uow, dozy) == []
        assert dozy.row(uow).state == "not_ready"
        assert [leg.status for leg in legs_of(uow, early.id)] == ["missed"]
        assert legs_of(uow, late.id) == []
        assert (contact(uow, early.id).status, contact(uow, late.id).status) == ("queued", "queued")
        assert dozy.row(uow).load_text == 0

    def test_going_not_ready_also_withdraws_a_colleagues_invitation_to_join(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        dozy = make_agent(uow, "dozy", available_at=T0, text_slots=2, blend=True)
        dozy_row = dozy.row(uow)
        dozy_row.missed_offers = rules.MAX_MISSED_OFFERS - 1
        uow.flush()
        chat = make_contact(uow, now=_at(1), channel="chat")
        engine.run_pass(uow, _at(1))  # the chat is offered to dozy (alex is on the call)
        interactions.transfer(uow, alex.actor, call.id, TransferIn(agent_id=dozy.id, mode="warm"), now=_at(5))
        assert _offered_to(uow, dozy) == {chat.id, call.id}  # a routed offer and an invitation, both open
        engine.run_pass(uow, _at(21))  # the chat's offer runs out: a second miss
        assert dozy.row(uow).state == "not_ready"
        assert open_offers(uow, dozy) == []
        assert [leg.status for leg in legs_of(uow, chat.id)] == ["missed"]
        assert [leg.status for leg in legs_of(uow, call.id)] == ["accepted", "withdrawn"]
        assert (contact(uow, call.id).status, contact(uow, call.id).agent_id) == ("connected", alex.id)
        assert (dozy.row(uow).load_voice, dozy.row(uow).load_text) == (0, 0)


class TestRejection:
    @staticmethod
    def _rejected_at_2s(uow: UnitOfWork) -> tuple[Staff, InteractionRead]:
        make_queue(uow)
        picky = make_agent(uow, "picky", available_at=_at(-600))
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, T0)
        offers.reject(uow, picky.actor, open_offers(uow, picky)[0].id, now=_at(2))
        return picky, call

    def test_a_rejected_contact_goes_to_another_agent_not_back_to_the_same(self, uow: UnitOfWork) -> None:
        picky, call = self._rejected_at_2s(uow)
        found = contact(uow, call.id)
        assert (found.status, found.agent_id, found.declined_by) == ("queued", None, picky.id)
        assert engine.run_pass(uow, _at(3)).offered == 0  # picky is the only one free
        other = make_agent(uow, "other", available_at=_at(4))
        engine.run_pass(uow, _at(5))
        assert _offered_to(uow, other) == {call.id}
        assert open_offers(uow, picky) == []
        assert picky.row(uow).missed_offers == 0  # saying no is not missing

    def test_after_the_cooldown_the_same_agent_may_be_asked_again(self, uow: UnitOfWork) -> None:
        picky, call = self._rejected_at_2s(uow)
        cooldown = rules.DECLINE_COOLDOWN.total_seconds()
        assert engine.run_pass(uow, _at(2 + cooldown - 1)).offered == 0
        assert engine.run_pass(uow, _at(2 + cooldown)).offered == 1
        assert _offered_to(uow, picky) == {call.id}
        assert [leg.status for leg in legs_of(uow, call.id)] == ["rejected", "offered"]
        assert event_kinds(uow, call.id).count("rejected") == 1


class TestAgentLeaving:
    def test_going_on_break_withdraws_the_open_offer_back_to_the_line(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        leaving = make_agent(uow, "leaving", available_at=_at(-600), text_slots=2)
        first, second = (make_contact(uow, now=_at(n), channel="chat") for n in (-2, -1))
        engine.run_pass(uow, T0)
        assert _offered_to(uow, leaving) == {first.id}
        agents.set_own_state(uow, leaving.actor, StateIn(state="break", reason="coffee"), now=_at(3))
        row = leaving.row(uow)
        assert (row.state, row.load_text) == ("break", 0)
        assert states_of(uow, leaving)[-1] == ("break", "coffee")
        for chat in (first, second):
            found = contact(uow, chat.id)
            assert (found.status, found.agent_id, found.declined_by) == ("queued", None, None)
        assert [leg.status for leg in legs_of(uow, first.id)] == ["withdrawn"]
        withdrawn = [row.detail for row in interactions.history(uow, first.id) if row.kind == "offer_withdrawn"]
        assert withdrawn == [{"reason": "agent_left"}]
        other = make_agent(uow, "other", available_at=_at(4))
        engine.run_pass(uow, _at(5))
        assert _offered_to(uow, other) == {first.id}  # the longest waiting, first

    def test_going_offline_keeps_contacts_already_answered(self, uow: UnitOfWork) -> None:
        leaving, answered = _answering_a_chat(uow, "leaving", text_slots=2)
        pending = make_contact(uow, now=_at(2), channel="chat")
        engine.run_pass(uow, _at(2))
        agents.set_own_state(uow, leaving.actor, StateIn(state="offline"), now=_at(3))
        assert contact(uow, answered.id).status == "connected"
        assert contact(uow, pending.id).status == "queued"
        assert (leaving.row(uow).state, leaving.row(uow).load_text) == ("offline", 1)
        assert engine.run_pass(uow, _at(4)).offered == 0


class TestWrapUp:
    def test_wrap_up_ends_by_itself_and_frees_the_agent(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0, wrap_up_seconds=30)
        ended = interactions.end(uow, alex.actor, call.id, now=_at(100))
        assert (ended.status, ended.wrap_up_until) == ("wrap_up", _at(130))
        assert engine.run_pass(uow, _at(129)).wrapped_up == 0
        assert (alex.row(uow).state, alex.row(uow).load_voice) == ("wrap_up", 1)
        assert engine.run_pass(uow, _at(130)).wrapped_up == 1
        found = contact(uow, call.id)
        assert (found.status, found.closed_at, found.disposition) == ("completed", _at(130), None)
        row = alex.row(uow)
        assert (row.state, row.load_voice, row.idle_since) == ("available", 0, _at(130))
        assert [state for state, _reason in states_of(uow, alex)] == \
            ["offline", "available", "busy", "wrap_up", "available"]
        assert event_kinds(uow, call.id)[-2:] == ["ended", "wrap_up_timeout"]
        assert [leg.status for leg in legs_of(uow, call.id)] == ["ended"]

    def test_wrap_up_finished_in_time_is_not_closed_twice(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0, wrap_up_seconds=30)
        interactions.end(uow, alex.actor, call.id, now=_at(100))
        interactions.finish(uow, alex.actor, call.id, WrapUpIn(disposition="information"), now=_at(110))
        assert engine.run_pass(uow, _at(200)).wrapped_up == 0
        found = contact(uow, call.id)
        assert (found.status, found.closed_at, found.disposition) == ("completed", _at(110), "information")
        assert event_kinds(uow, call.id).count("wrapped_up") == 1
        assert "wrap_up_timeout" not in event_kinds(uow, call.id)

    def test_an_agent_in_wrap_up_is_offered_nothing(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0, wrap_up_seconds=60)
        interactions.end(uow, alex.actor, call.id, now=_at(10))
        chat = make_contact(uow, now=_at(11), channel="chat")
        make_contact(uow, now=_at(12))
        assert engine.run_pass(uow, _at(20)).offered == 0
        engine.run_pass(uow, _at(70))
        assert _offered_to(uow, alex) == {chat.id}  # first in line; holding it, no call fits besides

    def test_ending_a_text_does_not_put_the_agent_in_wrap_up(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, chat = make_answered(uow, now=T0, channel="chat", wrap_up_seconds=60)
        interactions.end(uow, alex.actor, chat.id, now=_at(10))
        assert (alex.row(uow).state, alex.row(uow).load_text) == ("busy", 1)  # the seat is held until closed
        engine.run_pass(uow, _at(70))
        assert (alex.row(uow).state, alex.row(uow).load_text) == ("available", 0)

    def test_an_agent_who_chose_a_break_during_the_call_stays_on_break_after_it(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0, wrap_up_seconds=30)
        agents.set_own_state(uow, alex.actor, StateIn(state="break"), now=_at(50))
        interactions.end(uow, alex.actor, call.id, now=_at(100))
        assert alex.row(uow).state == "break"
        make_contact(uow, now=_at(110))
        report = engine.run_pass(uow, _at(130))
        assert (report.wrapped_up, report.offered) == (1, 0)
        assert (alex.row(uow).state, alex.row(uow).load_voice) == ("break", 0)
        assert [state for state, _reason in states_of(uow, alex)][-2:] == ["busy", "break"]

    def test_no_wrap_up_time_closes_the_contact_at_once(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0, wrap_up_seconds=0)
        closed = interactions.end(uow, alex.actor, call.id, now=_at(10))
        assert (closed.status, closed.closed_at) == ("completed", _at(10))
        assert (alex.row(uow).state, alex.row(uow).load_voice) == ("available", 0)
        assert event_kinds(uow, call.id)[-2:] == ["ended", "closed"]


class TestWantedAgent:
    @staticmethod
    def _sent_to_colleague(uow: UnitOfWork) -> tuple[Staff, Staff, Staff, InteractionRead]:
        """Alex answers a call and sends it cold to a colleague; an idle agent could otherwise take it."""
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        idler = make_agent(uow, "idler", available_at=_at(1))
        colleague = make_agent(uow, "colleague", available_at=_at(2))
        interactions.transfer(uow, alex.actor, call.id, TransferIn(agent_id=colleague.id), now=_at(30))
        engine.run_pass(uow, _at(31))
        return alex, idler, colleague, call

    def test_a_contact_sent_to_one_agent_is_offered_only_to_them(self, uow: UnitOfWork) -> None:
        alex, idler, colleague, call = self._sent_to_colleague(uow)
        assert _offered_to(uow, colleague) == {call.id}
        assert open_offers(uow, idler) == []
        assert open_offers(uow, alex) == []

    def test_if_that_agent_declines_it_goes_back_to_its_queue_for_anyone(self, uow: UnitOfWork) -> None:
        _alex, idler, colleague, call = self._sent_to_colleague(uow)
        offers.reject(uow, colleague.actor, open_offers(uow, colleague)[0].id, now=_at(32))
        assert contact(uow, call.id).wanted_agent_id is None
        engine.run_pass(uow, _at(33))
        assert _offered_to(uow, idler) == {call.id}
        assert open_offers(uow, colleague) == []

    def test_if_that_agent_leaves_it_goes_back_to_its_queue(self, uow: UnitOfWork) -> None:
        _alex, idler, colleague, call = self._sent_to_colleague(uow)
        agents.set_own_state(uow, colleague.actor, StateIn(state="offline"), now=_at(32))
        engine.run_pass(uow, _at(33))
        assert _offered_to(uow, idler) == {call.id}

    def test_it_waits_while_that_agent_has_no_room(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex = make_agent(uow, "alex", available_at=_at(-600))
        colleague = make_agent(uow, "colleague", available_at=_at(-500))
        make_agent(uow, "idler", available_at=_at(-1))
        first, second = make_contact(uow, now=_at(-2)), make_contact(uow, now=_at(-1))
        engine.run_pass(uow, T0)
        _accept_first(uow, alex, 1)
        _accept_first(uow, colleague, 1)
        assert contact(uow, second.id).agent_id == colleague.id
        interactions.transfer(uow, alex.actor, first.id, TransferIn(agent_id=colleague.id), now=_at(30))
        assert engine.run_pass(uow, _at(31)).offered == 0
        interactions.end(uow, INTEGRATION, second.id, now=_at(40))
        interactions.finish(uow, colleague.actor, second.id, WrapUpIn(disposition="information"), now=_at(41))
        engine.run_pass(uow, _at(42))
        assert _offered_to(uow, colleague) == {first.id}

    def test_it_gets_that_agents_one_offer_before_contacts_ahead_that_anyone_may_take(self, uow: UnitOfWork) -> None:
        alex, chat = _answering_a_chat(uow, "alex", text_slots=3)
        older = [make_contact(uow, now=_at(n), channel="chat", priority=5) for n in (2, 3)]  # first in line
        colleague = make_agent(uow, "colleague", available_at=_at(-500), text_slots=3)
        interactions.transfer(uow, alex.actor, chat.id, TransferIn(agent_id=colleague.id), now=_at(30))
        engine.run_pass(uow, _at(31))
        assert _offered_to(uow, colleague) == {chat.id}  # not one of the chats ahead of it in line
        assert _offered_to(uow, alex) == {older[0].id}
