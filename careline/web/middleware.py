"""Per-request plumbing: request id and access log (without PHI), the CSRF cookie, security headers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, Request, Response

from careline.web.csrf import PRESESSION_COOKIE, new_presession_value
from careline.web.errors import unexpected_error

log = structlog.get_logger("careline.access")

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

Handler = Callable[[Request], Awaitable[Response]]


async def request_context(request: Request, call_next: Handler) -> Response:
    request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
    request.state.new_presession = None
    if PRESESSION_COOKIE not in request.cookies:
        request.state.new_presession = new_presession_value()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception as error:  # answered here, inside the header middleware, and never re-raised to the server
        response = unexpected_error(request, error)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    route = request.scope.get("route")
    # The route template, never the raw URL: paths and query strings may hold names or dates of birth.
    log.info("request", method=request.method, route=getattr(route, "path", "<unmatched>"),
             status=response.status_code, ms=round((time.perf_counter() - started) * 1000, 1),
             request_id=request_id)
    response.headers["X-Request-ID"] = request_id
    if request.state.new_presession:
        response.set_cookie(PRESESSION_COOKIE, request.state.new_presession, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https", path="/")
    return response


async def security_headers(request: Request, call_next: Handler) -> Response:
    response = await call_next(request)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), geolocation=(), microphone=(self)"
    if request.url.scheme == "https":
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if not request.url.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")  # pages and API answers may hold PHI
    return response


def install_middleware(app: FastAPI) -> None:
    # Added last runs first: security headers wrap everything, including error responses.
    app.middleware("http")(request_context)
    app.middleware("http")(security_headers)
