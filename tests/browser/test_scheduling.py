"""An agent books, reschedules and cancels from the 360 page with the keyboard; the provider calendar."""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from careline.actor import Actor, Role
from careline.audit.models import AuditEntry
from careline.bootstrap import unit_of_work
from careline.db import UnitOfWork
from careline.scheduling.schemas import BookingIn, SlotSearch
from careline.scheduling.service import booking, catalog, slots
from careline.settings import Settings
from tests.browser.conftest import check_accessibility, screenshot, sign_in
from tests.factories.patients import make_encounter, make_patient
from tests.factories.scheduling import make_clinic

pytestmark = pytest.mark.browser

WHEN = r"\w{3} \d{1,2} \w{3} \d{1,2}:\d{2} [AP]M"


@pytest.fixture
def ana_id(live_settings: Settings) -> str:
    with unit_of_work(live_settings) as uow:
        make_clinic(uow)
        patient = make_patient(uow, given="Ana María", family="Rivera", phones=(("+16175550123", "mobile"),),
                               language="es", mrn="MRN-1001")
        make_encounter(uow, patient, title="Encounter for check up")
        uow.commit()
        return str(patient.id)


@pytest.fixture
def booked_day(live_settings: Settings, ana_id: str) -> date:
    """One annual exam booked for Ana by a supervisor; the day it falls on in the clinic's zone."""
    with unit_of_work(live_settings) as uow:
        annual = _annual(uow)
        first = slots.first_available(uow, SlotSearch(visit_type_id=annual), zone=None)[0]
        actor = Actor(username="sam", role=Role.supervisor, ip=None, route="test")
        booking.book(uow, actor, BookingIn(patient_id=UUID(ana_id), slot_id=first.slot_id, visit_type_id=annual))
        uow.commit()
        return first.local_start.date()


def _annual(uow: UnitOfWork) -> UUID:
    return next(v.id for v in catalog.list_visit_types(uow) if v.name == "Annual exam")


def _actions(settings: Settings, patient_id: str) -> list[str]:
    with unit_of_work(settings) as uow:
        return list(uow.session.scalars(select(AuditEntry.action).where(AuditEntry.patient_id == patient_id)
                                        .order_by(AuditEntry.seq)))


def _open_and_verify(page: Page, patient_id: str) -> None:
    page.goto(f"/patients/{patient_id}")
    page.get_by_label("Full name").fill("Ana Rivera")
    page.get_by_label("Date of birth").fill("1961-02-03")
    page.get_by_label("Date of birth").press("Enter")
    expect(page.get_by_role("heading", name="Ana Rivera", exact=True)).to_be_visible()
    # The heading shows before the deferred scripts run; the keyboard shortcuts need them.
    page.wait_for_load_state("load")


def test_agent_books_reschedules_and_cancels_a_mammogram(page: Page, live_settings: Settings, ana_id: str) -> None:
    sign_in(page, "alex")
    _open_and_verify(page, ana_id)
    book_button = page.get_by_role("link", name="Book appointment")
    expect(book_button).to_be_visible()
    expect(page.get_by_text("No upcoming appointments.")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "scheduling-360-before")

    # Step 1: the visit type, focused as the panel opens.
    book_button.focus()
    page.keyboard.press("Enter")
    visit = page.get_by_label("1. Visit type")
    expect(visit).to_be_focused()
    visit.select_option(label="Screening mammogram (20 min) · needs an order")
    page.get_by_label("Provider speaks").select_option(label="English")
    page.get_by_role("button", name="2. Find first available").press("Enter")

    # Step 2: the first available times; arrows move, Enter chooses.
    options = page.locator(".slot-option")
    expect(options).to_have_count(10)
    expect(options.first).to_be_focused()
    expect(page.get_by_text("Times in the patient's time zone (America/New_York)")).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_be_focused()
    chosen = options.nth(1).locator(".slot-when").inner_text()
    check_accessibility(page)
    screenshot(page, "scheduling-book-first-available")
    page.keyboard.press("Enter")

    # Step 3: no order on file, so the override reason is asked for, with the reason why.
    expect(page.get_by_role("heading", name="3. Confirm: Screening mammogram")).to_be_visible()
    expect(page.get_by_text("Screening mammogram needs an order or referral on file.")).to_be_visible()
    expect(page.get_by_text("No deodorant or powder on the day.")).to_be_visible()
    override = page.get_by_label("Override reason")
    expect(override).to_be_focused()
    check_accessibility(page)
    screenshot(page, "scheduling-book-confirm")
    page.keyboard.type("Order faxed by the PCP, not scanned yet")
    page.keyboard.press("Enter")

    # Back on the 360 page: the confirmation (focused, in view) with the preparation, the appointment marked
    # as new, and the timeline line.
    confirmation = page.locator("#scheduling-done")
    expect(confirmation).to_be_focused()
    expect(confirmation).to_be_in_viewport()
    expect(page.locator(".appointment.is-new")).to_contain_text("Just booked")
    expect(confirmation).to_contain_text(f"Booked: Screening mammogram on {chosen}")
    expect(confirmation).to_contain_text("No deodorant or powder on the day.")
    appointments = page.locator("#appointments")
    expect(appointments.get_by_text("Screening mammogram")).to_be_visible()
    expect(appointments.get_by_text("Mammography 1 · Main Street Clinic")).to_be_visible()
    expect(page.locator(".timeline").get_by_text(f"Booked Screening mammogram for {chosen}")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "scheduling-360-booked")

    # Reschedule from the same list of first available times.
    page.get_by_role("link", name=re.compile(r"^Reschedule Screening mammogram")).click()
    moves = page.locator("#appointments .slot-option")
    expect(moves).to_have_count(10)
    expect(moves.first).to_be_focused()
    page.get_by_label("Reason for the change").fill("Caller works that morning")
    moves.nth(2).focus()
    new_time = moves.nth(2).locator(".slot-when").inner_text()
    check_accessibility(page)
    screenshot(page, "scheduling-reschedule")
    page.keyboard.press("Enter")
    expect(page.locator("#scheduling-done")).to_contain_text(f"Rescheduled: Screening mammogram on {new_time}")
    expect(page.locator("#scheduling-done")).to_be_focused()
    expect(page.locator(".timeline").get_by_text(
        re.compile(rf"Rescheduled Screening mammogram from {WHEN} to {new_time}"))).to_be_visible()

    # Cancel, with a reason (the browser refuses one too short before the server would).
    page.get_by_role("link", name=re.compile(r"^Cancel Screening mammogram")).click()
    reason = page.get_by_label("Reason for cancelling")
    expect(reason).to_be_focused()
    page.keyboard.type("no")
    page.keyboard.press("Enter")
    assert reason.evaluate("field => field.validity.tooShort") is True
    expect(page.locator("#scheduling-done")).not_to_contain_text("Appointment cancelled.")
    check_accessibility(page)
    screenshot(page, "scheduling-cancel")
    reason.fill("Patient will come to the walk-in clinic")
    reason.press("Enter")
    expect(page.locator("#scheduling-done")).to_contain_text("Appointment cancelled.")
    expect(page.get_by_text("No upcoming appointments.")).to_be_visible()
    expect(page.locator(".timeline").get_by_text(f"Cancelled Screening mammogram for {new_time}")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "scheduling-360-cancelled")

    actions = _actions(live_settings, ana_id)
    assert [a for a in actions if a.startswith("appointment.") and a != "appointment.viewed"] == [
        "appointment.booked", "appointment.rescheduled", "appointment.cancelled"]


