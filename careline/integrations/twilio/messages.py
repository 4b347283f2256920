"""SMS and MMS through Twilio's REST API (the Messages resource)."""

from __future__ import annotations

from collections.abc import Sequence

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from careline.integrations.messages import Outgoing, ProviderError, Receipt, Refused, Unsure
from careline.integrations.twilio.voice import SERVER_ERRORS, TIMEOUT_SECONDS, TOO_MANY_REQUESTS

RETRYABLE = frozenset({401, 403, TOO_MANY_REQUESTS})


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
        except requests.ConnectionError as error:
            if _never_connected(error):
                return ProviderError(f"Twilio unreachable: {type(error).__name__}")
            return Unsure(f"Twilio connection lost mid-request: {type(error).__name__}")
        except Exception as error:  # a timeout waiting for the answer, or worse: the text may have gone
            return Unsure(f"Twilio request cut off: {type(error).__name__}")
        return Receipt(provider_id=str(sent.sid), status="queued")


def _never_connected(error: requests.ConnectionError) -> bool:
    """No connection was made, so the request cannot have reached Twilio and is safe to send again."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


def _plain(error: TwilioRestException) -> ProviderError:
    """Named by status and code only: Twilio's messages quote phone numbers."""
    described = f"Twilio HTTP {error.status}, error {error.code}"
    # A bad credential is the operator's to mend, not the message's fault: it waits for the fix.
    if error.status in RETRYABLE or error.status >= SERVER_ERRORS:
        return ProviderError(described)
    return Refused(described, code=str(error.code) if error.code else None)
