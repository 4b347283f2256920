"""The demo's simulated phone: someone signed in picks a patient's number, texts the center, an agent takes the text
on the desktop and answers, and the phone shows the answer once the live server's outbox loop has sent it to the
local sink. STOP then gets one confirmation, and the agent's next reply is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from careline.actor import Actor
from careline.auth import service as auth_service
from careline.bootstrap import unit_of_work
from careline.integrations.sink import SinkMessage
from careline.messaging.models import Message
from careline.routing.schemas import AgentIn, QueueIn
from careline.routing.service import setup
from careline.settings import Settings
from tests.browser.conftest import _unexpected, check_accessibility, go_available, screenshot, sign_in
from tests.factories.messaging import MOBILE, make_texter

pytestmark = pytest.mark.browser

SETUP = Actor.cli("test setup")
SCREEN = {"width": 1366, "height": 768}
PHONE_SCREEN = {"width": 1024, "height": 768}
WORKER = 20_000  # ms: the live server's outbox loop sends to the sink within a few seconds


@pytest.fixture
def texter(live_settings: Settings) -> None:
    """Ana texts from her mobile; the messaging queue exists and Alex, in it, takes up to three texts at once."""
    with unit_of_work(live_settings) as uow:
        make_texter(uow)
        setup.save_queue(uow, SETUP, QueueIn(name=live_settings.messaging_queue, offer_seconds=60))
        alex = next(user for user in auth_service.list_users(uow) if user.username == "alex")
        setup.create_agent(uow, SETUP, AgentIn(user_id=alex.id, text_slots=3, wrap_up_seconds=300))
        uow.commit()


def _signed_in(browser: Browser, base_url: str, username: str, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if _unexpected(message) else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, username)
    yield page
    context.close()
    assert errors == [], f"the browser reported errors (CSP violations show here too): {errors}"


@pytest.fixture
def alex(browser: Browser, base_url: str, texter: None) -> Iterator[Page]:
    """The agent, at the desktop."""
    yield from _signed_in(browser, base_url, "alex", SCREEN)


@pytest.fixture
def phone(browser: Browser, base_url: str, texter: None) -> Iterator[Page]:
    """Sam, a supervisor showing the demo, holds the simulated phone in another browser."""
    yield from _signed_in(browser, base_url, "sam", PHONE_SCREEN)


def _send(phone: Page, body: str) -> None:
    """Write the text and send it by keyboard alone: Tab from the text box reaches Send."""
    phone.get_by_label("Text", exact=True).fill(body)
    phone.get_by_label("Text", exact=True).press("Tab")
    send = phone.get_by_role("button", name="Send text")
    expect(send).to_be_focused()
    send.press("Enter")


def _screen(phone: Page) -> Locator:
    return phone.get_by_role("list", name="Texts with the center")


def _look(page: Page, name: str) -> None:
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
    screenshot(page, name)


def test_a_text_from_the_simulated_phone_is_answered_and_stop_stops_the_answers(alex: Page, phone: Page,
                                                                               live_settings: Settings) -> None:
    go_available(alex)

    phone.goto("/simulator/phone")
    expect(phone.get_by_role("note")).to_contain_text("SIMULATION")
    number = phone.get_by_label("From the phone number")
    assert MOBILE in phone.locator("#demo-numbers option").evaluate_all("options => options.map(o => o.value)")
    _look(phone, "simulated-phone-empty")
    number.focus()
    phone.keyboard.type(MOBILE)  # the demo patient's number, picked from the list by typing it
    _send(phone, "Can I move my Thursday visit?")
    expect(phone).to_have_url(re.compile(r"/simulator/phone\?number=%2B16175550142$"))
    expect(number).to_have_value(MOBILE)
    screen = _screen(phone)
    expect(screen.locator("li")).to_have_count(1)
    expect(screen.locator("li.sent")).to_contain_text("Can I move my Thursday visit?")

    # The text reaches Alex as a contact; Alex accepts and answers from the keyboard.
    offer = alex.locator(".offer")
    expect(offer).to_contain_text("SMS")
    alex.keyboard.press("Alt+A")
    expect(offer).to_have_count(0)
    sms = alex.locator(".contact", has=alex.get_by_role("heading", name=re.compile("SMS")))
    thread = sms.locator("[data-thread-of]")
    expect(thread).to_contain_text("Can I move my Thursday visit?")
    reply = sms.get_by_label(re.compile("^Reply to"))
    reply.fill("Yes. Friday at 9 or Monday at 2?")
    reply.press("Control+Enter")
    expect(thread.locator(".msg-outbound", has_text="Friday at 9").locator(".msg-status")).to_have_text(
        "Sent", timeout=WORKER)

    # The open phone page shows the answer by itself once the sink took it, after the text it answers, and says so.
    expect(screen.locator("li")).to_have_count(2, timeout=WORKER)
    expect(phone.locator("#phone-news")).to_have_text("New text from the center: Yes. Friday at 9 or Monday at 2?")
    expect(screen.locator("li").nth(1)).to_have_class(re.compile(r"\breceived\b"))
    expect(screen.locator("li").nth(1)).to_contain_text("Yes. Friday at 9 or Monday at 2?")
    _look(phone, "simulated-phone-answered")

    # STOP: one confirmation on the phone, even after a second look; the agent's next reply is refused.
    _send(phone, "stop")
    expect(screen.locator("li.sent").last).to_contain_text("stop")
    expect(screen.locator("li.received")).to_have_count(2, timeout=WORKER)
    confirmation = screen.locator("li.received").last
    expect(confirmation).to_contain_text(re.compile("unsubscribed|no more|opted out|stop", re.IGNORECASE))
    phone.get_by_role("link", name="Refresh").click()
    expect(screen.locator("li.received")).to_have_count(2)
    expect(screen.locator("li")).to_have_count(4)

    alex.reload()
    sms = alex.locator(".contact", has=alex.get_by_role("heading", name=re.compile("SMS")))
    expect(sms.get_by_role("status").filter(has_text="Opted out of texts")).to_contain_text("STOP")
    expect(sms.get_by_label(re.compile("^Reply to"))).to_be_disabled()
    refused = alex.request.post(sms.locator("form.reply").get_attribute("action") or "", form={
        "csrf_token": sms.locator("form.reply input[name=csrf_token]").input_value(), "body": "Are you sure?"})
    assert refused.status == 409, refused.status
    assert "opted out" in refused.text()
    with unit_of_work(live_settings) as uow:  # refused whole: neither in the thread nor at the sink
        assert uow.session.scalars(select(Message).where(Message.body == "Are you sure?")).all() == []
        assert uow.session.scalars(select(SinkMessage).where(SinkMessage.to == MOBILE)).all() != []
        assert uow.session.scalars(select(SinkMessage).where(SinkMessage.body == "Are you sure?")).all() == []
    phone.get_by_role("link", name="Refresh").click()
    expect(screen.locator("li")).to_have_count(4)
    _look(phone, "simulated-phone-stopped")
