"""Per-request plumbing: request id and access log (without PHI), the CSRF cookie, security headers."""

from __future__ import annotations

import time
import uuid

import structlog
from fastapi import FastAPI, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careline.web.cors import ChatCors, origins_of
from careline.web.csrf import PRESESSION_COOKIE, new_presession_value
from careline.web.errors import unexpected_error
from careline.web.limits import BodyLimit

log = structlog.get_logger("careline.access")

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    # The softphone (Twilio Voice SDK) signals over Twilio's websockets and plays Twilio's ringtones.
    "connect-src 'self' wss://*.twilio.com https://*.twilio.com",
    "media-src 'self' https://*.twilio.com",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))



class RequestPlumbing:
    """Pure ASGI middleware around every request: request id, the access log line, the pre-session CSRF cookie,
    security headers, and the last-resort 500 answer.

    Pure ASGI rather than ``@app.middleware("http")``: that wrapper runs each request in an extra task and
    pipes every response body, streams included, through a memory channel, which the busiest routes pay for.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        presession = None if PRESESSION_COOKIE in request.cookies else new_presession_value()
        request.state.new_presession = presession
        started, status, answered = time.perf_counter(), 500, False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                _decorate(MutableHeaders(scope=message), scope, request_id, presession)
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            if answered:  # the response already started: nothing left to answer with
                raise
            await unexpected_error(request, error)(scope, receive, send_with_headers)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            route = scope.get("route")
            # The route template, never the raw URL: paths and query strings may hold names or dates of birth.
            log.info("request", method=scope["method"], route=getattr(route, "path", "<unmatched>"), status=status,
                     ms=round((time.perf_counter() - started) * 1000, 1), request_id=request_id)


def _decorate(headers: MutableHeaders, scope: Scope, request_id: str, presession: str | None) -> None:
    https = scope.get("scheme") == "https"
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), geolocation=(), microphone=(self)"
    headers["X-Request-ID"] = request_id
    if https:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if not scope["path"].startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")  # pages and API answers may hold PHI
    if presession:
        cookie = Response()
        cookie.set_cookie(PRESESSION_COOKIE, presession, httponly=True, samesite="lax", secure=https, path="/")
        headers.append("set-cookie", cookie.headers["set-cookie"])


def install_middleware(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)
    app.add_middleware(ChatCors, prefix="/chat/api/", origins=origins_of(app.state.settings.chat_origins))
    app.add_middleware(RequestPlumbing)  # outermost: it logs and decorates the chat's refusals too
