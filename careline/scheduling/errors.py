"""Scheduling errors. Messages are fit for the user and never contain PHI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careline.scheduling.schemas import SlotOption


class SchedulingError(Exception):
    """Base class; ``str(error)`` is a message fit for the user."""


class NotFound(SchedulingError):
    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}.")
        self.what = what


class InvalidSchedulingInput(SchedulingError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class SlotTaken(SchedulingError):
    """Someone else booked the slot first; ``next_options`` are the nearest free ones for the same search."""

    def __init__(self, next_options: list[SlotOption]) -> None:
        super().__init__("That slot was just taken. Pick one of the next available times.")
        self.next_options = next_options


class OrderRequired(SchedulingError):
    def __init__(self, visit_name: str) -> None:
        super().__init__(f"{visit_name} needs an order or referral on file. Add the order, or override with a reason.")


class WrongStatus(SchedulingError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"An appointment that is {current} cannot become {target}.")
        self.current, self.target = current, target
