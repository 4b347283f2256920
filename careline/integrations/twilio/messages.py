"""SMS and MMS through Twilio's REST API (the Messages resource)."""

from __future__ import annotations

from collections.abc import Sequence

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from careline.integrations.messages import Outgoing, ProviderError, Receipt, Refused
from careline.integrations.twilio.voice import SERVER_ERRORS, TIMEOUT_SECONDS, TOO_MANY_REQUESTS


class TwilioMessages:
    name = "twilio"
    idempotent = False

    def __init__(self, *, account_sid: str, auth_token: str, messaging_service_sid: str | None = None,
                 api_url: str = "https://api.twilio.com") -> None:
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
        self._client.api.base_url = api_url.rstrip("/")  # tests point it at a local fake
        self._service = messaging_service_sid

    def send(self, messages: Sequence[Outgoing]) -> list[Receipt | ProviderError]:
        return [self._send_one(message) for message in messages]

    def _send_one(self, message: Outgoing) -> Receipt | ProviderError:
        # A Messaging Service picks the sender from its pool; otherwise the number the patient wrote to.
        sender = {"messaging_service_sid": self._service} if self._service else {"from_": message.sender}
        try:
            sent = self._client.messages.create(to=message.to, body=message.body,
                                                status_callback=message.status_callback, **sender)
        except TwilioRestException as error:
            return _plain(error)
        return Receipt(provider_id=str(sent.sid), status="queued")


def _plain(error: TwilioRestException) -> ProviderError:
    """Named by status and code only: Twilio's messages quote phone numbers."""
    described = f"Twilio HTTP {error.status}, error {error.code}"
    if error.status == TOO_MANY_REQUESTS or error.status >= SERVER_ERRORS:
        return ProviderError(described)
    return Refused(described, code=str(error.code) if error.code else None)
