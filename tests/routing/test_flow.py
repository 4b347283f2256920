"""A contact's whole life through the services, with a controlled clock: queued → offered → answered →
ended → wrapped up, and the agent's states along the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careline.db import UnitOfWork
from careline.routing.models import AgentStateChange, Assignment
from careline.routing.schemas import WrapUpIn
from careline.routing.service import agents, desktop, engine, interactions, offers
from tests.factories.patients import make_patient
from tests.factories.routing import INTEGRATION, POLICY, make_agent, make_contact, make_queue

T0 = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def test_a_call_is_offered_answered_ended_and_wrapped_up(uow: UnitOfWork) -> None:
    make_queue(uow)
    patient = make_patient(uow, given="Rosa", family="Diaz", phones=(("+16175550101", "mobile"),))
    alex = make_agent(uow, "alex", available_at=T0, skills={"scheduling": 2})
    call = make_contact(uow, now=T0 + timedelta(seconds=1), address="(617) 555-0101", reason="appointment")
    assert (call.patient_id, call.address) == (patient.id, "+16175550101")

    report = engine.run_pass(uow, T0 + timedelta(seconds=2))
    assert report.offered == 1
    offer = desktop.my_work(uow, alex.actor).offers[0]
    pop = desktop.screen_pop(uow, alex.actor, POLICY, offer.assignment_id)
    assert pop.patient is not None
    assert pop.patient.display_name.startswith("Rosa")

    answered = offers.accept(uow, alex.actor, offer.assignment_id, now=T0 + timedelta(seconds=5))
    assert (answered.status, answered.answered_at) == ("connected", T0 + timedelta(seconds=5))
    assert alex.row(uow).state == "busy"

    ended = interactions.end(uow, alex.actor, call.id, now=T0 + timedelta(minutes=4))
    assert (ended.status, alex.row(uow).state) == ("wrap_up", "wrap_up")
    done = interactions.finish(uow, alex.actor, call.id, WrapUpIn(disposition="booked", notes="Annual exam"),
                               now=T0 + timedelta(minutes=5))
    assert (done.status, done.disposition, done.resolved) == ("completed", "booked", True)
    agent = alex.row(uow)
    assert (agent.state, agent.load_voice) == ("available", 0)
    states = [row.state for row in uow.session.query(AgentStateChange).filter_by(agent_id=alex.id)
              .order_by(AgentStateChange.id)]
    assert states == ["offline", "available", "busy", "wrap_up", "available"]
    kinds = [event.kind for event in interactions.history(uow, call.id)]
    assert kinds == ["created", "queued", "offered", "answered", "ended", "wrapped_up"]


def test_an_unanswered_offer_goes_to_the_next_agent(uow: UnitOfWork) -> None:
    make_queue(uow, offer_seconds=10)
    first = make_agent(uow, "first", available_at=T0)
    second = make_agent(uow, "second", available_at=T0 + timedelta(seconds=30))
    call = make_contact(uow, now=T0 + timedelta(minutes=1))
    engine.run_pass(uow, T0 + timedelta(minutes=1))
    assert interactions.get(uow, call.id).agent_id == first.id  # longest idle first
    report = engine.run_pass(uow, T0 + timedelta(minutes=1, seconds=11))
    assert (report.expired, report.offered) == (1, 1)
    assert interactions.get(uow, call.id).agent_id == second.id
    assert first.row(uow).missed_offers == 1
    live = uow.session.query(Assignment).filter(Assignment.status == "offered").all()
    assert [row.agent_id for row in live] == [second.id]


def test_a_caller_who_hangs_up_in_line_is_abandoned_and_frees_the_offer(uow: UnitOfWork) -> None:
    make_queue(uow)
    alex = make_agent(uow, "alex", available_at=T0)
    call = make_contact(uow, now=T0)
    engine.run_pass(uow, T0)
    gone = interactions.end(uow, INTEGRATION, call.id, now=T0 + timedelta(seconds=8))
    assert (gone.status, gone.abandoned_at) == ("abandoned", T0 + timedelta(seconds=8))
    agent = alex.row(uow)
    assert (agent.load_voice, agent.state) == (0, "available")


def test_a_merged_patients_contacts_move_to_the_surviving_record(uow: UnitOfWork) -> None:
    make_queue(uow)
    keep = make_patient(uow, given="Rosa", family="Diaz")
    duplicate = make_patient(uow, given="Rosa", family="Diaz", phones=(("+16175550199", "mobile"),))
    call = make_contact(uow, now=T0, address="+16175550199")
    assert call.patient_id == duplicate.id
    interactions.follow_merge(uow, duplicate_id=duplicate.id, survivor_id=keep.id)
    assert interactions.get(uow, call.id).patient_id == keep.id
    assert [found.id for found in interactions.search(uow, patient_id=keep.id)] == [call.id]


def test_a_pass_writes_many_offers_at_once_each_to_its_own_agent(uow: UnitOfWork) -> None:
    """Large passes take the batched path (arrays on PostgreSQL): every offer, leg and event must still match."""
    make_queue(uow)
    staff = [make_agent(uow, f"agent{n:02d}", available_at=T0 - timedelta(seconds=n)) for n in range(12)]
    calls = [make_contact(uow, now=T0 + timedelta(seconds=n), channel="sms" if n % 3 else "voice")
             for n in range(30)]
    report = engine.run_pass(uow, T0 + timedelta(minutes=1))
    offered = [interactions.get(uow, call.id) for call in calls]
    live = uow.session.query(Assignment).filter(Assignment.status == "offered").all()
    assert report.offered == len(live) == sum(1 for found in offered if found.status == "offered")
    by_interaction = {leg.interaction_id: leg for leg in live}
    for found in offered:
        if found.status == "offered":
            leg = by_interaction[found.id]
            assert leg.agent_id == found.agent_id
            assert leg.kind == ("voice" if found.channel == "voice" else "text")
            assert [event.kind for event in interactions.history(uow, found.id)][-1] == "offered"
    for member in staff:
        agent = member.row(uow)
        held = [leg for leg in live if leg.agent_id == member.id]
        assert agent.load_voice == sum(leg.kind == "voice" for leg in held) <= agent.voice_slots
        assert agent.load_text == sum(leg.kind == "text" for leg in held) <= agent.text_slots


def test_a_caller_who_withholds_their_number_is_still_queued(uow: UnitOfWork) -> None:
    make_queue(uow)
    call = make_contact(uow, now=T0, address="Anonymous")
    assert (call.status, call.address, call.patient_id, call.candidates) == ("queued", None, None, 0)


def test_signing_out_takes_an_available_agent_offline_and_gives_back_their_offers(uow: UnitOfWork) -> None:
    make_queue(uow)
    alex = make_agent(uow, "alex", available_at=T0)
    call = make_contact(uow, now=T0)
    engine.run_pass(uow, T0)
    agents.sign_off(uow, alex.actor, now=T0 + timedelta(seconds=5))
    assert (alex.row(uow).state, alex.row(uow).load_voice) == ("offline", 0)
    assert interactions.get(uow, call.id).status == "queued"
