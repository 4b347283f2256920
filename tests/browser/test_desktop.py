"""A call arrives at a center with two agents at their desktops and a supervisor at the wallboard.

The routing loop of the live server does the routing: the call goes to the agent with the skill (not the one
idle longer), who greets the caller by name, verifies them, books from the desktop and wraps up; the
wallboard counts the answer and the handled contact as they happen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from careline.actor import Actor
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.bootstrap import unit_of_work
from careline.routing.schemas import AgentIn, QueueIn
from careline.routing.service import setup
from careline.settings import Settings
from tests.browser.conftest import PASSWORD, _unexpected, check_accessibility, go_available, screenshot, sign_in
from tests.factories.patients import make_patient
from tests.factories.scheduling import make_clinic

pytestmark = pytest.mark.browser

SETUP = Actor.cli("test setup")
SCREEN = {"width": 1366, "height": 768}
WHEN = r"\w{3} \d{1,2} \w{3} \d{1,2}:\d{2} [AP]M"


@dataclass(frozen=True)
class Center:
    patient_id: str
    integration_token: str


@pytest.fixture
def center(live_settings: Settings) -> Center:
    """A clinic to book into, Ana on file, one scheduling queue, Alex (scheduling) and Jordan (billing only)."""
    with unit_of_work(live_settings) as uow:
        ana = make_patient(uow, given="Ana María", family="Rivera", phones=(("+16175550123", "mobile"),))
        make_clinic(uow)
        auth_service.create_user(uow, SETUP, UserCreate(username="jordan", display_name="Jordan Lee", role="agent",
                                                        password=PASSWORD))
        users = {user.username: user.id for user in auth_service.list_users(uow)}
        setup.save_queue(uow, SETUP, QueueIn(name="scheduling", skills=[{"skill": "scheduling"}], offer_seconds=60))
        setup.create_agent(uow, SETUP, AgentIn(user_id=users["alex"], skills={"scheduling": 3}, wrap_up_seconds=300))
        setup.create_agent(uow, SETUP, AgentIn(user_id=users["jordan"], skills={"billing": 3}))
        token = auth_service.issue_api_token(uow, SETUP, username="dana", name="telephony").token
        uow.commit()
        return Center(str(ana.id), token)


@pytest.fixture
def open_page(browser: Browser, base_url: str) -> Iterator[Callable[[str], Page]]:
    """A page in a browser of its own (cookies and all) for each person, at a laptop's 1366 by 768."""
    opened: list[tuple[Page, list[str]]] = []

    def open_as(username: str) -> Page:
        context = browser.new_context(base_url=base_url, viewport=SCREEN)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if _unexpected(message) else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        opened.append((page, errors))
        sign_in(page, username)
        return page

    yield open_as
    for page, errors in opened:
        page.context.close()
        assert errors == [], f"the browser reported errors (CSP violations show here too): {errors}"


def _look(page: Page, name: str) -> None:
    """Accessible, nothing wider than the laptop's screen, and a screenshot to look at."""
    check_accessibility(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} overflows"
    screenshot(page, name)


def _call(page: Page, center: Center) -> None:
    """The telephony integration reports a call, as its webhook would."""
    response = page.request.post("/api/interactions", headers={"Authorization": f"Bearer {center.integration_token}"},
                                 data={"channel": "voice", "queue": "scheduling", "reason": "appointment",
                                       "address": "(617) 555-0123", "external_ref": "CA-test-1"})
    assert response.status == 201, response.text()


