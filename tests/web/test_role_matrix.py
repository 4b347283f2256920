"""Every route, every role: generated from the app's route table, so a new route without a rule fails here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import uuid4

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from careline.actor import Role
from careline.db import UnitOfWork, make_engine
from careline.routes import ROUTERS
from careline.web.csrf import PRESESSION_COOKIE, SESSION_COOKIE, token_for
from careline.web.deps import access_of, api_routes
from tests.conftest import TEST_SECRET
from tests.factories.auth import make_api_token, make_session, make_user
from tests.factories.patients import make_alert, make_patient
from tests.support.databases import DatabaseFactory, database_factory

ANONYMOUS = "anonymous"
PUBLIC = None
EVERYONE = frozenset(Role)
ADMIN = frozenset({Role.admin})
AUDIT = frozenset({Role.admin, Role.auditor})
TEAM = frozenset({Role.admin, Role.supervisor})
WORKERS = frozenset({Role.agent, Role.supervisor})
CLIENTS = frozenset({Role.agent, Role.supervisor, Role.admin})
RECORDS = frozenset({Role.supervisor, Role.admin})
SUPERVISOR = frozenset({Role.supervisor})
# Open to no session or role: a provider proves itself by signing the request, so an unsigned one is refused.
SIGNED = "signed"

# The intended policy, written down independently of the code: a route missing here fails the suite.
EXPECTED: dict[tuple[str, str], frozenset[Role] | str | None] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/api/openapi.json"): EVERYONE,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/login/totp"): PUBLIC,
    ("POST", "/login/totp"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/account"): EVERYONE,
    ("POST", "/account/totp"): EVERYONE,
    ("POST", "/account/totp/confirm"): EVERYONE,
    ("GET", "/admin/users"): TEAM,
    ("POST", "/admin/users"): ADMIN,
    ("GET", "/admin/users/{user_id}"): TEAM,
    ("GET", "/api/me"): EVERYONE,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("GET", "/api/users/{user_id}"): ADMIN,
    ("GET", "/"): EVERYONE,
    ("GET", "/audit"): AUDIT,
    ("GET", "/api/audit"): AUDIT,
    ("GET", "/patients"): WORKERS,
    ("GET", "/patients/{patient_id}"): WORKERS,
    ("POST", "/patients/{patient_id}/verify"): WORKERS,
    ("POST", "/patients/{patient_id}/break-glass"): WORKERS,
    ("POST", "/patients/{patient_id}/notes"): WORKERS,
    ("POST", "/alerts/{alert_id}/acknowledge"): SUPERVISOR,
    ("GET", "/patients/{patient_id}/book"): WORKERS,
    ("GET", "/patients/{patient_id}/book/slots"): WORKERS,
    ("GET", "/patients/{patient_id}/book/confirm"): WORKERS,
    ("POST", "/patients/{patient_id}/appointments"): WORKERS,
    ("GET", "/appointments/{appointment_id}/reschedule"): WORKERS,
    ("POST", "/appointments/{appointment_id}/reschedule"): WORKERS,
    ("GET", "/appointments/{appointment_id}/cancel"): WORKERS,
    ("POST", "/appointments/{appointment_id}/cancel"): WORKERS,
    ("GET", "/schedule"): WORKERS,
    ("GET", "/api/patients"): CLIENTS,
    ("GET", "/api/patients/lookup"): CLIENTS,
    ("POST", "/api/patients"): CLIENTS,
    ("GET", "/api/patients/{patient_id}"): RECORDS,
    ("PATCH", "/api/patients/{patient_id}"): CLIENTS,
    ("POST", "/api/patients/{patient_id}/merge"): RECORDS,
    ("GET", "/fhir/metadata"): PUBLIC,
    ("GET", "/fhir/Patient/{patient_id}"): RECORDS,
    ("GET", "/fhir/Patient"): RECORDS,
    ("GET", "/api/slots"): CLIENTS,
    ("POST", "/api/appointments"): CLIENTS,
    ("GET", "/api/appointments"): CLIENTS,
    ("GET", "/api/appointments/{appointment_id}"): CLIENTS,
    ("POST", "/api/appointments/{appointment_id}/reschedule"): CLIENTS,
    ("POST", "/api/appointments/{appointment_id}/cancel"): CLIENTS,
    ("POST", "/api/appointments/{appointment_id}/status"): CLIENTS,
    ("POST", "/api/orders"): CLIENTS,
    ("GET", "/api/patients/{patient_id}/orders"): CLIENTS,
    ("POST", "/api/waitlist"): CLIENTS,
    ("GET", "/api/slots/{slot_id}/waitlist"): RECORDS,
    ("GET", "/api/sites"): CLIENTS,
    ("POST", "/api/sites"): ADMIN,
    ("GET", "/api/providers"): CLIENTS,
    ("POST", "/api/providers"): ADMIN,
    ("POST", "/api/resources"): ADMIN,
    ("GET", "/api/visit-types"): CLIENTS,
    ("POST", "/api/visit-types"): ADMIN,
    ("GET", "/api/schedules"): CLIENTS,
    ("POST", "/api/schedules"): ADMIN,
    ("POST", "/api/schedules/generate"): ADMIN,
    ("GET", "/api/schedules/{schedule_id}/templates"): CLIENTS,
    ("POST", "/api/schedules/{schedule_id}/templates"): ADMIN,
    ("DELETE", "/api/templates/{template_id}"): ADMIN,
    ("POST", "/api/availability-exceptions"): ADMIN,
    ("GET", "/api/schedules/{schedule_id}/calendar"): CLIENTS,
    ("GET", "/fhir/Schedule/{schedule_id}"): RECORDS,
    ("GET", "/fhir/Schedule"): RECORDS,
    ("GET", "/fhir/Slot/{slot_id}"): RECORDS,
    ("GET", "/fhir/Slot"): RECORDS,
    ("GET", "/fhir/Appointment/{appointment_id}"): RECORDS,
    ("GET", "/fhir/Appointment"): RECORDS,
    ("POST", "/fhir/Appointment"): RECORDS,
    # Routing: integrations (admin service accounts) report contacts; agents work their own; supervisors
    # see and steer the center; only admins change how it is set up.
    ("POST", "/api/interactions"): CLIENTS,
    ("GET", "/api/interactions"): RECORDS,
    ("GET", "/api/interactions/{interaction_id}"): RECORDS,
    ("GET", "/api/interactions/{interaction_id}/events"): RECORDS,
    ("POST", "/api/interactions/{interaction_id}/hold"): CLIENTS,
    ("POST", "/api/interactions/{interaction_id}/resume"): CLIENTS,
    ("POST", "/api/interactions/{interaction_id}/end"): CLIENTS,
    ("POST", "/api/interactions/{interaction_id}/wrap-up"): WORKERS,
    ("PUT", "/api/interactions/{interaction_id}/notes"): WORKERS,
    ("POST", "/api/interactions/{interaction_id}/transfer"): WORKERS,
    ("POST", "/api/interactions/{interaction_id}/complete-transfer"): WORKERS,
    ("POST", "/api/interactions/{interaction_id}/callback"): RECORDS,
    ("POST", "/api/interactions/{interaction_id}/requeue"): SUPERVISOR,
    ("POST", "/api/offers/{assignment_id}/accept"): WORKERS,
    ("POST", "/api/offers/{assignment_id}/reject"): WORKERS,
    ("GET", "/api/offers/{assignment_id}/pop"): WORKERS,
    ("GET", "/api/agents"): CLIENTS,
    ("POST", "/api/agents"): ADMIN,
    ("GET", "/api/agents/me"): WORKERS,
    ("PUT", "/api/agents/me/state"): WORKERS,
    ("GET", "/api/agents/me/events"): WORKERS,
    ("PATCH", "/api/agents/{agent_id}"): TEAM,
    ("PUT", "/api/agents/{agent_id}/state"): SUPERVISOR,
    ("GET", "/api/queues"): CLIENTS,
    ("POST", "/api/queues"): ADMIN,
    ("GET", "/api/dispositions"): CLIENTS,
    ("PUT", "/api/dispositions"): ADMIN,
    ("GET", "/api/wallboard"): TEAM,
    ("GET", "/api/wallboard/events"): TEAM,
    # The agent desktop (their own work) and the wallboard (supervisors steer, admins watch).
    ("GET", "/desktop"): WORKERS,
    ("GET", "/desktop/state"): WORKERS,
    ("POST", "/desktop/state"): WORKERS,
    ("GET", "/desktop/contacts"): WORKERS,
    ("POST", "/desktop/offers/{assignment_id}/accept"): WORKERS,
    ("POST", "/desktop/offers/{assignment_id}/reject"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/hold"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/end"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/transfer"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/notes"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/wrap-up"): WORKERS,
    ("GET", "/desktop/contacts/{interaction_id}/record"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/caller"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/new-caller"): WORKERS,
    ("GET", "/wallboard"): TEAM,
    ("GET", "/wallboard/board"): TEAM,
    ("POST", "/wallboard/agents/{agent_id}/state"): SUPERVISOR,
    ("POST", "/wallboard/interactions/{interaction_id}/requeue"): SUPERVISOR,
    # Telephony: providers sign their webhooks; admins set up numbers; agents place calls.
    ("POST", "/telephony/twilio/voice"): SIGNED,
    ("POST", "/telephony/twilio/voice/status"): SIGNED,
    ("POST", "/telephony/twilio/gather/{stage}"): SIGNED,
    ("POST", "/telephony/twilio/wait"): SIGNED,
    ("POST", "/telephony/twilio/left-line"): SIGNED,
    ("POST", "/telephony/twilio/voicemail"): SIGNED,
    ("POST", "/telephony/twilio/recording"): SIGNED,
    ("POST", "/telephony/twilio/connect/{call_id}"): SIGNED,
    ("POST", "/telephony/twilio/line/{call_id}"): SIGNED,
    ("POST", "/telephony/twilio/hold/{call_id}"): SIGNED,
    ("POST", "/telephony/twilio/dial-ended"): SIGNED,
    ("POST", "/api/cti/events"): SIGNED,
    ("POST", "/api/messaging/email/inbound"): SIGNED,
    ("POST", "/telephony/twilio/sms"): SIGNED,
    ("POST", "/telephony/twilio/sms/status"): SIGNED,
    ("GET", "/simulator/phone"): EVERYONE,
    ("POST", "/simulator/phone"): EVERYONE,
    ("GET", "/api/telephony/numbers"): ADMIN,
    ("PUT", "/api/telephony/numbers/{number}"): ADMIN,
    ("DELETE", "/api/telephony/numbers/{number}"): ADMIN,
    ("POST", "/api/calls"): WORKERS,
    ("GET", "/api/interactions/{interaction_id}/calls"): WORKERS,
    ("GET", "/api/telephony/token"): WORKERS,
    ("GET", "/admin/phone-numbers"): ADMIN,
    ("POST", "/admin/phone-numbers"): ADMIN,
    ("POST", "/admin/phone-numbers/{number}/deactivate"): ADMIN,
    # Web chat: the widget's public API (the chat's own token in a header), its files and the sample page.
    ("POST", "/chat/api/chats"): PUBLIC,
    ("POST", "/chat/api/messages"): PUBLIC,
    ("GET", "/chat/api/messages"): PUBLIC,
    ("POST", "/chat/api/typing"): PUBLIC,
    ("POST", "/chat/api/identify"): PUBLIC,
    ("POST", "/chat/api/transcript"): PUBLIC,
    ("POST", "/chat/api/end"): PUBLIC,
    ("GET", "/chat/widget.js"): PUBLIC,
    ("GET", "/chat/widget.css"): PUBLIC,
    ("GET", "/chat/demo"): PUBLIC,
    ("GET", "/api/contacts/{interaction_id}/conversation"): WORKERS,
    ("POST", "/api/contacts/{interaction_id}/messages"): WORKERS,
    ("GET", "/api/messaging/templates"): ADMIN,
    ("PUT", "/api/messaging/templates"): ADMIN,
    ("POST", "/api/messaging/templates/preview"): ADMIN,
    ("GET", "/api/outbox"): ADMIN,
    ("POST", "/api/outbox/redrive"): ADMIN,
    ("GET", "/desktop/contacts/{interaction_id}/conversation"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/messages"): WORKERS,
    ("POST", "/desktop/contacts/{interaction_id}/typing"): WORKERS,
    ("GET", "/desktop/attachments/{attachment_id}"): WORKERS,
    ("GET", "/admin/templates"): ADMIN,
    ("POST", "/admin/templates"): ADMIN,
    ("POST", "/admin/templates/preview"): ADMIN,
    ("GET", "/admin/sent-messages"): ADMIN,
    ("GET", "/admin/outbox"): ADMIN,
    ("POST", "/admin/outbox/redrive"): ADMIN,
}


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """Who may call a route does not depend on the database engine: this, the longest file of the suite, runs on
    the embedded one only (every route's own tests run on both)."""
    with database_factory("sqlite", tmp_path_factory.mktemp("role-matrix")) as factory:
        yield factory


@pytest.fixture(scope="module")
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    engine = make_engine(databases.fresh())
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    allowed: frozenset[Role] | str | None  # None: public; SIGNED: public, but only with a valid signature

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _cases() -> list[Case]:
    return [
        Case(method, route.path, EXPECTED.get((method, route.path), frozenset()))
        for route in api_routes(ROUTERS)
        for method in sorted(route.methods)
    ]


CASES = _cases()


def _request(client: TestClient, case: Case, path: str, *, bearer: str | None, cookie: str | None) -> int:
    headers: dict[str, str] = {}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    client.cookies.clear()
    binding = f"s:{cookie}" if cookie else "p:matrix"
    client.cookies.set(SESSION_COOKIE if cookie else PRESESSION_COOKIE, cookie or "matrix")
    if case.method != "GET" and not bearer:
        headers["X-CSRF-Token"] = token_for(TEST_SECRET, binding)
    # Streamed, and closed once the status is in: an event stream never ends by itself.
    with client.stream(case.method, path, headers=headers, follow_redirects=False) as response:
        if response.status_code == 303 and response.headers["location"].startswith("/login?next="):
            return 401
        return response.status_code


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("who", [*Role, ANONYMOUS], ids=str)
def test_route_enforces_its_access_rule(client: TestClient, uow: UnitOfWork, case: Case, who: Role | str) -> None:
    target = make_user(uow, role=Role.agent, username="target-user")
    patient = make_patient(uow)
    samples = {"{user_id}": target.id, "{patient_id}": patient.id, "{alert_id}": make_alert(uow, patient)}
    # Scheduling ids need no row: an allowed role gets a 404 or 422, never a 401/403.
    samples |= {f"{{{name}}}": uuid4() for name in ("appointment_id", "schedule_id", "slot_id", "template_id")}
    # Routing ids likewise; a wallboard stream opens for an allowed role, and is closed unread.
    samples |= {f"{{{name}}}": uuid4() for name in ("interaction_id", "assignment_id", "agent_id", "call_id",
                                                  "attachment_id")}
    samples |= {"{stage}": "menu", "{number}": "+16175550100"}
    path = case.path
    for name, value in samples.items():
        path = path.replace(name, str(value))
    assert "{" not in path, f"add a sample value for the path parameters of {case}"
    bearer = cookie = None
    if isinstance(who, Role):
        user = make_user(uow, role=who)
        if path.startswith(("/api/", "/fhir/")):
            bearer = make_api_token(uow, user)
        else:
            cookie = make_session(uow, user)
    uow.commit()

    status = _request(client, case, path, bearer=bearer, cookie=cookie)

    if case.allowed == SIGNED:
        assert status == 403, f"an unsigned request to {case} should be refused, got {status}"
    elif case.allowed is None or (isinstance(who, Role) and who in case.allowed):
        assert status not in (401, 403), f"{who} should reach {case}, got {status}"
    elif who == ANONYMOUS:
        assert status == 401, f"anonymous should be sent to sign in for {case}, got {status}"
    else:
        assert status == 403, f"{who} should be refused {case}, got {status}"


def test_every_route_has_an_expected_policy() -> None:
    served = {(method, route.path) for route in api_routes(ROUTERS) for method in route.methods}
    assert served == set(EXPECTED), "add new routes to EXPECTED (and remove gone ones)"


@pytest.mark.parametrize("route", list(api_routes(ROUTERS)), ids=lambda route: route.path)
def test_declared_rule_matches_the_expected_policy(route: APIRoute) -> None:
    for method in route.methods:
        expected = EXPECTED[(method, route.path)]
        assert access_of(route).roles == (None if expected == SIGNED else expected), f"{method} {route.path}"
