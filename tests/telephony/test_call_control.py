"""The worker keeps a Twilio call in step with its contact without ever doing a thing twice: a warm transfer
moves the call to the new agent, a repeated change sends one request, an outbound call ended on the desktop is
hung up (see test_outbound.py), and a caller pressing 1 while an agent's offer rings stays on the line."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, utcnow
from careline.routing.models import Interaction
from careline.routing.schemas import TransferIn
from careline.routing.service import engine, interactions, offers
from careline.routing.service.offers import tell_provider
from careline.worker.runner import Dispatcher
from tests.factories.routing import Staff, make_agent, open_offers
from tests.factories.telephony import ORIGIN, call_params, post_signed
from tests.support.fake_twilio import FakeTwilio
from tests.telephony.test_twilio_rest import SID, alex, answered, bridged, rest_settings, worker

__all__ = ["alex", "rest_settings", "worker"]  # the fixtures these tests share with the REST tests


def test_a_warm_transfer_moves_the_call_to_the_colleague(client: TestClient, sessions: sessionmaker[Session],
                                                         alex: Staff, uow: UnitOfWork, worker: Dispatcher,
                                                         fake_twilio: FakeTwilio) -> None:
    blair = make_agent(uow, "blair", available_at=utcnow() - timedelta(seconds=10))  # Alex is idle longer
    uow.commit()
    call_id, contact_id = bridged(client, sessions, alex, worker)

    with UnitOfWork(sessions) as work:
        interactions.transfer(work, alex.actor, contact_id, TransferIn(mode="warm", agent_id=blair.id))
        offers.accept(work, blair.actor, open_offers(work, blair)[0].id)
        interactions.complete_transfer(work, alex.actor, contact_id)
        work.commit()
    assert worker.drain() >= 1

    assert fake_twilio.requests[-1].form == {"Url": f"{ORIGIN}/telephony/twilio/connect/{call_id}", "Method": "POST"}
    bridge = post_signed(client, f"/telephony/twilio/connect/{call_id}", call_params(SID, CallStatus="in-progress"))
    assert f"<Client>agent-{blair.id}</Client>" in bridge.text


def test_the_same_change_twice_sends_one_request(client: TestClient, sessions: sessionmaker[Session], alex: Staff,
                                                 worker: Dispatcher, fake_twilio: FakeTwilio) -> None:
    _call, contact_id = answered(client, sessions, alex)
    with UnitOfWork(sessions) as work:
        tell_provider(work, work.session.get_one(Interaction, contact_id))  # a second row for the same answer
        work.commit()

    assert worker.drain() == 2

    assert len(fake_twilio.to(fake_twilio.calls_path(SID))) == 1


def test_pressing_1_while_an_offer_rings_keeps_the_caller_on_the_line(client: TestClient, uow: UnitOfWork,
                                                                       sessions: sessionmaker[Session],
                                                                       alex: Staff) -> None:
    for path, digits in (("voice", None), ("gather/language", "1"), ("gather/menu", "4")):
        post_signed(client, f"/telephony/twilio/{path}", call_params(SID, **({"Digits": digits} if digits else {})))
    with UnitOfWork(sessions) as work:
        engine.run_pass(work)  # offered to Alex, ringing on the desktop
        work.commit()

    pressed = post_signed(client, "/telephony/twilio/gather/waiting", call_params(SID, Digits="1"))

    assert pressed.status_code == 200
    assert "<Hangup" not in pressed.text
    with sessions() as session:
        assert session.scalars(select(Interaction.channel)).one() == "voice"


def test_an_agent_whose_phone_never_answered_can_be_bridged_again(client: TestClient, sessions: sessionmaker[Session],
                                                                   alex: Staff, worker: Dispatcher,
                                                                   fake_twilio: FakeTwilio) -> None:
    call_id, _contact = bridged(client, sessions, alex, worker)

    back = post_signed(client, "/telephony/twilio/dial-ended", call_params(SID, DialCallStatus="no-answer"))
    assert "<Enqueue" in back.text
    with UnitOfWork(sessions) as work:  # offered to Alex again, who answers this time
        engine.run_pass(work)
        offers.accept(work, alex.actor, open_offers(work, alex)[0].id)
        work.commit()
    worker.drain()

    redirects = fake_twilio.to(fake_twilio.calls_path(SID))
    assert [request.form["Url"] for request in redirects] == [f"{ORIGIN}/telephony/twilio/connect/{call_id}"] * 2