def test_a_call_is_routed_answered_booked_and_wrapped_up(open_page: Callable[[str], Page], center: Center) -> None:
    jordan = open_page("jordan")
    go_available(jordan)  # idle the longest, but without the skill
    alex = open_page("alex")
    go_available(alex)
    expect(alex.get_by_role("heading", name="No contact right now")).to_be_visible()
    _look(alex, "desktop-idle")

    sam = open_page("sam")
    sam.get_by_role("navigation", name="Main").get_by_role("link", name="Wallboard").click()
    expect(sam.locator("[data-live-status]")).to_have_text("Live")
    queue = sam.locator('[data-queue="scheduling"]')
    expect(queue.locator('[data-figure="answered"]')).to_have_text("0")
    expect(sam.locator('tr[data-agent="Alex Rivera"]')).to_contain_text("Available")

    _call(sam, center)

    # The pop: the caller's name to greet, what and where, a countdown; Accept has the focus.
    offer = alex.locator(".offer")
    expect(offer).to_be_visible()
    expect(offer.locator('[data-field="caller"]')).to_have_text("Ana Rivera")
    expect(offer).to_contain_text("Call · Appointment · scheduling queue")
    expect(offer.locator('[data-field="countdown"]')).to_have_text(re.compile(r"^0:[0-5]\d$|^1:00$"))
    accept = offer.get_by_role("button", name="Accept")
    expect(accept).to_be_focused()
    expect(jordan.locator(".offer")).to_have_count(0)
    expect(queue.locator('[data-figure="waiting"]')).to_have_text("1")
    _look(alex, "desktop-offer")

    # Accept by keyboard; the record opens masked, with the verification form ready.
    alex.keyboard.press("Alt+A")
    expect(offer).to_have_count(0)
    expect(alex.locator(".contact")).to_contain_text("Connected")
    expect(alex.locator("#agent-state .state-pill")).to_have_text("On a contact")
    record = alex.locator("#record")
    expect(record.get_by_label("Full name")).to_be_focused()
    expect(record.get_by_text("1961")).to_have_count(0)
    record.get_by_label("Full name").fill("Ana Rivera")
    record.get_by_label("Date of birth").fill("1961-02-03")
    record.get_by_label("Date of birth").press("Enter")
    expect(record.get_by_role("heading", name="Ana Rivera", exact=True)).to_be_visible()
    expect(record).to_contain_text("born 02/03/1961")
    expect(alex).to_have_url(re.compile(r"/desktop$"))
    expect(queue.locator('[data-figure="answered"]')).to_have_text("1")
    _look(alex, "desktop-call-360")

    # Book without leaving the desktop: the 360 view's own booking panel (Alt+Shift+B).
    alex.keyboard.press("Alt+Shift+B")
    visit = record.get_by_label("1. Visit type")
    expect(visit).to_be_focused()
    visit.select_option(label="Annual exam (30 min)")
    visit.press("Enter")
    options = record.locator(".slot-option")
    expect(options.first).to_be_focused()
    chosen = options.first.locator(".slot-when").inner_text()
    _look(alex, "desktop-booking")
    alex.keyboard.press("Enter")
    record.get_by_role("button", name="Book appointment").click()
    confirmation = record.locator("#scheduling-done")
    expect(confirmation).to_contain_text(f"Booked: Annual exam on {chosen}")
    expect(confirmation).to_be_focused()
    expect(alex).to_have_url(re.compile(r"/desktop$"))

    # Wrap up: notes, the disposition (which sets "resolved"), Alt+W.
    contact = alex.locator(".contact")
    contact.get_by_label("Notes").fill("Annual exam booked; prefers mornings")
    contact.get_by_label("Disposition").select_option(label="Appointment booked")
    expect(contact.get_by_label("Resolved on this contact")).to_be_checked()
    alex.keyboard.press("Alt+W")
    expect(alex.get_by_text("Wrapped up: Appointment booked.")).to_be_visible()
    expect(record.get_by_role("heading", name="The caller's record")).to_be_visible()  # Ana is off the screen
    expect(alex.locator("#agent-state .state-pill")).to_have_text("Available")
    _look(alex, "desktop-wrapped-up")

    # The wallboard counted it, live.
    agent_row = sam.locator('tr[data-agent="Alex Rivera"]')
    expect(agent_row.locator('[data-figure="handled"]')).to_have_text("1")
    expect(agent_row).to_contain_text("Available")
    expect(queue.locator('[data-figure="waiting"]')).to_have_text("0")
    expect(queue.locator('[data-figure="service-level"]')).to_have_text("100%")
    _look(sam, "wallboard")

    # The call is on Ana's timeline, with who answered it.
    alex.goto(f"/patients/{center.patient_id}")
    expect(alex.locator(".timeline")).to_contain_text(re.compile(
        r"Call · Appointment · answered by Alex Rivera · \d+ (s|min)"))
    expect(alex.locator(".timeline")).to_contain_text(re.compile(rf"Booked Annual exam for {WHEN}"))


def test_an_offer_the_caller_hangs_up_on_leaves_the_desktop(open_page: Callable[[str], Page],
                                                            center: Center) -> None:
    alex = open_page("alex")
    go_available(alex)
    _call(alex, center)
    offer = alex.locator(".offer")
    expect(offer).to_be_visible()
    interaction_id = alex.request.get("/api/interactions?status=offered",
                                      headers={"Authorization": f"Bearer {center.integration_token}"}).json()[0]["id"]
    alex.request.post(f"/api/interactions/{interaction_id}/end",
                      headers={"Authorization": f"Bearer {center.integration_token}"})
    expect(offer).to_have_count(0)
    expect(alex.locator("[data-live-status]")).to_contain_text("The caller hung up before you answered")
    expect(alex).to_have_title(re.compile("^Desktop"))


