"""E-mail out over SMTP against a real aiosmtpd server on 127.0.0.1: the message as composed, refusals, and an
agent's reply sent once by the worker with the thread's headers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork
from careline.integrations.messages import Outgoing, ProviderError, Receipt, Refused
from careline.integrations.smtp import SmtpSender
from careline.messaging.models import Conversation, Message
from careline.messaging.rules import Channel
from careline.messaging.schemas import ReplyIn
from careline.messaging.service import outgoing, threads
from careline.routing.service import engine, offers
from careline.settings import Settings
from careline.worker.models import OutboxMessage
from tests.factories.routing import POLICY, make_agent, make_queue, open_offers
from tests.support.smtp_server import HOST, SmtpServer, free_port, smtp_server

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
PATIENT = "ana.rivera@example.org"
CENTER = "care@clinic.example"


def _sender(server: SmtpServer) -> SmtpSender:
    return SmtpSender(host=server.host, port=server.port, security="none", sender=f"Clinic <{CENTER}>")


def _outgoing(key: str = "message:1", to: str = PATIENT, **fields: object) -> Outgoing:
    values: dict[str, object] = {"key": key, "channel": "email", "to": to, "sender": None,
                                 "body": "Your visit is confirmed.", "subject": "Re: My visit",
                                 "message_id": f"<{key.replace(':', '-')}@clinic.example>"}
    return Outgoing(**(values | fields))  # type: ignore[arg-type]


def test_a_message_goes_as_text_with_an_html_alternative_and_its_own_message_id() -> None:
    with smtp_server() as server:
        receipts = _sender(server).send([_outgoing(html="<p>Your visit is <b>confirmed</b>.</p>")])
    assert receipts == [Receipt(provider_id="<message-1@clinic.example>")]
    [taken] = server.messages
    assert taken.recipients == [PATIENT]
    email = taken.message
    assert email["Message-ID"] == "<message-1@clinic.example>"
    assert email["From"] == f"Clinic <{CENTER}>"
    assert email["Subject"] == "Re: My visit"
    assert email.get_content_type() == "multipart/alternative"
    plain, html = email.get_body(("plain",)), email.get_body(("html",))
    assert plain is not None
    assert plain.get_content().strip() == "Your visit is confirmed."
    assert html is not None
    assert "<b>confirmed</b>" in html.get_content()


def test_a_reply_names_the_message_it_answers_and_the_thread_before_it() -> None:
    thread = ("<first@patient.example>", "<second@clinic.example>")
    with smtp_server() as server:
        _sender(server).send([_outgoing(in_reply_to=thread[-1], references=thread)])
    email = server.messages[0].message
    assert email["In-Reply-To"] == "<second@clinic.example>"
    assert str(email["References"]).split() == list(thread)
    assert email.get_content_type() == "text/plain"


def test_a_refused_recipient_is_final_and_the_rest_of_the_batch_still_goes() -> None:
    with smtp_server(refused={"gone@example.org"}) as server:
        receipts = _sender(server).send([_outgoing("message:1", to="gone@example.org"), _outgoing("message:2")])
    refused, sent = receipts
    assert isinstance(refused, Refused)
    assert refused.code == "550"
    assert sent == Receipt(provider_id="<message-2@clinic.example>")
    assert [taken.recipients for taken in server.messages] == [[PATIENT]]


def test_no_server_listening_is_a_retryable_error_for_every_message() -> None:
    sender = SmtpSender(host=HOST, port=free_port(), security="none", sender=CENTER)
    receipts = sender.send([_outgoing("message:1"), _outgoing("message:2")])
    assert len(receipts) == 2
    for receipt in receipts:
        assert isinstance(receipt, ProviderError)
        assert not isinstance(receipt, Refused)
        assert "SMTP server unavailable" in str(receipt)


def test_an_agents_reply_to_an_email_is_sent_once_with_the_threads_headers(sessions: sessionmaker[Session],
                                                                           settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        staff = make_agent(uow, "alex", available_at=NOW)
        first = threads.Inbound(channel=Channel.email, address=PATIENT,
                                body="Can I move my visit?", subject="My visit", provider_id="<p1@patient.example>",
                                center_address=CENTER)
        message = threads.receive(uow, POLICY, settings, first, now=NOW)
        conversation = uow.session.get_one(Conversation, message.conversation_id)
        engine.run_pass(uow, NOW)
        offers.accept(uow, staff.actor, open_offers(uow, staff)[0].id, now=NOW)
        assert conversation.interaction_id is not None
        threads.reply(uow, staff.actor, settings, conversation.interaction_id, ReplyIn(body="Yes: which day?"))
        uow.commit()
    with smtp_server() as server:
        smtp_settings = settings.model_copy(update={"email_provider": "smtp", "smtp_host": server.host,
                                                    "smtp_port": server.port, "smtp_security": "none",
                                                    "email_from": f"Clinic <{CENTER}>"})
        dispatcher = jobs.dispatcher(sessions, smtp_settings)
        assert dispatcher.drain() == 1
        assert dispatcher.drain() == 0  # nothing left to send twice
    [taken] = server.messages
    email = taken.message
    with sessions() as session:
        reply = session.scalars(select(Message).where(Message.direction == "outbound")).one()
        assert reply.status == "sent"
        assert session.scalars(select(OutboxMessage.status)).all() == ["sent"]
    assert taken.recipients == [PATIENT]
    assert email["Message-ID"] == reply.provider_id
    assert email["In-Reply-To"] == "<p1@patient.example>"
    assert str(email["References"]).split() == ["<p1@patient.example>"]
    assert email["Subject"] == "Re: My visit"
    plain = email.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().strip() == "Yes: which day?"


def test_two_replies_sent_together_each_name_only_the_messages_before_them(sessions: sessionmaker[Session],
                                                                          settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        conversation = outgoing.thread_for(uow, Channel.email, PATIENT, patient_id=None, language="en", center=None,
                                           now=NOW)
        threads.receive(uow, POLICY, settings, threads.Inbound(channel=Channel.email, address=PATIENT, body="Hi",
                                                               subject="My visit", provider_id="<p1@patient.example>"),
                        now=NOW, conversation=conversation)
        first = outgoing.queue(uow, settings, conversation, body="One moment.", now=NOW)
        second = outgoing.queue(uow, settings, conversation, body="Tuesday works.", now=NOW)
        uow.commit()
    with smtp_server() as server:
        smtp_settings = settings.model_copy(update={"email_provider": "smtp", "smtp_host": server.host,
                                                    "smtp_port": server.port, "smtp_security": "none"})
        jobs.dispatcher(sessions, smtp_settings).drain()
    sent = {str(taken.message["Message-ID"]): taken.message for taken in server.messages}
    assert set(sent) == {first.provider_id, second.provider_id}
    assert str(sent[str(first.provider_id)]["References"]).split() == ["<p1@patient.example>"]
    assert str(sent[str(second.provider_id)]["References"]).split() == ["<p1@patient.example>", first.provider_id]
    assert sent[str(second.provider_id)]["In-Reply-To"] == first.provider_id
