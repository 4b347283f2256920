"""Messaging's errors. ``str(error)`` is fit to show the person who caused it and never holds PHI."""

from __future__ import annotations


class MessagingError(Exception):
    """Base class."""


class InvalidMessage(MessagingError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(MessagingError):
    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}.")


class Blocked(MessagingError):
    """The law or the patient's wishes forbid this message (opted out, no consent)."""


class ChatClosed(MessagingError):
    def __init__(self) -> None:
        super().__init__("This chat has ended. Start a new one to keep talking.")


class TooManyTries(MessagingError):
    def __init__(self, message: str = "Too many tries. An agent will confirm who you are in the chat.") -> None:
        super().__init__(message)


class TooLarge(MessagingError):
    """An inbound e-mail or attachment over the configured size."""


class NotConfigured(MessagingError):
    """A provider's endpoint called before its secret or settings are configured here."""
