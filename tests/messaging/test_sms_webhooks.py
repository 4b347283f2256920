"""Twilio's SMS webhooks, signed with the twilio library's RequestValidator: an incoming text or MMS reaches an
agent once however often Twilio retries it, and status callbacks move a message forward only, in any order."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.app import create_app
from careline.db import UnitOfWork, utcnow
from careline.messaging.models import Conversation, Message
from careline.messaging.rules import Channel
from careline.messaging.service import outgoing
from careline.routing.models import Interaction
from careline.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories.messaging import (
    MOBILE,
    SMS_PATH,
    STATUS_PATH,
    inbound,
    make_texter,
    opt_outs,
    outbound,
    sms_params,
    status_params,
)
from tests.factories.routing import make_queue
from tests.factories.telephony import AUTH_TOKEN, CENTER, ORIGIN, post_signed, sign, twiml

MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM714d/Media/MEe49b"


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    return create_app(settings.model_copy(update={"twilio_auth_token": AUTH_TOKEN, "public_url": ORIGIN}),
                      sessions=sessions)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=ORIGIN) as client:
        yield client


@pytest.fixture(autouse=True)
def line(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    uow.commit()


def count(sessions: sessionmaker[Session], model: type[Message | Conversation | Interaction]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_signed_text_is_kept_and_routed_to_an_agent_with_an_empty_answer(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    with UnitOfWork(sessions) as uow:
        patient = make_texter(uow)
        uow.commit()
    answer = post_signed(client, SMS_PATH, sms_params("SM1ba58c4b", "C - can we move it to Thursday?"))
    assert list(twiml(answer)) == []  # replies go through the outbox, never inline
    with sessions() as session:
        [message] = inbound(session)
        thread = session.get_one(Conversation, message.conversation_id)
        contact = session.get_one(Interaction, thread.interaction_id)
        assert (message.body, message.provider_id, message.status) == ("C - can we move it to Thursday?",
                                                                       "SM1ba58c4b", "received")
        assert (thread.address, thread.center_address, thread.patient_id) == (MOBILE, CENTER, patient.id)
        assert (contact.channel, contact.status, contact.patient_id) == ("sms", "queued", patient.id)


def test_a_replayed_message_sid_changes_nothing(client: TestClient, sessions: sessionmaker[Session]) -> None:
    for _ in range(3):
        assert post_signed(client, SMS_PATH, sms_params("SMreplayed", "hello")).status_code == 200
    assert (count(sessions, Message), count(sessions, Conversation), count(sessions, Interaction)) == (1, 1, 1)


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl", "wrong-token"])
def test_a_text_without_a_valid_signature_is_refused_and_nothing_recorded(
        client: TestClient, sessions: sessionmaker[Session], signature: str | None) -> None:
    params = sms_params("SMforged", "hello")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "wrong-token":
        headers["X-Twilio-Signature"] = sign(SMS_PATH, params, token="another_accounts_token_0123456789")
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    answer = client.post(SMS_PATH, content=urlencode(params), headers=headers)
    assert answer.status_code == 403
    assert "signature" in answer.text
    assert (count(sessions, Message), count(sessions, Conversation), count(sessions, Interaction)) == (0, 0, 0)


def test_a_body_changed_after_signing_is_refused(client: TestClient, sessions: sessionmaker[Session]) -> None:
    params = sms_params("SMtampered", "hello")
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(SMS_PATH, params)}
    answer = client.post(SMS_PATH, content=urlencode(params | {"Body": "STOP"}), headers=headers)
    assert answer.status_code == 403
    assert count(sessions, Message) == 0


def test_an_mms_keeps_its_media_as_links(client: TestClient, sessions: sessionmaker[Session]) -> None:
    media = [(MEDIA, "image/jpeg"), (MEDIA + "2", "application/pdf")]
    assert post_signed(client, SMS_PATH, sms_params("MM714d", "", media=media)).status_code == 200
    with sessions() as session:
        [message] = inbound(session)
        assert message.links == [{"url": MEDIA, "content_type": "image/jpeg"},
                                 {"url": MEDIA + "2", "content_type": "application/pdf"}]


def test_a_text_with_no_sender_is_a_clear_422_and_nothing_recorded(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    params = sms_params("SMnofrom", "hello")
    del params["From"]
    answer = post_signed(client, SMS_PATH, params)
    assert answer.status_code == 422
    assert "From" in answer.text
    assert count(sessions, Message) == 0


def test_stop_by_webhook_opts_out_and_queues_one_confirmation(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    for sid in ("SMstop1", "SMstop2"):
        answer = post_signed(client, SMS_PATH, sms_params(sid, "STOP", OptOutType="STOP"))
        assert list(twiml(answer)) == []
    with sessions() as session:
        assert [(event.opted_out, event.source, event.detail) for event in opt_outs(session)] == [
            (True, "keyword", "STOP")]
        assert [message.kind for message in outbound(session)] == ["opt_out_confirmation"]
    assert count(sessions, Interaction) == 0  # nothing for an agent to answer


# Status callbacks.

def sent_text(sessions: sessionmaker[Session], sid: str | None = "SMc439d34d") -> UUID:
    """An outbound text the worker handed to Twilio (queued there, under ``sid``)."""
    with UnitOfWork(sessions) as uow:
        thread = outgoing.thread_for(uow, Channel.sms, MOBILE, patient_id=None, language="en", center=CENTER,
                                     now=utcnow())
        message = outgoing.queue(uow, Settings(secret_key=TEST_SECRET), thread, body="Your visit is confirmed.")
        message.status, message.status_rank, message.provider_id = "sent", 1, sid
        message.sent_at = utcnow()
        uow.commit()
        return message.id


def callback(client: TestClient, message_id: UUID | None, sid: str, status: str, error: str | None = None) -> int:
    path = f"{STATUS_PATH}?message={message_id}" if message_id else STATUS_PATH
    return post_signed(client, path, status_params(sid, status, error_code=error)).status_code


def state(sessions: sessionmaker[Session], message_id: UUID) -> tuple[str, str | None]:
    with sessions() as session:
        message = session.get_one(Message, message_id)
        return message.status, message.error


def test_statuses_in_order_move_the_message_forward(client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions)
    assert callback(client, sent, "SMc439d34d", "sent") == 204
    assert state(sessions, sent) == ("sent", None)
    assert callback(client, sent, "SMc439d34d", "delivered") == 204
    assert state(sessions, sent) == ("delivered", None)


def test_a_late_sent_after_delivered_keeps_delivered(client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions)
    assert callback(client, sent, "SMc439d34d", "delivered") == 204
    assert callback(client, sent, "SMc439d34d", "sent") == 204
    assert callback(client, sent, "SMc439d34d", "queued") == 204
    assert state(sessions, sent) == ("delivered", None)


def test_undelivered_keeps_the_carriers_error_code_and_no_phi(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions)
    assert callback(client, sent, "SMc439d34d", "undelivered", "30003") == 204
    status, error = state(sessions, sent)
    assert (status, error) == ("undelivered", "Not delivered: carrier error 30003.")
    assert MOBILE not in (error or "")


def test_a_callback_without_our_id_finds_the_message_by_its_sid(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions)
    assert callback(client, None, "SMc439d34d", "failed", "30008") == 204
    assert state(sessions, sent) == ("failed", "Not delivered: carrier error 30008.")


def test_a_callback_before_the_workers_receipt_records_the_sid(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions, sid=None)
    assert callback(client, sent, "SMearly", "delivered") == 204
    with sessions() as session:
        message = session.get_one(Message, sent)
        assert (message.status, message.provider_id) == ("delivered", "SMearly")


def test_a_callback_naming_a_sid_another_message_holds_applies_to_ours_and_leaves_the_sid(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    first = sent_text(sessions, sid="SMfirst")
    second = sent_text(sessions, sid=None)
    assert callback(client, second, "SMfirst", "delivered") == 204
    with sessions() as session:
        assert [(m.status, m.provider_id) for m in (session.get_one(Message, first), session.get_one(Message, second))
                ] == [("sent", "SMfirst"), ("delivered", None)]


def test_an_unknown_message_is_answered_204_and_nothing_changes(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions)
    assert callback(client, uuid4(), "SMnobody", "delivered") == 204
    assert callback(client, None, "SMnobody", "failed", "21610") == 204
    assert state(sessions, sent) == ("sent", None)
    with sessions() as session:
        assert opt_outs(session) == []


def test_a_status_callback_never_touches_an_inbound_message(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    assert post_signed(client, SMS_PATH, sms_params("SMinbound", "hello")).status_code == 200
    assert callback(client, None, "SMinbound", "failed", "30003") == 204
    with sessions() as session:
        assert [(m.status, m.error) for m in inbound(session)] == [("received", None)]


def test_error_21610_in_a_status_callback_opts_the_number_out(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions)
    assert callback(client, sent, "SMc439d34d", "failed", "21610") == 204
    assert callback(client, sent, "SMc439d34d", "failed", "21610") == 204  # Twilio retried: recorded once
    assert state(sessions, sent) == ("failed", "The carrier says the patient opted out (error 21610).")
    with sessions() as session:
        assert [(e.opted_out, e.source, e.detail) for e in opt_outs(session)] == [(True, "carrier", "21610")]


def test_a_status_callback_without_a_valid_signature_is_refused(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    sent = sent_text(sessions)
    path = f"{STATUS_PATH}?message={sent}"
    params = status_params("SMc439d34d", "delivered")
    forged = sign(f"{STATUS_PATH}?message={uuid4()}", params)  # signed for another message's URL
    answer = client.post(path, content=urlencode(params), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": forged})
    assert answer.status_code == 403
    assert state(sessions, sent) == ("sent", None)


def test_a_bad_message_id_is_a_clear_4xx(client: TestClient) -> None:
    answer = post_signed(client, f"{STATUS_PATH}?message=not-a-uuid", status_params("SMx", "delivered"))
    assert answer.status_code == 400
    assert "message" in answer.text
