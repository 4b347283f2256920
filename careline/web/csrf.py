"""CSRF protection for every unsafe request that rides on cookies.

The token is an HMAC of the value it is bound to: the session cookie once signed in, otherwise a random
pre-session cookie (so the sign-in form is protected too). Bearer-token clients carry no ambient
credentials, so they need no token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from careline.web.exceptions import CsrfFailed

SESSION_COOKIE = "careline_session"
PRESESSION_COOKIE = "careline_csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
# The API, provider webhooks (which prove themselves with a signature instead of a cookie), and the chat
# widget (which carries its own token in a header).
COOKIELESS_PREFIXES = ("/api/", "/telephony/", "/chat/")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _binding(request: Request) -> str:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return "s:" + session
    presession = request.cookies.get(PRESESSION_COOKIE) or request.state.new_presession
    return "p:" + presession


def new_presession_value() -> str:
    return secrets.token_urlsafe(24)


def token_for(secret_key: str, binding: str) -> str:
    return hmac.new(secret_key.encode(), binding.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    return token_for(request.app.state.policy.secret_key, _binding(request))


def _is_bearer(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer ")


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: refuse unsafe cookie-borne requests without the right token."""
    if request.method in _SAFE_METHODS or _is_bearer(request):
        return
    if request.url.path.startswith(COOKIELESS_PREFIXES) and SESSION_COOKIE not in request.cookies:
        return  # no cookie, so nothing for a forged request to ride on: the access rule (or signature) answers
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(FORM_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
        raise CsrfFailed()
