"""Requests signed with a shared secret: the CTI events API and the e-mail provider's webhook.

The sender puts the unix time in ``X-Careline-Timestamp`` and ``sha256=`` + the hex HMAC-SHA256 of
``"<timestamp>.<raw body>"`` in ``X-Careline-Signature``. A request older (or further in the future) than five
minutes is refused as a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

import structlog
from fastapi import Request

from careline.db import utcnow
from careline.web.exceptions import BadSignature

SIGNATURE_HEADER = "X-Careline-Signature"
TIMESTAMP_HEADER = "X-Careline-Timestamp"
MAX_AGE_SECONDS = 300
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
log = structlog.get_logger(__name__)


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Careline-Signature`` value for a body sent at ``timestamp`` (unix seconds, as sent)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def is_signed(secret: str | None, *, timestamp: str | None, signature: str | None, body: bytes,
              now: datetime) -> bool:
    """Whether the request was signed with the shared secret within the last five minutes.

    No secret configured means nothing is accepted: an unsigned endpoint would let anyone invent events.
    """
    if not secret or not timestamp or not signature or not TIMESTAMP.match(timestamp):
        return False
    if abs(now.timestamp() - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(signature_of(secret, timestamp, body).encode(), signature.strip().encode())


def carries_signature(request: Request) -> bool:
    """Whether the request has both headers at all (checked before reading a body that may be large)."""
    return bool(request.headers.get(SIGNATURE_HEADER)) and bool(request.headers.get(TIMESTAMP_HEADER))


def check(request: Request, secret: str | None, body: bytes, *, event: str) -> None:
    """Raise ``BadSignature`` (403, nothing recorded) unless ``body`` is signed with ``secret``; logs ``event``."""
    if not is_signed(secret, timestamp=request.headers.get(TIMESTAMP_HEADER),
                     signature=request.headers.get(SIGNATURE_HEADER), body=body, now=utcnow()):
        log.warning(event)
        raise BadSignature()
