"""E-mail in: the raw message read into an Inbound, and ``careline smtpd``'s listener on 127.0.0.1 taking mail from a
real smtplib client — threading, the patient matched, re-deliveries kept once, oversize bounces with nothing kept."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, make_sessionmaker
from careline.messaging import mail, smtpd
from careline.messaging.errors import InvalidMessage, TooLarge
from careline.messaging.models import Attachment, Conversation, Message
from careline.messaging.rules import Channel
from careline.messaging.service import outgoing
from careline.settings import Settings
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, make_queue
from tests.support.smtp_server import HOST, free_port

PATIENT = "ana.rivera@example.org"
CENTER = "care@clinic.example"
KB = 1024


def email(body: str = "Can I move my visit?", *, sender: str = f"Ana Rivera <{PATIENT}>", subject: str = "My visit",
          message_id: str | None = "<p1@patient.example>", html: str | None = None,
          attachments: tuple[tuple[str, bytes], ...] = (), **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, f"Clinic <{CENTER}>", subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, data in attachments:
        message.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    return message


class TestReading:
    def test_the_fields_a_thread_needs(self) -> None:
        raw = email(html="<p>Can I <b>move</b> it?</p>", attachments=(("scan.pdf", b"%PDF-1.7 scan"),),
                    In_Reply_To="<ours-2@clinic.example>",
                    References="<ours-1@clinic.example> <ours-2@clinic.example>").as_bytes()
        inbound = mail.parse(raw, attachment_max_bytes=10 * KB)
        assert (inbound.channel, inbound.address, inbound.center_address) == (Channel.email, PATIENT, CENTER)
        assert (inbound.subject, inbound.body, inbound.provider_id) == ("My visit", "Can I move my visit?",
                                                                       "<p1@patient.example>")
        assert inbound.html is not None
        assert "<b>move</b>" in inbound.html
        assert inbound.references == ("<ours-2@clinic.example>", "<ours-1@clinic.example>")
        assert inbound.attachments == (("scan.pdf", "application/pdf", b"%PDF-1.7 scan"),)

    def test_html_only_is_read_as_its_words(self) -> None:
        message = EmailMessage()
        message["From"], message["Subject"] = PATIENT, "Hi"
        message.set_content("<html><head><style>p{}</style></head><body><p>Line&nbsp;one</p><p>Line  two<br>"
                            "three</p><script>x()</script></body></html>", subtype="html")
        inbound = mail.parse(message.as_bytes(), attachment_max_bytes=KB)
        assert inbound.body == "Line one\nLine two\nthree"
        assert inbound.html is not None
        assert inbound.attachments == ()

    def test_without_a_message_id_the_same_message_gets_the_same_derived_one(self) -> None:
        raw = email(message_id=None, Date="Fri, 27 Nov 2026 10:00:00 -0500").as_bytes()
        relayed = b"Received: from relay.example by mx.example\r\n" + raw
        first = mail.parse(raw, attachment_max_bytes=KB).provider_id
        assert first == mail.parse(relayed, attachment_max_bytes=KB).provider_id
        assert first is not None
        assert first.endswith("@derived.careline.invalid>")
        other = email("Another question", message_id=None, Date="Fri, 27 Nov 2026 10:00:00 -0500").as_bytes()
        assert mail.parse(other, attachment_max_bytes=KB).provider_id != first

    def test_an_attachment_over_the_limit_is_refused_by_name(self) -> None:
        raw = email(attachments=(("small.pdf", b"x" * 100), ("big scan.pdf", b"x" * (2 * KB + 1)))).as_bytes()
        with pytest.raises(TooLarge, match=r'^Attachment "big scan.pdf" is larger than 2 KB$'):
            mail.parse(raw, attachment_max_bytes=2 * KB)

    def test_a_message_without_a_sender_is_invalid(self) -> None:
        with pytest.raises(InvalidMessage):
            mail.parse(email(sender="undisclosed-recipients:;").as_bytes(), attachment_max_bytes=KB)


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"email_max_bytes": 64 * KB, "attachment_max_bytes": 4 * KB,
                                       "smtpd_host": HOST, "smtpd_port": free_port()})


@pytest.fixture
def listener(sessions: sessionmaker[Session], mail_settings: Settings) -> Iterator[Settings]:
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        uow.commit()
    with smtpd.listening(sessions, mail_settings, POLICY):
        yield mail_settings


def send(settings: Settings, message: EmailMessage | bytes) -> None:
    with smtplib.SMTP(settings.smtpd_host, settings.smtpd_port, timeout=10) as client:
        if isinstance(message, bytes):
            client.sendmail(PATIENT, [CENTER], message)
        else:
            client.send_message(message)


def count(sessions: sessionmaker[Session], model: type[Message] | type[Attachment] | type[Conversation]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def thread_of(sessions: sessionmaker[Session], provider_id: str) -> Conversation:
    with sessions() as session:
        message = session.scalars(select(Message).where(Message.provider_id == provider_id)).one()
        return session.get_one(Conversation, message.conversation_id)


class TestListener:
    def test_a_message_is_kept_with_its_attachment_matched_to_the_patient_and_routed(
            self, listener: Settings, sessions: sessionmaker[Session]) -> None:
        with UnitOfWork(sessions) as uow:
            patient = make_patient(uow)
            patient.email = "Ana.Rivera@Example.org"
            uow.commit()
        send(listener, email(attachments=(("scan.pdf", b"%PDF small"),)))
        conversation = thread_of(sessions, "<p1@patient.example>")
        assert (conversation.address, conversation.patient_id, conversation.subject) == (PATIENT, patient.id,
                                                                                         "My visit")
        assert conversation.interaction_id is not None
        with sessions() as session:
            [attachment] = session.scalars(select(Attachment)).all()
            assert (attachment.filename, attachment.data) == ("scan.pdf", b"%PDF small")

    def test_a_redelivery_is_one_message_even_without_a_message_id(self, listener: Settings,
                                                                   sessions: sessionmaker[Session]) -> None:
        raw = email(message_id=None, Date="Fri, 27 Nov 2026 10:00:00 -0500").as_bytes()
        send(listener, raw)
        send(listener, b"Received: from relay.example by mx.example\r\n" + raw)
        send(listener, email(message_id="<dup@patient.example>"))
        send(listener, email(message_id="<dup@patient.example>"))
        assert count(sessions, Message) == 2

    def test_a_reply_to_our_message_joins_its_thread_and_a_new_one_the_addresss_latest(
            self, listener: Settings, sessions: sessionmaker[Session]) -> None:
        send(listener, email(sender="someone.else@example.org", message_id="<first@patient.example>"))
        ours = thread_of(sessions, "<first@patient.example>")
        with UnitOfWork(sessions) as uow:
            conversation = uow.session.get_one(Conversation, ours.id)
            sent = outgoing.queue(uow, listener, conversation, body="Which day suits you?")
            uow.commit()
        assert sent.provider_id is not None
        # Answered from another mailbox of theirs: the references find the thread, not the address.
        send(listener, email("Tuesday", sender=f"Ana <{PATIENT}>", message_id="<reply@patient.example>",
                             In_Reply_To=sent.provider_id, References=f"<first@patient.example> {sent.provider_id}"))
        assert thread_of(sessions, "<reply@patient.example>").id == ours.id
        send(listener, email("New question", sender="Someone.Else@example.org", message_id="<new@patient.example>"))
        assert thread_of(sessions, "<new@patient.example>").id == ours.id  # the address's latest thread
        send(listener, email("Other topic", sender="third@example.org", message_id="<third@patient.example>"))
        assert thread_of(sessions, "<third@patient.example>").id != ours.id
        assert count(sessions, Conversation) == 2

    def test_an_oversize_attachment_bounces_with_its_name_and_nothing_is_kept(
            self, listener: Settings, sessions: sessionmaker[Session]) -> None:
        message = email(attachments=(("scan.pdf", b"x" * (4 * KB + 1)),))
        with pytest.raises(smtplib.SMTPDataError) as bounce:
            send(listener, message)
        assert bounce.value.smtp_code == 552
        assert bounce.value.smtp_error.decode() == '5.3.4 Attachment "scan.pdf" is larger than 4 KB'
        assert (count(sessions, Message), count(sessions, Conversation), count(sessions, Attachment)) == (0, 0, 0)

    def test_a_message_over_the_whole_limit_bounces(self, listener: Settings, sessions: sessionmaker[Session]) -> None:
        large = email("\n".join(["x" * 70] * 1000))
        with pytest.raises(smtplib.SMTPSenderRefused) as announced:  # the client said its SIZE up front
            send(listener, large)
        with smtplib.SMTP(listener.smtpd_host, listener.smtpd_port, timeout=10) as client:
            client.helo()  # no ESMTP, so no SIZE: the limit is met while the data arrives
            with pytest.raises(smtplib.SMTPDataError) as sent_anyway:
                client.sendmail(PATIENT, [CENTER], large.as_bytes(policy=policy.SMTP))
        assert (announced.value.smtp_code, sent_anyway.value.smtp_code) == (552, 552)
        assert count(sessions, Message) == 0
        send(listener, email("small enough"))  # the listener still takes the next one
        assert count(sessions, Message) == 1


def test_a_message_without_a_sender_is_refused_with_a_clear_reply(sessions: sessionmaker[Session],
                                                                   settings: Settings) -> None:
    reply = smtpd.InboundMail(sessions, settings, POLICY).take(email(sender="nobody").as_bytes())
    assert reply == "550 5.6.0 The e-mail has no sender address (From)."
    assert count(sessions, Message) == 0



def test_with_the_database_away_the_sender_is_told_to_try_later(tmp_path: Path, settings: Settings) -> None:
    away = make_sessionmaker(create_engine(f"sqlite:///{tmp_path / 'missing' / 'careline.db'}"))
    assert smtpd.InboundMail(away, settings, POLICY).take(email().as_bytes()) == smtpd.TRY_LATER
