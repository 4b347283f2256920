"""The web chat's service: a patient's chat reaches the queue, the agent's answers and typing reach the widget,
"who are you" matches without telling, the transcript goes out through the worker, and an ended chat stays ended."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork
from careline.integrations.sink import SinkMessage
from careline.messaging import repository
from careline.messaging.errors import Blocked, ChatClosed, InvalidMessage, NotFound, TooManyTries
from careline.messaging.models import Conversation, Message, RateWindow
from careline.messaging.schemas import ChatWho, ReplyIn
from careline.messaging.service import chat, threads
from careline.routing.models import Interaction
from careline.routing.service import engine, offers
from careline.settings import Settings
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, Staff, contact, make_agent, make_queue, open_offers

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
ANA = ChatWho(name="Ana Rivera", birth_date=date(1961, 2, 3))


def _conversation(uow: UnitOfWork, token: str) -> Conversation:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return uow.session.scalars(select(Conversation).where(Conversation.token_hash == digest)).one()


def _answered(uow: UnitOfWork, settings: Settings) -> tuple[str, Conversation, Staff]:
    """A chat with one line from the patient, answered by Alex."""
    make_queue(uow, "scheduling")
    staff = make_agent(uow, "alex", available_at=NOW)
    token, _ = chat.start(uow, "en", now=NOW)
    chat.say(uow, POLICY, settings, token, "Can I book a flu shot?", now=NOW)
    engine.run_pass(uow, NOW)
    offers.accept(uow, staff.actor, open_offers(uow, staff)[0].id, now=NOW)
    return token, _conversation(uow, token), staff


def test_a_chat_queues_one_chat_contact_and_keeps_only_the_token_hash(uow: UnitOfWork, settings: Settings) -> None:
    queue = make_queue(uow, "scheduling")
    token, conversation_id = chat.start(uow, "en", now=NOW)
    first = chat.say(uow, POLICY, settings, token, "Hello, is anyone there?", now=NOW)
    second = chat.say(uow, POLICY, settings, token, "I need to move a visit", now=NOW + timedelta(seconds=5))
    conversation = _conversation(uow, token)
    assert conversation.id == conversation_id
    assert token not in (conversation.token_hash, conversation.address)
    assert (first.seq, second.seq, first.from_patient, first.author) == (1, 2, True, None)
    queued = contact(uow, conversation.interaction_id)
    assert (queued.channel, queued.status, queued.queue_id, queued.address) == ("chat", "queued", queue.id, None)
    assert uow.session.scalars(select(Message).where(Message.conversation_id == conversation_id)).all()[1].body == (
        "I need to move a visit")


def test_the_agents_reply_and_typing_reach_the_widget_and_the_patients_typing_reaches_the_agent(
        uow: UnitOfWork, settings: Settings) -> None:
    token, conversation, staff = _answered(uow, settings)
    assert conversation.interaction_id is not None
    threads.reply(uow, staff.actor, settings, conversation.interaction_id, ReplyIn(body="Yes — which day suits you?"))
    news = chat.news(uow, token, 1)
    assert [(line.seq, line.from_patient, line.author, line.body) for line in news.lines] == [
        (2, False, "Agent", "Yes — which day suits you?")]
    assert (news.agent_typing, news.ended) == (False, False)
    assert "identified" not in news.model_dump()  # the widget never learns whether a record matched
    everything = chat.news(uow, token, 0).lines
    assert [line.body for line in everything] == ["Can I book a flu shot?", "Yes — which day suits you?"]

    threads.agent_typing(uow, staff.actor, conversation.interaction_id)
    assert chat.news(uow, token, 2).agent_typing is True
    assert threads.for_contact(uow, staff.actor, conversation.interaction_id).patient_typing is False
    chat.typing(uow, token)
    assert threads.for_contact(uow, staff.actor, conversation.interaction_id).patient_typing is True


def test_identify_matches_exactly_one_patient_and_tells_the_contact(uow: UnitOfWork, settings: Settings) -> None:
    patient = make_patient(uow)
    token, conversation, _ = _answered(uow, settings)
    chat.identify(uow, POLICY, token, ChatWho(name="ana RIVERA", birth_date=date(1961, 2, 3)))
    assert (conversation.patient_id, conversation.preverified) == (patient.id, ["name", "birth_date"])
    answered = contact(uow, conversation.interaction_id)
    assert (answered.patient_id, sorted(answered.preverified)) == (patient.id, ["birth_date", "name"])
    assert "identified" not in chat.news(uow, token, 0).model_dump()


def test_a_list_of_names_hoping_one_fits_matches_no_one(uow: UnitOfWork, settings: Settings) -> None:
    make_patient(uow, given="Ana Maria")
    token, conversation, _ = _answered(uow, settings)
    chat.identify(uow, POLICY, token, ChatWho(name="Ana Jose Luis Rivera Garcia", birth_date=date(1961, 2, 3)))
    assert conversation.patient_id is None
    chat.identify(uow, POLICY, token, ChatWho(name="Ana Rivera", birth_date=date(1961, 2, 3)))  # middle name left out
    assert conversation.patient_id is not None


def test_identify_before_the_first_line_carries_the_match_into_the_new_contact(uow: UnitOfWork,
                                                                               settings: Settings) -> None:
    patient = make_patient(uow)
    make_queue(uow, "scheduling")
    token, _ = chat.start(uow, "en", now=NOW)
    chat.identify(uow, POLICY, token, ANA)
    chat.say(uow, POLICY, settings, token, "Hi", now=NOW)
    queued = contact(uow, _conversation(uow, token).interaction_id)
    assert (queued.patient_id, sorted(queued.preverified)) == (patient.id, ["birth_date", "name"])


def test_identify_matches_no_one_on_a_near_miss_or_twins_and_allows_three_tries(uow: UnitOfWork) -> None:
    make_patient(uow)
    make_patient(uow, given="Luis", family="Soto", birth_date=date(1990, 5, 6))
    make_patient(uow, given="Luis", family="Soto", birth_date=date(1990, 5, 6))
    token, _ = chat.start(uow, "en", now=NOW)
    chat.identify(uow, POLICY, token, ChatWho(name="Ana Rivera", birth_date=date(1961, 2, 4)))
    chat.identify(uow, POLICY, token, ChatWho(name="Anna Rivera", birth_date=date(1961, 2, 3)))
    chat.identify(uow, POLICY, token, ChatWho(name="Luis Soto", birth_date=date(1990, 5, 6)))
    assert _conversation(uow, token).patient_id is None
    with pytest.raises(TooManyTries):
        chat.identify(uow, POLICY, token, ANA)  # the right answer, too late: still no match
    assert _conversation(uow, token).patient_id is None


def test_the_transcript_is_emailed_through_the_worker_to_the_sink(sessions: sessionmaker[Session],
                                                                   settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        token, conversation, staff = _answered(uow, settings)
        assert conversation.interaction_id is not None
        threads.reply(uow, staff.actor, settings, conversation.interaction_id, ReplyIn(body="Tuesday at 9?"))
        chat.transcript(uow, settings, token, "Ana.Rivera@Example.org")
        uow.commit()
    assert jobs.dispatcher(sessions, settings).drain() == 1
    with sessions() as session:
        sent = session.scalars(select(SinkMessage)).one()
        assert (sent.channel, sent.to, sent.subject) == ("email", "ana.rivera@example.org",
                                                         "Your chat with Careline Health")
        assert "You: Can I book a flu shot?" in sent.body
        assert "Agent: Tuesday at 9?" in sent.body
        email = session.scalars(select(Message).where(Message.channel == "email")).one()
        assert (email.kind, email.purpose, email.status) == ("chat_transcript", "reply", "sent")


def test_a_chat_is_emailed_only_once_an_agent_answered_and_three_times_at_most(uow: UnitOfWork,
                                                                               settings: Settings) -> None:
    token, conversation, staff = _answered(uow, settings)
    with pytest.raises(Blocked, match="once an agent has answered"):  # else: a free relay for anyone's spam
        chat.transcript(uow, settings, token, "someone@example.org")
    assert conversation.interaction_id is not None
    threads.reply(uow, staff.actor, settings, conversation.interaction_id, ReplyIn(body="Hello!"))
    for attempt in range(3):
        chat.transcript(uow, settings, token, f"someone{attempt}@example.org")
    with pytest.raises(TooManyTries, match="already e-mailed 3 times"):
        chat.transcript(uow, settings, token, "someone@example.org")


def test_ending_a_waiting_chat_abandons_it_and_refuses_new_lines(uow: UnitOfWork, settings: Settings) -> None:
    make_queue(uow, "scheduling")
    token, _ = chat.start(uow, "en", now=NOW)
    chat.say(uow, POLICY, settings, token, "Hello?", now=NOW)
    chat.end(uow, token, now=NOW + timedelta(minutes=1))
    assert contact(uow, _conversation(uow, token).interaction_id).status == "abandoned"
    assert chat.news(uow, token, 0).ended is True
    with pytest.raises(ChatClosed):
        chat.say(uow, POLICY, settings, token, "Still there?")
    with pytest.raises(ChatClosed):
        chat.typing(uow, token)


def test_ending_an_answered_chat_starts_the_agents_wrap_up(uow: UnitOfWork, settings: Settings) -> None:
    token, conversation, _ = _answered(uow, settings)
    chat.end(uow, token, now=NOW + timedelta(minutes=3))
    assert contact(uow, conversation.interaction_id).status in ("wrap_up", "completed")
    assert contact(uow, conversation.interaction_id).abandoned_at is None
    assert chat.news(uow, token, 0).ended is True
    with pytest.raises(ChatClosed):
        chat.identify(uow, POLICY, token, ANA)


def test_a_chat_ended_before_its_first_line_is_forgotten_and_a_wrong_token_opens_nothing(uow: UnitOfWork) -> None:
    token, _ = chat.start(uow, "en", now=NOW)
    chat.end(uow, token)
    with pytest.raises(NotFound):
        chat.news(uow, token, 0)
    with pytest.raises(NotFound):
        chat.news(uow, "not-a-token-we-ever-gave-out", 0)


def test_a_line_sent_again_with_its_id_is_kept_and_routed_once(uow: UnitOfWork, settings: Settings) -> None:
    make_queue(uow, "scheduling")
    token, conversation_id = chat.start(uow, "en", now=NOW)
    first = chat.say(uow, POLICY, settings, token, "Is the clinic open?", line_id="line-0001", now=NOW)
    again = chat.say(uow, POLICY, settings, token, "Is the clinic open?", line_id="line-0001",
                     now=NOW + timedelta(seconds=3))
    assert again == first
    assert _conversation(uow, token).last_message_at == NOW  # the retry changed nothing
    other = chat.say(uow, POLICY, settings, token, "Is the clinic open?", line_id="line-0002",
                     now=NOW + timedelta(seconds=4))
    assert other.seq == 2
    bodies = uow.session.scalars(select(Message.body).where(Message.conversation_id == conversation_id)).all()
    assert len(bodies) == 2
    assert uow.session.scalar(select(func.count()).select_from(Interaction)) == 1  # one contact for the agent
    with pytest.raises(InvalidMessage) as reused:  # the same id for another line is a client's mistake, said so
        chat.say(uow, POLICY, settings, token, "Something else", line_id="line-0001", now=NOW)
    assert reused.value.field == "line_id"
    # The same id in another chat is another line: ids are the widget's, unique only within its chat.
    elsewhere, _ = chat.start(uow, "en", now=NOW)
    assert chat.say(uow, POLICY, settings, elsewhere, "Hello", line_id="line-0001", now=NOW).seq == 1


def test_one_visitor_starts_a_limited_number_of_chats_a_minute(uow: UnitOfWork, settings: Settings) -> None:
    minute = NOW.replace(second=0, microsecond=0)
    visitor, neighbour = chat.visitor_key(settings, "203.0.113.7"), chat.visitor_key(settings, "198.51.100.2")
    for second in range(3):
        chat.start(uow, "en", visitor=visitor, per_minute=3, now=minute + timedelta(seconds=second))
    with pytest.raises(TooManyTries):
        chat.start(uow, "en", visitor=visitor, per_minute=3, now=minute + timedelta(seconds=50))
    chat.start(uow, "en", visitor=neighbour, per_minute=3, now=minute + timedelta(seconds=50))
    chat.start(uow, "en", visitor=visitor, per_minute=3, now=minute + timedelta(seconds=61))  # the next minute
    assert uow.session.scalar(select(func.count()).select_from(Conversation)) == 5


def test_a_visitor_is_kept_as_a_keyed_hash_and_an_ipv6_visitor_as_their_64(settings: Settings) -> None:
    key = chat.visitor_key(settings, "203.0.113.7")
    assert "203.0.113.7" not in key
    assert key != hashlib.sha256(b"203.0.113.7").hexdigest()[:32]  # not undone by hashing every address
    elsewhere = Settings(secret_key="another center's secret key", data_dir=settings.data_dir)
    assert key != chat.visitor_key(elsewhere, "203.0.113.7")
    assert chat.visitor_key(settings, "2001:db8:1:2::10") == chat.visitor_key(settings, "2001:db8:1:2:ffff::1")
    assert chat.visitor_key(settings, "2001:db8:1:2::10") != chat.visitor_key(settings, "2001:db8:1:3::10")
    assert chat.visitor_key(settings, "testclient")  # not an address (a test client): still a visitor


def test_chat_starts_and_the_sms_rate_limit_each_forget_only_their_own_windows(uow: UnitOfWork) -> None:
    minute = int(NOW.timestamp()) // 60 * 60
    repository.take_rate(uow.session, ["sms:*", "chat-start:old"], minute - 600, 1)
    repository.forget_rates_before(uow.session, minute, prefix="chat-start:")
    assert _windows(uow) == ["sms:*"]
    repository.take_rate(uow.session, ["chat-start:old"], minute - 600, 1)
    repository.forget_rates_before(uow.session, minute, prefix="sms:")
    assert _windows(uow) == ["chat-start:old"]


def _windows(uow: UnitOfWork) -> list[str]:
    return sorted(uow.session.scalars(select(RateWindow.bucket)))
