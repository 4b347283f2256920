"""Is this request from Twilio? A route dependency for every Twilio webhook, voice and messaging alike.

Every request must carry a valid ``X-Twilio-Signature`` for the public URL it was sent to; anything else gets
403 (``BadSignature``) before the route runs, so nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Annotated

import structlog
from fastapi import Depends, Request

from careline.integrations.twilio import signatures
from careline.settings import Settings
from careline.web.exceptions import BadSignature

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TwilioRequest:
    params: dict[str, str]
    base: str  # the public origin the request was signed for; TwiML's URLs start with it

    @property
    def sid(self) -> str:
        return self.params.get("CallSid", "")

    def at(self) -> datetime | None:
        """The event's own time (status callbacks carry it), so an abandon is stamped when it happened."""
        stamp = self.params.get("Timestamp")
        try:
            return parsedate_to_datetime(stamp) if stamp else None
        except (TypeError, ValueError):
            return None


async def signed(request: Request) -> TwilioRequest:
    settings: Settings = request.app.state.settings
    form = await request.form()
    params = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    origin = signatures.public_origin(
        scheme=request.url.scheme,
        host=request.headers.get("host", request.url.netloc),
        headers=request.headers,
        client=request.client.host if request.client else None,
        trusted_proxies=settings.forwarded_allow_ips,
        configured=settings.public_url,
    )
    url = origin + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not settings.twilio_auth_token or not signatures.is_valid(
        auth_token=settings.twilio_auth_token, url=url, params=params, signature=request.headers.get(signatures.HEADER)
    ):
        log.warning("twilio.bad_signature", path=request.url.path)
        raise BadSignature()
    return TwilioRequest(params, origin)


Signed = Annotated[TwilioRequest, Depends(signed)]
