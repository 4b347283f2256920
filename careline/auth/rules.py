"""Sign-in policy as pure functions: password strength, lock-out back-off, session expiry."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

MIN_PASSWORD_LENGTH = 12
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,149}$")


def normalise_username(username: str) -> str:
    return username.strip().lower()


def username_problem(username: str) -> str | None:
    if not USERNAME_PATTERN.fullmatch(username):
        return "Use 2 to 150 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit."
    return None


def password_problem(password: str, *, username: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if username and username in password.lower():
        return "The password must not contain the username."
    return None


def lockout_until(
    failed_logins: int, now: datetime, *, threshold: int, max_minutes: int
) -> datetime | None:
    """After ``threshold`` failures the account waits 1 minute, then 2, 4, … up to ``max_minutes``."""
    if failed_logins < threshold:
        return None
    minutes = min(2 ** min(failed_logins - threshold, 20), max_minutes)
    return now + timedelta(minutes=minutes)


def session_expired(
    *, last_seen_at: datetime, expires_at: datetime, now: datetime, idle_minutes: int
) -> bool:
    return now >= expires_at or now - last_seen_at >= timedelta(minutes=idle_minutes)


def minutes_left(until: datetime, now: datetime) -> int:
    return max(1, -(-int((until - now).total_seconds()) // 60))
