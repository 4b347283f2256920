"""Twilio's status callbacks: out of order, repeated, for calls we never saw; an abandon is stamped with the
time Twilio says it happened (the Timestamp parameter), not when the callback arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.db import UnitOfWork, utcnow
from careline.routing.models import Interaction, InteractionEvent
from careline.telephony.models import Call
from tests.factories.routing import make_queue
from tests.factories.telephony import call_params, make_number, post_signed

SID = "CAb1e2c3d4e5f60718293a4b5c6d7e8f90"
STATUS = "/telephony/twilio/voice/status"


@pytest.fixture(autouse=True)
def line(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    uow.commit()


def in_line(client: TestClient, sid: str = SID) -> None:
    for path, digits in (("voice", None), ("gather/language", "1"), ("gather/menu", "4")):
        extra = {"Digits": digits} if digits else {}
        assert post_signed(client, f"/telephony/twilio/{path}", call_params(sid, **extra)).status_code == 200


def status(client: TestClient, value: str, at: datetime | None = None, sid: str = SID, sequence: int = 0) -> int:
    extra = {"CallStatus": value, "CallbackSource": "call-progress-events", "SequenceNumber": str(sequence)}
    if at is not None:
        extra["Timestamp"] = format_datetime(at)
    if value == "completed":
        extra["CallDuration"] = "42"
    return post_signed(client, STATUS, call_params(sid, **extra)).status_code


def stamp(offset_seconds: int = 0) -> datetime:
    """A time Twilio could send: whole seconds, UTC."""
    return (utcnow() + timedelta(seconds=offset_seconds)).replace(microsecond=0).astimezone(UTC)


def call_row(sessions: sessionmaker[Session]) -> Call:
    with sessions() as session:
        return session.scalars(select(Call).where(Call.provider_sid == SID)).one()


def contact(sessions: sessionmaker[Session]) -> Interaction:
    with sessions() as session:
        return session.scalars(select(Interaction)).one()


def kinds(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(InteractionEvent.kind).order_by(InteractionEvent.id)))


def test_a_caller_who_hangs_up_in_line_abandons_at_twilios_timestamp(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    in_line(client)
    hung_up = stamp(5)
    assert status(client, "completed", hung_up) == 204
    gone = contact(sessions)
    assert gone.status == "abandoned"
    assert gone.abandoned_at == hung_up
    assert call_row(sessions).ended_at == hung_up
    assert call_row(sessions).provider_status == "completed"
    assert kinds(sessions).count("abandoned") == 1


def test_completed_before_ringing_and_in_progress_ends_the_call_once(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    in_line(client)
    ended = stamp(3)
    assert status(client, "completed", ended, sequence=2) == 204
    before = kinds(sessions)
    assert status(client, "in-progress", stamp(1), sequence=1) == 204
    assert status(client, "ringing", stamp(0), sequence=0) == 204
    call = call_row(sessions)
    assert (call.provider_status, call.ended_at, call.stage, call.answered_at) == ("completed", ended, "ended", None)
    assert kinds(sessions) == before
    assert contact(sessions).status == "abandoned"
    assert contact(sessions).abandoned_at == ended


def test_a_repeated_completed_records_nothing_more(client: TestClient, sessions: sessionmaker[Session]) -> None:
    in_line(client)
    first = stamp(2)
    assert status(client, "completed", first) == 204
    before = kinds(sessions)
    assert status(client, "completed", stamp(9)) == 204
    assert status(client, "canceled", stamp(10)) == 204
    assert kinds(sessions) == before
    assert call_row(sessions).ended_at == first
    assert contact(sessions).abandoned_at == first


def test_in_order_statuses_are_applied_and_the_end_comes_last(client: TestClient,
                                                              sessions: sessionmaker[Session]) -> None:
    in_line(client)
    assert status(client, "in-progress", stamp(1)) == 204
    assert call_row(sessions).provider_status == "in-progress"
    assert call_row(sessions).ended_at is None
    assert contact(sessions).status == "queued"  # a caller in Twilio's queue is in progress, still waiting
    assert status(client, "completed", stamp(4)) == 204
    assert contact(sessions).status == "abandoned"


def test_a_hang_up_in_the_ivr_ends_the_call_with_no_contact(client: TestClient,
                                                            sessions: sessionmaker[Session]) -> None:
    assert post_signed(client, "/telephony/twilio/voice", call_params(SID)).status_code == 200
    assert status(client, "completed", stamp(2)) == 204
    assert call_row(sessions).ended_at is not None
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Interaction)) == 0


def test_a_status_for_an_unknown_call_sid_is_404_and_records_nothing(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    in_line(client)
    before = kinds(sessions)
    assert status(client, "completed", stamp(1), sid="CA" + "0" * 32) == 404
    assert kinds(sessions) == before
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 1
    assert call_row(sessions).ended_at is None
    assert contact(sessions).status == "queued"


def test_a_status_without_a_timestamp_is_stamped_on_arrival(client: TestClient,
                                                            sessions: sessionmaker[Session]) -> None:
    in_line(client)
    before = utcnow()
    assert status(client, "completed") == 204
    abandoned_at = contact(sessions).abandoned_at
    assert abandoned_at is not None
    assert before <= abandoned_at <= utcnow()
