"""The sign-in settings a service needs, lifted out of Settings so services never read the environment."""

from __future__ import annotations

from dataclasses import dataclass

from careline.settings import Settings


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    secret_key: str
    idle_minutes: int = 15
    session_max_hours: int = 12
    lockout_threshold: int = 5
    lockout_max_minutes: int = 60
    totp_issuer: str = "Careline"

    @classmethod
    def from_settings(cls, settings: Settings) -> SecurityPolicy:
        return cls(
            secret_key=settings.effective_secret_key,
            idle_minutes=settings.idle_timeout_minutes,
            session_max_hours=settings.session_max_hours,
            lockout_threshold=settings.login_lockout_threshold,
            lockout_max_minutes=settings.login_lockout_max_minutes,
        )
