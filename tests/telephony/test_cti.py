"""The CTI events API: a PBX's signed events become the same interactions, timestamps and screen pops as a
Twilio call; replays, late events, unknown extensions and calls are answered without changing anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.app import create_app
from careline.db import UnitOfWork
from careline.routing.models import Assignment, Interaction, InteractionEvent
from careline.routing.service import desktop, engine, interactions
from careline.settings import Settings
from careline.telephony.models import Call
from careline.telephony.schemas import CtiEventIn
from careline.telephony.service import cti
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, Staff, event_kinds, make_agent, make_queue

SECRET = "cti-shared-secret-0123456789"
CALLER = "+16175550142"
T0 = datetime(2026, 3, 2, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def cti_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"cti_secret": SECRET})


@pytest.fixture
def app(cti_settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    return create_app_for(cti_settings, sessions)


def create_app_for(settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    return create_app(settings, sessions=sessions)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Computed here from the documented scheme, not with the code under test."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def payload(kind: str, at: datetime, *, event_id: str | None = None, call_id: str = "pbx-1001",
            **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id or f"{call_id}:{kind}:{at.isoformat()}", "type": kind, "call_id": call_id,
            "at": at.isoformat(), "caller": CALLER, **fields}


def post(client: TestClient, body: dict[str, Any], *, timestamp: str | None = None, secret: str = SECRET,
         signature: str | None = None) -> Response:
    raw = json.dumps(body).encode()
    stamp = timestamp or str(int(time.time()))
    return client.post("/api/cti/events", content=raw, headers={
        "Content-Type": "application/json", "X-Careline-Timestamp": stamp,
        "X-Careline-Signature": signature or sign(raw, stamp, secret)})


def calls_recorded(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Call).where(Call.provider == "cti")) or 0


def contact_of(sessions: sessionmaker[Session], call_id: str = "pbx-1001") -> Interaction:
    with sessions() as session:
        found = session.scalars(select(Interaction).where(Interaction.external_ref == f"cti:{call_id}")).one()
        session.expunge(found)
        return found


@pytest.fixture
def center(uow: UnitOfWork) -> tuple[Staff, Staff]:
    make_queue(uow, "general")
    make_queue(uow, "billing")
    ana = make_agent(uow, "ana", available_at=T0 - timedelta(hours=1), extension="201")
    ben = make_agent(uow, "ben", available_at=T0 - timedelta(hours=1), extension="202")
    uow.commit()
    return ana, ben


class TestSignature:
    def test_a_signed_event_is_accepted(self, client: TestClient, center: Any,
                                        sessions: sessionmaker[Session]) -> None:
        response = post(client, payload("call.queued", T0))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "queued"
        assert calls_recorded(sessions) == 1

    def test_a_tampered_body_is_refused_and_nothing_recorded(self, client: TestClient, center: Any,
                                                             sessions: sessionmaker[Session]) -> None:
        stamp = str(int(time.time()))
        signature = sign(json.dumps(payload("call.queued", T0)).encode(), stamp)
        response = post(client, payload("call.queued", T0, queue="billing"), timestamp=stamp, signature=signature)
        assert response.status_code == 403
        assert calls_recorded(sessions) == 0

    def test_a_wrong_secret_is_refused(self, client: TestClient, center: Any, sessions: sessionmaker[Session]) -> None:
        response = post(client, payload("call.queued", T0), secret="another-secret-0123456789")
        assert response.status_code == 403
        assert calls_recorded(sessions) == 0

    def test_missing_headers_are_refused(self, client: TestClient, center: Any,
                                         sessions: sessionmaker[Session]) -> None:
        raw = json.dumps(payload("call.queued", T0)).encode()
        stamp = str(int(time.time()))
        no_signature = client.post("/api/cti/events", content=raw, headers={"X-Careline-Timestamp": stamp})
        no_timestamp = client.post("/api/cti/events", content=raw, headers={"X-Careline-Signature": sign(raw, stamp)})
        assert no_signature.status_code == 403
        assert no_timestamp.status_code == 403
        assert calls_recorded(sessions) == 0

    def test_a_stale_timestamp_is_a_replay(self, client: TestClient, center: Any,
                                           sessions: sessionmaker[Session]) -> None:
        stale = str(int(time.time()) - 301)
        response = post(client, payload("call.queued", T0), timestamp=stale)  # correctly signed, but too old
        assert response.status_code == 403
        assert calls_recorded(sessions) == 0

    def test_nothing_is_accepted_without_a_configured_secret(self, settings: Settings, center: Any,
                                                             sessions: sessionmaker[Session]) -> None:
        with TestClient(create_app_for(settings, sessions), base_url="http://testserver") as plain:
            response = post(plain, payload("call.queued", T0))
        assert response.status_code == 403
        assert calls_recorded(sessions) == 0

    def test_a_signed_but_malformed_event_is_422(self, client: TestClient, center: Any,
                                                 sessions: sessionmaker[Session]) -> None:
        response = post(client, payload("call.answered", T0))  # no extension
        assert response.status_code == 422
        naive = post(client, payload("call.queued", T0) | {"at": "2026-03-02T14:00:00"})
        assert naive.status_code == 422
        assert calls_recorded(sessions) == 0


class TestLifecycle:
    def test_queued_offered_answered_held_resumed_ended_stamps_every_time_from_the_events(
            self, client: TestClient, center: tuple[Staff, Staff], sessions: sessionmaker[Session]) -> None:
        ana, _ben = center
        times = {kind: T0 + timedelta(seconds=offset) for kind, offset in
                 [("call.queued", 0), ("call.offered", 12), ("call.answered", 17), ("call.held", 60),
                  ("call.resumed", 90), ("call.ended", 200)]}
        for kind, at in times.items():
            extension = {"extension": "201"} if kind in ("call.offered", "call.answered") else {}
            response = post(client, payload(kind, at, queue="billing", reason="billing", **extension))
            assert response.status_code == 200, (kind, response.text)
            assert response.json()["duplicate"] is False

        contact = contact_of(sessions)
        assert contact.routed_externally
        assert contact.channel == "voice"
        assert contact.reason == "billing"
        assert contact.agent_id == ana.id
        assert contact.created_at == contact.queued_at == times["call.queued"]
        assert contact.offered_at == times["call.offered"]
        assert contact.answered_at == times["call.answered"]
        assert contact.held_at is None
        assert contact.hold_seconds == 30
        assert contact.ended_at == contact.wrap_up_at == times["call.ended"]
        assert contact.status == "wrap_up"
        assert contact.abandoned_at is None
        with UnitOfWork(sessions) as work:
            assert event_kinds(work, contact.id) == ["created", "queued", "offered", "answered", "held", "resumed",
                                                     "ended"]
            assert ana.row(work).state == "wrap_up"  # after-contact work, as after any call
            call = work.session.scalars(select(Call).where(Call.provider_sid == "pbx-1001")).one()
            assert (call.interaction_id, call.ended_at, call.stage) == (contact.id, times["call.ended"], "ended")

    def test_a_call_ended_in_line_is_abandoned_at_the_events_time(
            self, client: TestClient, center: Any, sessions: sessionmaker[Session]) -> None:
        post(client, payload("call.queued", T0))
        post(client, payload("call.offered", T0 + timedelta(seconds=5), extension="202"))
        response = post(client, payload("call.ended", T0 + timedelta(seconds=41)))
        assert response.json()["status"] == "abandoned"
        contact = contact_of(sessions)
        assert contact.queue_id is not None
        assert contact.abandoned_at == T0 + timedelta(seconds=41)
        assert contact.answered_at is None
        with sessions() as session:  # ben's ringing offer is withdrawn, his line given back
            leg = session.scalars(select(Assignment).where(Assignment.interaction_id == contact.id)).one()
            assert leg.status == "withdrawn"

    def test_without_a_queue_the_call_goes_to_general(self, client: TestClient, center: Any,
                                                      sessions: sessionmaker[Session]) -> None:
        response = post(client, payload("call.offered", T0, caller="anonymous"))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "queued"
        with UnitOfWork(sessions) as work:
            assert interactions.get(work, contact_of(sessions).id).queue == "general"

    def test_answered_by_another_extension_withdraws_the_first_offer(
            self, client: TestClient, center: tuple[Staff, Staff], sessions: sessionmaker[Session]) -> None:
        ana, ben = center
        post(client, payload("call.offered", T0, extension="201"))
        post(client, payload("call.answered", T0 + timedelta(seconds=8), extension="202"))
        contact = contact_of(sessions)
        assert (contact.status, contact.agent_id) == ("connected", ben.id)
        with sessions() as session:
            legs = {leg.agent_id: leg.status for leg in session.scalars(
                select(Assignment).where(Assignment.interaction_id == contact.id))}
        assert legs == {ana.id: "withdrawn", ben.id: "accepted"}

    def test_a_transfer_moves_the_leg_to_the_new_agent(
            self, client: TestClient, center: tuple[Staff, Staff], sessions: sessionmaker[Session]) -> None:
        ana, ben = center
        post(client, payload("call.queued", T0))
        post(client, payload("call.answered", T0 + timedelta(seconds=4), extension="201"))
        post(client, payload("call.held", T0 + timedelta(seconds=30)))
        moved = post(client, payload("call.transferred", T0 + timedelta(seconds=50), extension="202"))
        assert moved.status_code == 200, moved.text
        contact = contact_of(sessions)
        assert (contact.status, contact.agent_id) == ("connected", ben.id)
        assert contact.transferred_at == T0 + timedelta(seconds=50)
        assert (contact.held_at, contact.hold_seconds) == (None, 20)
        with UnitOfWork(sessions) as work:
            assert (ana.row(work).load_voice, ben.row(work).load_voice) == (0, 1)
            assert ana.row(work).state == "available"


class TestScreenPop:
    def test_the_offer_pops_on_the_desktop_of_the_extension_with_the_callers_record(
            self, client: TestClient, center: tuple[Staff, Staff], uow: UnitOfWork,
            sessions: sessionmaker[Session]) -> None:
        ana, ben = center
        patient = make_patient(uow, phones=((CALLER, "mobile"),))
        uow.commit()
        post(client, payload("call.queued", T0))
        response = post(client, payload("call.offered", T0 + timedelta(seconds=3), extension="201"))
        assert response.status_code == 200, response.text
        with UnitOfWork(sessions) as work:
            work_of_ana = desktop.my_work(work, ana.actor)
            assert len(work_of_ana.offers) == 1
            offer = work_of_ana.offers[0]
            assert offer.interaction.patient_id == patient.id
            assert offer.expires_at >= T0 + timedelta(minutes=10)
            pop = desktop.screen_pop(work, ana.actor, POLICY, offer.assignment_id)
            assert pop.patient is not None
            assert pop.patient.id == patient.id
            assert desktop.my_work(work, ben.actor).offers == []

    def test_the_offer_is_announced_to_the_agent_like_an_engine_offer(
            self, center: tuple[Staff, Staff], uow: UnitOfWork) -> None:
        ana, _ben = center
        uow.take_notices()
        cti.apply(uow, POLICY, CtiEventIn.model_validate(payload("call.offered", T0, extension="201")))
        offers = [body for channel, body in uow.take_notices()
                  if channel == f"agent:{ana.id}" and body.get("type") == "offer"]
        assert len(offers) == 1
        leg = uow.session.get_one(Assignment, UUID(offers[0]["assignment_id"]))
        assert (leg.agent_id, leg.status) == (ana.id, "offered")


class TestIdempotencyAndOrder:
    def test_the_same_event_twice_is_a_duplicate_that_changes_nothing(
            self, client: TestClient, center: Any, sessions: sessionmaker[Session]) -> None:
        post(client, payload("call.queued", T0))
        answered = payload("call.answered", T0 + timedelta(seconds=9), extension="201")
        assert post(client, answered).json()["duplicate"] is False
        before = event_count(sessions)
        again = post(client, answered)
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert event_count(sessions) == before
        assert calls_recorded(sessions) == 1

    def test_the_first_event_twice_creates_one_contact(self, client: TestClient, center: Any,
                                                       sessions: sessionmaker[Session]) -> None:
        first = payload("call.offered", T0, extension="201")
        post(client, first)
        assert post(client, first).json()["duplicate"] is True
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Interaction)) == 1
            assert session.scalar(select(func.count()).select_from(Assignment)) == 1

    def test_an_answer_after_the_end_leaves_the_call_ended(self, client: TestClient, center: Any,
                                                            sessions: sessionmaker[Session]) -> None:
        post(client, payload("call.queued", T0))
        post(client, payload("call.ended", T0 + timedelta(seconds=30)))
        late = post(client, payload("call.answered", T0 + timedelta(seconds=20), extension="201"))
        assert late.status_code == 200
        assert late.json()["ignored"] == "call_ended"
        contact = contact_of(sessions)
        assert contact.status == "abandoned"
        assert contact.abandoned_at == T0 + timedelta(seconds=30)
        assert contact.answered_at is None

    def test_an_older_event_is_ignored_but_an_older_end_still_ends(
            self, client: TestClient, center: Any, sessions: sessionmaker[Session]) -> None:
        post(client, payload("call.offered", T0 + timedelta(seconds=10), extension="201"))
        post(client, payload("call.answered", T0 + timedelta(seconds=20), extension="201"))
        stale = post(client, payload("call.offered", T0 + timedelta(seconds=15), extension="202"))
        assert stale.json()["ignored"] == "out_of_order"
        assert contact_of(sessions).status == "connected"
        ended = post(client, payload("call.ended", T0 + timedelta(seconds=18)))  # the PBX's clocks disagree
        assert ended.json()["status"] == "wrap_up"
        contact = contact_of(sessions)
        assert contact.ended_at == T0 + timedelta(seconds=20)  # never before what was already applied

    def test_an_unknown_extension_on_the_first_event_still_records_the_call(
            self, client: TestClient, center: tuple[Staff, Staff], sessions: sessionmaker[Session]) -> None:
        ana, _ben = center
        response = post(client, payload("call.offered", T0, extension="999"))
        assert response.status_code == 200, response.text
        assert (response.json()["ignored"], response.json()["status"]) == ("unknown_extension", "queued")
        assert calls_recorded(sessions) == 1
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Assignment)) == 0
        answered = post(client, payload("call.answered", T0 + timedelta(seconds=9), extension="201"))
        assert answered.status_code == 200, answered.text  # the call is known: no 404 for the rest of it
        assert answered.json()["status"] == "connected"
        ended = post(client, payload("call.ended", T0 + timedelta(seconds=70)))
        assert ended.json()["status"] == "wrap_up"
        contact = contact_of(sessions)
        assert (contact.agent_id, contact.abandoned_at) == (ana.id, None)
        assert contact.answered_at == T0 + timedelta(seconds=9)

    def test_an_unknown_extension_later_changes_nothing(self, client: TestClient, center: Any,
                                                        sessions: sessionmaker[Session]) -> None:
        post(client, payload("call.queued", T0))
        before = event_count(sessions)
        response = post(client, payload("call.answered", T0 + timedelta(seconds=5), extension="999"))
        assert response.status_code == 200, response.text
        assert (response.json()["ignored"], response.json()["status"]) == ("unknown_extension", "queued")
        assert event_count(sessions) == before

    def test_an_unknown_call_is_404_for_anything_but_its_first_events(self, client: TestClient, center: Any,
                                                                       sessions: sessionmaker[Session]) -> None:
        response = post(client, payload("call.answered", T0, extension="201", call_id="never-seen"))
        assert response.status_code == 404
        assert post(client, payload("call.ended", T0, call_id="never-seen")).status_code == 404
        assert calls_recorded(sessions) == 0


class TestLateAnswers:
    def test_an_answer_arriving_after_a_later_transfer_still_makes_the_call_handled(
            self, client: TestClient, center: tuple[Staff, Staff], sessions: sessionmaker[Session]) -> None:
        ana, _ben = center
        post(client, payload("call.queued", T0))
        post(client, payload("call.transferred", T0 + timedelta(seconds=20), extension="202"))  # an offer to ben
        late = post(client, payload("call.answered", T0 + timedelta(seconds=10), extension="201"))
        assert late.status_code == 200, late.text
        assert (late.json()["ignored"], late.json()["status"]) == (None, "connected")
        assert post(client, payload("call.answered", T0 + timedelta(seconds=10), extension="201")).json()[
            "ignored"] == "out_of_order"  # answered now: the same answer again changes nothing
        ended = post(client, payload("call.ended", T0 + timedelta(seconds=90)))
        assert ended.json()["status"] == "wrap_up"
        contact = contact_of(sessions)
        assert contact.abandoned_at is None
        assert contact.agent_id == ana.id
        # never before the offer the transfer made, so the speed of answer is not negative
        assert contact.answered_at == contact.offered_at == T0 + timedelta(seconds=20)
        assert contact.ended_at == T0 + timedelta(seconds=90)

    def test_an_answer_arriving_after_a_refused_hold_is_still_applied(
            self, client: TestClient, center: Any, sessions: sessionmaker[Session]) -> None:
        post(client, payload("call.offered", T0, extension="201"))
        post(client, payload("call.held", T0 + timedelta(seconds=30)))
        late = post(client, payload("call.answered", T0 + timedelta(seconds=10), extension="201"))
        assert late.json()["status"] == "connected"
        assert post(client, payload("call.ended", T0 + timedelta(seconds=60))).json()["status"] == "wrap_up"
        assert contact_of(sessions).answered_at == T0 + timedelta(seconds=10)


class TestTimestamps:
    HOURS: ClassVar = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    SATURDAY_NOON = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    MONDAY_OPENING = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 09:00 EST

    def test_no_wait_is_negative_when_the_contact_is_due_after_the_pbx_answers(
            self, client: TestClient, center: Any, uow: UnitOfWork, sessions: sessionmaker[Session]) -> None:
        make_queue(uow, "weekdays", business_hours=self.HOURS)
        uow.commit()
        post(client, payload("call.queued", self.SATURDAY_NOON, queue="weekdays"))
        answered = post(client, payload("call.answered", self.SATURDAY_NOON + timedelta(seconds=20), extension="201"))
        assert answered.status_code == 200, answered.text
        post(client, payload("call.held", self.SATURDAY_NOON + timedelta(seconds=30)))
        post(client, payload("call.resumed", self.SATURDAY_NOON + timedelta(seconds=40)))
        post(client, payload("call.ended", self.SATURDAY_NOON + timedelta(seconds=50)))
        contact = contact_of(sessions)
        assert contact.queued_at == self.MONDAY_OPENING  # the queue's rule: its wait starts when it is due
        assert contact.answered_at is not None
        assert contact.ended_at is not None
        assert contact.queued_at <= contact.answered_at <= contact.ended_at
        assert contact.hold_seconds == 0


class TestCapacity:
    """The PBX decides who is on the phone: Careline counts an agent's load where it can, never refuses a leg."""

    def test_an_agent_offline_in_careline_can_answer_and_hand_the_call_on(
            self, client: TestClient, center: tuple[Staff, Staff], uow: UnitOfWork,
            sessions: sessionmaker[Session]) -> None:
        _ana, ben = center
        carl = make_agent(uow, "carl", extension="203")  # never signed in: offline
        uow.commit()
        offered = post(client, payload("call.offered", T0, extension="203"))
        assert offered.status_code == 200, offered.text
        answered = post(client, payload("call.answered", T0 + timedelta(seconds=5), extension="203"))
        assert answered.status_code == 200, answered.text
        assert (contact_of(sessions).status, contact_of(sessions).agent_id) == ("connected", carl.id)
        moved = post(client, payload("call.transferred", T0 + timedelta(seconds=30), extension="202"))
        assert moved.status_code == 200, moved.text  # carl's leg ends without giving back a line he never held
        with UnitOfWork(sessions) as work:
            assert (carl.row(work).load_voice, carl.row(work).state) == (0, "offline")
            assert ben.row(work).load_voice == 1
        assert contact_of(sessions).agent_id == ben.id

    def test_an_agent_at_capacity_takes_a_second_pbx_call_without_exceeding_their_lines(
            self, client: TestClient, center: tuple[Staff, Staff], sessions: sessionmaker[Session]) -> None:
        ana, _ben = center
        post(client, payload("call.offered", T0, extension="201", call_id="pbx-1"))
        post(client, payload("call.answered", T0 + timedelta(seconds=2), extension="201", call_id="pbx-1"))
        post(client, payload("call.offered", T0 + timedelta(seconds=10), extension="201", call_id="pbx-2"))
        second = post(client, payload("call.answered", T0 + timedelta(seconds=12), extension="201", call_id="pbx-2"))
        assert second.status_code == 200, second.text
        assert second.json()["status"] == "connected"
        with UnitOfWork(sessions) as work:
            assert ana.row(work).load_voice == 1  # one voice line, counted once
        post(client, payload("call.transferred", T0 + timedelta(seconds=20), extension="202", call_id="pbx-2"))
        with UnitOfWork(sessions) as work:
            assert ana.row(work).load_voice == 1  # still on pbx-1: the unreserved leg gave nothing back
        assert post(client, payload("call.ended", T0 + timedelta(seconds=40), call_id="pbx-1")).status_code == 200
        with UnitOfWork(sessions) as work:
            assert ana.row(work).load_voice >= 0


class TestEngine:
    def test_the_engine_never_offers_a_call_the_pbx_routes(self, client: TestClient, center: tuple[Staff, Staff],
                                                           sessions: sessionmaker[Session]) -> None:
        post(client, payload("call.queued", T0))
        with UnitOfWork(sessions) as work:
            report = engine.run_pass(work, T0 + timedelta(seconds=5))
            work.commit()
        assert report.offered == 0
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Assignment)) == 0
        assert contact_of(sessions).status == "queued"


def event_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(InteractionEvent)) or 0
