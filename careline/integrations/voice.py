"""Call control: what Careline asks of a telephony provider once a call is under way.

Careline answers a provider's webhooks itself; these are the few requests it makes on its own: move a live
call to new instructions (connect it to an agent, put it back in line), hang it up, or place a call.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol
from uuid import uuid4

KEPT_REQUESTS = 10_000


class CallGone(Exception):
    """The provider no longer has this call (it ended): nothing to do, and retrying will not help."""


class ProviderError(Exception):
    """The provider answered with an error worth retrying later (an outage, a rate limit). Names no number."""


class CallRefused(ProviderError):
    """The provider refused the request for good (a bad number, a bad account): retrying cannot help."""


class CallControl(Protocol):
    def redirect(self, call_sid: str, url: str) -> None:
        """Fetch new instructions for a live call from ``url`` (our own TwiML)."""

    def hang_up(self, call_sid: str) -> None: ...

    def place(self, *, to: str, caller_id: str, url: str, status_callback: str) -> str:
        """Start a call to ``to``; ``url`` says what to do once answered. Returns the provider's call id."""


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    call_sid: str
    url: str | None = None
    to: str | None = None
    caller_id: str | None = None


class RecordingCallControl:
    """The embedded default and the simulator's provider: nothing leaves the machine; the requests are kept
    in memory so the simulator or a test can see what would have been sent."""

    def __init__(self) -> None:
        self.requests: deque[Request] = deque(maxlen=KEPT_REQUESTS)  # a long demo must not grow without end
        self._lock = threading.Lock()

    def redirect(self, call_sid: str, url: str) -> None:
        self._keep(Request("redirect", call_sid, url=url))

    def hang_up(self, call_sid: str) -> None:
        self._keep(Request("hang_up", call_sid))

    def place(self, *, to: str, caller_id: str, url: str, status_callback: str) -> str:
        call_sid = "CA" + uuid4().hex
        self._keep(Request("place", call_sid, url=url, to=to, caller_id=caller_id))
        return call_sid

    def _keep(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
