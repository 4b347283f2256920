"""Reply keywords: the whole message, in any case and with stray punctuation, opts out, back in, or asks for
help; anything longer is words for an agent. Each change is confirmed once, and HELP is answered even after STOP."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork
from careline.integrations.sink import SinkMessage
from careline.messaging.models import Conversation
from careline.messaging.rules import Keyword, keyword_of
from careline.messaging.service import threads
from careline.routing.models import Interaction
from careline.settings import Settings
from tests.factories.messaging import inbound, make_texter, opt_outs, outbound, text
from tests.factories.routing import POLICY, make_queue

OUT = ["STOP", "stop", "Stop.", " STOPALL ", "unsubscribe", "cancel", "end", "quit", "Quit!"]
IN = ["START", "unstop", "yes", "Yes."]
HELP = ["HELP", "info", "Help?"]


@pytest.mark.parametrize(("body", "expected"), [*((body, Keyword.opt_out) for body in OUT),
                                                 *((body, Keyword.opt_in) for body in IN),
                                                 *((body, Keyword.help) for body in HELP),
                                                 ("stop by at 3", None), ("Yes, Thursday works", None),
                                                 ("please stop", None), ("", None), ("stopp", None)])
def test_the_keyword_table(body: str, expected: Keyword | None) -> None:
    found = keyword_of(body)
    assert (found[0] if found else None) == expected


@pytest.fixture(autouse=True)
def line(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_texter(uow)


def receive(uow: UnitOfWork, settings: Settings, body: str, sid: str) -> Conversation:
    message = threads.receive(uow, POLICY, settings, text(body, sid))
    return uow.session.get_one(Conversation, message.conversation_id)


def contacts(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(Interaction)) or 0)


@pytest.mark.parametrize("body", OUT)
def test_every_opt_out_word_opts_out_with_one_confirmation_and_no_agent(
        uow: UnitOfWork, settings: Settings, body: str) -> None:
    receive(uow, settings, body, "SM1")
    assert [(e.opted_out, e.source, e.detail) for e in opt_outs(uow.session)] == [
        (True, "keyword", body.strip(" .!").upper())]
    assert [m.kind for m in outbound(uow.session)] == ["opt_out_confirmation"]
    assert contacts(uow) == 0


def test_stop_by_at_3_is_a_message_for_an_agent(uow: UnitOfWork, settings: Settings) -> None:
    thread = receive(uow, settings, "stop by at 3", "SM1")
    assert opt_outs(uow.session) == []
    assert outbound(uow.session) == []
    assert thread.interaction_id is not None
    assert contacts(uow) == 1


def test_a_second_stop_sends_no_second_confirmation(uow: UnitOfWork, settings: Settings) -> None:
    for sid, body in (("SM1", "STOP"), ("SM2", "stop"), ("SM3", "QUIT")):
        receive(uow, settings, body, sid)
    assert len(opt_outs(uow.session)) == 1
    assert [m.kind for m in outbound(uow.session)] == ["opt_out_confirmation"]
    assert len(inbound(uow.session)) == 3  # every message is kept in the thread all the same


@pytest.mark.parametrize("body", IN)
def test_an_opt_in_word_after_stop_opts_back_in_with_a_confirmation(
        uow: UnitOfWork, settings: Settings, body: str) -> None:
    receive(uow, settings, "STOP", "SM1")
    receive(uow, settings, body, "SM2")
    assert [e.opted_out for e in opt_outs(uow.session)] == [True, False]
    assert [m.kind for m in outbound(uow.session)] == ["opt_out_confirmation", "opt_in_confirmation"]
    assert contacts(uow) == 0


def test_yes_from_a_patient_who_never_opted_out_reaches_the_agent(uow: UnitOfWork, settings: Settings) -> None:
    thread = receive(uow, settings, "Yes", "SM1")
    assert opt_outs(uow.session) == []
    assert outbound(uow.session) == []
    assert thread.interaction_id is not None
    assert contacts(uow) == 1


@pytest.mark.parametrize("body", HELP)
def test_help_is_answered_and_needs_no_agent(uow: UnitOfWork, settings: Settings, body: str) -> None:
    receive(uow, settings, body, "SM1")
    assert [m.kind for m in outbound(uow.session)] == ["help"]
    assert contacts(uow) == 0


def test_help_is_answered_even_after_stop_and_nothing_else_is_sent(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        receive(uow, settings, "STOP", "SM1")
        uow.commit()
    jobs.dispatcher(sessions, settings).drain()
    with UnitOfWork(sessions) as uow:
        receive(uow, settings, "HELP", "SM2")
        thread = receive(uow, settings, "can you call me?", "SM3")  # words for an agent, still kept
        assert thread.interaction_id is not None
        uow.commit()
    jobs.dispatcher(sessions, settings).drain()
    with sessions() as session:
        assert [(m.kind, m.status) for m in outbound(session)] == [("opt_out_confirmation", "sent"),
                                                                   ("help", "sent")]
        assert session.scalar(select(func.count()).select_from(SinkMessage)) == 2
