"""Texts and chats on the agent's desktop: an agent on no call takes a text (the signed Twilio webhook) and a web
chat at once, answers each from its thread by keyboard; the text reaches the local sink through the live server's
outbox loop and the chat's patient reads the answer. A number that said STOP shows why the reply box is off."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from careline.actor import Actor
from careline.auth import service as auth_service
from careline.bootstrap import unit_of_work
from careline.integrations.sink import SinkMessage
from careline.routing.schemas import AgentIn, QueueIn
from careline.routing.service import setup
from careline.settings import Settings
from tests.browser.conftest import _unexpected, check_accessibility, go_available, screenshot, sign_in
from tests.factories.messaging import MOBILE, SMS_PATH, make_texter, sms_params
from tests.factories.telephony import AUTH_TOKEN, sign

pytestmark = pytest.mark.browser

SETUP = Actor.cli("test setup")
SCREEN = {"width": 1366, "height": 768}


@pytest.fixture
def live_settings(live_settings: Settings) -> Settings:
    """Twilio may post texts to this center (signed with its auth token)."""
    return live_settings.model_copy(update={"twilio_auth_token": AUTH_TOKEN})


@pytest.fixture
def patient_id(live_settings: Settings) -> str:
    """Ana texts from her mobile; the messaging queue exists and Alex, in it, takes up to three texts at once."""
    with unit_of_work(live_settings) as uow:
        ana = make_texter(uow)
        ana.given_names, ana.family_name = "Ana María", "Rivera"
        setup.save_queue(uow, SETUP, QueueIn(name=live_settings.messaging_queue, offer_seconds=60))
        alex = next(user for user in auth_service.list_users(uow) if user.username == "alex")
        setup.create_agent(uow, SETUP, AgentIn(user_id=alex.id, text_slots=3, wrap_up_seconds=300))
        uow.commit()
        return str(ana.id)


@pytest.fixture
def alex(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport=SCREEN)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if _unexpected(message) else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "alex")
    yield page
    context.close()
    assert errors == [], f"the browser reported errors (CSP violations show here too): {errors}"


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """A request from outside the agent's browser (Twilio, a patient's website), to the live server on 127.0.0.1."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the live server, 127.0.0.1)
        text = response.read().decode()
        return response.status, json.loads(text) if text.startswith("{") else text


def _text(base_url: str, sid: str, body: str) -> None:
    """Twilio posts Ana's text, signed for the live server's URL."""
    params = sms_params(sid, body)
    status, _ = _post(base_url + SMS_PATH, urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(SMS_PATH, params,
                                                                                           origin=base_url)})
    assert status == 200


def _chat(base_url: str, body: str) -> Callable[[], dict[str, Any]]:
    """A visitor starts a web chat and writes; returns how they read the chat's news."""
    json_headers = {"Content-Type": "application/json"}
    status, started = _post(f"{base_url}/chat/api/chats", b'{"language": "en"}', json_headers)
    assert status == 201
    token = {"X-Chat-Token": started["token"]}
    status, _ = _post(f"{base_url}/chat/api/messages", json.dumps({"body": body}).encode(), json_headers | token)
    assert status == 201

    def news() -> dict[str, Any]:
        request = urllib.request.Request(f"{base_url}/chat/api/messages", headers=token)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the live server)
            found: dict[str, Any] = json.loads(response.read())
            return found
    return news


def _accept(page: Page, what: str) -> Locator:
    """Accept the offer by keyboard; returns the new contact's card."""
    offer = page.locator(".offer")
    expect(offer).to_contain_text(what)
    page.keyboard.press("Alt+A")
    expect(offer).to_have_count(0)
    return page.locator(".contact", has=page.get_by_role("heading", name=re.compile(what)))


def _look(page: Page, name: str) -> None:
    """Accessible, nothing wider than the laptop's screen, and a screenshot to look at."""
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
    screenshot(page, name)


def _sunk(settings: Settings, body: str) -> list[tuple[str, str]]:
    """Channel and address of what the local sink took with this text."""
    with unit_of_work(settings) as uow:
        rows = uow.session.scalars(select(SinkMessage).where(SinkMessage.body == body))
        return [(row.channel, row.to) for row in rows]


