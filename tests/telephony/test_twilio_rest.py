"""Careline's own requests to Twilio's REST API, made by the worker when routing changes a call's contact:
a local fake of the API on 127.0.0.1 records them. An agent's answer bridges the call, a cold transfer puts
it back in line, the agent's end hangs it up; a call Twilio no longer has is not retried, an outage is."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork, utcnow
from careline.routing.models import Interaction
from careline.routing.schemas import TransferIn
from careline.routing.service import engine, interactions, offers
from careline.routing.service.offers import VOICE_CHANGED
from careline.settings import Settings
from careline.telephony.models import Call
from careline.worker.models import OutboxMessage
from careline.worker.runner import Dispatcher
from tests.factories.routing import Staff, make_agent, make_queue, open_offers
from tests.factories.telephony import ACCOUNT_SID, ORIGIN, call_params, make_number, post_signed
from tests.support.fake_twilio import FakeTwilio

SID = "CA7e6d5c4b3a29180f7e6d5c4b3a291800"


@pytest.fixture
def rest_settings(twilio_settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return twilio_settings.model_copy(update={"twilio_account_sid": ACCOUNT_SID, "twilio_api_url": fake_twilio.url})


@pytest.fixture
def worker(sessions: sessionmaker[Session], rest_settings: Settings) -> Dispatcher:
    """The real composition root: TwilioCallControl from the settings, pointed at the fake."""
    return jobs.dispatcher(sessions, rest_settings)


@pytest.fixture
def alex(uow: UnitOfWork) -> Staff:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    staff = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
    uow.commit()
    return staff


def answered(client: TestClient, sessions: sessionmaker[Session], alex: Staff) -> tuple[UUID, UUID]:
    """A caller walks the IVR into the billing line and Alex accepts the offer: (call id, contact id)."""
    for path, digits in (("voice", None), ("gather/language", "1"), ("gather/menu", "4")):
        extra = {"Digits": digits} if digits else {}
        assert post_signed(client, f"/telephony/twilio/{path}", call_params(SID, **extra)).status_code == 200
    with UnitOfWork(sessions) as work:
        engine.run_pass(work)
        offers.accept(work, alex.actor, open_offers(work, alex)[0].id)
        work.commit()
    with sessions() as session:
        call = session.scalars(select(Call).where(Call.provider_sid == SID)).one()
        assert call.interaction_id is not None
        return call.id, call.interaction_id


def bridged(client: TestClient, sessions: sessionmaker[Session], alex: Staff, worker: Dispatcher) -> tuple[UUID, UUID]:
    """As ``answered``, and the worker's redirect has been followed: the caller is talking to Alex."""
    call_id, contact_id = answered(client, sessions, alex)
    worker.drain()
    connect = post_signed(client, f"/telephony/twilio/connect/{call_id}", call_params(SID, CallStatus="in-progress"))
    assert f"<Client>agent-{alex.id}</Client>" in connect.text
    return call_id, contact_id


def outbox(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == VOICE_CHANGED)
                                    .order_by(OutboxMessage.created_at)))


def test_an_accepted_call_is_redirected_to_the_agent(client: TestClient, sessions: sessionmaker[Session],
                                                     alex: Staff, worker: Dispatcher, fake_twilio: FakeTwilio) -> None:
    call_id, _contact = answered(client, sessions, alex)
    assert fake_twilio.requests == []  # nothing leaves inside the request: the worker does it
    assert worker.drain() == 1
    [redirect] = fake_twilio.requests
    assert (redirect.method, redirect.path) == ("POST", fake_twilio.calls_path(SID))
    assert redirect.form == {"Url": f"{ORIGIN}/telephony/twilio/connect/{call_id}", "Method": "POST"}
    assert [row.status for row in outbox(sessions)] == ["sent"]
    assert worker.drain() == 0
    assert len(fake_twilio.requests) == 1


def test_a_cold_transfer_puts_the_call_back_in_line(client: TestClient, sessions: sessionmaker[Session], alex: Staff,
                                                    worker: Dispatcher, fake_twilio: FakeTwilio) -> None:
    call_id, contact_id = bridged(client, sessions, alex, worker)
    with UnitOfWork(sessions) as work:
        interactions.transfer(work, alex.actor, contact_id, TransferIn(queue="scheduling"))
        work.commit()
    assert worker.drain() == 1
    back = fake_twilio.requests[-1]
    assert back.path == fake_twilio.calls_path(SID)
    assert back.form == {"Url": f"{ORIGIN}/telephony/twilio/line/{call_id}", "Method": "POST"}
    line = post_signed(client, f"/telephony/twilio/line/{call_id}", call_params(SID, CallStatus="in-progress"))
    assert ">scheduling</Enqueue>" in line.text


def test_the_agents_end_hangs_the_call_up(client: TestClient, sessions: sessionmaker[Session], alex: Staff,
                                          worker: Dispatcher, fake_twilio: FakeTwilio) -> None:
    _call_id, contact_id = bridged(client, sessions, alex, worker)
    with UnitOfWork(sessions) as work:
        interactions.end(work, alex.actor, contact_id)
        work.commit()
    assert worker.drain() == 1
    hang_up = fake_twilio.requests[-1]
    assert hang_up.path == fake_twilio.calls_path(SID)
    assert hang_up.form == {"Status": "completed"}
    assert [row.status for row in outbox(sessions)] == ["sent", "sent"]


def test_a_call_twilio_no_longer_has_is_not_retried(client: TestClient, sessions: sessionmaker[Session],
                                                    alex: Staff, worker: Dispatcher, fake_twilio: FakeTwilio) -> None:
    answered(client, sessions, alex)
    fake_twilio.gone.add(SID)
    assert worker.drain() == 1
    assert len(fake_twilio.to(fake_twilio.calls_path(SID))) == 1
    [row] = outbox(sessions)
    assert (row.status, row.attempts) == ("sent", 1)


def test_an_outage_at_twilio_is_retried_later(client: TestClient, sessions: sessionmaker[Session], alex: Staff,
                                              worker: Dispatcher, fake_twilio: FakeTwilio) -> None:
    _call, contact_id = answered(client, sessions, alex)
    fake_twilio.failing.add(SID)
    assert worker.drain() == 1
    [row] = outbox(sessions)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error
    assert "ProviderError: Twilio HTTP 500" in row.last_error
    assert row.due_at > utcnow()
    assert "+1617" not in row.last_error  # the error names the call, never a number
    with sessions() as session:
        assert session.get_one(Interaction, contact_id).status == "connected"
