"""Cross-origin access for the public chat API: only the health system's own websites may call it.

A listed origin (``CARELINE_CHAT_ORIGINS``) gets ``Access-Control-Allow-Origin`` and its preflight answered;
the app's own pages (the demo) are same-origin. Any other origin is refused with 403 before the route runs,
so a website nobody listed cannot even start a chat, let alone read one.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = "Content-Type, X-Chat-Token"
PREFLIGHT_CACHE_SECONDS = 600
REFUSED = "This website is not allowed to use the chat. Ask the health system to add it to CARELINE_CHAT_ORIGINS."


def origins_of(setting: str) -> frozenset[str]:
    """The comma-separated origins, without a trailing slash (``https://www.example.org``)."""
    return frozenset(origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip())


class ChatCors:
    """Pure ASGI middleware for the paths under ``prefix``; every other request passes untouched."""

    def __init__(self, app: ASGIApp, *, prefix: str, origins: Collection[str]) -> None:
        self.app, self.prefix, self.origins = app, prefix, frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:  # not a browser's cross-origin call (a same-origin GET, a server, a test)
            await self.app(scope, receive, send)
            return
        if not self._allowed(origin, headers.get("host", "")):
            await _answer(send, 403, origin=None, body=_problem(403, REFUSED))
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _answer(send, 204, origin=origin, body=b"")
            return

        async def with_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                _allow(MutableHeaders(scope=message), origin)
            await send(message)

        await self.app(scope, receive, with_origin)

    def _allowed(self, origin: str, host: str) -> bool:
        return origin.rstrip("/") in self.origins or urlsplit(origin).netloc == host


def _allow(headers: MutableHeaders, origin: str) -> None:
    headers["Access-Control-Allow-Origin"] = origin
    headers.add_vary_header("Origin")


def _problem(status: int, detail: str) -> bytes:
    return json.dumps({"type": "about:blank", "title": "Forbidden", "status": status, "detail": detail}).encode()


async def _answer(send: Send, status: int, *, origin: str | None, body: bytes) -> None:
    headers = MutableHeaders()
    headers.add_vary_header("Origin")
    if origin is not None:
        _allow(headers, origin)
        headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        headers["Access-Control-Max-Age"] = str(PREFLIGHT_CACHE_SECONDS)
    if body:
        headers["Content-Type"] = "application/problem+json"
    headers["Content-Length"] = str(len(body))
    await send({"type": "http.response.start", "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})