def test_panel_closes_and_gives_focus_back(page: Page, ana_id: str) -> None:
    sign_in(page, "alex")
    _open_and_verify(page, ana_id)
    page.get_by_role("link", name="Book appointment").click()
    expect(page.get_by_label("1. Visit type")).to_be_focused()
    page.locator("#booking").get_by_role("link", name="Close").click()
    expect(page.locator("#booking")).to_have_count(0)
    expect(page.get_by_role("link", name="Book appointment")).to_be_focused()


def test_the_panel_by_keyboard_alone(page: Page, ana_id: str) -> None:
    sign_in(page, "alex")
    _open_and_verify(page, ana_id)
    book_button = page.get_by_role("link", name="Book appointment")
    expect(book_button).to_have_attribute("aria-keyshortcuts", "Alt+Shift+B")
    page.keyboard.press("Alt+Shift+B")
    visit = page.get_by_label("1. Visit type")
    expect(visit).to_be_focused()
    visit.select_option(label="Annual exam (30 min)")
    visit.press("Enter")  # step 1 is sent from the select itself
    expect(page.locator(".slot-option")).to_have_count(10)
    expect(page.locator(".slot-option").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#booking")).to_have_count(0)
    expect(book_button).to_be_focused()


def test_calendar_shows_free_and_booked_slots_without_names(page: Page, booked_day: date, ana_id: str) -> None:
    sign_in(page, "alex")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule").click()
    expect(page.get_by_role("heading", name=re.compile("^Schedule: "))).to_be_visible()
    page.get_by_label("Provider or resource").select_option(label="Dana Whitfield (main) (Family medicine)")
    page.get_by_label("Day", exact=True).fill(booked_day.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Schedule: Dana Whitfield (main)")).to_be_visible()
    day = page.locator(".calendar-day")
    expect(day.locator(".slot")).to_have_count(8)
    expect(day.get_by_text("Free")).to_have_count(7)
    booked = day.locator(".slot-is-booked")
    expect(booked).to_have_count(1)
    expect(booked).to_contain_text(re.compile(r"Booked\s+Annual exam"))
    expect(booked.locator(".status-pill")).to_have_count(0)  # "Booked" says it once
    expect(booked.get_by_role("link")).to_have_count(0)  # no way from the calendar to the patient
    expect(page.get_by_text("Rivera")).to_have_count(0)
    expect(page.locator(f'[href*="{ana_id}"]')).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "scheduling-calendar-day")

    page.get_by_label("View", exact=True).select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".calendar-day")).to_have_count(7)
    check_accessibility(page)
    screenshot(page, "scheduling-calendar-week")
    page.get_by_role("link", name="Next week →").click()
    expect(page.locator(".calendar-day")).to_have_count(7)
    page.get_by_role("link", name="← Previous week").click()
    expect(page.locator(".slot-is-booked")).to_have_count(1)
