"""The patient CRM's configurable policy, lifted out of Settings so services never read the environment."""

from __future__ import annotations

from dataclasses import dataclass

from careline.actor import Role
from careline.patients.rules import IDENTIFIERS
from careline.settings import Settings

# Roles that work with patients. Restricted records open without break-glass only for supervisors.
PATIENT_ROLES = frozenset({Role.agent, Role.supervisor})
RESTRICTED_ROLES = frozenset({Role.supervisor})
MAX_VERIFICATION_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class PatientPolicy:
    default_region: str = "US"
    identifiers: tuple[str, ...] = ("name", "birth_date")
    verification_minutes: int = 30
    break_glass_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> PatientPolicy:
        identifiers = tuple(name.strip() for name in settings.verification_identifiers.split(","))
        unknown = set(identifiers) - set(IDENTIFIERS)
        if unknown or len(identifiers) < 2:
            raise ValueError(f"CARELINE_VERIFICATION_IDENTIFIERS needs two or more of {', '.join(IDENTIFIERS)}")
        return cls(default_region=settings.default_region.upper(), identifiers=identifiers,
                   verification_minutes=settings.verification_window_minutes,
                   break_glass_minutes=settings.break_glass_minutes)
