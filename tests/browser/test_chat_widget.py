"""The chat widget on a health system's page: a patient opens it, writes, sees the agent typing and answering,
keeps the chat across a reload, and ends it. The agent's side is driven through the services."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import UUID

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import select

from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.bootstrap import unit_of_work
from careline.db import utcnow
from careline.messaging.models import Conversation, Message
from careline.messaging.schemas import ReplyIn
from careline.messaging.service import threads
from careline.routing.models import Assignment
from careline.routing.schemas import AgentIn, QueueIn, StateIn
from careline.routing.service import agents, offers, setup
from careline.settings import Settings
from tests.browser.conftest import _unexpected, check_accessibility, screenshot

pytestmark = pytest.mark.browser

SETUP = Actor.cli("test setup")


def _agent_ready(settings: Settings) -> Actor:
    with unit_of_work(settings) as uow:
        setup.save_queue(uow, SETUP, QueueIn(name="scheduling"))
        alex = next(user for user in auth_service.list_users(uow) if user.username == "alex")
        setup.create_agent(uow, SETUP, AgentIn(user_id=alex.id))
        actor = Actor(username="alex", role=Role.agent, user_id=alex.id, route="test")
        agents.set_own_state(uow, actor, StateIn(state="available"), now=utcnow() - timedelta(minutes=1))
        uow.commit()
    return actor


def _answer(settings: Settings, actor: Actor) -> UUID:
    """Accept the chat's offer once the routing loop has made it; returns the contact."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with unit_of_work(settings) as uow:
            offer = uow.session.scalars(select(Assignment).where(Assignment.status == "offered")).first()
            if offer is not None:
                offers.accept(uow, actor, offer.id)
                uow.commit()
                return offer.interaction_id
        time.sleep(0.2)
    raise AssertionError("the chat was never offered to the agent")


def _look(page: Page, name: str) -> None:
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
    screenshot(page, name)


def test_a_patient_chats_with_an_agent_from_the_website(page: Page, live_settings: Settings) -> None:
    actor = _agent_ready(live_settings)
    page.goto("/chat/demo")
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_be_visible()
    _look(page, "chat-widget-closed")

    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Chat with us")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("In an emergency call 911.")
    message = page.get_by_label("Your message")
    expect(message).to_be_focused()
    message.fill("Hello, can I book a flu shot this week?")
    page.keyboard.press("Enter")
    log = page.get_by_role("log", name="Messages")
    expect(log).to_contain_text("You: Hello, can I book a flu shot this week?")
    expect(message).to_have_value("")
    transcript = page.get_by_text("E-mail me this chat")
    expect(transcript).to_be_hidden()  # it can be e-mailed once an agent has answered

    interaction_id = _answer(live_settings, actor)
    with unit_of_work(live_settings) as uow:
        threads.agent_typing(uow, actor, interaction_id)
        uow.commit()
    expect(page.get_by_text("Agent is typing…")).to_be_visible()
    with unit_of_work(live_settings) as uow:
        threads.reply(uow, actor, live_settings, interaction_id, ReplyIn(body="Of course! Is Thursday at 10 good?"))
        uow.commit()
    expect(log).to_contain_text("Agent: Of course! Is Thursday at 10 good?")
    expect(page.get_by_text("Agent is typing…")).to_be_hidden()
    expect(transcript).to_be_visible()
    page.get_by_text("Tell us who you are").click()
    _look(page, "chat-widget-answered")

    page.reload()  # the chat survives a reload of the page
    expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()
    expect(log).to_contain_text("Agent: Of course! Is Thursday at 10 good?")
    assert log.locator(":scope > p").count() == 3  # the greeting and the two lines, once each

    page.get_by_label("Your message").fill("Thursday works, thanks")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(log).to_contain_text("You: Thursday works, thanks")
    page.get_by_role("button", name="End chat").click()
    expect(log).to_contain_text("This chat has ended.")
    expect(page.get_by_label("Your message")).to_be_disabled()
    expect(page.get_by_role("button", name="Start a new chat")).to_be_visible()
    _look(page, "chat-widget-ended")
    with unit_of_work(live_settings) as uow:
        chat = uow.session.scalars(select(Conversation).where(Conversation.channel == "chat")).one()
        assert chat.interaction_id == interaction_id


def test_a_line_whose_answer_was_lost_is_kept_once_when_sent_again(browser: Browser, base_url: str,
                                                                    live_settings: Settings) -> None:
    _agent_ready(live_settings)
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if _unexpected(message) else None)

    def lose_the_answer(route: Route) -> None:
        route.fetch()  # the line reaches Careline ...
        route.abort("connectionreset")  # ... and the answer never reaches the browser

    page.goto("/chat/demo")
    page.get_by_role("button", name="Chat with us").click()
    message = page.get_by_label("Your message")
    message.fill("Is the lab open on Saturday?")
    page.route("**/chat/api/messages", lose_the_answer)
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Chat with us")
    expect(panel).to_contain_text("We could not reach the center. Please try again.")
    expect(message).to_have_value("Is the lab open on Saturday?")
    _look(page, "chat-widget-answer-lost")
    page.unroute("**/chat/api/messages")
    page.get_by_role("button", name="Send", exact=True).click()
    log = page.get_by_role("log", name="Messages")
    expect(log).to_contain_text("You: Is the lab open on Saturday?")
    expect(message).to_have_value("")
    assert log.get_by_text("Is the lab open on Saturday?").count() == 1
    with unit_of_work(live_settings) as uow:
        kept = uow.session.scalars(select(Message.body).where(Message.channel == "chat")).all()
    assert kept == ["Is the lab open on Saturday?"]
    context.close()
    assert [error for error in errors if "ERR_CONNECTION_RESET" not in error] == []


def test_on_a_small_screen_the_panel_scrolls_under_its_title_and_a_long_paste_is_explained(
        browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1024, "height": 600})
    page = context.new_page()
    page.goto("/chat/demo")
    page.get_by_role("button", name="Chat with us").click()
    message = page.get_by_label("Your message")
    message.focus()
    page.keyboard.insert_text("Long story. " * 200)  # 2,400 characters pasted
    expect(message).to_have_value(("Long story. " * 200)[:2000])
    panel = page.get_by_role("dialog", name="Chat with us")
    expect(panel).to_contain_text("That is as long as one message can be (2,000 characters).")
    page.get_by_text("Tell us who you are").click()
    panel.evaluate("panel => { panel.scrollTop = panel.scrollHeight; }")
    expect(panel.get_by_role("button", name="Close chat window")).to_be_in_viewport()
    expect(page.get_by_role("button", name="End chat")).to_be_in_viewport()
    _look(page, "chat-widget-small-screen")
    context.close()
