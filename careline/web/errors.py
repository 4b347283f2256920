"""One place that turns errors into responses: problem+json for /api, a page for people.

Domain errors carry no HTTP; the status each one maps to is listed here.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from careline.audit import AuditUnavailable
from careline.auth.errors import (
    AccountLocked,
    AuthError,
    InvalidCredentials,
    InvalidTotp,
    InvalidUserInput,
    UsernameTaken,
    UserNotFound,
)
from careline.messaging import errors as messaging_errors
from careline.patients.errors import (
    DuplicatePatient,
    IdentityNotVerified,
    InvalidPatientInput,
    InvalidPhone,
    PatientError,
    PatientNotFound,
    RestrictedRecord,
    VerificationLocked,
)
from careline.routing import errors as routing_errors
from careline.scheduling.errors import (
    InvalidSchedulingInput,
    NotFound,
    OrderRequired,
    SchedulingError,
    SlotTaken,
    WrongStatus,
)
from careline.telephony import errors as telephony_errors
from careline.web.exceptions import BadSignature, CsrfFailed, Forbidden, NotSignedIn
from careline.web.templates import render

log = structlog.get_logger("careline.web")

DOMAIN_STATUS: dict[type[Exception], int] = {
    UserNotFound: 404,
    UsernameTaken: 409,
    InvalidUserInput: 422,
    InvalidCredentials: 401,
    InvalidTotp: 401,
    AccountLocked: 429,
    AuditUnavailable: 503,
    PatientNotFound: 404,
    InvalidPhone: 422,
    InvalidPatientInput: 422,
    DuplicatePatient: 409,
    RestrictedRecord: 403,
    IdentityNotVerified: 428,  # Precondition Required: verify the caller first
    VerificationLocked: 423,
    NotFound: 404,
    InvalidSchedulingInput: 422,
    OrderRequired: 422,
    SlotTaken: 409,
    WrongStatus: 409,
    routing_errors.NotFound: 404,
    routing_errors.InvalidRoutingInput: 422,
    routing_errors.WrongState: 409,
    routing_errors.NotYours: 403,
    routing_errors.NoCapacity: 409,
    telephony_errors.UnknownCall: 404,
    telephony_errors.InvalidTelephonyInput: 422,
    telephony_errors.NotConfigured: 409,
    messaging_errors.InvalidMessage: 422,
    messaging_errors.NotFound: 404,
    messaging_errors.Blocked: 409,
    messaging_errors.ChatClosed: 410,
    messaging_errors.TooManyTries: 429,
    messaging_errors.TooLarge: 413,
    messaging_errors.NotConfigured: 409,
}


BAD_SIGNATURE = "The request's signature is not valid."


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/fhir/", "/chat/api/"))


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return JSONResponse(body | extra, status_code=status, media_type="application/problem+json")


def _error_page(request: Request, status: int, detail: str) -> Response:
    return render(request, "web/error.html", {"status": status, "title": HTTPStatus(status).phrase,
                                              "detail": detail}, status_code=status)


def respond(request: Request, status: int, detail: str, **extra: Any) -> Response:
    return problem(status, detail, **extra) if wants_json(request) else _error_page(request, status, detail)


async def _not_signed_in(request: Request, _exc: Exception) -> Response:
    if wants_json(request):
        response = problem(401, "Sign in or send a valid bearer token.")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


async def _forbidden(request: Request, _exc: Exception) -> Response:
    return respond(request, 403, "Your role does not give access to this page.")


async def _bad_signature(request: Request, _exc: Exception) -> Response:
    """The providers ignore the body (Twilio only logs the status); the integrator of a PBX reads it."""
    if wants_json(request):
        return problem(403, BAD_SIGNATURE)
    return PlainTextResponse(BAD_SIGNATURE, status_code=403)


async def _csrf_failed(request: Request, _exc: Exception) -> Response:
    return respond(request, 403, "This form has expired or did not come from Careline. Reload the page and try again.")


async def _domain_error(request: Request, exc: Exception) -> Response:
    status = next(code for kind, code in DOMAIN_STATUS.items() if isinstance(exc, kind))
    if isinstance(exc, AuditUnavailable):
        log.error("audit_unavailable", action=str(exc))
        return respond(request, status, "The audit trail could not be written, so nothing was shown or changed.")
    return respond(request, status, str(exc), **_error_fields(exc))


def _error_fields(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, InvalidUserInput | InvalidPatientInput | InvalidSchedulingInput
                  | routing_errors.InvalidRoutingInput | telephony_errors.InvalidTelephonyInput
                  | messaging_errors.InvalidMessage):
        return {"field": exc.field}
    if isinstance(exc, SlotTaken):
        return {"next_options": [option.model_dump(mode="json") for option in exc.next_options]}
    if isinstance(exc, OrderRequired):
        return {"field": "order_override"}
    if isinstance(exc, InvalidPhone):
        return {"field": "phone"}
    if isinstance(exc, DuplicatePatient):
        return {"candidates": [str(candidate) for candidate in exc.candidates]}
    return {}


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The submitted values are left out on purpose: they may be PHI.
    errors = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", "")} for err in exc.errors()]
    if wants_json(request):
        return problem(422, "The request is not valid.", errors=errors)
    message = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
    return _error_page(request, 400, f"Some fields are not valid — {message}")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    response = respond(request, exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def _database_busy(request: Request, exc: Exception) -> Response:
    """No connection came free in time, or SQLite stayed locked: say so and when to retry, not a 500."""
    log.warning("database_busy", error_type=type(exc).__name__, route=getattr(request.scope.get("route"), "path", None))
    response = respond(request, 503, "The database is busy. Nothing was changed; please try again in a moment.")
    response.headers["Retry-After"] = "2"
    return response


def unexpected_error(request: Request, exc: Exception) -> Response:
    """The 500 answer. Logs the error's type and route only: messages (a database's DETAIL line) may hold PHI."""
    route = getattr(request.scope.get("route"), "path", None)
    log.error("unhandled_error", error_type=type(exc).__name__, route=route)
    return respond(request, 500, "Something went wrong on our side. It has been logged; please try again.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(BadSignature, _bad_signature)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(AuthError, _domain_error)
    app.add_exception_handler(AuditUnavailable, _domain_error)
    app.add_exception_handler(PatientError, _domain_error)
    app.add_exception_handler(SchedulingError, _domain_error)
    app.add_exception_handler(routing_errors.RoutingError, _domain_error)
    app.add_exception_handler(telephony_errors.TelephonyError, _domain_error)
    app.add_exception_handler(messaging_errors.MessagingError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, _database_busy)
    app.add_exception_handler(sqlalchemy.exc.OperationalError, _database_busy)
    app.add_exception_handler(StarletteHTTPException, _http_error)
