"""Call control through Twilio's REST API (the Calls resource)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from careline.integrations.voice import CallGone

NOT_FOUND = 404
# Twilio's code for "Call is not in-progress. Cannot redirect.": the caller hung up before we got there.
NOT_IN_PROGRESS = 21220


class TwilioCallControl:
    def __init__(self, *, account_sid: str, auth_token: str, api_url: str = "https://api.twilio.com") -> None:
        self._client = Client(account_sid, auth_token)
        self._client.api.base_url = api_url.rstrip("/")  # tests point it at a local fake

    def redirect(self, call_sid: str, url: str) -> None:
        with _gone_if_over():
            self._client.calls(call_sid).update(url=url, method="POST")

    def hang_up(self, call_sid: str) -> None:
        with _gone_if_over():
            self._client.calls(call_sid).update(status="completed")

    def place(self, *, to: str, caller_id: str, url: str, status_callback: str) -> str:
        call = self._client.calls.create(
            to=to,
            from_=caller_id,
            url=url,
            method="POST",
            status_callback=status_callback,
            status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
        return str(call.sid)


@contextmanager
def _gone_if_over() -> Iterator[None]:
    try:
        yield
    except TwilioRestException as error:
        if error.status == NOT_FOUND or error.code == NOT_IN_PROGRESS:
            raise CallGone(f"Twilio: call over ({error.code or error.status})") from error
        raise
