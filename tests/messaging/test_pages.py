"""Messaging's pages: the desktop's thread of a text contact (reply, opted out), and the admin pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from careline.actor import Role
from careline.auth.models import User
from careline.db import UnitOfWork, utcnow
from careline.messaging.models import Conversation
from careline.messaging.rules import Channel
from careline.messaging.service import history, threads
from careline.routing.service import engine, offers
from careline.settings import Settings
from careline.web.csrf import SESSION_COOKIE
from careline.worker import outbox
from careline.worker.models import OutboxMessage
from tests.conftest import csrf_from
from tests.factories.auth import make_session, make_user
from tests.factories.messaging import give_up_row
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, make_agent, make_queue, open_offers

MOBILE = "+16175550111"


def _sign_in(client: TestClient, uow: UnitOfWork, user_id: Any) -> str:
    client.cookies.set(SESSION_COOKIE, make_session(uow, uow.session.get_one(User, user_id)))
    uow.commit()
    return csrf_from(client.get("/account").text)


@pytest.fixture
def contact(client: TestClient, uow: UnitOfWork, settings: Settings) -> dict[str, Any]:
    now = utcnow()
    make_queue(uow, "scheduling")
    patient = make_patient(uow, phones=((MOBILE, "mobile"),))
    alex = make_agent(uow, "alex", available_at=now)
    message = threads.receive(uow, POLICY, settings, threads.Inbound(
        channel=Channel.sms, address=MOBILE, body="Can I move my visit?", provider_id="SM1"), now=now)
    conversation = uow.session.get_one(Conversation, message.conversation_id)
    engine.run_pass(uow, now)
    offers.accept(uow, alex.actor, open_offers(uow, alex)[0].id, now=now)
    token = _sign_in(client, uow, alex.actor.user_id)
    return {"id": conversation.interaction_id, "csrf": token, "patient": patient.id, "alex": alex}


def test_the_desktop_shows_the_thread_and_a_reply_joins_it(client: TestClient, contact: dict[str, Any]) -> None:
    desk = client.get("/desktop").text
    assert f'hx-get="/desktop/contacts/{contact["id"]}/conversation"' in desk
    assert f'id="hold-{contact["id"]}"' not in desk  # a text waits by itself: nothing to hold
    html = client.get(f"/desktop/contacts/{contact['id']}/conversation").text
    assert "SMS with +16175550111" in html
    assert "Can I move my visit?" in html
    sent = client.post(f"/desktop/contacts/{contact['id']}/messages", headers={"HX-Request": "true"},
                       data={"csrf_token": contact["csrf"], "body": "Which day?"})
    assert sent.status_code == 200
    assert 'data-waiting="true"' in sent.text
    assert "Which day?" in sent.text
    assert "Queued" in sent.text
    blank = client.post(f"/desktop/contacts/{contact['id']}/messages", headers={"HX-Request": "true"},
                        data={"csrf_token": contact["csrf"], "body": "  "})
    assert blank.status_code == 422
    assert "Write a message before sending." in blank.text


def test_opted_out_is_said_plainly_and_the_reply_box_is_disabled(client: TestClient, uow: UnitOfWork,
                                                                  settings: Settings,
                                                                  contact: dict[str, Any]) -> None:
    threads.receive(uow, POLICY, settings, threads.Inbound(channel=Channel.sms, address=MOBILE, body="stop",
                                                           provider_id="SM2"))
    uow.commit()
    html = client.get(f"/desktop/contacts/{contact['id']}/conversation").text
    assert "Opted out of texts" in html
    assert "STOP" in html
    assert "You cannot reply here: the patient opted out." in html
    assert 'disabled aria-describedby="reply-why-' in html
    refused = client.post(f"/desktop/contacts/{contact['id']}/messages", headers={"HX-Request": "true"},
                          data={"csrf_token": contact["csrf"], "body": "Hello?"})
    assert refused.status_code == 409
    assert "Hello?" in refused.text  # kept as typed


def test_the_conversation_is_on_the_patients_timeline(uow: UnitOfWork, contact: dict[str, Any]) -> None:
    items = history.timeline_for(uow, contact["patient"])
    assert [(item.kind, item.title, item.detail) for item in items] == [
        ("message", "SMS conversation", "1 message · latest from the patient: “Can I move my visit?”")]


@pytest.fixture
def admin(client: TestClient, uow: UnitOfWork) -> str:
    return _sign_in(client, uow, make_user(uow, role=Role.admin, username="dana").id)


def test_templates_page_lists_edits_previews_and_flags_phi(client: TestClient, admin: str) -> None:
    html = client.get("/admin/templates").text
    assert "STOP confirmation" in html
    assert 'href="/admin/templates"' in html  # in the menu
    edit = client.get("/admin/templates", params={"kind": "help", "channel": "sms", "language": "es"}).text
    assert "Edit the HELP answer template" in edit
    form = {"csrf_token": admin, "kind": "visit_reminder", "channel": "sms", "language": "en",
            "body": "Your {{ visit_reason }} visit is {{ when }}."}
    preview = client.post("/admin/templates/preview", data=form).text
    assert "PHI in a text" in preview
    assert "Tue 3 Mar" in preview
    refused = client.post("/admin/templates", data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert 'aria-invalid="true" aria-errormessage="form-problem"' in refused.text
    saved = client.post("/admin/templates", data=form | {"allow_phi": "true"}, follow_redirects=False)
    assert saved.status_code == 303


def test_sent_messages_and_outbox_pages(client: TestClient, uow: UnitOfWork, admin: str) -> None:
    html = client.get("/admin/sent-messages", params={"channel": "sms"}).text
    assert "sent-messages.jsonl" in html
    assert "Nothing sent by SMS yet." in html
    assert '<option value="chat"' not in html  # chat answers never go through a provider or the sink
    assert "Nothing sent yet." in client.get("/admin/sent-messages", params={"channel": "chat"}).text
    outbox.send_later(uow, "message.send", {"message_id": "x"}, key="k1")
    row = uow.session.query(OutboxMessage).one()
    give_up_row(uow.session, row.id, "provider refused")
    uow.commit()
    page = client.get("/admin/outbox").text
    assert "provider refused" in page
    assert "Send it again" in page
    done = client.post("/admin/outbox/redrive", data={"csrf_token": admin, "kind": "message.send"})
    assert "1 given-up row will be sent again now." in done.text


def test_a_text_from_an_unknown_number_asks_who_is_writing(client: TestClient, uow: UnitOfWork, settings: Settings,
                                                            contact: dict[str, Any]) -> None:
    now = utcnow()
    message = threads.receive(uow, POLICY, settings, threads.Inbound(
        channel=Channel.sms, address="+16175550199", body="Hi", provider_id="SM2"), now=now)
    unknown = uow.session.get_one(Conversation, message.conversation_id).interaction_id
    engine.run_pass(uow, now)
    offers.accept(uow, contact["alex"].actor, open_offers(uow, contact["alex"])[0].id, now=now)
    uow.commit()
    html = client.get(f"/desktop/contacts/{unknown}/record", headers={"HX-Request": "true"}).text
    assert "Who is writing?" in html
    assert "Who is calling?" not in html
