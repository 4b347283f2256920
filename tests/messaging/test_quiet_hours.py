"""Outreach texts only from 08:00 to 21:00 on the patient's own wall clock: held, not dropped, until the window
opens, across time zones and on both sides of the US daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork
from careline.integrations.sink import SinkMessage
from careline.messaging.models import Message
from careline.messaging.rules import Channel, Purpose, next_allowed
from careline.messaging.service import outgoing
from careline.settings import Settings
from careline.worker.models import OutboxMessage
from careline.worker.runner import Dispatcher
from tests.factories.messaging import make_texter

NEW_YORK, LOS_ANGELES, HONOLULU = "America/New_York", "America/Los_Angeles", "Pacific/Honolulu"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("now", "zone", "opens"), [
    ("2026-01-15 12:59", NEW_YORK, "2026-01-15 13:00"),  # 07:59 EST: a minute to wait
    ("2026-01-15 13:00", NEW_YORK, None),  # 08:00 EST: open
    ("2026-01-16 01:59", NEW_YORK, None),  # 20:59 EST: still open
    ("2026-01-16 02:00", NEW_YORK, "2026-01-16 13:00"),  # 21:00 EST: closed until tomorrow morning
    ("2026-01-15 13:30", LOS_ANGELES, "2026-01-15 16:00"),  # the same moment is 05:30 in Los Angeles
    ("2026-01-15 13:30", HONOLULU, "2026-01-15 18:00"),  # and 03:30 in Honolulu (no DST there)
    ("2026-01-15 13:30", "Europe/Madrid", None),  # and 14:30 in Madrid
    # Spring forward, Sunday 8 March 2026: 08:00 is EDT (UTC-4), an hour earlier in UTC than the night before.
    ("2026-03-08 06:30", NEW_YORK, "2026-03-08 12:00"),  # 01:30 EST
    ("2026-03-08 03:00", NEW_YORK, "2026-03-08 12:00"),  # 22:00 EST on Saturday
    ("2026-03-08 10:30", LOS_ANGELES, "2026-03-08 15:00"),  # 03:30 PDT, just after the change
    ("2026-03-09 00:59", NEW_YORK, None),  # 20:59 EDT
    ("2026-03-09 01:00", NEW_YORK, "2026-03-09 12:00"),  # 21:00 EDT
    # Fall back, Sunday 1 November 2026: 01:00-02:00 happens twice; 08:00 is EST (UTC-5).
    ("2026-11-01 05:30", NEW_YORK, "2026-11-01 13:00"),  # the first 01:30 (EDT)
    ("2026-11-01 06:30", NEW_YORK, "2026-11-01 13:00"),  # the second 01:30 (EST)
    ("2026-11-01 01:30", NEW_YORK, "2026-11-01 13:00"),  # 21:30 EDT on Saturday
    ("2026-11-01 12:59", NEW_YORK, "2026-11-01 13:00"),  # 07:59 EST
    ("2026-11-02 01:59", NEW_YORK, None),  # 20:59 EST
])
def test_next_allowed(now: str, zone: str, opens: str | None) -> None:
    assert next_allowed(utc(now), zone) == (utc(opens) if opens else None)


def test_next_allowed_answers_in_the_callers_zone_and_always_at_eight_local() -> None:
    start = datetime(2026, 3, 7, 23, 0, tzinfo=ZoneInfo(NEW_YORK))
    opens = next_allowed(start, NEW_YORK)
    assert opens == datetime(2026, 3, 8, 8, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert opens is not None
    assert opens.utcoffset() == timedelta(hours=-4)
    for hour in range(0, 24 * 400, 7):  # every 7 hours for 400 days: across both changes, twice
        moment = utc("2026-01-01 00:00") + timedelta(hours=hour)
        found = next_allowed(moment, LOS_ANGELES)
        local = moment.astimezone(ZoneInfo(LOS_ANGELES))
        assert (found is None) == (8 <= local.hour < 21), moment
        if found is not None:
            assert found.astimezone(ZoneInfo(LOS_ANGELES)).time().isoformat() == "08:00:00"
            assert timedelta(0) < found - moment <= timedelta(hours=11)


# The worker holds an outreach text and sends it when the window opens. Spring forward 2027: Sunday 14 March.
NIGHT = utc("2027-03-14 10:30")  # 03:30 PDT in Los Angeles, 06:30 EDT in New York
LA_OPENS, NY_OPENS = utc("2027-03-14 15:00"), utc("2027-03-14 12:00")


def outreach(uow: UnitOfWork, settings: Settings, patient_id: UUID, mobile: str, *,
             purpose: Purpose = Purpose.outreach) -> UUID:
    thread = outgoing.thread_for(uow, Channel.sms, mobile, patient_id=patient_id, language="en", center=None,
                                 now=NIGHT)
    return outgoing.queue(uow, settings, thread, body="Time for your annual visit.", purpose=purpose, now=NIGHT).id


def at(dispatcher: Dispatcher, now: datetime) -> int:
    dispatcher.context.clock = lambda: now
    return dispatcher.run_once(now=now)


def state(sessions: sessionmaker[Session], message_id: UUID) -> tuple[str, datetime | None]:
    with sessions() as session:
        message = session.get_one(Message, message_id)
        held = message.send_after.replace(tzinfo=UTC) if message.send_after else None
        return message.status, held


def test_an_outreach_text_is_held_until_eight_in_each_patients_zone_then_sent(
        sessions: sessionmaker[Session], settings: Settings) -> None:
    consents = {"sms_outreach": True}
    with UnitOfWork(sessions) as uow:
        west = make_texter(uow, mobile="+13105550101", consents=consents, time_zone=LOS_ANGELES)
        east = make_texter(uow, mobile="+16175550102", consents=consents, time_zone=NEW_YORK)
        to_west = outreach(uow, settings, west.id, "+13105550101")
        to_east = outreach(uow, settings, east.id, "+16175550102")
        uow.commit()
    dispatcher = jobs.dispatcher(sessions, settings)
    assert at(dispatcher, NIGHT) == 2
    assert state(sessions, to_west) == ("held", LA_OPENS)
    assert state(sessions, to_east) == ("held", NY_OPENS)
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert sorted((row.status, row.attempts) for row in rows) == [("pending", 0), ("pending", 0)]  # not tries
    assert at(dispatcher, NY_OPENS - timedelta(seconds=1)) == 0
    assert at(dispatcher, NY_OPENS) == 1
    assert state(sessions, to_east)[0] == "sent"
    assert state(sessions, to_west)[0] == "held"
    assert at(dispatcher, LA_OPENS) == 1
    assert state(sessions, to_west)[0] == "sent"
    with sessions() as session:
        assert sorted(row.to for row in session.scalars(select(SinkMessage))) == ["+13105550101", "+16175550102"]


def test_care_texts_and_replies_are_not_held_at_night(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        patient = make_texter(uow, consents={"sms_care": True}, time_zone=LOS_ANGELES)
        care = outreach(uow, settings, patient.id, "+16175550142", purpose=Purpose.care)
        reply = outreach(uow, settings, patient.id, "+16175550142", purpose=Purpose.reply)
        uow.commit()
    at(jobs.dispatcher(sessions, settings), NIGHT)
    assert (state(sessions, care)[0], state(sessions, reply)[0]) == ("sent", "sent")


def test_a_patient_without_a_zone_gets_the_centers(sessions: sessionmaker[Session], settings: Settings) -> None:
    settings = settings.model_copy(update={"center_time_zone": HONOLULU})
    with UnitOfWork(sessions) as uow:
        patient = make_texter(uow, consents={"sms_outreach": True}, time_zone=None)
        held = outreach(uow, settings, patient.id, "+16175550142")
        uow.commit()
    at(jobs.dispatcher(sessions, settings), utc("2027-03-14 15:00"))  # 08:00 in Los Angeles, 05:00 in Honolulu
    assert state(sessions, held) == ("held", utc("2027-03-14 18:00"))
