"""The web shell: CSRF, security headers, error shapes, audited reads that fail closed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from careline.actor import Role
from careline.audit import repository as audit_repository
from careline.audit.models import AuditEntry
from careline.auth import service as auth_service
from careline.db import UnitOfWork
from careline.web.csrf import SESSION_COOKIE, token_for
from tests.conftest import TEST_SECRET, csrf_from
from tests.factories.auth import make_api_token, make_session, make_user


@pytest.fixture
def admin_client(client: TestClient, uow: UnitOfWork) -> TestClient:
    admin = make_user(uow, role=Role.admin, username="dana")
    client.cookies.set(SESSION_COOKIE, make_session(uow, admin))
    uow.commit()
    return client


NEW_USER = {"username": "new.agent", "display_name": "New Agent", "role": "agent", "password": "a long passphrase"}


class TestCsrf:
    def test_form_post_without_token_is_refused(self, admin_client: TestClient, uow: UnitOfWork) -> None:
        response = admin_client.post("/admin/users", data=NEW_USER)
        assert response.status_code == 403
        assert "This form has expired" in response.text
        assert uow.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "user.created")).all() == []

    def test_form_post_with_a_token_from_another_session_is_refused(
        self, admin_client: TestClient, uow: UnitOfWork
    ) -> None:
        other = make_session(uow, make_user(uow, role=Role.admin))
        uow.commit()
        stolen = token_for(TEST_SECRET, f"s:{other}")
        assert admin_client.post("/admin/users", data=NEW_USER | {"csrf_token": stolen}).status_code == 403

    def test_form_post_with_token_succeeds(self, admin_client: TestClient) -> None:
        token = csrf_from(admin_client.get("/admin/users").text)
        response = admin_client.post("/admin/users", data=NEW_USER | {"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303
        assert "New Agent" in admin_client.get(response.headers["location"]).text

    def test_sign_in_form_is_protected_too(self, client: TestClient) -> None:
        response = client.post("/login", data={"username": "x", "password": "y"})
        assert response.status_code == 403

    def test_bearer_clients_need_no_token(self, client: TestClient, uow: UnitOfWork) -> None:
        token = make_api_token(uow, make_user(uow, role=Role.admin))
        uow.commit()
        response = client.post("/api/users", json=NEW_USER, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201
        assert response.json()["username"] == "new.agent"


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", ["/login", "/healthz", "/api/me", "/no-such-page", "/static/careline.css"])
    def test_every_response_carries_them(self, client: TestClient, path: str) -> None:
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in headers

    def test_hsts_and_secure_cookie_over_tls(self, app: object) -> None:
        with TestClient(app, base_url="https://careline.example") as tls_client:  # type: ignore[arg-type]
            response = tls_client.get("/login")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "Secure" in response.headers["set-cookie"]

    def test_pages_have_no_inline_script(self, client: TestClient) -> None:
        html = client.get("/login").text
        assert "<script>" not in html
        assert html.count("<script ") == html.count('<script src="/static/')


class TestErrors:
    def test_api_validation_error_is_a_problem_without_the_input(self, client: TestClient, uow: UnitOfWork) -> None:
        token = make_api_token(uow, make_user(uow, role=Role.admin))
        uow.commit()
        response = client.post("/api/users", json={"username": "Maria Lopez 1961-02-03"},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == 422
        assert {"loc": ["body", "role"], "msg": "Field required"} in body["errors"]
        assert "Maria" not in response.text

    def test_domain_error_is_a_clear_4xx(self, client: TestClient, uow: UnitOfWork) -> None:
        token = make_api_token(uow, make_user(uow, role=Role.admin))
        uow.commit()
        headers = {"Authorization": f"Bearer {token}"}
        short = client.post("/api/users", json=NEW_USER | {"password": "short"}, headers=headers)
        assert short.status_code == 422
        assert short.json()["detail"] == "Use at least 12 characters."
        assert short.json()["field"] == "password"
        client.post("/api/users", json=NEW_USER, headers=headers)
        taken = client.post("/api/users", json=NEW_USER, headers=headers)
        assert taken.status_code == 409

    def test_bad_path_parameter_is_a_4xx_not_a_500(self, admin_client: TestClient) -> None:
        assert admin_client.get("/admin/users/not-a-uuid").status_code == 400
        assert admin_client.get("/admin/users/00000000-0000-0000-0000-000000000000").status_code == 404

    def test_unknown_page_is_a_404_page(self, client: TestClient) -> None:
        response = client.get("/no-such-page")
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]

    def test_page_form_error_is_shown_inline(self, admin_client: TestClient) -> None:
        token = csrf_from(admin_client.get("/admin/users").text)
        response = admin_client.post("/admin/users", data=NEW_USER | {"password": "short", "csrf_token": token})
        assert response.status_code == 422
        assert "Use at least 12 characters." in response.text
        assert 'value="new.agent"' in response.text  # what was typed is kept


class TestAuditedRead:
    def test_reading_a_record_writes_an_entry(self, admin_client: TestClient, uow: UnitOfWork) -> None:
        target = make_user(uow, username="target")
        uow.commit()
        assert admin_client.get(f"/admin/users/{target.id}").status_code == 200
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.viewed")).one()
        assert (entry.actor_username, entry.subject_id, entry.route) == (
            "dana", str(target.id), "GET /admin/users/{user_id}")
        assert entry.ip == "testclient"

    def test_read_fails_closed_when_the_audit_cannot_be_written(
        self, admin_client: TestClient, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        target = make_user(uow, username="target", display_name="Wilhelmina Target")
        integration = make_api_token(uow, make_user(uow, role=Role.admin))
        uow.commit()

        def broken_add(*_args: object) -> None:
            raise OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O error"))

        monkeypatch.setattr(audit_repository, "add", broken_add)
        response = admin_client.get(f"/admin/users/{target.id}")
        assert response.status_code == 503
        assert "Wilhelmina" not in response.text
        api = admin_client.get(f"/api/users/{target.id}", headers={"Authorization": f"Bearer {integration}"})
        assert api.status_code == 503
        assert api.headers["content-type"] == "application/problem+json"
        assert "Wilhelmina" not in api.text


class TestAuditPage:
    def test_search_filters_and_is_itself_audited(self, client: TestClient, uow: UnitOfWork) -> None:
        auditor = make_user(uow, role=Role.auditor, username="priya")
        client.cookies.set(SESSION_COOKIE, make_session(uow, auditor))
        uow.commit()
        client.get("/audit")
        page = client.get("/audit", params={"action": "audit.searched", "actor": "priya"})
        assert page.status_code == 200
        assert page.text.count("<code>audit.searched</code>") == 2
        partial = client.get("/audit", params={"action": "nothing.like.this"}, headers={"HX-Request": "true"})
        assert "No entries match." in partial.text
        assert "<html" not in partial.text

    def test_bad_filter_is_a_4xx(self, client: TestClient, uow: UnitOfWork) -> None:
        auditor = make_user(uow, role=Role.auditor)
        token = make_api_token(uow, auditor)
        uow.commit()
        response = client.get("/api/audit", params={"since": "yesterday"}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422


def test_blank_search_fields_place_no_condition(client: TestClient, uow: UnitOfWork) -> None:
    token = make_api_token(uow, make_user(uow, role=Role.auditor))
    uow.commit()
    blank = {"actor": "", "action": " ", "outcome": "", "since": "", "until": ""}
    response = client.get("/api/audit", params=blank, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [entry["action"] for entry in response.json()["entries"]] == ["audit.searched"]


def test_unexpected_error_is_a_plain_500_with_security_headers(
    admin_client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("DETAIL: Key (username)=(maria.lopez.1961) already exists")

    monkeypatch.setattr(auth_service, "list_users", explode)
    response = admin_client.get("/admin/users")
    assert response.status_code == 500
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert "maria" not in response.text
    assert "maria" not in capsys.readouterr().err


def test_non_ascii_csrf_token_is_refused_not_crashed(admin_client: TestClient) -> None:
    assert admin_client.post("/admin/users", data=NEW_USER | {"csrf_token": "ünïcode"}).status_code == 403
