"""Patient CRM errors. Messages are fit for the user and never contain PHI."""

from __future__ import annotations

from uuid import UUID

from careline.audit.errors import AuditedRefusal


class PatientError(Exception):
    """Base class; ``str(error)`` is a message fit for the user."""


class InvalidPhone(PatientError):
    def __init__(self, raw: str, message: str) -> None:
        super().__init__(message)
        self.raw = raw


class PatientNotFound(PatientError):
    def __init__(self) -> None:
        super().__init__("No such patient.")


class InvalidPatientInput(PatientError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DuplicatePatient(PatientError):
    """The new record looks like one we have; the caller may merge, or insist."""

    def __init__(self, candidates: list[UUID], *, reason: str) -> None:
        super().__init__(f"A patient with the same {reason} already exists.")
        self.candidates = candidates


class RestrictedRecord(PatientError, AuditedRefusal):
    def __init__(self) -> None:
        super().__init__("This record is restricted. Break the glass with a reason to open it.")


class IdentityNotVerified(PatientError):
    def __init__(self) -> None:
        super().__init__("Verify the caller's identity before opening this record.")


class VerificationLocked(PatientError, AuditedRefusal):
    def __init__(self) -> None:
        super().__init__("Identity verification failed three times for this contact. A supervisor has been alerted.")
