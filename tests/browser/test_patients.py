"""An agent finds a caller, verifies identity, and sees the 360 view; restricted records need break-glass."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from careline.audit.models import AuditEntry
from careline.bootstrap import unit_of_work
from careline.patients.models import Observation
from careline.settings import Settings
from tests.browser.conftest import check_accessibility, screenshot, sign_in
from tests.factories.patients import make_encounter, make_patient

pytestmark = pytest.mark.browser


@pytest.fixture
def ana_id(live_settings: Settings) -> str:
    with unit_of_work(live_settings) as uow:
        patient = make_patient(uow, given="Ana María", family="Rivera", phones=(("+16175550123", "mobile"),),
                               language="es", mrn="MRN-1001")
        patient.alerts, patient.tags = ["needs interpreter (es)"], ["diabetes-program"]
        make_encounter(uow, patient, title="Encounter for check up")
        uow.session.add(Observation(patient_id=patient.id, code="4548-4", display="Hemoglobin A1c", value=7.4,
                                    unit="%", components=[]))
        make_patient(uow, given="Vera", family="Important", birth_date=date(1950, 5, 5), restricted="vip",
                     mrn="MRN-1002")
        uow.commit()
        return str(patient.id)


def _actions(settings: Settings, patient_id: str) -> list[tuple[str, str]]:
    with unit_of_work(settings) as uow:
        entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient_id)
                                      .order_by(AuditEntry.seq))
        return [(e.action, e.outcome) for e in entries]


def test_agent_finds_verifies_and_sees_the_whole_record(page: Page, live_settings: Settings, ana_id: str) -> None:
    sign_in(page, "alex")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Phone").fill("(617) 555-0123")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#patient-results tbody tr")).to_have_count(1)
    check_accessibility(page)
    screenshot(page, "patients-search")
    page.get_by_role("link", name="Ana Rivera").click()

    expect(page.get_by_role("heading", name="Ana Rivera", exact=True)).to_be_visible()
    expect(page.get_by_text("1961")).to_have_count(0)  # masked: no date of birth anywhere
    expect(page.get_by_text("Hemoglobin A1c")).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "patient-masked")

    page.get_by_label("Full name").fill("Ana Rivera")
    page.get_by_label("Date of birth").fill("1961-03-02")
    page.get_by_role("button", name="Verify identity").click()
    expect(page.get_by_role("alert")).to_contain_text("2 attempts left")
    check_accessibility(page)

    page.get_by_label("Full name").fill("ana rivera")
    page.get_by_label("Date of birth").fill("1961-02-03")
    page.get_by_role("button", name="Verify identity").click()
    expect(page.get_by_role("heading", name="Ana Rivera", exact=True)).to_be_visible()
    expect(page.get_by_text("born 02/03/1961")).to_be_visible()
    expect(page.get_by_text("needs interpreter (es)")).to_be_visible()
    expect(page.get_by_text("7.4 %")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "patient-360")

    actions = _actions(live_settings, ana_id)
    assert ("patient.viewed_masked", "success") in actions
    assert ("patient.identity_failed", "failure") in actions
    assert actions[-2:] == [("patient.identity_verified", "success"), ("patient.viewed", "success")]


def test_restricted_record_needs_a_reason_and_alerts_the_supervisor(page: Page, ana_id: str) -> None:
    sign_in(page, "alex")
    page.goto("/patients?name=important")
    expect(page.get_by_role("link", name="Restricted record")).to_be_visible()
    page.get_by_role("link", name="Restricted record").click()
    expect(page.get_by_role("heading", name="Restricted record")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "patient-restricted")
    page.get_by_label("Reason for opening").fill("Caller is the patient, asking to reschedule")
    page.get_by_role("button", name="Open the record").click()
    expect(page.get_by_role("heading", name="Verify the caller's identity")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "sam")
    expect(page.get_by_text("Break-glass opening")).to_be_visible()
    expect(page.get_by_text("Reason: Caller is the patient, asking to reschedule")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "home-supervisor-alerts")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Nothing needs your attention.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))


@pytest.fixture
def long_record_id(live_settings: Settings) -> str:
    """A record with long values: an e-mail and address, many tags, results with long names."""
    with unit_of_work(live_settings) as uow:
        patient = make_patient(uow, given="Lorena", family="Perelló", phones=(("+16175556337", "mobile"),),
                               language="es", mrn="MRN-2001")
        patient.email = "lorena.perello53.long.address@example-hospital-network.org"
        patient.address_line, patient.city = "230 Mckay Place, Building C, Apartment 1204", "Framingham"
        patient.alerts = ["needs interpreter (Spanish)"]
        patient.tags = ["diabetes-program", "high-risk", "portal-user", "transport-needed"]
        for code, display in (("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
                              ("85354-9", "Blood pressure panel with all children optional"),
                              ("39156-5", "Body mass index (BMI) [Ratio]")):
            uow.session.add(Observation(patient_id=patient.id, code=code, display=display, value=7.4, unit="%",
                                        components=[]))
        uow.commit()
        return str(patient.id)


@pytest.mark.parametrize("width", [1366, 1024, 390])
def test_a_long_record_fits_its_cards_at_any_width(page: Page, long_record_id: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "alex")
    page.goto(f"/patients/{long_record_id}")
    page.get_by_label("Full name").fill("Lorena Perelló")
    page.get_by_label("Date of birth").fill("1961-02-03")
    page.get_by_label("Date of birth").press("Enter")
    expect(page.get_by_role("heading", name="Lorena Perelló", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    overflowing = page.evaluate("""() => [...document.querySelectorAll('.grid-360 .card')].flatMap(card => {
        const edge = card.getBoundingClientRect().right;
        return [...card.querySelectorAll('dt, dd, td')].filter(cell => cell.getBoundingClientRect().right > edge + 1)
            .map(cell => cell.textContent.trim());
    })""")
    assert overflowing == []
    book = page.get_by_role("link", name="Book appointment").bounding_box()
    heading = page.get_by_role("heading", name="Lorena Perelló", exact=True).bounding_box()
    assert book is not None
    assert heading is not None
    if width > 640:  # the button sits beside the name, however many tags there are
        assert book["y"] < heading["y"] + heading["height"]
    check_accessibility(page)
    screenshot(page, f"patient-360-long-{width}")
