"""Users, sessions and tokens for tests, created without paying argon2's cost each time."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache

from careline.actor import Role
from careline.auth import crypto
from careline.auth.models import ApiToken, User, WebSession
from careline.db import UnitOfWork, utcnow

PASSWORD = "correct horse battery staple"


@cache
def _password_hash() -> str:
    return crypto.hash_password(PASSWORD)


def make_user(uow: UnitOfWork, *, role: Role = Role.agent, username: str | None = None,
              display_name: str = "Test User") -> User:
    user = User(username=username or f"{role.value}-{secrets.token_hex(3)}", display_name=display_name,
                role=role, password_hash=_password_hash())
    uow.session.add(user)
    uow.flush()
    return user


def make_session(uow: UnitOfWork, user: User, *, mfa_pending: bool = False) -> str:
    """A live browser session for ``user``; returns the cookie value."""
    token = crypto.new_session_token()
    now = utcnow()
    uow.session.add(WebSession(token_hash=crypto.token_digest(token), user_id=user.id, last_seen_at=now,
                               created_at=now, expires_at=now + timedelta(days=365),
                               mfa_pending=mfa_pending))
    uow.flush()
    return token


def make_api_token(uow: UnitOfWork, user: User) -> str:
    token = crypto.new_api_token()
    uow.session.add(ApiToken(user_id=user.id, name="test", prefix=token[:11],
                             token_hash=crypto.token_digest(token)))
    uow.flush()
    return token
