"""Texts out through Twilio's REST API, against a local fake of it on 127.0.0.1: the worker sends with the
status callback URL and the Messaging Service (or the number the patient wrote to), Twilio's callbacks then
move the message on, and its error 21610 (the patient replied STOP to the carrier) is an opt-out."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.app import create_app
from careline.db import UnitOfWork, utcnow
from careline.messaging.models import Message
from careline.messaging.rules import Channel
from careline.messaging.service import outgoing
from careline.settings import Settings
from careline.worker.models import OutboxMessage
from tests.factories.messaging import MOBILE, SERVICE_SID, STATUS_PATH, opt_outs, status_params
from tests.factories.telephony import ACCOUNT_SID, AUTH_TOKEN, CENTER, ORIGIN, post_signed
from tests.support.fake_twilio import FakeTwilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID) as fake:
        yield fake


@pytest.fixture
def twilio_settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    return settings.model_copy(update={"twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN,
                                       "twilio_api_url": fake_twilio.url, "sms_provider": "twilio",
                                       "public_url": ORIGIN})


def queue_text(sessions: sessionmaker[Session], settings: Settings, body: str = "Your visit is confirmed.") -> UUID:
    with UnitOfWork(sessions) as uow:
        thread = outgoing.thread_for(uow, Channel.sms, MOBILE, patient_id=None, language="en", center=CENTER,
                                     now=utcnow())
        message = outgoing.queue(uow, settings, thread, body=body)
        uow.commit()
        return message.id


def row(sessions: sessionmaker[Session], message_id: UUID) -> Message:
    with sessions() as session:
        return session.get_one(Message, message_id)


def test_a_text_goes_through_the_messaging_service_with_its_status_callback(
        sessions: sessionmaker[Session], twilio_settings: Settings, fake_twilio: FakeTwilio) -> None:
    settings = twilio_settings.model_copy(update={"twilio_messaging_service_sid": SERVICE_SID})
    sent = queue_text(sessions, settings)
    assert jobs.dispatcher(sessions, settings).drain() == 1
    [request] = fake_twilio.to(fake_twilio.messages_path())
    assert request.form == {"To": MOBILE, "Body": "Your visit is confirmed.", "MessagingServiceSid": SERVICE_SID,
                            "StatusCallback": f"{ORIGIN}{STATUS_PATH}?message={sent}"}
    message = row(sessions, sent)
    assert (message.status, message.provider_id) == ("sent", fake_twilio.created[0])  # taken by Twilio


def test_without_a_messaging_service_the_text_comes_from_the_number_the_patient_wrote_to(
        sessions: sessionmaker[Session], twilio_settings: Settings, fake_twilio: FakeTwilio) -> None:
    queue_text(sessions, twilio_settings)
    jobs.dispatcher(sessions, twilio_settings).drain()
    [request] = fake_twilio.to(fake_twilio.messages_path())
    assert (request.form["From"], request.form["To"]) == (CENTER, MOBILE)
    assert "MessagingServiceSid" not in request.form


def test_twilios_callbacks_then_move_the_sent_text_to_delivered(
        sessions: sessionmaker[Session], twilio_settings: Settings, fake_twilio: FakeTwilio) -> None:
    sent = queue_text(sessions, twilio_settings)
    jobs.dispatcher(sessions, twilio_settings).drain()
    sid = fake_twilio.created[0]
    with TestClient(create_app(twilio_settings, sessions=sessions), base_url=ORIGIN) as client:
        for status in ("sent", "delivered", "sent"):  # the last one late, out of order
            assert post_signed(client, f"{STATUS_PATH}?message={sent}", status_params(sid, status)).status_code == 204
    message = row(sessions, sent)
    assert (message.status, message.provider_id, message.error) == ("delivered", sid, None)


def test_twilios_error_21610_opts_the_number_out_and_blocks_every_later_text(
        sessions: sessionmaker[Session], twilio_settings: Settings, fake_twilio: FakeTwilio) -> None:
    fake_twilio.unsubscribed.add(MOBILE)
    first = queue_text(sessions, twilio_settings)
    assert jobs.dispatcher(sessions, twilio_settings).drain() == 1
    message = row(sessions, first)
    assert (message.status, message.error) == ("blocked", "The carrier says the patient opted out (error 21610).")
    with sessions() as session:
        assert [(e.opted_out, e.source, e.detail) for e in opt_outs(session)] == [(True, "carrier", "21610")]
        assert [r.status for r in session.scalars(select(OutboxMessage))] == ["sent"]  # settled, not retried
    later = queue_text(sessions, twilio_settings, "Another reminder")
    jobs.dispatcher(sessions, twilio_settings).drain()
    assert row(sessions, later).status == "blocked"
    assert len(fake_twilio.to(fake_twilio.messages_path())) == 1  # Twilio was not asked again


def test_a_twilio_outage_retries_and_never_names_the_number(
        sessions: sessionmaker[Session], twilio_settings: Settings, fake_twilio: FakeTwilio) -> None:
    settings = twilio_settings.model_copy(update={"twilio_api_url": "http://127.0.0.1:9"})  # nothing listens
    sent = queue_text(sessions, settings)
    assert jobs.dispatcher(sessions, settings).run_once() == 1
    with sessions() as session:
        [outbox] = session.scalars(select(OutboxMessage)).all()
        assert (outbox.status, outbox.attempts) == ("pending", 1)
        assert MOBILE not in (outbox.last_error or "")
    assert MOBILE not in (row(sessions, sent).error or "")
