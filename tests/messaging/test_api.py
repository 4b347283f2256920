"""Messaging's JSON API: an agent reads and answers the thread of their contact; admins keep templates and the
outbox (counts, given-up rows, re-drive)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from careline.actor import Role
from careline.auth.models import User
from careline.db import UnitOfWork, utcnow
from careline.messaging.models import Conversation
from careline.messaging.rules import Channel
from careline.messaging.service import threads
from careline.routing.service import engine, offers
from careline.settings import Settings
from careline.worker import outbox, repository
from careline.worker.models import OutboxMessage
from tests.factories.auth import make_api_token, make_user
from tests.factories.messaging import give_up_row
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, make_agent, make_queue, open_offers

MOBILE = "+16175550111"


def _bearer(uow: UnitOfWork, username: str) -> dict[str, str]:
    user = uow.session.query(User).filter_by(username=username).one()
    return {"Authorization": f"Bearer {make_api_token(uow, user)}"}


@pytest.fixture
def answered(uow: UnitOfWork, settings: Settings) -> dict[str, Any]:
    """A text from a patient, accepted by Alex; Jordan is another agent."""
    now = utcnow()
    make_queue(uow, "scheduling")
    make_patient(uow, phones=((MOBILE, "mobile"),))
    alex = make_agent(uow, "alex", available_at=now)
    make_agent(uow, "jordan")
    message = threads.receive(uow, POLICY, settings, threads.Inbound(
        channel=Channel.sms, address=MOBILE, body="Can I move my visit?", provider_id="SM1"), now=now)
    conversation = uow.session.get_one(Conversation, message.conversation_id)
    engine.run_pass(uow, now)
    offers.accept(uow, alex.actor, open_offers(uow, alex)[0].id, now=now)
    uow.commit()
    return {"contact": conversation.interaction_id, "alex": _bearer(uow, "alex"), "jordan": _bearer(uow, "jordan")}


class TestThread:
    def test_the_agent_reads_the_thread_and_replies(self, client: TestClient, uow: UnitOfWork,
                                                     answered: dict[str, Any]) -> None:
        url = f"/api/contacts/{answered['contact']}"
        shown = client.get(f"{url}/conversation", headers=answered["alex"])
        assert shown.status_code == 200
        assert [m["body"] for m in shown.json()["messages"]] == ["Can I move my visit?"]
        sent = client.post(f"{url}/messages", json={"body": "  Which day suits you? "}, headers=answered["alex"])
        assert sent.status_code == 201
        assert [(m["direction"], m["status"], m["body"]) for m in sent.json()["messages"]][-1] == \
            ("outbound", "queued", "Which day suits you?")
        assert len(repository.of_kind(uow.session, "message.send")) == 1

    def test_another_agent_may_not_read_or_answer_it(self, client: TestClient, uow: UnitOfWork,
                                                      answered: dict[str, Any]) -> None:
        url = f"/api/contacts/{answered['contact']}"
        assert client.get(f"{url}/conversation", headers=answered["jordan"]).status_code == 403
        assert client.post(f"{url}/messages", json={"body": "hi"}, headers=answered["jordan"]).status_code == 403
        assert repository.of_kind(uow.session, "message.send") == []

    def test_a_blank_or_unknown_reply_is_a_clear_4xx(self, client: TestClient, uow: UnitOfWork,
                                                      answered: dict[str, Any]) -> None:
        url = f"/api/contacts/{answered['contact']}/messages"
        assert client.post(url, json={"body": "   "}, headers=answered["alex"]).status_code == 422
        assert client.post(url, json={"body": "x" * 1601}, headers=answered["alex"]).json()["field"] == "body"
        missing = client.get(f"/api/contacts/{uuid4()}/conversation", headers=answered["alex"])
        assert missing.status_code == 404
        assert repository.of_kind(uow.session, "message.send") == []

    def test_a_reply_after_stop_is_refused_and_nothing_is_queued(self, client: TestClient, uow: UnitOfWork,
                                                                 settings: Settings,
                                                                 answered: dict[str, Any]) -> None:
        threads.receive(uow, POLICY, settings, threads.Inbound(channel=Channel.sms, address=MOBILE, body="STOP",
                                                               provider_id="SM2"))
        uow.commit()
        queued = len(repository.of_kind(uow.session, "message.send"))  # the one confirmation
        refused = client.post(f"/api/contacts/{answered['contact']}/messages", json={"body": "Still there?"},
                              headers=answered["alex"])
        assert refused.status_code == 409
        assert "opted out" in refused.json()["detail"]
        assert len(repository.of_kind(uow.session, "message.send")) == queued == 1


@pytest.fixture
def admin(uow: UnitOfWork) -> dict[str, str]:
    user = make_user(uow, role=Role.admin, username="dana")
    token = make_api_token(uow, uow.session.get_one(User, user.id))
    uow.commit()
    return {"Authorization": f"Bearer {token}"}


class TestTemplates:
    def test_every_default_is_listed_and_a_saved_one_replaces_it(self, client: TestClient,
                                                                 admin: dict[str, str]) -> None:
        listed = client.get("/api/messaging/templates", headers=admin).json()
        assert {("help", "sms", "es"), ("chat_transcript", "email", "en")} <= \
            {(t["kind"], t["channel"], t["language"]) for t in listed}
        saved = client.put("/api/messaging/templates", headers=admin, json={
            "kind": "help", "channel": "sms", "language": "en", "body": "{{ center_name }}: call {{ help_line }}."})
        assert saved.status_code == 200
        assert saved.json()["customised"] is True
        again = [t for t in client.get("/api/messaging/templates", headers=admin).json()
                 if (t["kind"], t["channel"], t["language"]) == ("help", "sms", "en")]
        assert [t["body"] for t in again] == ["{{ center_name }}: call {{ help_line }}."]

    def test_phi_in_a_text_needs_the_opt_in_confirmation(self, client: TestClient, admin: dict[str, str]) -> None:
        body = {"kind": "visit_reminder", "channel": "sms", "language": "en",
                "body": "Hi {{ first_name }}, your {{ visit_reason }} visit is {{ when }}."}
        shown = client.post("/api/messaging/templates/preview", headers=admin, json=body).json()
        assert shown["phi_fields"] == ["visit_reason"]
        assert shown["body"].startswith("Hi Alex, your [visit_reason] visit is Tue 3 Mar")
        refused = client.put("/api/messaging/templates", headers=admin, json=body)
        assert (refused.status_code, refused.json()["field"]) == (422, "body")
        assert client.put("/api/messaging/templates", headers=admin, json=body | {"allow_phi": True}).status_code == 200

    def test_a_broken_template_is_shown_in_the_preview_and_refused(self, client: TestClient,
                                                                   admin: dict[str, str]) -> None:
        body = {"kind": "help", "channel": "sms", "language": "en", "body": "Hi {{ first_name "}
        assert "Line 1" in client.post("/api/messaging/templates/preview", headers=admin, json=body).json()["problem"]
        assert client.put("/api/messaging/templates", headers=admin, json=body).status_code == 422


class TestOutbox:
    def test_counts_given_up_rows_and_redrive(self, client: TestClient, uow: UnitOfWork,
                                              admin: dict[str, str]) -> None:
        outbox.send_later(uow, "message.send", {"message_id": str(uuid4())}, key="a")
        outbox.send_later(uow, "message.send", {"message_id": str(uuid4())}, key="b")
        rows = {row.key: row for row in uow.session.query(OutboxMessage)}
        give_up_row(uow.session, rows["a"].id, "provider refused: 21211")
        rows["a"].created_at = utcnow() - timedelta(hours=2)
        uow.commit()
        state = client.get("/api/outbox", headers=admin).json()
        assert {(c["kind"], c["status"], c["rows"]) for c in state["counts"]} == \
            {("message.send", "dead", 1), ("message.send", "pending", 1)}
        assert [(d["id"], d["error"]) for d in state["dead"]] == [(str(rows["a"].id), "provider refused: 21211")]
        assert state["dead"][0]["given_up_for"] >= 7200
        done = client.post("/api/outbox/redrive", headers=admin, json={"ids": [str(rows["a"].id), str(rows["b"].id)]})
        assert done.json() == {"redriven": 1}  # the pending one is left alone
        assert client.get("/api/outbox", headers=admin).json()["dead"] == []

    def test_redrive_of_a_whole_kind_and_bad_input(self, client: TestClient, uow: UnitOfWork,
                                                    admin: dict[str, str]) -> None:
        for key in ("a", "b"):
            outbox.send_later(uow, "message.send", {"message_id": str(uuid4())}, key=key)
        for row in uow.session.query(OutboxMessage):
            give_up_row(uow.session, row.id, "gave up")
        uow.commit()
        assert client.post("/api/outbox/redrive", headers=admin, json={"kind": "message.send"}).json() == \
            {"redriven": 2}
        assert client.post("/api/outbox/redrive", headers=admin, json={"ids": ["not-an-id"]}).status_code == 422
        uow.session.expire_all()
        assert {row.status for row in uow.session.query(OutboxMessage)} == {"pending"}