def test_a_shared_number_asks_who_is_calling_and_a_supervisor_takes_the_call_back(
        open_page: Callable[[str], Page], center: Center, live_settings: Settings) -> None:
    with unit_of_work(live_settings) as uow:
        make_patient(uow, given="Luis", family="Rivera", phones=(("+16175550123", "home"),))
        uow.commit()
    alex = open_page("alex")
    go_available(alex)
    _call(alex, center)
    offer = alex.locator(".offer")
    expect(offer.locator('[data-field="caller"]')).to_have_text("2 patients share this number")
    expect(offer.locator('[data-field="greet"]')).to_be_hidden()
    alex.keyboard.press("Alt+A")

    record = alex.locator("#record")
    expect(record.get_by_role("heading", name="2 patients share this number")).to_be_visible()
    expect(record.get_by_text("1961")).to_have_count(0)
    _look(alex, "desktop-shared-number")
    record.get_by_role("button", name=re.compile("^Luis Rivera")).click()
    expect(record.get_by_role("heading", name="Verify the caller's identity")).to_be_visible()
    expect(record.get_by_role("heading", name="Luis Rivera")).to_be_visible()

    sam = open_page("sam")
    sam.goto("/wallboard")
    live = sam.locator("tr", has_text="Call · Appointment")
    expect(live).to_contain_text("connected")
    expect(live).to_contain_text("Alex Rivera")
    live.get_by_role("button", name="Requeue").click()
    expect(sam.locator("#board-news")).to_have_text("Back in line in the scheduling queue.")

    # Alex loses the contact and its record at once, and the line offers the call again (to Alex, the only
    # agent available), now with the patient Alex named.
    expect(alex.locator(".contact")).to_have_count(0)
    expect(record.get_by_role("heading", name="The caller's record")).to_be_visible()
    expect(offer.locator('[data-field="caller"]')).to_have_text("Luis Rivera")


# --- a PBX rings the agent's own phone (the CTI events API) ---------------------------------------------------

CTI_SECRET = "cti-shared-secret-for-the-desktop-0123"


@pytest.fixture
def live_settings(live_settings: Settings) -> Settings:
    """The center also takes a PBX's signed events (harmless to the tests above, which send none)."""
    return live_settings.model_copy(update={"cti_secret": CTI_SECRET})


def _pbx(base_url: str, kind: str, call_id: str, **fields: str) -> None:
    """A signed CTI event, signed here from the documented scheme (docs/cti.md), sent without the agent's cookies
    as a PBX would."""
    at = datetime.now(UTC).isoformat()
    body = json.dumps({"event_id": f"{call_id}:{kind}", "type": kind, "call_id": call_id, "at": at,
                       "caller": "+16175550123", "queue": "scheduling", **fields}).encode()
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(CTI_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{base_url}/api/cti/events", data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "X-Careline-Timestamp": stamp, "X-Careline-Signature": signature})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the live server, 127.0.0.1)
        assert response.status == 200


@pytest.mark.parametrize(("ending", "card"), [("call.answered", True), ("call.ended", False)])
def test_an_offer_answered_on_the_agents_phone_or_ended_leaves_the_desktop_live(
        open_page: Callable[[str], Page], center: Center, live_settings: Settings, base_url: str, ending: str,
        card: bool) -> None:
    with unit_of_work(live_settings) as uow:
        alex = next(user for user in auth_service.list_users(uow) if user.username == "alex")
        found = setup.agent_for_user(uow, alex.id)
        assert found is not None
        found.extension = "201"
        uow.commit()
    page = open_page("alex")
    go_available(page)
    _pbx(base_url, "call.offered", "pbx-7", extension="201")
    offer = page.locator(".offer")
    expect(offer).to_be_visible()
    expect(offer.get_by_role("button", name=re.compile("^Accept"))).to_be_visible()

    _pbx(base_url, ending, "pbx-7", extension="201")
    expect(offer).to_have_count(0)  # live, without a reload
    expect(page).to_have_title(re.compile("^Desktop"))
    expect(page.locator("#contacts .contact")).to_have_count(1 if card else 0)
    if card:
        _look(page, "desktop-answered-on-the-phone")
