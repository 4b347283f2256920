"""Click-to-call over Twilio: an agent's POST /api/calls opens an outbound contact and a call, the worker places
it through Twilio's REST API (a local fake records it), and Twilio's status callbacks land on the contact."""

from __future__ import annotations

from datetime import UTC, timedelta
from email.utils import format_datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.app import create_app
from careline.auth.models import User
from careline.db import UnitOfWork, utcnow
from careline.routing.models import Interaction, InteractionEvent
from careline.routing.service import interactions
from careline.settings import Settings
from careline.telephony.models import Call
from careline.worker.models import OutboxMessage
from careline.worker.runner import Dispatcher
from tests.factories.auth import make_api_token
from tests.factories.routing import Staff, make_agent, make_queue
from tests.factories.telephony import ACCOUNT_SID, ORIGIN, call_params, post_signed
from tests.support.fake_twilio import FakeTwilio

CALLER_ID = "+16175550100"
PATIENT = "+16175550142"


@pytest.fixture
def rest_settings(twilio_settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return twilio_settings.model_copy(update={"twilio_account_sid": ACCOUNT_SID, "twilio_api_url": fake_twilio.url,
                                              "caller_id": CALLER_ID})


@pytest.fixture
def app(rest_settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    return create_app(rest_settings, sessions=sessions)


@pytest.fixture
def worker(sessions: sessionmaker[Session], rest_settings: Settings) -> Dispatcher:
    return jobs.dispatcher(sessions, rest_settings)


@pytest.fixture
def alex(uow: UnitOfWork) -> tuple[Staff, dict[str, str]]:
    make_queue(uow, "scheduling")
    make_queue(uow, "outbound")
    staff = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
    token = make_api_token(uow, uow.session.get_one(User, staff.actor.user_id))
    uow.commit()
    return staff, {"Authorization": f"Bearer {token}"}


def dial(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/calls", json=body, headers=headers)


def status(client: TestClient, sid: str, value: str, offset: int = 0) -> int:
    at = (utcnow() + timedelta(seconds=offset)).replace(microsecond=0).astimezone(UTC)
    params = call_params(sid, CALLER_ID, CallStatus=value, Direction="outbound-api", To=PATIENT, Called=PATIENT,
                         Timestamp=format_datetime(at))
    return post_signed(client, "/telephony/twilio/voice/status", params).status_code


def kinds(sessions: sessionmaker[Session], interaction_id: Any) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(InteractionEvent.kind).where(InteractionEvent.interaction_id
                                                                        == UUID(interaction_id))
                                    .order_by(InteractionEvent.id)))


def placed(client: TestClient, headers: dict[str, str], worker: Dispatcher, sessions: sessionmaker[Session]
           ) -> tuple[dict[str, Any], str]:
    response = dial(client, headers, number=PATIENT)
    assert response.status_code == 201, response.text
    assert worker.drain() == 1
    with sessions() as session:
        sid = session.get_one(Call, UUID(response.json()["id"])).provider_sid
    assert sid
    return response.json(), sid


def test_click_to_call_opens_a_connected_outbound_contact_and_a_call(
        client: TestClient, alex: tuple[Staff, dict[str, str]], sessions: sessionmaker[Session],
        fake_twilio: FakeTwilio) -> None:
    staff, headers = alex
    response = dial(client, headers, number="(617) 555-0142")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["direction"], body["stage"], body["provider"], body["provider_sid"]) == ("outbound", "dialing",
                                                                                          "twilio", None)
    with sessions() as session:
        contact = session.get_one(Interaction, UUID(body["interaction_id"]))
        assert (contact.channel, contact.direction, contact.status) == ("outbound", "outbound", "connected")
        assert contact.agent_id == staff.id
        assert contact.address == PATIENT
        call = session.get_one(Call, UUID(body["id"]))
        assert (call.caller, call.called, call.interaction_id) == (CALLER_ID, PATIENT, contact.id)
    assert fake_twilio.requests == []  # placed by the worker, never inside the request


def test_the_worker_places_the_call_through_twilio(
        client: TestClient, alex: tuple[Staff, dict[str, str]], sessions: sessionmaker[Session], worker: Dispatcher,
        fake_twilio: FakeTwilio) -> None:
    body, sid = placed(client, alex[1], worker, sessions)
    [create] = fake_twilio.requests
    assert (create.method, create.path) == ("POST", fake_twilio.calls_path())
    assert create.form["To"] == PATIENT
    assert create.form["From"] == CALLER_ID
    assert create.form["Url"] == f"{ORIGIN}/telephony/twilio/connect/{body['id']}"
    assert create.form["StatusCallback"] == f"{ORIGIN}/telephony/twilio/voice/status?call={body['id']}"
    assert create.form["StatusCallbackMethod"] == "POST"
    assert set(create.values["StatusCallbackEvent"]) == {"initiated", "ringing", "answered", "completed"}
    assert sid == fake_twilio.created[0]
    assert sid.startswith("CA")
    assert worker.drain() == 0
    assert len(fake_twilio.requests) == 1  # placed once


