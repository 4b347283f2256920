"""A message a provider may or may not have taken is never sent again by itself: it waits for an admin.

The provider here is a stand-in for Twilio's or SMTP's adapter at the one interface the worker uses: it takes
some messages and fails mid-request on one, the way a read timeout or a dropped connection does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork, utcnow
from careline.integrations.messages import Outgoing, ProviderError, Receipt
from careline.messaging import repository
from careline.messaging.models import Message
from careline.messaging.rules import Channel
from careline.messaging.service import delivery, outgoing, threads
from careline.messaging.tasks import MESSAGE_PROVIDERS
from careline.settings import Settings
from careline.worker import repository as outbox_repository
from careline.worker.models import OutboxMessage
from careline.worker.runner import Dispatcher
from tests.factories.messaging import MOBILE
from tests.factories.routing import POLICY

NOW = datetime(2027, 3, 16, 17, 0, tzinfo=UTC)


class CutOffOnce:
    """Takes every message except the one whose body says so, where the connection drops mid-request."""

    name, idempotent = "twilio", False

    def __init__(self) -> None:
        self.asked: list[str] = []

    def send(self, messages: Sequence[Outgoing]) -> list[Receipt | ProviderError]:
        self.asked += [message.body for message in messages]
        if any(message.body == "cut off" for message in messages):
            raise TimeoutError("read timed out")
        return [Receipt(provider_id=f"SM{len(self.asked)}", status="queued") for _ in messages]


def _dispatcher(sessions: sessionmaker[Session], settings: Settings, provider: CutOffOnce) -> Dispatcher:
    dispatcher = jobs.dispatcher(sessions, settings.model_copy(update={"sms_provider": "twilio"}))
    dispatcher.context.providers[MESSAGE_PROVIDERS]["twilio"] = provider
    return dispatcher


def _queue(sessions: sessionmaker[Session], settings: Settings, *bodies: str) -> list[UUID]:
    with UnitOfWork(sessions) as uow:
        thread = outgoing.thread_for(uow, Channel.sms, MOBILE, patient_id=None, language="en", center="+18005550100",
                                     now=NOW)
        ids = [outgoing.queue(uow, settings, thread, body=body, now=NOW).id for body in bodies]
        uow.commit()
    return ids


def _states(sessions: sessionmaker[Session], ids: list[UUID]) -> list[str]:
    with sessions() as session:
        return [session.get_one(Message, message_id).status for message_id in ids]


def test_a_message_cut_off_mid_request_is_given_up_not_sent_again_and_the_rest_go_once(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    ids = _queue(sessions, settings, "first", "cut off", "third")
    provider = CutOffOnce()
    dispatcher = _dispatcher(sessions, settings, provider)
    dispatcher.drain()
    dispatcher.drain()
    assert provider.asked == ["first", "cut off", "third"]
    assert _states(sessions, ids) == ["sent", "sending", "sent"]
    with sessions() as session:
        [dead] = outbox_repository.dead(session, limit=10)
        assert dead.key == f"message:{ids[1]}"
        assert "may have been sent" in (dead.last_error or "")


def test_an_admin_who_redrives_it_sends_it_once_more(sessions: sessionmaker[Session], settings: Settings) -> None:
    ids = _queue(sessions, settings, "cut off")
    provider = CutOffOnce()
    dispatcher = _dispatcher(sessions, settings, provider)
    dispatcher.drain()
    with UnitOfWork(sessions) as uow:
        dead = uow.session.query(OutboxMessage).one()
        assert outbox_repository.redrive(uow.session, [dead.id], utcnow()) == 1
        uow.commit()
    with UnitOfWork(sessions) as uow:  # the provider is back
        uow.session.get_one(Message, ids[0]).body = "now it goes"
        uow.commit()
    dispatcher.drain()
    assert provider.asked == ["cut off", "now it goes"]
    assert _states(sessions, ids) == ["sent"]


def test_a_line_break_in_an_email_subject_cannot_reach_a_header(sessions: sessionmaker[Session],
                                                                settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        first = threads.receive(uow, POLICY, settings, threads.Inbound(
            channel=Channel.email, address="ana@example.org", body="Hi", subject="Hello\nBcc: everyone@example.org",
            provider_id="<a@example.org>"), now=NOW)
        thread = uow.session.get_one(Message, first.id).conversation_id
        reply = outgoing.queue(uow, settings, repository.conversation(uow.session, thread), body="Hello Ana", now=NOW)
        assert reply.subject == "Re: Hello Bcc: everyone@example.org"
        assert delivery.UNSURE.startswith("A worker stopped")
