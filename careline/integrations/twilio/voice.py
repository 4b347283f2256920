"""Call control through Twilio's REST API (the Calls resource)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from careline.integrations.voice import CallGone, CallRefused, ProviderError

NOT_FOUND = 404
TOO_MANY_REQUESTS = 429
SERVER_ERRORS = 500
TIMEOUT_SECONDS = 10  # well inside the outbox lease, so a hung request never overlaps a retry
# Twilio's code for "Call is not in-progress. Cannot redirect.": the caller hung up before we got there.
NOT_IN_PROGRESS = 21220


class TwilioCallControl:
    def __init__(self, *, account_sid: str, auth_token: str, api_url: str = "https://api.twilio.com") -> None:
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
        self._client.api.base_url = api_url.rstrip("/")  # tests point it at a local fake

    def redirect(self, call_sid: str, url: str) -> None:
        with _plain_errors(live_call=True):
            self._client.calls(call_sid).update(url=url, method="POST")

    def hang_up(self, call_sid: str) -> None:
        with _plain_errors(live_call=True):
            self._client.calls(call_sid).update(status="completed")

    def place(self, *, to: str, caller_id: str, url: str, status_callback: str) -> str:
        with _plain_errors(live_call=False):
            call = self._client.calls.create(
                to=to, from_=caller_id, url=url, method="POST", status_callback=status_callback,
                status_callback_method="POST", status_callback_event=["initiated", "ringing", "answered", "completed"])
        return str(call.sid)


@contextmanager
def _plain_errors(*, live_call: bool) -> Iterator[None]:
    """Twilio's errors as ours, named by status and code only: its messages quote phone numbers."""
    try:
        yield
    except TwilioRestException as error:
        if live_call and (error.status == NOT_FOUND or error.code == NOT_IN_PROGRESS):
            raise CallGone(f"Twilio: call over (HTTP {error.status}, error {error.code})") from error
        described = f"Twilio HTTP {error.status}, error {error.code}"
        if error.status == TOO_MANY_REQUESTS or error.status >= SERVER_ERRORS:
            raise ProviderError(described) from error
        raise CallRefused(described) from error
