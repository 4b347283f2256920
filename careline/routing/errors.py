"""Routing errors. Messages are fit for the user and never contain PHI."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class; ``str(error)`` is a message fit for the user."""


class NotFound(RoutingError):
    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}.")
        self.what = what


class InvalidRoutingInput(RoutingError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class WrongState(RoutingError):
    """The interaction or offer moved on (answered elsewhere, timed out, ended) before this action."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class NotYours(RoutingError):
    def __init__(self) -> None:
        super().__init__("This contact is not with you.")


class NoCapacity(RoutingError):
    def __init__(self) -> None:
        super().__init__("That agent cannot take another contact of this kind right now.")