def test_ringing_then_answered_are_recorded_on_the_contact(
        client: TestClient, alex: tuple[Staff, dict[str, str]], sessions: sessionmaker[Session],
        worker: Dispatcher) -> None:
    body, sid = placed(client, alex[1], worker, sessions)
    assert status(client, sid, "initiated") == 204
    assert status(client, sid, "ringing", 1) == 204
    assert kinds(sessions, body["interaction_id"])[-1] == "ringing"
    assert status(client, sid, "in-progress", 5) == 204
    with sessions() as session:
        call = session.get_one(Call, UUID(body["id"]))
        assert call.answered_at is not None
        assert call.provider_status == "in-progress"
    assert kinds(sessions, body["interaction_id"])[-2:] == ["ringing", "callee_answered"]
    bridge = post_signed(client, f"/telephony/twilio/connect/{body['id']}",
                         call_params(sid, CALLER_ID, CallStatus="in-progress", Direction="outbound-api"))
    assert f"<Client>agent-{alex[0].id}</Client>" in bridge.text


def test_a_busy_line_is_recorded_and_the_contact_wraps_up(
        client: TestClient, alex: tuple[Staff, dict[str, str]], sessions: sessionmaker[Session],
        worker: Dispatcher) -> None:
    body, sid = placed(client, alex[1], worker, sessions)
    assert status(client, sid, "ringing", 1) == 204
    assert status(client, sid, "busy", 8) == 204
    assert kinds(sessions, body["interaction_id"])[-3:] == ["ringing", "busy", "ended"]
    with sessions() as session:
        contact = session.get_one(Interaction, UUID(body["interaction_id"]))
        assert contact.status == "wrap_up"
        assert contact.ended_at is not None
        call = session.get_one(Call, UUID(body["id"]))
        assert (call.provider_status, call.answered_at) == ("busy", None)
        assert call.ended_at is not None


def test_without_a_caller_id_twilio_calls_are_refused_with_a_clear_message(
        rest_settings: Settings, sessions: sessionmaker[Session], alex: tuple[Staff, dict[str, str]]) -> None:
    app = create_app(rest_settings.model_copy(update={"caller_id": None}), sessions=sessions)
    with TestClient(app, base_url=ORIGIN) as client:
        refused = dial(client, alex[1], number=PATIENT)
    assert refused.status_code == 409
    assert "CARELINE_CALLER_ID" in refused.text
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0
        assert session.scalar(select(func.count()).select_from(Interaction)) == 0


@pytest.mark.parametrize("number", ["not a phone", "12", "+1 617 555"])
def test_a_number_that_is_not_a_phone_is_422(client: TestClient, alex: tuple[Staff, dict[str, str]],
                                             sessions: sessionmaker[Session], number: str) -> None:
    refused = dial(client, alex[1], number=number)
    assert refused.status_code == 422, refused.text
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0
        assert session.scalar(select(func.count()).select_from(Interaction)) == 0


def test_only_signed_in_staff_may_place_calls(client: TestClient, alex: tuple[Staff, dict[str, str]]) -> None:
    assert dial(client, {}, number=PATIENT).status_code == 401
    assert dial(client, {"Authorization": "Bearer not-a-token"}, number=PATIENT).status_code == 401


def test_an_outbound_call_ended_on_the_desktop_is_hung_up(client: TestClient, sessions: sessionmaker[Session],
                                                          alex: tuple[Staff, dict[str, str]],
                                                          fake_twilio: FakeTwilio, worker: Dispatcher) -> None:
    staff, headers = alex
    body = dial(client, headers, number=PATIENT).json()
    worker.drain()
    with sessions() as session:
        call = session.get_one(Call, UUID(body["id"]))
        sid, contact_id = call.provider_sid, call.interaction_id
    assert sid is not None
    assert contact_id is not None

    with UnitOfWork(sessions) as work:
        interactions.end(work, staff.actor, contact_id)
        work.commit()
    worker.drain()

    assert fake_twilio.requests[-1].path == fake_twilio.calls_path(sid)
    assert fake_twilio.requests[-1].form == {"Status": "completed"}


def test_a_placement_cut_off_mid_request_is_not_repeated(client: TestClient, sessions: sessionmaker[Session],
                                                         alex: tuple[Staff, dict[str, str]],
                                                         fake_twilio: FakeTwilio, worker: Dispatcher) -> None:
    _staff, headers = alex
    body: dict[str, Any] = dial(client, headers, number=PATIENT).json()
    with sessions() as session:  # as a worker killed between asking Twilio and hearing back leaves it
        session.get_one(Call, UUID(body["id"])).requested = "place"
        session.commit()

    worker.drain()

    assert fake_twilio.to(fake_twilio.calls_path()) == []
    with sessions() as session:
        assert session.scalars(select(OutboxMessage.status)).all() == ["dead"]
        assert session.get_one(Call, UUID(body["id"])).ended_at is not None


def test_a_call_ended_before_the_worker_places_it_never_rings(client: TestClient, sessions: sessionmaker[Session],
                                                               alex: tuple[Staff, dict[str, str]],
                                                               fake_twilio: FakeTwilio, worker: Dispatcher) -> None:
    staff, headers = alex
    body: dict[str, Any] = dial(client, headers, number=PATIENT).json()
    with UnitOfWork(sessions) as work:
        interactions.end(work, staff.actor, UUID(body["interaction_id"]))
        work.commit()

    worker.drain()

    assert fake_twilio.to(fake_twilio.calls_path()) == []
    with sessions() as session:
        assert session.get_one(Call, UUID(body["id"])).ended_at is not None