def _wait_for(find: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if found := find():
            return found
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def test_an_agent_answers_a_text_and_a_chat_at_once(alex: Page, base_url: str, live_settings: Settings,
                                                   patient_id: str) -> None:
    go_available(alex)
    _text(base_url, "SM00000000000000000000000000000001", "Can I move my Thursday visit?")
    sms = _accept(alex, "SMS")
    thread = sms.locator("[data-thread-of]")
    expect(thread).to_contain_text("Can I move my Thursday visit?")
    expect(alex.locator("#record")).to_contain_text("Verify")  # her masked record beside it ...
    expect(sms.get_by_label(re.compile("^Reply to"))).to_be_focused()  # ... and the keyboard in the reply box

    chat_news = _chat(base_url, "Do you take walk-ins on Saturday?")
    chat = _accept(alex, "Chat")
    expect(chat.locator("[data-thread-of]")).to_contain_text(
        "Do you take walk-ins on Saturday?")
    expect(chat.get_by_label(re.compile("^Reply to"))).to_be_focused()
    expect(alex.locator(".contact")).to_have_count(2)  # both held at once, and said so above the cards
    expect(alex.get_by_role("navigation", name="Contacts you hold")).to_contain_text("You hold 2 contacts")
    expect(thread.locator("time").first).to_have_text(re.compile(r" [AP]M E[SD]T$"))  # the center's clock, named
    expect(alex.locator("#agent-state .state-pill")).to_have_text("On a contact")
    _look(alex, "messaging-desktop-two-contacts")

    # The text: Tab from the reply box reaches Send; Ctrl+Enter sends; the outbox loop carries it to the sink.
    reply = sms.get_by_label(re.compile("^Reply to"))
    reply.fill("Yes. Friday at 9 or Monday at 2?")
    reply.press("Tab")
    expect(sms.get_by_role("button", name=re.compile("^Send"))).to_be_focused()
    reply.press("Control+Enter")
    mine = thread.locator(".msg-outbound", has_text="Yes. Friday at 9 or Monday at 2?")
    expect(mine.locator(".msg-status")).to_have_text("Sent", timeout=15_000)
    expect(reply).to_have_value("")
    assert _sunk(live_settings, "Yes. Friday at 9 or Monday at 2?") == [("sms", MOBILE)]

    # The chat: written, then sent from the keyboard alone (Tab to Send, Enter); the visitor reads it.
    chat_reply = chat.get_by_label(re.compile("^Reply to"))
    chat_reply.fill("We do, from 9 to noon.")
    chat_reply.press("Tab")
    chat.get_by_role("button", name=re.compile("^Send")).press("Enter")
    expect(chat.locator(".msg-outbound")).to_contain_text("We do, from 9 to noon.")
    lines = _wait_for(lambda: [line for line in chat_news()["lines"] if not line["from_patient"]], "the chat answer")
    assert [line["body"] for line in lines] == ["We do, from 9 to noon."]
    expect(alex.locator(".contact")).to_have_count(2)
    _look(alex, "messaging-desktop-answered")

    # The text thread is on Ana's timeline once the agent has verified her.
    alex.goto(f"/patients/{patient_id}")
    alex.get_by_label("Full name").fill("Ana Rivera")
    alex.get_by_label("Date of birth").fill("1961-02-03")
    alex.get_by_label("Date of birth").press("Enter")
    timeline = alex.locator(".timeline")
    expect(timeline).to_contain_text("SMS conversation")
    expect(timeline).to_contain_text("2 messages · latest from Alex Rivera: “Yes. Friday at 9 or Monday at 2?”")
    _look(alex, "messaging-patient-360")


def test_a_number_that_said_stop_cannot_be_answered_by_text(alex: Page, base_url: str, live_settings: Settings,
                                                           patient_id: str) -> None:
    _text(base_url, "SM00000000000000000000000000000011", "STOP")
    go_available(alex)
    _text(base_url, "SM00000000000000000000000000000012", "Why did my bill go up?")
    sms = _accept(alex, "SMS")
    thread = sms.locator("[data-thread-of]")
    expect(thread.get_by_role("status").filter(has_text="Opted out of texts")).to_contain_text("STOP")
    reply = sms.get_by_label(re.compile("^Reply to"))
    expect(reply).to_be_disabled()
    expect(reply).to_have_accessible_description(re.compile("the patient opted out"))
    expect(sms.get_by_role("button", name=re.compile("^Send"))).to_be_disabled()
    _look(alex, "messaging-desktop-opted-out")
