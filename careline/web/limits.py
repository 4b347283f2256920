"""Body limits for the routes anyone on the internet can call (provider webhooks, the chat widget's API).

Checked on the declared length before a byte is read, so a huge body is refused, not buffered; a body with no
declared length is refused too (Twilio and browsers always declare one).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

KIB = 1024
PUBLIC_LIMITS: tuple[tuple[str, int], ...] = (("/telephony/", 64 * KIB), ("/chat/api/", 16 * KIB),
                                              ("/api/cti/", 64 * KIB))
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]] = PUBLIC_LIMITS) -> None:
        self.app, self._limits = app, tuple(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit_for(scope)
        if limit is not None:
            refusal = _refusal(dict(scope["headers"]).get(b"content-length", b""), limit, scope["path"])
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _limit_for(self, scope: Scope) -> int | None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            return None
        return next((limit for prefix, limit in self._limits if scope["path"].startswith(prefix)), None)


def _refusal(declared: bytes, limit: int, path: str) -> Response | None:
    if not declared.isdigit():
        return _problem(411, "Send the body with a Content-Length.", path)
    if int(declared) > limit:
        return _problem(413, f"The request body is larger than {limit // KIB} KB.", path)
    return None


def _problem(status: int, detail: str, path: str) -> Response:
    if path.startswith("/telephony/"):
        return PlainTextResponse(detail, status_code=status)
    body = {"type": "about:blank", "title": "Length Required" if status == 411 else "Content Too Large",
            "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")
