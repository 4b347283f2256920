"""The sending path's checks in the worker: consent per channel and purpose, the per-sender and global rate
limits (what is over waits for the next second without counting a try), and a thread's order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork
from careline.integrations.sink import SinkMessage
from careline.messaging.models import Message
from careline.messaging.rules import Channel, Purpose
from careline.messaging.service import consent, outgoing
from careline.settings import Settings
from careline.worker.models import OutboxMessage
from careline.worker.runner import Dispatcher
from tests.factories.messaging import MOBILE, make_texter

DAY = datetime(2027, 3, 16, 17, 0, tzinfo=UTC)  # 13:00 in New York, 10:00 in Los Angeles
NIGHT = datetime(2027, 3, 16, 8, 0, tzinfo=UTC)  # 01:00 in Los Angeles; 08:00 there is 15:00 UTC


def queue(uow: UnitOfWork, settings: Settings, mobile: str = MOBILE, *, patient_id: UUID | None = None,
          purpose: Purpose = Purpose.reply, center: str | None = None, body: str = "Hello", now: datetime = DAY
          ) -> UUID:
    thread = outgoing.thread_for(uow, Channel.sms, mobile, patient_id=patient_id, language="en", center=center,
                                 now=now)
    return outgoing.queue(uow, settings, thread, body=body, purpose=purpose, now=now).id


def at(dispatcher: Dispatcher, now: datetime) -> int:
    dispatcher.context.clock = lambda: now
    return dispatcher.run_once(now=now)


def statuses(sessions: sessionmaker[Session], ids: list[UUID]) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [(row.status, row.error) for row in (session.get_one(Message, found) for found in ids)]


def sent_to(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(row.to for row in session.scalars(select(SinkMessage)))


# Consent.

@pytest.mark.parametrize(("consents", "purpose", "error"), [
    ({}, Purpose.care, "Not sent: the patient has not consented to care messages by sms."),
    ({"sms_care": False}, Purpose.care, "Not sent: the patient has not consented to care messages by sms."),
    ({"sms_care": True}, Purpose.outreach, "Not sent: the patient has not consented to outreach messages by sms."),
    ({"email_care": True}, Purpose.care, "Not sent: the patient has not consented to care messages by sms."),
    ({"sms_care": True}, Purpose.care, None),
    ({"sms_outreach": True}, Purpose.outreach, None),
    ({}, Purpose.reply, None),  # answering the patient's own text needs no recorded consent
])
def test_consent_per_channel_and_purpose(sessions: sessionmaker[Session], settings: Settings,
                                         consents: dict[str, bool], purpose: Purpose, error: str | None) -> None:
    with UnitOfWork(sessions) as uow:
        patient = make_texter(uow, consents=consents)
        message = queue(uow, settings, patient_id=patient.id, purpose=purpose)
        uow.commit()
    assert at(jobs.dispatcher(sessions, settings), DAY) == 1
    assert statuses(sessions, [message]) == [("blocked", error) if error else ("sent", None)]
    assert sent_to(sessions) == ([] if error else [MOBILE])
    with sessions() as session:
        assert [row.status for row in session.scalars(select(OutboxMessage))] == ["sent"]  # settled for good


def test_a_care_text_to_an_unmatched_number_is_blocked(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        message = queue(uow, settings, purpose=Purpose.care)
        uow.commit()
    at(jobs.dispatcher(sessions, settings), DAY)
    assert statuses(sessions, [message]) == [
        ("blocked", "Not sent: no active patient record to check consent against.")]


def test_an_opt_out_wins_over_consent(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        patient = make_texter(uow, consents={"sms_care": True, "sms_outreach": True})
        consent.record(uow, Channel.sms, MOBILE, out=True, source="agent", detail=None, now=DAY)
        message = queue(uow, settings, patient_id=patient.id, purpose=Purpose.care)
        uow.commit()
    at(jobs.dispatcher(sessions, settings), DAY)
    assert statuses(sessions, [message]) == [("blocked", "Not sent: the patient opted out of this channel.")]
    assert sent_to(sessions) == []


# Rate limits.

def outbox(sessions: sessionmaker[Session]) -> list[tuple[str, int]]:
    with sessions() as session:
        return sorted((row.status, row.attempts) for row in session.scalars(select(OutboxMessage)))


def test_a_per_sender_limit_of_two_sends_two_now_and_the_rest_in_the_next_seconds(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    settings = settings.model_copy(update={"sms_rate_per_sender": 2, "sms_rate_global": 0})
    with UnitOfWork(sessions) as uow:
        ids = [queue(uow, settings, f"+1617555020{n}", center="+18005550100") for n in range(5)]
        uow.commit()
    dispatcher = jobs.dispatcher(sessions, settings)
    assert at(dispatcher, DAY) == 5
    assert len(sent_to(sessions)) == 2
    assert outbox(sessions) == [("pending", 0)] * 3 + [("sent", 1)] * 2  # waiting is not a failed try
    assert sorted(status for status, _ in statuses(sessions, ids)) == ["queued"] * 3 + ["sent"] * 2
    assert at(dispatcher, DAY) == 0  # nothing more in the same second
    assert at(dispatcher, DAY + timedelta(seconds=2)) == 3
    assert len(sent_to(sessions)) == 4
    assert at(dispatcher, DAY + timedelta(seconds=4)) == 1
    assert len(sent_to(sessions)) == 5


def _six_texts_from_two_numbers(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        for n in range(6):
            queue(uow, settings, f"+1617555030{n}", center=("+18005550100", "+18005550199")[n % 2])
        uow.commit()


def test_each_sender_has_its_own_limit(sessions: sessionmaker[Session], settings: Settings) -> None:
    settings = settings.model_copy(update={"sms_rate_per_sender": 2, "sms_rate_global": 100})
    _six_texts_from_two_numbers(sessions, settings)
    at(jobs.dispatcher(sessions, settings), DAY)
    with sessions() as session:
        senders = sorted(row.sender or "" for row in session.scalars(select(SinkMessage)))
    assert senders == ["+18005550100"] * 2 + ["+18005550199"] * 2


def test_the_global_limit_counts_every_sender(sessions: sessionmaker[Session], settings: Settings) -> None:
    settings = settings.model_copy(update={"sms_rate_per_sender": 0, "sms_rate_global": 2})
    _six_texts_from_two_numbers(sessions, settings)
    dispatcher = jobs.dispatcher(sessions, settings)
    at(dispatcher, DAY)
    assert len(sent_to(sessions)) == 2
    assert outbox(sessions).count(("pending", 0)) == 4


# A thread's order.

def test_a_second_message_waits_for_the_first_still_on_its_way(sessions: sessionmaker[Session],
                                                                settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        patient = make_texter(uow, consents={"sms_care": True})
        first = queue(uow, settings, patient_id=patient.id, purpose=Purpose.care, body="First", now=DAY)
        second = queue(uow, settings, patient_id=patient.id, purpose=Purpose.care, body="Second", now=DAY)
        uow.session.get_one(Message, first).status = "sending"  # another worker is handing it over right now
        uow.session.execute(update(OutboxMessage).where(OutboxMessage.key == f"message:{first}")
                            .values(due_at=DAY + timedelta(minutes=1)))
        uow.commit()
    dispatcher = jobs.dispatcher(sessions, settings)
    assert at(dispatcher, DAY) == 1
    assert statuses(sessions, [second]) == [("queued", None)]
    assert outbox(sessions) == [("pending", 0)] * 2  # waiting is not a failed attempt
    with UnitOfWork(sessions) as uow:
        uow.session.get_one(Message, first).status = "queued"  # that worker died before asking: sent again
        uow.commit()
    assert at(dispatcher, DAY + timedelta(minutes=2)) == 2
    lines = settings.effective_sink_file.read_text().splitlines()
    assert [json.loads(line)["body"] for line in lines] == ["First", "Second"]


def test_a_text_held_for_quiet_hours_holds_back_nothing_behind_it(sessions: sessionmaker[Session],
                                                                   settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        patient = make_texter(uow, consents={"sms_care": True, "sms_outreach": True}, time_zone="America/Los_Angeles")
        first = queue(uow, settings, patient_id=patient.id, purpose=Purpose.outreach, body="First", now=NIGHT)
        second = queue(uow, settings, patient_id=patient.id, purpose=Purpose.care, body="Second", now=NIGHT)
        uow.commit()
    dispatcher = jobs.dispatcher(sessions, settings)
    assert at(dispatcher, NIGHT) == 2
    assert [status for status, _ in statuses(sessions, [first, second])] == ["held", "sent"]
    opens = datetime(2027, 3, 16, 15, 0, tzinfo=UTC)
    assert at(dispatcher, opens) == 1
    lines = settings.effective_sink_file.read_text().splitlines()
    assert [json.loads(line)["body"] for line in lines] == ["Second", "First"]
