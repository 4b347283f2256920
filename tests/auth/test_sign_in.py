from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from careline.actor import Actor, Role
from careline.audit.models import AuditEntry
from careline.auth import crypto, service
from careline.auth.errors import InvalidCredentials
from careline.auth.models import User, WebSession
from careline.auth.policy import SecurityPolicy
from careline.db import UnitOfWork, make_engine, make_sessionmaker, utcnow
from careline.web.csrf import SESSION_COOKIE
from tests.conftest import TEST_SECRET, csrf_from
from tests.factories.auth import PASSWORD, make_session, make_user
from tests.support.databases import DatabaseFactory


def _sign_in(client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/"):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": next_path}, follow_redirects=False)


def _actions(uow: UnitOfWork) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in uow.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


class TestPasswordSignIn:
    def test_success_sets_a_hardened_cookie_and_lands_on_home(self, client: TestClient, uow: UnitOfWork) -> None:
        make_user(uow, role=Role.supervisor, username="sam", display_name="Sam Okafor")
        uow.commit()
        response = _sign_in(client, "SAM")
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        home = client.get("/")
        assert "Hello, Sam Okafor" in home.text
        assert "Supervisor workspace" in home.text
        assert 'href="/simulator/phone"' in home.text  # texts go to the local sink: the demo's phone works
        app = client.app
        app.state.settings = app.state.settings.model_copy(update={"sms_provider": "twilio"})  # type: ignore[attr-defined]
        assert "/simulator/phone" not in client.get("/").text  # real texts: no simulation offered
        assert ("auth.login", "success") in _actions(uow)

    def test_wrong_password_shows_error_and_is_audited(self, client: TestClient, uow: UnitOfWork) -> None:
        make_user(uow, username="ana")
        uow.commit()
        response = _sign_in(client, "ana", "not the password")
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
        assert ("auth.login", "failure") in _actions(uow)

    def test_unknown_user_gets_the_same_message(self, client: TestClient) -> None:
        response = _sign_in(client, "nobody", "whatever it is")
        assert response.status_code == 401
        assert "Wrong username or password." in response.text

    def test_next_only_follows_local_paths(self, client: TestClient, uow: UnitOfWork) -> None:
        make_user(uow, username="ana")
        uow.commit()
        assert _sign_in(client, "ana", next_path="https://evil.example/").headers["location"] == "/"

    def test_session_token_is_stored_hashed(self, client: TestClient, uow: UnitOfWork) -> None:
        make_user(uow, username="ana")
        uow.commit()
        _sign_in(client, "ana")
        token = client.cookies[SESSION_COOKIE]
        stored = uow.session.scalars(select(WebSession.token_hash)).all()
        assert crypto.token_digest(token) in stored
        assert token not in stored


class TestLockout:
    def test_repeated_failures_lock_the_account_even_for_the_right_password(
        self, client: TestClient, uow: UnitOfWork
    ) -> None:
        make_user(uow, username="ana")
        uow.commit()
        for _ in range(5):
            assert _sign_in(client, "ana", "wrong password!").status_code == 401
        locked = _sign_in(client, "ana")
        assert locked.status_code == 429
        assert "Too many failed sign-ins. Try again in 1 minute." in locked.text

    def test_lock_expires(self, client: TestClient, uow: UnitOfWork) -> None:
        user = make_user(uow, username="ana")
        user.failed_logins, user.locked_until = 5, utcnow() - timedelta(seconds=1)
        uow.commit()
        assert _sign_in(client, "ana").status_code == 303


class TestIdleTimeout:
    def test_idle_session_is_signed_out(self, client: TestClient, uow: UnitOfWork) -> None:
        user = make_user(uow, username="ana")
        client.cookies.set(SESSION_COOKIE, make_session(uow, user))
        uow.session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=16)))
        uow.commit()
        response = client.get("/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/"

    def test_recent_activity_keeps_the_session(self, client: TestClient, uow: UnitOfWork) -> None:
        user = make_user(uow, username="ana")
        client.cookies.set(SESSION_COOKIE, make_session(uow, user))
        uow.session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=14)))
        uow.commit()
        assert client.get("/").status_code == 200

    def test_sign_out_ends_the_session(self, client: TestClient, uow: UnitOfWork) -> None:
        make_user(uow, username="ana")
        uow.commit()
        _sign_in(client, "ana")
        token = client.cookies[SESSION_COOKIE]
        page = client.get("/")
        client.post("/logout", data={"csrf_token": csrf_from(page.text)})
        client.cookies.set(SESSION_COOKIE, token)
        assert client.get("/", follow_redirects=False).status_code == 303


