"""Telephony errors. Messages are fit for the user (or the integrator) and never contain PHI."""

from __future__ import annotations


class TelephonyError(Exception):
    """Base class; ``str(error)`` is a message fit for the user."""


class UnknownCall(TelephonyError):
    def __init__(self) -> None:
        super().__init__("No such call.")


class InvalidTelephonyInput(TelephonyError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PlacementUnsure(TelephonyError):
    """An earlier attempt to place this call was cut off mid-request: it may have rung, so it is not repeated."""

    def __init__(self) -> None:
        super().__init__("An earlier attempt to place this call was cut off; not placing it a second time.")


class NotConfigured(TelephonyError):
    """A provider feature was asked for that the operator has not set up (see docs/telephony.md)."""
