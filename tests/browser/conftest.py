"""Browser fixtures: Debian's Chromium driven by Playwright against a live server with real data."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.bootstrap import unit_of_work
from careline.settings import Settings
from tests.support.databases import DatabaseFactory
from tests.support.live import live_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
PASSWORD = "a browser test passphrase"
PEOPLE = {
    Role.agent: ("alex", "Alex Rivera"),
    Role.supervisor: ("sam", "Sam Okafor"),
    Role.admin: ("dana", "Dana Whitfield"),
    Role.auditor: ("priya", "Priya Natarajan"),
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module. Not per session: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and later tests that call ``asyncio.run`` (streams, the simulator) would fail."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CARELINE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " and CARELINE_REQUIRE_BROWSER=1", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_settings(databases: DatabaseFactory, tmp_path: Path) -> Settings:
    """Settings of a fresh database holding one user per role; seed more through ``unit_of_work``."""
    settings = Settings(database_url=databases.fresh(), secret_key="browser-test-secret", data_dir=tmp_path,
                        log_level="WARNING")
    with unit_of_work(settings) as uow:
        for role, (username, name) in PEOPLE.items():
            auth_service.create_user(uow, Actor.cli("test"), UserCreate(
                username=username, display_name=name, role=role, password=PASSWORD))
        uow.commit()
    return settings


@pytest.fixture
def base_url(live_settings: Settings) -> Iterator[str]:
    with live_server(live_settings) as url:
        yield url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if _unexpected(message) else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the browser reported errors (CSP violations show here too): {errors}"


# Pages answer a refused sign-in, a forbidden page or a failed check with its real status; Chromium logs those.
_INTENDED_STATUSES = tuple(f"status of {code} " for code in (401, 403, 422, 423, 429))


def _unexpected(message: ConsoleMessage) -> bool:
    return message.type == "error" and not any(status in message.text for status in _INTENDED_STATUSES)


def check_accessibility(page: Page) -> None:
    """axe-core on the current page: no serious or critical violations."""
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in bad]


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def go_available(page: Page) -> None:
    """Open the desktop, wait for its live connection, and go Available by keyboard."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Desktop").click()
    expect(page.locator("[data-live-status]")).to_have_text(re.compile("^Live"))
    page.keyboard.press("Alt+1")
    expect(page.locator("#agent-state .state-pill")).to_have_text("Available")