class TestSecondFactor:
    def _enrol(self, client: TestClient, uow: UnitOfWork) -> tuple[str, str]:
        """Turn on TOTP for ana; returns the secret and the code the enrolment consumed."""
        make_user(uow, username="ana")
        uow.commit()
        _sign_in(client, "ana")
        account = client.get("/account")
        begun = client.post("/account/totp", data={"csrf_token": csrf_from(account.text)})
        secret = begun.text.split('aria-label="Authenticator key">')[1].split("<")[0].strip()
        code = pyotp.TOTP(secret).now()
        confirmed = client.post("/account/totp/confirm", data={"csrf_token": csrf_from(begun.text), "code": code},
                                follow_redirects=False)
        assert confirmed.status_code == 303
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/").text)})
        return secret, code

    def test_enrolled_user_needs_a_code(self, client: TestClient, uow: UnitOfWork) -> None:
        secret, _ = self._enrol(client, uow)
        response = _sign_in(client, "ana")
        assert response.headers["location"].startswith("/login/totp")
        assert client.get("/", follow_redirects=False).status_code == 303  # not signed in yet
        form = client.get(response.headers["location"])
        # The enrolment used the current step's code; the next step's code is within the drift window.
        next_code = pyotp.TOTP(secret).at(time.time() + 30)
        verified = client.post("/login/totp", data={"csrf_token": csrf_from(form.text), "code": next_code},
                               follow_redirects=False)
        assert verified.status_code == 303
        assert client.get("/").status_code == 200

    def test_a_code_cannot_be_used_twice(self, client: TestClient, uow: UnitOfWork) -> None:
        _, used_code = self._enrol(client, uow)
        response = _sign_in(client, "ana")
        form = client.get(response.headers["location"])
        replayed = client.post("/login/totp", data={"csrf_token": csrf_from(form.text), "code": used_code})
        assert replayed.status_code == 401

    def test_wrong_code_is_refused(self, client: TestClient, uow: UnitOfWork) -> None:
        secret, _ = self._enrol(client, uow)
        response = _sign_in(client, "ana")
        form = client.get(response.headers["location"])
        wrong = str((int(pyotp.TOTP(secret).now()) + 1) % 1_000_000).zfill(6)
        refused = client.post("/login/totp", data={"csrf_token": csrf_from(form.text), "code": wrong})
        assert refused.status_code == 401
        assert "That code is not valid" in refused.text
        assert client.get("/", follow_redirects=False).status_code == 303

    def test_secret_is_encrypted_at_rest(self, client: TestClient, uow: UnitOfWork) -> None:
        secret, _ = self._enrol(client, uow)
        stored = uow.session.scalars(select(User.totp_secret).where(User.username == "ana")).one()
        assert stored
        assert secret not in stored
        assert crypto.unseal(TEST_SECRET, stored) == secret


class TestApiTokens:
    def test_bearer_token_reaches_the_api_and_revocation_stops_it(self, client: TestClient, uow: UnitOfWork) -> None:
        make_user(uow, role=Role.admin, username="integration")
        issued = service.issue_api_token(uow, Actor.cli("test"), username="integration", name="ehr")
        uow.commit()
        headers = {"Authorization": f"Bearer {issued.token}"}
        assert client.get("/api/me", headers=headers).json()["username"] == "integration"
        service.revoke_api_tokens(uow, Actor.cli("test"), username="integration", prefix=None)
        uow.commit()
        assert client.get("/api/me", headers=headers).status_code == 401

    @pytest.mark.parametrize("header", ["Bearer nope", "Bearer cl_forged", "Basic abc"])
    def test_invalid_credentials_get_401_problem(self, client: TestClient, header: str) -> None:
        response = client.get("/api/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"


class TestRaces:
    def test_parallel_wrong_passwords_all_count(self, databases: DatabaseFactory) -> None:
        """Guesses racing on separate connections must not overwrite each other's failure count."""
        engine = make_engine(databases.fresh(), pool_size=10)
        sessions = make_sessionmaker(engine)
        with UnitOfWork(sessions) as uow:
            make_user(uow, username="ana")
            uow.commit()
        policy = SecurityPolicy(secret_key=TEST_SECRET, lockout_threshold=100)

        def guess() -> None:
            with UnitOfWork(sessions) as uow:
                with contextlib.suppress(InvalidCredentials):
                    service.authenticate(uow, policy, username="ana", password="wrong guess!", ip=None)
                uow.commit()

        threads = [threading.Thread(target=guess) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with UnitOfWork(sessions) as uow:
            failures = uow.session.scalars(select(User.failed_logins).where(User.username == "ana")).one()
        engine.dispose()
        assert failures == 12


class TestSecondFactorGuessing:
    def test_wrong_codes_lock_the_account_and_end_the_pending_session(
        self, client: TestClient, uow: UnitOfWork
    ) -> None:
        user = make_user(uow, username="ana")
        secret = pyotp.random_base32()
        user.totp_secret = crypto.seal(TEST_SECRET, secret)
        uow.commit()
        location = _sign_in(client, "ana").headers["location"]
        token = csrf_from(client.get(location).text)
        wrong = str((int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000).zfill(6)
        for _ in range(5):
            assert client.post("/login/totp", data={"csrf_token": token, "code": wrong}).status_code == 401
        right = client.post("/login/totp", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
        assert right.status_code == 401  # the pending session ended with the lock
        assert _sign_in(client, "ana").status_code == 429
        pending = uow.session.scalars(select(WebSession).where(WebSession.mfa_pending.is_(True))).all()
        assert all(s.ended_at is not None for s in pending)
