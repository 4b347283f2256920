"""Moving a live contact: cold and warm transfers, a supervisor putting it back in line, callbacks, hold — and
the errors for acting on a contact that moved on or belongs to someone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from careline.db import UnitOfWork
from careline.routing.errors import InvalidRoutingInput, NoCapacity, NotYours, WrongState
from careline.routing.schemas import RequeueIn, TransferIn, WrapUpIn
from careline.routing.service import engine, interactions, offers
from tests.factories.routing import (
    INTEGRATION,
    SUPERVISOR,
    Staff,
    contact,
    event_kinds,
    legs_of,
    make_agent,
    make_answered,
    make_contact,
    make_queue,
    open_offers,
)

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _load(uow: UnitOfWork, staff: Staff) -> tuple[str, int, int]:
    row = staff.row(uow)
    return row.state, row.load_voice, row.load_text


class TestColdTransfer:
    def test_to_a_queue_it_keeps_its_place_in_line_and_frees_the_first_agent(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        make_queue(uow, "billing", skills=[{"skill": "billing"}])
        alex, call = make_answered(uow, now=T0)
        moved = interactions.transfer(uow, alex.actor, call.id, TransferIn(queue="billing"), now=_at(30))
        assert (moved.status, moved.queue, moved.agent_id) == ("queued", "billing", None)
        assert (moved.queued_at, moved.transferred_at, moved.answered_at) == (T0, _at(30), T0)
        found = contact(uow, call.id)
        assert (found.entered_queue_at, found.step) == (_at(30), 0)
        assert _load(uow, alex) == ("available", 0, 0)
        assert [leg.status for leg in legs_of(uow, call.id)] == ["ended"]
        transferred = [row for row in interactions.history(uow, call.id) if row.kind == "transferred"]
        assert [(row.agent_id, row.detail) for row in transferred] == \
            [(alex.id, {"mode": "cold", "queue": "billing", "to_agent": None})]

        newer = make_contact(uow, "billing", now=_at(31))
        billing_agent = make_agent(uow, "bill", available_at=_at(32), skills={"billing": 1})
        engine.run_pass(uow, _at(33))
        assert {offer.interaction_id for offer in open_offers(uow, billing_agent)} == {call.id}
        assert contact(uow, newer.id).status == "queued"

    def test_it_is_not_offered_straight_back_to_the_agent_who_passed_it_on(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        make_queue(uow, "overflow")
        alex, call = make_answered(uow, now=T0)
        interactions.transfer(uow, alex.actor, call.id, TransferIn(queue="overflow"), now=_at(30))
        engine.run_pass(uow, _at(31))
        assert open_offers(uow, alex) == []
        engine.run_pass(uow, _at(61))  # the cool-down is over and nobody else could take it
        assert [offer.interaction_id for offer in open_offers(uow, alex)] == [call.id]

    def test_to_an_agent_it_waits_for_that_agent(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        bea = make_agent(uow, "bea", available_at=_at(5))
        moved = interactions.transfer(uow, alex.actor, call.id, TransferIn(agent_id=bea.id), now=_at(30))
        assert (moved.status, moved.queue) == ("queued", "scheduling")
        assert contact(uow, call.id).wanted_agent_id == bea.id
        engine.run_pass(uow, _at(31))
        assert [offer.interaction_id for offer in open_offers(uow, bea)] == [call.id]
        assert open_offers(uow, alex) == []
        answered = offers.accept(uow, bea.actor, open_offers(uow, bea)[0].id, now=_at(35))
        assert (answered.status, answered.agent_id, answered.answered_at) == ("connected", bea.id, T0)

    def test_a_held_call_stops_holding_when_transferred(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        interactions.hold(uow, alex.actor, call.id, now=_at(10))
        moved = interactions.transfer(uow, alex.actor, call.id, TransferIn(queue="scheduling"), now=_at(25))
        assert (moved.held_at, moved.hold_seconds) == (None, 15)


class TestWarmTransfer:
    @staticmethod
    def _consulting(uow: UnitOfWork) -> tuple[Staff, Staff, UUID]:
        """Alex holds a call and has asked Bea to join; Bea has not answered yet."""
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        bea = make_agent(uow, "bea", available_at=_at(1))
        still = interactions.transfer(uow, alex.actor, call.id, TransferIn(agent_id=bea.id, mode="warm"),
                                      now=_at(30))
        assert (still.status, still.agent_id) == ("connected", alex.id)
        return alex, bea, call.id

    def test_the_colleague_is_offered_a_consult_leg(self, uow: UnitOfWork) -> None:
        _alex, bea, call_id = self._consulting(uow)
        [consult] = open_offers(uow, bea)
        assert (consult.interaction_id, consult.role, consult.kind) == (call_id, "consult", "voice")
        assert consult.expires_at == _at(50)
        assert _load(uow, bea) == ("available", 1, 0)
        assert event_kinds(uow, call_id)[-1] == "consult_offered"

    def test_accepted_both_agents_are_on_the_contact(self, uow: UnitOfWork) -> None:
        alex, bea, call_id = self._consulting(uow)
        joined = offers.accept(uow, bea.actor, open_offers(uow, bea)[0].id, now=_at(35))
        assert (joined.status, joined.agent_id) == ("connected", alex.id)
        legs = legs_of(uow, call_id)
        assert [(leg.agent_id, leg.role, leg.status) for leg in legs] == \
            [(alex.id, "primary", "accepted"), (bea.id, "consult", "accepted")]
        assert _load(uow, bea) == ("busy", 1, 0)
        assert event_kinds(uow, call_id)[-1] == "joined"

    def test_completing_hands_the_contact_to_the_colleague_and_frees_the_first(self, uow: UnitOfWork) -> None:
        alex, bea, call_id = self._consulting(uow)
        offers.accept(uow, bea.actor, open_offers(uow, bea)[0].id, now=_at(35))
        done = interactions.complete_transfer(uow, alex.actor, call_id, now=_at(60))
        assert (done.status, done.agent_id, done.transferred_at) == ("connected", bea.id, _at(60))
        assert [(leg.agent_id, leg.role, leg.status) for leg in legs_of(uow, call_id)] == \
            [(alex.id, "primary", "ended"), (bea.id, "primary", "accepted")]
        assert _load(uow, alex) == ("available", 0, 0)
        assert _load(uow, bea) == ("busy", 1, 0)
        transferred = [row.detail for row in interactions.history(uow, call_id) if row.kind == "transferred"]
        assert transferred == [{"mode": "warm", "to_agent": str(bea.id)}]
        with pytest.raises(NotYours):
            interactions.end(uow, alex.actor, call_id, now=_at(70))
        ended = interactions.end(uow, bea.actor, call_id, now=_at(90))
        assert ended.status == "wrap_up"
        assert _load(uow, bea) == ("wrap_up", 1, 0)

    def test_completing_before_the_colleague_joins_is_refused(self, uow: UnitOfWork) -> None:
        alex, _bea, call_id = self._consulting(uow)
        with pytest.raises(WrongState):
            interactions.complete_transfer(uow, alex.actor, call_id, now=_at(32))

    def test_a_declined_consult_leaves_the_first_agent_on_the_contact(self, uow: UnitOfWork) -> None:
        alex, bea, call_id = self._consulting(uow)
        offers.reject(uow, bea.actor, open_offers(uow, bea)[0].id, now=_at(33))
        found = contact(uow, call_id)
        assert (found.status, found.agent_id) == ("connected", alex.id)
        assert _load(uow, bea) == ("available", 0, 0)
        assert [leg.status for leg in legs_of(uow, call_id)] == ["accepted", "rejected"]

    def test_an_unanswered_consult_times_out_without_touching_the_contact(self, uow: UnitOfWork) -> None:
        alex, bea, call_id = self._consulting(uow)
        assert engine.run_pass(uow, _at(50)).expired == 1
        found = contact(uow, call_id)
        assert (found.status, found.agent_id) == ("connected", alex.id)
        assert [leg.status for leg in legs_of(uow, call_id)] == ["accepted", "missed"]
        assert _load(uow, bea) == ("available", 0, 0)

    def test_the_caller_hanging_up_during_the_conference_frees_the_colleague(self, uow: UnitOfWork) -> None:
        alex, bea, call_id = self._consulting(uow)
        offers.accept(uow, bea.actor, open_offers(uow, bea)[0].id, now=_at(35))
        ended = interactions.end(uow, INTEGRATION, call_id, now=_at(40))
        assert (ended.status, ended.agent_id) == ("wrap_up", alex.id)
        assert [leg.status for leg in legs_of(uow, call_id)] == ["accepted", "ended"]  # alex keeps the wrap-up
        assert _load(uow, bea) == ("available", 0, 0)
        assert _load(uow, alex) == ("wrap_up", 1, 0)

    def test_a_colleague_with_no_room_cannot_be_brought_in(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        bea, _other = make_answered(uow, now=_at(1), username="bea")
        with pytest.raises(NoCapacity):
            interactions.transfer(uow, alex.actor, call.id, TransferIn(agent_id=bea.id, mode="warm"), now=_at(30))
        assert [leg.role for leg in legs_of(uow, call.id)] == ["primary"]

    def test_an_agent_cannot_bring_in_themselves(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0, blend=True)
        with pytest.raises(InvalidRoutingInput):
            interactions.transfer(uow, alex.actor, call.id, TransferIn(agent_id=alex.id, mode="warm"), now=_at(30))


class TestRequeue:
    def test_a_supervisor_puts_a_live_contact_back_in_line_in_another_queue(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        make_queue(uow, "nurses")
        alex, call = make_answered(uow, now=T0)
        back = interactions.requeue(uow, SUPERVISOR, call.id, RequeueIn(queue="nurses", priority=7), now=_at(40))
        assert (back.status, back.queue, back.priority, back.agent_id, back.queued_at) == \
            ("queued", "nurses", 7, None, T0)
        assert _load(uow, alex) == ("available", 0, 0)
        assert [leg.status for leg in legs_of(uow, call.id)] == ["ended"]
        requeued = [row.detail for row in interactions.history(uow, call.id) if row.kind == "requeued"]
        assert requeued == [{"by": "sam"}]

    def test_an_offered_contact_is_withdrawn_from_the_agent(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex = make_agent(uow, "alex", available_at=T0)
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, T0)
        back = interactions.requeue(uow, SUPERVISOR, call.id, RequeueIn(), now=_at(5))
        assert (back.status, back.queue) == ("queued", "scheduling")
        assert [leg.status for leg in legs_of(uow, call.id)] == ["withdrawn"]
        assert _load(uow, alex) == ("available", 0, 0)

    def test_a_finished_contact_cannot_be_put_back(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0, wrap_up_seconds=0)
        interactions.end(uow, alex.actor, call.id, now=_at(10))
        with pytest.raises(WrongState):
            interactions.requeue(uow, SUPERVISOR, call.id, RequeueIn(), now=_at(20))
        assert contact(uow, call.id).status == "completed"


class TestCallback:
    def test_a_caller_in_line_becomes_a_callback_keeping_their_place(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        call = make_contact(uow, now=T0)
        later = interactions.ask_callback(uow, INTEGRATION, call.id, now=_at(20))
        assert (later.channel, later.status, later.queued_at) == ("callback", "queued", T0)
        assert event_kinds(uow, call.id)[-1] == "callback_requested"

    @pytest.mark.parametrize("channel", ["chat", "callback"])
    def test_only_a_waiting_call_can_become_a_callback(self, uow: UnitOfWork, channel: str) -> None:
        make_queue(uow)
        waiting = make_contact(uow, now=T0, channel=channel)
        with pytest.raises(WrongState):
            interactions.ask_callback(uow, INTEGRATION, waiting.id, now=_at(20))

    def test_a_call_already_offered_cannot_become_a_callback(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        make_agent(uow, "alex", available_at=T0)
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, T0)
        with pytest.raises(WrongState):
            interactions.ask_callback(uow, INTEGRATION, call.id, now=_at(20))


class TestHold:
    def test_hold_time_accumulates_over_several_holds(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        held = interactions.hold(uow, alex.actor, call.id, now=_at(10))
        assert held.held_at == _at(10)
        interactions.hold(uow, alex.actor, call.id, now=_at(12))  # already on hold: the first time stands
        assert interactions.resume(uow, alex.actor, call.id, now=_at(25)).hold_seconds == 15
        interactions.resume(uow, alex.actor, call.id, now=_at(30))  # not on hold: nothing to add
        interactions.hold(uow, alex.actor, call.id, now=_at(40))
        ended = interactions.end(uow, alex.actor, call.id, now=_at(50))  # ending stops the hold
        assert (ended.hold_seconds, ended.held_at) == (25, None)
        assert [kind for kind in event_kinds(uow, call.id) if kind in ("held", "resumed")] == \
            ["held", "resumed", "held"]

    def test_only_a_connected_contact_can_be_held(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        interactions.end(uow, alex.actor, call.id, now=_at(10))
        with pytest.raises(WrongState):
            interactions.hold(uow, alex.actor, call.id, now=_at(11))


class TestWrongStateAndOwnership:
    def test_an_agent_cannot_act_on_another_agents_contact(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        _alex, call = make_answered(uow, now=T0)
        bea = make_agent(uow, "bea", available_at=_at(1))
        for action in (interactions.end, interactions.hold, interactions.complete_transfer):
            with pytest.raises(NotYours):
                action(uow, bea.actor, call.id, now=_at(5))
        with pytest.raises(NotYours):
            interactions.transfer(uow, bea.actor, call.id, TransferIn(queue="scheduling"), now=_at(5))

    def test_an_agent_cannot_answer_another_agents_offer(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex = make_agent(uow, "alex", available_at=T0)
        bea = make_agent(uow, "bea", available_at=_at(1))
        make_contact(uow, now=_at(2))
        engine.run_pass(uow, _at(2))
        offer = open_offers(uow, alex)[0]
        with pytest.raises(NotYours):
            offers.accept(uow, bea.actor, offer.id, now=_at(3))
        with pytest.raises(NotYours):
            offers.reject(uow, bea.actor, offer.id, now=_at(3))

    def test_an_offer_that_timed_out_cannot_be_accepted(self, uow: UnitOfWork) -> None:
        make_queue(uow, offer_seconds=10)
        alex = make_agent(uow, "alex", available_at=T0)
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, T0)
        offer = open_offers(uow, alex)[0]
        engine.run_pass(uow, _at(10))
        with pytest.raises(WrongState):
            offers.accept(uow, alex.actor, offer.id, now=_at(11))
        assert contact(uow, call.id).status == "queued"

    def test_an_offer_to_a_caller_who_hung_up_cannot_be_accepted(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex = make_agent(uow, "alex", available_at=T0)
        call = make_contact(uow, now=T0)
        engine.run_pass(uow, T0)
        offer = open_offers(uow, alex)[0]
        interactions.end(uow, INTEGRATION, call.id, now=_at(3))
        with pytest.raises(WrongState):
            offers.accept(uow, alex.actor, offer.id, now=_at(4))
        with pytest.raises(WrongState):
            offers.reject(uow, alex.actor, offer.id, now=_at(4))

    def test_a_waiting_contact_cannot_be_ended_by_an_agent_or_transferred(self, uow: UnitOfWork) -> None:
        make_queue(uow)
        alex = make_agent(uow, "alex", available_at=T0)
        call = make_contact(uow, now=T0)
        with pytest.raises(WrongState):
            interactions.end(uow, alex.actor, call.id, now=_at(1))
        with pytest.raises(WrongState):
            interactions.transfer(uow, alex.actor, call.id, TransferIn(queue="scheduling"), now=_at(1))

    def test_ending_a_finished_contact_again_changes_nothing(self, uow: UnitOfWork) -> None:
        """The phone system reports the end of calls the agent already closed: idempotent, not an error."""
        make_queue(uow)
        alex, call = make_answered(uow, now=T0)
        done = interactions.finish(uow, alex.actor, call.id, WrapUpIn(disposition="booked"), now=_at(60))
        for actor in (alex.actor, INTEGRATION):
            assert interactions.end(uow, actor, call.id, now=_at(61)) == done
        assert contact(uow, call.id).status == "completed"
