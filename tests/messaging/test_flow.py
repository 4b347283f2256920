"""A text from a patient reaches an agent, the reply reaches the sink through the worker, and STOP stops it all."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork
from careline.integrations.sink import SinkMessage
from careline.messaging.errors import Blocked
from careline.messaging.models import Conversation, Message
from careline.messaging.rules import Channel
from careline.messaging.schemas import ReplyIn
from careline.messaging.service import threads
from careline.routing.service import engine, offers
from careline.settings import Settings
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, contact, make_agent, make_queue, open_offers

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
MOBILE = "+16175550111"
CENTER = "+18005550100"


def _text(body: str, sid: str) -> threads.Inbound:
    return threads.Inbound(channel=Channel.sms, address=MOBILE, body=body, provider_id=sid, center_address=CENTER)


def test_a_text_reaches_an_agent_and_the_reply_reaches_the_sink(sessions: sessionmaker[Session],
                                                                 settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        patient = make_patient(uow, phones=((MOBILE, "mobile"),))
        staff = make_agent(uow, "alex", available_at=NOW)
        message = threads.receive(uow, POLICY, settings, _text("Can I move my visit?", "SM1"), now=NOW)
        again = threads.receive(uow, POLICY, settings, _text("Can I move my visit?", "SM1"), now=NOW)
        conversation = uow.session.get_one(Conversation, message.conversation_id)
        assert again.id == message.id
        assert conversation.patient_id == patient.id
        assert conversation.interaction_id is not None
        assert contact(uow, conversation.interaction_id).channel == "sms"
        engine.run_pass(uow, NOW)
        offers.accept(uow, staff.actor, open_offers(uow, staff)[0].id, now=NOW)
        view = threads.reply(uow, staff.actor, settings, conversation.interaction_id, ReplyIn(body="Yes, which day?"))
        assert [m.direction for m in view.messages] == ["inbound", "outbound"]
        uow.commit()
    assert jobs.dispatcher(sessions, settings).drain() == 1
    with sessions() as session:
        sent = session.scalars(select(SinkMessage)).all()
        assert [(row.to, row.sender, row.body) for row in sent] == [(MOBILE, CENTER, "Yes, which day?")]
        reply = session.scalars(select(Message).where(Message.direction == "outbound")).one()
        assert (reply.status, reply.author) == ("sent", "Alex")  # as the desktop names the agent
    assert settings.effective_sink_file.read_text().count("Yes, which day?") == 1


def test_stop_opts_out_confirms_once_and_blocks_every_later_text(sessions: sessionmaker[Session],
                                                                  settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        make_patient(uow, phones=((MOBILE, "mobile"),))
        staff = make_agent(uow, "alex", available_at=NOW)
        first = threads.receive(uow, POLICY, settings, _text("hello", "SM1"), now=NOW)
        conversation = uow.session.get_one(Conversation, first.conversation_id)
        engine.run_pass(uow, NOW)
        offers.accept(uow, staff.actor, open_offers(uow, staff)[0].id, now=NOW)
        threads.reply(uow, staff.actor, settings, conversation.interaction_id, ReplyIn(body="Hi there"))
        threads.receive(uow, POLICY, settings, _text("Stop.", "SM2"), now=NOW)
        threads.receive(uow, POLICY, settings, _text("STOP", "SM3"), now=NOW)
        uow.commit()
    jobs.dispatcher(sessions, settings).drain()
    with UnitOfWork(sessions) as uow:
        sent = uow.session.scalars(select(Message).where(Message.direction == "outbound").order_by(Message.seq))
        assert [(row.kind, row.status) for row in sent] == [("conversation", "blocked"),
                                                            ("opt_out_confirmation", "sent")]
        try:
            threads.reply(uow, staff.actor, settings, conversation.interaction_id, ReplyIn(body="Still there?"))
        except Blocked:
            pass
        else:
            raise AssertionError("a reply to an opted-out number was queued")
    with sessions() as session:
        assert [row.body[:20] for row in session.scalars(select(SinkMessage))] == ["Careline Health: You"]


def test_a_restricted_patients_text_and_email_reach_the_queue_matched_to_their_record(
        uow: UnitOfWork, settings: Settings) -> None:
    make_queue(uow, "scheduling")
    staff = make_patient(uow, phones=((MOBILE, "mobile"),), restricted="staff")
    staff.email = "ana.rivera@example.org"
    text = threads.receive(uow, POLICY, settings, _text("Can I move my visit?", "SMrestricted"))
    mail = threads.receive(uow, POLICY, settings, threads.Inbound(
        channel=Channel.email, address="ana.rivera@example.org", body="Can I move my visit?", subject="Visit",
        provider_id="<restricted@patient.example>"))
    for message in (text, mail):
        thread = uow.session.get_one(Conversation, message.conversation_id)
        assert thread.interaction_id is not None
        queued = contact(uow, thread.interaction_id)
        assert (queued.status, queued.patient_id, queued.candidates) == ("queued", staff.id, 1)
