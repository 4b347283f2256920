"""The demo's simulated phone: a text to the center's number reaches an agent, the agent's reply is what the phone
gets back (the sink's message to it), STOP stops everything; and the "Simulated phone" page around it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.actor import Role
from careline.auth.models import User
from careline.db import UnitOfWork, utcnow
from careline.integrations.sink import SinkMessage
from careline.messaging import simulator
from careline.messaging.errors import Blocked, InvalidMessage, NotConfigured
from careline.messaging.models import Conversation, Message
from careline.messaging.schemas import ReplyIn
from careline.messaging.service import threads
from careline.routing import demo as routing_demo
from careline.routing.schemas import StateIn
from careline.routing.service import agents, engine, offers, setup
from careline.settings import Settings
from careline.telephony.demo import DEMO_NUMBER
from careline.web.csrf import SESSION_COOKIE
from tests.conftest import csrf_from
from tests.factories.auth import make_session, make_user
from tests.factories.patients import make_patient
from tests.factories.routing import ADMIN as POLICY_ADMIN
from tests.factories.routing import POLICY, Staff, contact, make_agent, make_queue, open_offers

MOBILE = "+16175550111"


def test_a_text_reaches_an_agent_the_reply_reaches_the_phone_and_stop_stops_everything(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    now = utcnow()
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        patient = make_patient(uow, phones=((MOBILE, "mobile"),))
        alex = make_agent(uow, "alex", available_at=now)
        sent = simulator.text(uow, POLICY, settings, number="(617) 555-0111", body="  Can I move my visit?  ", now=now)
        conversation = uow.session.get_one(Conversation, sent.conversation_id)
        assert sent.provider_id is not None
        assert sent.provider_id.startswith("SIM")
        assert len(sent.provider_id) == 34
        assert (conversation.address, conversation.center_address, conversation.patient_id) == (
            MOBILE, DEMO_NUMBER, patient.id)
        assert conversation.interaction_id is not None
        assert contact(uow, conversation.interaction_id).channel == "sms"
        engine.run_pass(uow, now)
        offers.accept(uow, alex.actor, open_offers(uow, alex)[0].id, now=now)
        threads.reply(uow, alex.actor, settings, conversation.interaction_id, ReplyIn(body="Yes, which day?"))
        uow.commit()
    jobs.dispatcher(sessions, settings).drain()
    with UnitOfWork(sessions) as uow:
        assert [(line.sent, line.body) for line in simulator.screen(uow, POLICY, MOBILE)] == [
            (True, "Can I move my visit?"), (False, "Yes, which day?")]
        simulator.text(uow, POLICY, settings, number=MOBILE, body="STOP")
        uow.commit()
    jobs.dispatcher(sessions, settings).drain()
    with UnitOfWork(sessions) as uow:
        shown = simulator.screen(uow, POLICY, MOBILE)
        assert [line.sent for line in shown] == [True, False, True, False]
        assert "unsubscribed" in shown[-1].body
        with pytest.raises(Blocked):
            threads.reply(uow, alex.actor, settings, conversation.interaction_id, ReplyIn(body="Still there?"))


def test_bad_input_is_refused_and_nothing_is_written(uow: UnitOfWork, settings: Settings) -> None:
    with pytest.raises(InvalidMessage, match="Type a phone number"):
        simulator.text(uow, POLICY, settings, number="not a number", body="hello")
    with pytest.raises(InvalidMessage, match="Write the text"):
        simulator.text(uow, POLICY, settings, number=MOBILE, body="   ")
    assert uow.session.scalars(select(Message)).all() == []


def test_no_simulated_texts_while_a_real_provider_carries_them(uow: UnitOfWork, settings: Settings) -> None:
    with pytest.raises(NotConfigured, match="local sink"):
        simulator.text(uow, POLICY, settings.model_copy(update={"sms_provider": "twilio"}), number=MOBILE, body="hi")
    assert uow.session.scalars(select(Message)).all() == []


def test_a_simulated_email_is_matched_queued_and_answered_to_the_sink(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    now = utcnow()
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        patient = make_patient(uow)
        patient.email = "ana.rivera@example.org"
        alex = make_agent(uow, "alex", available_at=now)
        contact_id = simulator.write(uow, POLICY, settings, channel="email", address="ana.rivera@example.org",
                                     reason="billing", language="en", now=now)
        assert contact_id is not None
        written = contact(uow, contact_id)
        assert (written.channel, written.patient_id) == ("email", patient.id)
        [thread] = uow.session.scalars(select(Conversation).where(Conversation.interaction_id == contact_id)).all()
        assert (thread.subject, thread.center_address) == ("A question for the clinic", "care@careline.localhost")
        engine.run_pass(uow, now)
        offers.accept(uow, alex.actor, open_offers(uow, alex)[0].id, now=now)
        simulator.answer(uow, alex.actor, settings, contact_id, language="en", now=now)
        uow.commit()
    jobs.dispatcher(sessions, settings).drain()
    with sessions() as session:
        [reply] = session.scalars(select(Message).where(Message.direction == "outbound")).all()
        assert (reply.channel, reply.status) == ("email", "sent")
        assert [(m.channel, m.to) for m in session.scalars(select(SinkMessage))] == [
            ("email", "ana.rivera@example.org")]


def test_no_simulated_emails_while_smtp_carries_them(uow: UnitOfWork, settings: Settings) -> None:
    smtp = settings.model_copy(update={"email_provider": "smtp"})
    assert simulator.write(uow, POLICY, smtp, channel="email", address="ana.rivera@example.org", reason="other",
                           language="es", now=utcnow()) is None
    assert uow.session.scalars(select(Message)).all() == []


def _sign_in(client: TestClient, uow: UnitOfWork, role: Role) -> str:
    user = make_user(uow, role=role)
    client.cookies.set(SESSION_COOKIE, make_session(uow, uow.session.get_one(User, user.id)))
    uow.commit()
    return csrf_from(client.get("/account").text)


def test_the_page_sends_a_text_and_shows_the_phone(client: TestClient, uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_patient(uow, phones=((MOBILE, "mobile"),))
    token = _sign_in(client, uow, Role.agent)
    page = client.get("/simulator/phone")
    assert page.status_code == 200
    assert "SIMULATION" in page.text
    assert DEMO_NUMBER in page.text
    assert f'<option value="{MOBILE}">' in page.text
    answer = client.post("/simulator/phone", data={"csrf_token": token, "number": MOBILE, "body": "Hello there"},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/simulator/phone?number=%2B16175550111"
    shown = client.get(answer.headers["location"])
    assert 'class="sent"' in shown.text
    assert "Hello there" in shown.text
    assert re.search(r"<time [^>]*>\w{3} \d{1,2} \d{1,2}:\d\d [AP]M E[SD]T</time>", shown.text)  # the center's clock


@pytest.mark.parametrize(("form", "said"), [({"number": "12", "body": "hi"}, "Type a phone number"),
                                            ({"number": MOBILE, "body": " "}, "Write the text to send")])
def test_the_page_says_what_to_fix(client: TestClient, uow: UnitOfWork, form: dict[str, Any], said: str) -> None:
    token = _sign_in(client, uow, Role.supervisor)
    answer = client.post("/simulator/phone", data={"csrf_token": token, **form})
    assert answer.status_code == 422
    assert said in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert uow.session.scalars(select(Message)).all() == []


def test_in_the_demo_a_phone_text_waits_for_its_people_not_a_simulated_agent(uow: UnitOfWork,
                                                                              settings: Settings) -> None:
    now = utcnow()
    routing_demo.ensure_queues(uow, POLICY_ADMIN)
    simulated = routing_demo.ensure_simulated_agents(uow, POLICY_ADMIN, 2, now=now)
    for desk in simulated:
        agents.set_own_state(uow, desk.actor, StateIn(state="available"), now=now)
    sent = simulator.text(uow, POLICY, settings, number=MOBILE, body="Is anyone there?", now=now)
    waiting = contact(uow, uow.session.get_one(Conversation, sent.conversation_id).interaction_id)
    assert setup.queue_by_id(uow, waiting.queue_id).name == routing_demo.PHONE_QUEUE
    engine.run_pass(uow, now)
    assert all(open_offers(uow, Staff(desk.agent_id, desk.actor)) == [] for desk in simulated)  # not for them
    person = make_agent(uow, "alex", available_at=now, skills={routing_demo.DEMO_DESK: 1})
    engine.run_pass(uow, now)
    assert [offer.interaction_id for offer in open_offers(uow, person)] == [waiting.id]


def test_help_names_the_number_texted_and_the_pick_list_offers_one_patients_numbers(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        make_patient(uow, phones=((MOBILE, "mobile"),))
        make_patient(uow, given="Bo", phones=(("+16175550122", "mobile"),))
        make_patient(uow, given="Cy", phones=(("+16175550122", "home"),))  # a household's shared number
        assert simulator.demo_numbers(uow, POLICY_ADMIN, POLICY) == [MOBILE]
        simulator.text(uow, POLICY, settings, number=MOBILE, body="help")
        uow.commit()
    jobs.dispatcher(sessions, settings).drain()
    with UnitOfWork(sessions) as uow:
        [answer] = [line.body for line in simulator.screen(uow, POLICY, MOBILE) if not line.sent]
        assert f"call {DEMO_NUMBER}" in answer
