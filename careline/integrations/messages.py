"""Sending a message: one small interface for SMS, e-mail and the local sink.

Every message carries an idempotency key. A provider that honours it (the local sink) can be asked twice and
sends once; for one that cannot (Twilio's Messages API, SMTP), Careline marks the message as being sent before
asking, so a worker that dies mid-request leaves a message an admin decides about rather than a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from careline.integrations.voice import ProviderError

__all__ = ["Attachment", "MessageProvider", "Outgoing", "ProviderError", "Receipt", "Refused", "Unsure"]


class Refused(ProviderError):
    """The provider will never take this message (an opted-out or invalid number). ``code`` is its reason."""

    def __init__(self, text: str, *, code: str | None = None) -> None:
        super().__init__(text)
        self.code = code


class Unsure(ProviderError):
    """The request may have reached the provider (a timeout or a dropped connection after it was sent): the
    message may have gone, so it is not sent again by itself."""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: str  # the idempotency key: the same key is one message
    channel: str  # sms | email
    to: str
    sender: str | None
    body: str
    subject: str | None = None
    html: str | None = None
    message_id: str | None = None  # an e-mail's own Message-ID, fixed before the first try
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    status_callback: str | None = None
    attachments: tuple[Attachment, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_id: str | None
    status: str = "sent"  # or "queued": the provider took it and will say more in a status callback


class MessageProvider(Protocol):
    name: str
    idempotent: bool  # True when a repeated key is not sent again

    def send(self, messages: Sequence[Outgoing]) -> list[Receipt | ProviderError]:
        """Send each message; a failure is returned in the message's place, never raised for the batch.

        ``ProviderError`` means it certainly did not go (retry), ``Refused`` that it never will, ``Unsure`` that
        it may have gone."""
