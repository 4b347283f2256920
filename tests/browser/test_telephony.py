"""Voice in the browser: an admin adds the center's number through the form, and an agent calls a patient
from the 360 page, then sees the "Call back" button on the desktop (without Twilio: the simulated provider)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from careline.actor import Actor
from careline.auth import service as auth_service
from careline.bootstrap import unit_of_work
from careline.db import utcnow
from careline.routing.schemas import AgentIn, QueueIn, StateIn
from careline.routing.service import agents, setup
from careline.settings import Settings
from careline.telephony.service import numbers
from tests.browser.conftest import check_accessibility, screenshot, sign_in
from tests.factories.patients import make_patient

pytestmark = pytest.mark.browser

SETUP = Actor.cli("test setup")


def _look(page: Page, name: str) -> None:
    """Accessible, nothing wider than the screen, and a screenshot to look at."""
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
    screenshot(page, name)


def test_an_admin_adds_a_number_and_fixes_a_mistake(page: Page, live_settings: Settings) -> None:
    with unit_of_work(live_settings) as uow:
        for name in ("scheduling", "billing", "nurse"):
            setup.save_queue(uow, SETUP, QueueIn(name=name))
        uow.commit()
    sign_in(page, "dana")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Phone numbers").click()
    expect(page.get_by_role("heading", name="Phone numbers", level=1)).to_be_visible()
    expect(page.get_by_text("No numbers yet")).to_be_visible()

    page.get_by_label("Number", exact=True).fill("+16175550100")
    page.get_by_label("Label").fill("Main line")
    page.get_by_label("Saturday").fill("09:00-13:00")
    page.get_by_label("Holidays").fill("2025-12-25, not a date")
    page.get_by_role("checkbox", name="Spanish").uncheck()
    page.get_by_label("Greeting in English").fill("Thank you for calling Riverside Health.")
    page.locator("#queue_appointments").select_option("scheduling")
    page.locator("#queue_tests").select_option("scheduling")
    page.locator("#queue_prescriptions").select_option("nurse")
    page.locator("#digit_billing").select_option("1")  # the key of Appointments too; the Operator has no queue
    page.get_by_label("Callers may").select_option("callback")
    page.get_by_label("Queue for those").select_option("nurse")
    page.get_by_role("button", name="Add number").click()

    # Refused in plain words, every problem at once, naming the rows, with everything typed still there.
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Write holidays as dates like 2025-12-25")
    expect(alert).to_contain_text("Menu: key 1 is given to Appointments and Billing")
    expect(alert).to_contain_text("Choose a queue for every menu option that has a digit: Operator.")
    for field in ("#holidays", "#digit_appointments", "#digit_billing", "#queue_operator"):
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
        expect(page.locator(field)).to_have_css("outline-style", "solid")
    expect(page.locator("#label")).not_to_have_attribute("aria-invalid", "true")
    # The selects show their whole choice: the text is not wider than the box.
    for field in ("#after_hours", "#after_hours_queue", "#queue_prescriptions"):
        assert page.locator(field).evaluate("s => s.scrollWidth <= s.clientWidth"), field
        room = page.locator(field).evaluate(
            "s => { const style = getComputedStyle(s), c = document.createElement('canvas').getContext('2d');"
            " c.font = style.font; const text = c.measureText(s.options[s.selectedIndex].text).width;"
            " return s.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - text; }")
        assert room >= 20, field  # the arrow's room, after the text
    expect(page.get_by_label("Label")).to_have_value("Main line")
    expect(page.get_by_label("Saturday")).to_have_value("09:00-13:00")
    expect(page.get_by_role("checkbox", name="Spanish")).not_to_be_checked()
    _look(page, "phone-numbers-refused")

    page.get_by_label("Holidays").fill("2025-12-25")
    page.locator("#digit_billing").select_option("4")
    page.locator("#queue_operator").select_option("scheduling")
    page.get_by_label("Callers may").select_option("voicemail")
    page.get_by_role("button", name="Add number").click()
    expect(page.get_by_role("status").filter(has_text="Saved +16175550100.")).to_be_visible()
    row = page.locator('tr[data-number="+16175550100"]')
    expect(row).to_contain_text("Main line")
    expect(row).to_contain_text("English")
    expect(row).to_contain_text("Voicemail · nurse queue")
    expect(row).to_contain_text("Mon-Fri 08:00-18:00; Sat 09:00-13:00")
    _look(page, "phone-numbers")

    with unit_of_work(live_settings) as uow:
        saved = numbers.all_numbers(uow)
    assert [(item.number, item.label, item.ivr.languages, item.holidays) for item in saved] == [
        ("+16175550100", "Main line", ["en"], ["2025-12-25"])]
    assert {item.option: item.queue for item in saved[0].ivr.menu}["prescriptions"] == "nurse"

    # The keyboard reaches the row's actions; editing shows the saved number again.
    row.get_by_role("link", name="Edit +16175550100").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Edit +16175550100")).to_be_visible()
    expect(page.get_by_label("Saturday")).to_have_value("09:00-13:00")
    page.get_by_role("button", name="Deactivate +16175550100").click()
    expect(page.get_by_role("status").filter(has_text="Deactivated +16175550100")).to_be_visible()
    expect(row).to_contain_text("Inactive")


def test_an_agent_calls_a_patient_from_the_360_page(page: Page, live_settings: Settings) -> None:
    with unit_of_work(live_settings) as uow:
        ana = make_patient(uow, given="Ana María", family="Rivera", phones=(("+16175550123", "mobile"),))
        setup.save_queue(uow, SETUP, QueueIn(name="outbound"))
        alex = next(user for user in auth_service.list_users(uow) if user.username == "alex")
        setup.create_agent(uow, SETUP, AgentIn(user_id=alex.id))
        agents.set_own_state(uow, Actor(username="alex", role="agent", user_id=alex.id, route="test"),
                             StateIn(state="available"), now=utcnow() - timedelta(minutes=1))
        uow.commit()
    sign_in(page, "alex")
    page.goto(f"/patients/{ana.id}")
    page.get_by_label("Full name").fill("Ana Rivera")
    page.get_by_label("Date of birth").fill("1961-02-03")
    page.get_by_role("button", name="Verify identity").click()

    call = page.get_by_role("button", name="Call mobile (617) 555-0123")
    expect(call).to_be_visible()
    _look(page, "patient-360-call")
    call.focus()
    page.keyboard.press("Enter")
    # The simulated provider rings no phone, and says so instead of waiting for a ring.
    simulated = "Simulated line: nothing really rings here; end the contact when done."
    expect(page.locator("#call-result")).to_have_text(simulated)
    screenshot(page, "patient-360-calling")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Desktop").click()
    expect(page.locator("[data-live-status]")).to_have_text(re.compile("^Live"))
    call_back = page.get_by_role("button", name="Call back")
    expect(call_back).to_be_visible()
    expect(page.locator("[data-softphone]")).to_have_count(0)  # no Twilio here: no softphone, and no error
    _look(page, "desktop-call-back")
    # The Transfer button keeps the card's padding on its right, like the notes under it.
    gap = page.get_by_role("button", name="Transfer").evaluate(
        "b => { const card = b.closest('.contact'), style = getComputedStyle(card);"
        " return card.getBoundingClientRect().right - parseFloat(style.borderRightWidth)"
        " - b.getBoundingClientRect().right; }")
    assert gap >= 16, gap
