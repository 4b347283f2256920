"""Users, sign-in, sessions, API tokens and the second factor."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import pyotp
from sqlalchemy.exc import IntegrityError

from careline import audit
from careline.actor import Actor, Role
from careline.auth import crypto, repository, rules
from careline.auth.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidTotp,
    InvalidUserInput,
    UsernameTaken,
    UserNotFound,
)
from careline.auth.models import ApiToken, User, WebSession
from careline.auth.policy import SecurityPolicy
from careline.auth.schemas import (
    ApiTokenIssued,
    LoginOutcome,
    SignedIn,
    TotpEnrolment,
    UserCreate,
    UserRead,
)
from careline.db import UnitOfWork, utcnow

# Refresh last_seen_at at most this often, so that browsing is not a write per request.
_TOUCH_EVERY = timedelta(seconds=30)
# Between the password and the code: long enough to open the authenticator app, short enough to not linger.
_MFA_PENDING_LIFETIME = timedelta(minutes=5)


def read_user(user: User) -> UserRead:
    return UserRead.model_validate(user).model_copy(update={"totp_enabled": user.totp_secret is not None})


def create_user(uow: UnitOfWork, actor: Actor, data: UserCreate) -> UserRead:
    username = rules.normalise_username(data.username)
    problem = rules.username_problem(username)
    if problem:
        raise InvalidUserInput("username", problem)
    problem = rules.password_problem(data.password, username=username)
    if problem:
        raise InvalidUserInput("password", problem)
    if repository.find_user(uow.session, username):
        raise UsernameTaken(username)
    user = User(
        username=username,
        display_name=data.display_name.strip(),
        role=data.role,
        password_hash=crypto.hash_password(data.password),
    )
    try:
        with uow.session.begin_nested():
            repository.add(uow.session, user)
    except IntegrityError as error:  # another admin created the same username a moment ago
        raise UsernameTaken(username) from error
    audit.record(uow, actor, "user.created", subject_type="user", subject_id=user.id,
                 details={"role": user.role.value})
    return read_user(user)


def list_users(uow: UnitOfWork, *, role: Role | None = None) -> list[UserRead]:
    return [read_user(user) for user in repository.list_users(uow.session, role=role)]


def get_user(uow: UnitOfWork, actor: Actor, user_id: UUID) -> UserRead:
    """An audited read: the entry is written before the record is returned, or nothing is."""
    user = repository.get_user(uow.session, user_id)
    if user is None:
        raise UserNotFound()
    audit.record(uow, actor, "user.viewed", subject_type="user", subject_id=user.id)
    return read_user(user)


def authenticate(
    uow: UnitOfWork, policy: SecurityPolicy, *, username: str, password: str, ip: str | None
) -> LoginOutcome:
    """Check a password and open a session (pending the second factor when the user has one).

    Failures are audited and committed by the caller even though this raises; see ``pages.login``.
    """
    username = rules.normalise_username(username)
    now = utcnow()
    # Locked while the password is checked: parallel guesses must each count towards the lock-out.
    user = None if rules.username_problem(username) else repository.find_user(uow.session, username, for_update=True)
    attempt = Actor(username=username[:150], role=None, user_id=user.id if user else None,
                    ip=ip, route="POST /login")
    if user and user.locked_until and user.locked_until > now:
        audit.record(uow, attempt, "auth.login", outcome="denied", details={"reason": "locked"})
        raise AccountLocked(rules.minutes_left(user.locked_until, now))
    if not crypto.verify_password(user.password_hash if user else None, password) or not (
        user and user.is_active
    ):
        _note_failure(uow, policy, attempt, user, now)
        raise InvalidCredentials()
    if crypto.needs_rehash(user.password_hash):
        user.password_hash = crypto.hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    token = _open_session(uow, policy, user, now, mfa_pending=user.totp_secret is not None)
    if user.totp_secret is None:
        user.last_login_at = now
    audit.record(uow, attempt, "auth.login", details={"mfa_pending": user.totp_secret is not None})
    return LoginOutcome(session_token=token, mfa_required=user.totp_secret is not None, user=read_user(user))


def _note_failure(
    uow: UnitOfWork, policy: SecurityPolicy, attempt: Actor, user: User | None, now: datetime,
    *, action: str = "auth.login",
) -> None:
    details: dict[str, object] = {"reason": "bad_credentials" if user else "unknown_user"}
    if user:
        user.failed_logins += 1
        user.locked_until = rules.lockout_until(
            user.failed_logins, now,
            threshold=policy.lockout_threshold, max_minutes=policy.lockout_max_minutes,
        )
        details["failed_logins"] = user.failed_logins
        details["locked"] = user.locked_until is not None
    audit.record(uow, attempt, action, outcome="failure", details=details)


def _open_session(
    uow: UnitOfWork, policy: SecurityPolicy, user: User, now: datetime, *, mfa_pending: bool
) -> str:
    token = crypto.new_session_token()
    lifetime = _MFA_PENDING_LIFETIME if mfa_pending else timedelta(hours=policy.session_max_hours)
    repository.add(uow.session, WebSession(
        token_hash=crypto.token_digest(token), user_id=user.id, created_at=now, last_seen_at=now,
        expires_at=now + lifetime, mfa_pending=mfa_pending,
    ))
    return token


def complete_second_factor(
    uow: UnitOfWork, policy: SecurityPolicy, *, session_token: str, code: str, ip: str | None
) -> LoginOutcome:
    """Accept the code of a half-signed-in session: the session is replaced by a new, full one.

    Wrong codes count towards the same lock-out as wrong passwords; a locked account's pending session ends.
    """
    web_session = _live_session(uow, policy, session_token)
    if web_session is None or not web_session.mfa_pending:
        raise InvalidCredentials()
    user = repository.find_user(uow.session, web_session.user.username, for_update=True) or web_session.user
    actor = Actor(username=user.username, role=user.role, user_id=user.id, ip=ip, route="POST /login/totp")
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        web_session.ended_at = now
        raise AccountLocked(rules.minutes_left(user.locked_until, now))
    if not _accept_totp(policy, user, user.totp_secret, code):
        _note_failure(uow, policy, actor, user, now, action="auth.totp")
        if user.locked_until:
            web_session.ended_at = now
        raise InvalidTotp()
    web_session.ended_at = now  # a fresh token for the full session: the half-signed-in one is spent
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token = _open_session(uow, policy, user, now, mfa_pending=False)
    audit.record(uow, actor, "auth.totp")
    return LoginOutcome(session_token=token, mfa_required=False, user=read_user(user))


def resolve_session(uow: UnitOfWork, policy: SecurityPolicy, token: str) -> SignedIn | None:
    """The signed-in user behind a session cookie, or None once it ended, idled out or expired."""
    web_session = _live_session(uow, policy, token)
    if web_session is None or not web_session.user.is_active:
        return None
    now = utcnow()
    if now - web_session.last_seen_at >= _TOUCH_EVERY:
        web_session.last_seen_at = now
    return SignedIn(user=read_user(web_session.user), session_token=token,
                    mfa_pending=web_session.mfa_pending)


def _live_session(uow: UnitOfWork, policy: SecurityPolicy, token: str) -> WebSession | None:
    web_session = repository.find_live_session(uow.session, crypto.token_digest(token))
    if web_session is None:
        return None
    now = utcnow()
    if rules.session_expired(last_seen_at=web_session.last_seen_at, expires_at=web_session.expires_at,
                             now=now, idle_minutes=policy.idle_minutes):
        web_session.ended_at = now
        return None
    return web_session


def sign_out(uow: UnitOfWork, actor: Actor, *, session_token: str) -> None:
    web_session = repository.find_live_session(uow.session, crypto.token_digest(session_token))
    if web_session is not None:
        web_session.ended_at = utcnow()
        audit.record(uow, actor, "auth.logout")


def resolve_api_token(uow: UnitOfWork, token: str) -> SignedIn | None:
    if not token.startswith(crypto.API_TOKEN_PREFIX):
        return None
    api_token = repository.find_live_api_token(uow.session, crypto.token_digest(token))
    if api_token is None or not api_token.user.is_active:
        return None
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at >= _TOUCH_EVERY:
        api_token.last_used_at = now
    return SignedIn(user=read_user(api_token.user))


def issue_api_token(uow: UnitOfWork, actor: Actor, *, username: str, name: str) -> ApiTokenIssued:
    user = _require_user(uow, username)
    token = crypto.new_api_token()
    prefix = token[: len(crypto.API_TOKEN_PREFIX) + 8]
    repository.add(uow.session, ApiToken(
        user_id=user.id, name=name, prefix=prefix, token_hash=crypto.token_digest(token)))
    audit.record(uow, actor, "auth.token_issued", subject_type="user", subject_id=user.id,
                 details={"prefix": prefix, "name": name})
    return ApiTokenIssued(token=token, prefix=prefix, name=name)


def revoke_api_tokens(uow: UnitOfWork, actor: Actor, *, username: str, prefix: str | None) -> int:
    user = _require_user(uow, username)
    revoked = repository.revoke_api_tokens(uow.session, user_id=user.id, prefix=prefix, at=utcnow())
    audit.record(uow, actor, "auth.token_revoked", subject_type="user", subject_id=user.id,
                 details={"prefix": prefix, "revoked": revoked})
    return revoked


def reset_second_factor(uow: UnitOfWork, actor: Actor, *, username: str) -> None:
    """For a user who lost their authenticator: TOTP off, every session ended, so they sign in afresh."""
    user = _require_user(uow, username)
    user.totp_secret = user.totp_pending_secret = user.totp_last_step = None
    repository.end_sessions_of(uow.session, user_id=user.id, at=utcnow())
    audit.record(uow, actor, "auth.totp_reset", subject_type="user", subject_id=user.id)


def _require_user(uow: UnitOfWork, username: str) -> User:
    user = repository.find_user(uow.session, rules.normalise_username(username))
    if user is None:
        raise UserNotFound()
    return user


def begin_totp_enrolment(uow: UnitOfWork, policy: SecurityPolicy, actor: Actor) -> TotpEnrolment:
    """Start enrolment: a new secret is kept aside until the user proves their app has it."""
    user = _current_user(uow, actor)
    if user.totp_secret is not None:
        raise InvalidUserInput("totp", "Two-factor sign-in is already on; an admin can reset it with "
                                       "careline users reset-mfa.")
    secret = pyotp.random_base32()
    user.totp_pending_secret = crypto.seal(policy.secret_key, secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=policy.totp_issuer)
    audit.record(uow, actor, "auth.totp_enrolment_started", subject_type="user", subject_id=user.id)
    return TotpEnrolment(secret=secret, provisioning_uri=uri)


def confirm_totp_enrolment(uow: UnitOfWork, policy: SecurityPolicy, actor: Actor, *, code: str) -> None:
    user = _current_user(uow, actor)
    if not _accept_totp(policy, user, user.totp_pending_secret, code):
        raise InvalidTotp()
    user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
    audit.record(uow, actor, "auth.totp_enrolled", subject_type="user", subject_id=user.id)


def _current_user(uow: UnitOfWork, actor: Actor) -> User:
    user = repository.get_user(uow.session, actor.user_id) if actor.user_id else None
    if user is None:
        raise UserNotFound()
    return user


def _accept_totp(policy: SecurityPolicy, user: User, sealed: str | None, code: str) -> bool:
    """Accept the current code (±1 step for clock drift), each step at most once (no replay)."""
    secret = crypto.unseal(policy.secret_key, sealed) if sealed else None
    code = code.strip().replace(" ", "")
    if secret is None or not code.isdigit():
        return False
    totp, now = pyotp.TOTP(secret), utcnow()
    for drift in (0, -1, 1):
        moment = now + timedelta(seconds=30 * drift)
        step = totp.timecode(moment)
        if totp.at(moment) == code and step > (user.totp_last_step or -1):
            user.totp_last_step = step
            return True
    return False


def get_own_account(uow: UnitOfWork, actor: Actor) -> UserRead:
    return read_user(_current_user(uow, actor))
