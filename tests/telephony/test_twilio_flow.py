"""A call from Twilio, end to end: signed webhooks walk the IVR, the caller waits, an agent answers on the
desktop, the worker bridges the call, the caller hangs up, and every timestamp lands on the interaction."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork, utcnow
from careline.integrations.voice import RecordingCallControl
from careline.routing.models import Assignment, Interaction
from careline.routing.service import engine, offers
from careline.settings import Settings
from careline.telephony.models import Call
from tests.factories.routing import make_agent, make_queue
from tests.factories.telephony import call_params, make_number, post_signed

SID = "CA9389fb57cdf761afb7caab4094a4c54c"


def test_a_call_walks_the_ivr_waits_and_is_bridged_to_the_agent_who_answers(
        client: TestClient, uow: UnitOfWork, sessions: sessionmaker[Session], twilio_settings: Settings) -> None:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    alex = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
    uow.commit()

    greeting = post_signed(client, "/telephony/twilio/voice", call_params(SID))
    assert greeting.status_code == 200, greeting.text
    assert "dial 9 1 1" in greeting.text
    assert "<Gather" in greeting.text
    menu = post_signed(client, "/telephony/twilio/gather/language", call_params(SID, Digits="1"))
    assert "For billing, press 4." in menu.text
    line = post_signed(client, "/telephony/twilio/gather/menu", call_params(SID, Digits="4"))
    assert "<Enqueue" in line.text
    assert ">billing</Enqueue>" in line.text

    with UnitOfWork(sessions) as work:
        report = engine.run_pass(work)
        work.commit()
    assert report.offered == 1
    with UnitOfWork(sessions) as work:
        contact = work.session.query(Interaction).one()
        offer = work.session.query(Assignment).filter_by(agent_id=alex.id, status="offered").one()
        offers.accept(work, alex.actor, offer.id)
        work.commit()

    voice = RecordingCallControl()
    dispatcher = jobs.dispatcher(sessions, twilio_settings)
    dispatcher.context.providers["voice"]["twilio"] = voice
    assert dispatcher.drain() == 1
    assert voice.requests[0].action == "redirect"
    call_id = sessions().query(Call).one().id
    assert voice.requests[0].url == f"http://testserver/telephony/twilio/connect/{call_id}"

    bridge = post_signed(client, f"/telephony/twilio/connect/{call_id}", call_params(SID, CallStatus="in-progress"))
    assert f"<Client>agent-{alex.id}</Client>" in bridge.text

    ended = post_signed(client, "/telephony/twilio/voice/status", call_params(SID, CallStatus="completed",
                                                                               CallDuration="95"))
    assert ended.status_code == 204
    with UnitOfWork(sessions) as work:
        contact = work.session.get(Interaction, contact.id, populate_existing=True)
        assert contact is not None
        assert contact.status == "wrap_up"
        assert contact.queued_at
        assert contact.offered_at
        assert contact.answered_at
        assert contact.ended_at
        assert contact.queued_at <= contact.offered_at <= contact.answered_at <= contact.ended_at
        assert contact.reason == "billing"
        assert contact.address == "+16175550142"
