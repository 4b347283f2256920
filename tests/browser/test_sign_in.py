from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from careline.actor import Role
from tests.browser.conftest import PEOPLE, check_accessibility, screenshot, sign_in

pytestmark = pytest.mark.browser

HOME = {
    Role.agent: ("Agent workspace", ["Home", "Desktop", "Patients", "Schedule", "Account"]),
    Role.supervisor: ("Supervisor workspace",
                      ["Home", "Desktop", "Wallboard", "Patients", "Schedule", "Team", "Account"]),
    Role.admin: ("Administration", ["Home", "Wallboard", "Team", "Phone numbers", "Messaging", "Audit trail",
                                      "Account"]),
    Role.auditor: ("Compliance and audit", ["Home", "Audit trail", "Account"]),
}


def test_login_page_is_accessible(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url("/login?next=/")
    expect(page.get_by_role("heading", name="Sign in to Careline")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_focused()
    check_accessibility(page)
    screenshot(page, "login")


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_lands_on_its_home_page(page: Page, role: Role) -> None:
    username, name = PEOPLE[role]
    sign_in(page, username)
    expect(page.get_by_role("heading", name=f"Hello, {name}")).to_be_visible()
    lead, nav = HOME[role]
    expect(page.get_by_text(lead, exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(nav)
    check_accessibility(page)
    screenshot(page, f"home-{role}")


def test_wrong_password_shows_an_error(page: Page) -> None:
    sign_in(page, "alex", "not the right password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("alex")
    check_accessibility(page)
    screenshot(page, "login-error")


def test_sign_in_and_out_with_the_keyboard_only(page: Page) -> None:
    page.goto("/login")
    page.keyboard.type("sam")
    page.keyboard.press("Tab")
    page.keyboard.type("a browser test passphrase")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Hello, Sam Okafor")).to_be_visible()
    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in to Careline")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url("/login?next=/")


@pytest.mark.parametrize(("role", "path", "heading"), [
    (Role.admin, "/admin/users", "Team"),
    (Role.admin, "/audit", "Audit trail"),
    (Role.agent, "/account", "Your account"),
], ids=["team", "audit", "account"])
def test_shell_pages_are_accessible(page: Page, role: Role, path: str, heading: str) -> None:
    sign_in(page, PEOPLE[role][0])
    page.goto(path)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    check_accessibility(page)
    screenshot(page, path.strip("/").replace("/", "-"))


def test_audit_search_updates_in_place(page: Page) -> None:
    sign_in(page, "priya")
    page.goto("/audit")
    page.get_by_label("Action").fill("auth.login")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/audit\?.*action=auth\.login"))
    rows = page.locator("#audit-results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("priya")


def test_forbidden_page_explains_itself(page: Page) -> None:
    sign_in(page, "alex")
    page.goto("/audit")
    expect(page.get_by_role("alert")).to_have_text("Your role does not give access to this page.")
    check_accessibility(page)
