"""An admin's messaging pages in Chromium: a text template that names the visit reason is flagged as PHI in the
live preview and saved only once the opted-in box is ticked; the sent messages the local sink took; the outbox,
where a given-up row is sent again and the live server's worker carries it out."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from careline.bootstrap import unit_of_work
from careline.db import utcnow
from careline.messaging.service import threads
from careline.routing.schemas import QueueIn
from careline.routing.service import setup
from careline.settings import Settings
from careline.worker import outbox
from careline.worker.models import OutboxMessage
from tests.browser.conftest import check_accessibility, screenshot, sign_in
from tests.factories.messaging import give_up_row, make_texter, text
from tests.factories.routing import ADMIN, POLICY

pytestmark = pytest.mark.browser


def _look(page: Page, name: str) -> None:
    """Accessible, nothing wider than the screen, and a screenshot to look at."""
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
    screenshot(page, name)


TABS = {"Message templates": "Templates", "Sent messages": "Sent messages", "Outbox": "Outbox"}


def _admin_page(page: Page, heading: str) -> None:
    """Through the main menu's Messaging entry, then the section's tab."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Messaging").click()
    page.get_by_role("navigation", name="Messaging").get_by_role("link", name=TABS[heading]).click()
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Messaging").get_by_role("link", name=TABS[heading])).to_have_attribute(
        "aria-current", "page")


def test_a_text_template_with_phi_is_saved_only_for_patients_who_opted_in(page: Page) -> None:
    sign_in(page, "dana")
    _admin_page(page, "Message templates")
    page.get_by_role("link", name="Edit HELP answer, SMS, English").click()
    expect(page.get_by_role("heading", name="Edit the HELP answer template")).to_be_visible()
    body = page.get_by_label("Message", exact=True)
    body.fill("{{ center_name }}: about your {{ visit_reason }} visit {{ when }}, call {{ help_line }}.")
    warning = page.locator("#phi-warning")
    expect(warning).to_contain_text("PHI in a text: this template uses visit_reason")
    expect(page.locator("#template-preview")).to_contain_text("Careline Health: about your")
    _look(page, "messaging-templates-phi")

    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("alert")).to_contain_text("visit_reason")
    expect(page.get_by_label("Message", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Message", exact=True)).to_have_value(re.compile(r"\{\{ visit_reason \}\}"))
    _look(page, "messaging-templates-refused")

    page.get_by_label("The patients this goes to opted in to details by text").check()
    page.get_by_role("button", name="Save template").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Saved the HELP answer (SMS, English) template.")).to_be_visible()
    row = page.locator('tr[data-template="help/sms/en"]')
    expect(row).to_contain_text("PHI: visit_reason")
    expect(row).to_contain_text("Edited by dana")


def test_sent_messages_show_what_the_sink_took_in_the_centers_time(page: Page, live_settings: Settings) -> None:
    with unit_of_work(live_settings) as uow:
        make_texter(uow)
        setup.save_queue(uow, ADMIN, QueueIn(name=live_settings.messaging_queue))
        threads.receive(uow, POLICY, live_settings, text("HELP", "SM00000000000000000000000000000021"))
        uow.commit()
    sign_in(page, "dana")
    _admin_page(page, "Sent messages")
    row = page.locator("tr[data-sent]").first
    for _ in range(30):  # the live server's worker sends the HELP answer to the sink within moments
        if row.count():
            break
        page.wait_for_timeout(300)
        page.reload()
    expect(row).to_contain_text("For help call")
    expect(row).to_contain_text("+16175550142")
    expect(row.locator("time")).to_have_text(re.compile(r"^\w{3} \d{1,2} \d{1,2}:\d{2} [AP]M E[SD]T$"))
    page.get_by_label("Channel").select_option(label="E-mail")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Nothing sent by E-mail yet.")).to_be_visible()
    page.get_by_label("Channel").select_option(label="SMS")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tr[data-sent]")).to_have_count(1)
    _look(page, "messaging-sent-messages")


def test_a_given_up_row_is_sent_again_from_the_outbox(page: Page, live_settings: Settings) -> None:
    with unit_of_work(live_settings) as uow:
        # A send of a message that no longer exists: the worker finds nothing to do and marks it done.
        outbox.send_later(uow, "message.send", {"message_id": str(uuid.uuid4())}, key="gone-1",
                          due_at=utcnow() + timedelta(days=1))
        row = uow.session.scalars(select(OutboxMessage)).one()
        give_up_row(uow.session, row.id, "The provider refused the login (HTTP 401).")
        uow.commit()
    sign_in(page, "dana")
    _admin_page(page, "Outbox")
    dead = page.locator("tr[data-dead]")
    expect(dead).to_contain_text("The provider refused the login (HTTP 401).")
    _look(page, "messaging-outbox-given-up")
    dead.get_by_role("button", name=re.compile("^Send again")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("1 given-up row will be sent again now.")
    expect(page.get_by_role("heading", name="Given up (0)")).to_be_visible()
    kind = page.locator('tr[data-kind="message.send"]')
    for _ in range(30):  # the worker carries it out
        if kind.locator("td").nth(1).inner_text() == "1":
            break
        page.wait_for_timeout(300)
        page.reload()
    expect(kind.locator("td").nth(1)).to_have_text("1")  # done
    expect(kind.locator("td").nth(2)).to_have_text("0")  # none given up
    _look(page, "messaging-outbox-redriven")
