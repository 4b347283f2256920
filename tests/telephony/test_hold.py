"""Hold on a Twilio call: the worker moves the caller to hold music when the agent holds, and bridges them back
to the agent when they resume."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from careline.db import UnitOfWork
from careline.routing.models import Interaction
from careline.routing.service import interactions
from careline.worker.runner import Dispatcher
from tests.factories.routing import Staff
from tests.factories.telephony import ORIGIN, call_params, post_signed
from tests.support.fake_twilio import FakeTwilio
from tests.telephony.test_twilio_rest import SID, alex, answered, bridged, rest_settings, worker

__all__ = ["alex", "rest_settings", "worker"]  # the fixtures these tests share with the REST tests


def test_hold_plays_music_and_resume_bridges_the_agent_again(client: TestClient, sessions: sessionmaker[Session],
                                                             alex: Staff, worker: Dispatcher,
                                                             fake_twilio: FakeTwilio) -> None:
    call_id, contact_id = bridged(client, sessions, alex, worker)

    with UnitOfWork(sessions) as work:
        interactions.hold(work, alex.actor, contact_id)
        work.commit()
    assert worker.drain() == 1
    assert fake_twilio.requests[-1].form == {"Url": f"{ORIGIN}/telephony/twilio/hold/{call_id}", "Method": "POST"}
    first = post_signed(client, f"/telephony/twilio/hold/{call_id}", call_params(SID, CallStatus="in-progress"))
    assert "Please hold." in first.text
    assert f"/telephony/twilio/hold/{call_id}</Redirect>" in first.text  # round and round until resumed
    again = post_signed(client, f"/telephony/twilio/hold/{call_id}", call_params(SID, CallStatus="in-progress"))
    assert "Please hold." not in again.text

    with UnitOfWork(sessions) as work:
        interactions.resume(work, alex.actor, contact_id)
        work.commit()
    assert worker.drain() == 1
    assert fake_twilio.requests[-1].form == {"Url": f"{ORIGIN}/telephony/twilio/connect/{call_id}", "Method": "POST"}
    bridge = post_signed(client, f"/telephony/twilio/connect/{call_id}", call_params(SID, CallStatus="in-progress"))
    assert f"<Client>agent-{alex.id}</Client>" in bridge.text
    with sessions() as session:
        contact = session.get(Interaction, contact_id)
        assert contact is not None
        assert contact.held_at is None


def test_a_late_hold_request_after_resume_goes_back_to_the_agent(client: TestClient, sessions: sessionmaker[Session],
                                                                 alex: Staff, worker: Dispatcher) -> None:
    call_id, contact_id = answered(client, sessions, alex)
    with UnitOfWork(sessions) as work:
        interactions.hold(work, alex.actor, contact_id)
        interactions.resume(work, alex.actor, contact_id)
        work.commit()

    late = post_signed(client, f"/telephony/twilio/hold/{call_id}", call_params(SID, CallStatus="in-progress"))

    assert "Please hold." not in late.text
    assert f"<Client>agent-{alex.id}</Client>" in late.text
