"""Sign-in, second factor, sign-out, the account page and the team (user) pages."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from careline.actor import Role
from careline.auth import service
from careline.auth.errors import AuthError, InvalidUserInput, UsernameTaken
from careline.auth.schemas import UserCreate
from careline.patients.service import access
from careline.routing.service import agents
from careline.web.csrf import SESSION_COOKIE
from careline.web.deps import AdminOnly, AnyRole, Policy, Public, TeamReaders, Uow, client_ip
from careline.web.errors import DOMAIN_STATUS
from careline.web.templates import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect after sign-in is a phishing tool."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


@router.get("/login")
def login_form(request: Request, actor: Public, next: str | None = None, reason: str | None = None) -> Response:
    if actor.role is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    notice = "You were signed out after a period of inactivity." if reason == "idle" else None
    return render(request, "auth/login.html", {"next": _safe_next(next), "notice": notice})


@router.post("/login")
def login(
    request: Request, _actor: Public, uow: Uow, policy: Policy,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        outcome = service.authenticate(uow, policy, username=username, password=password,
                                       ip=client_ip(request))
    except AuthError as error:
        uow.commit()  # keep the failure count and its audit entry
        return render(request, "auth/login.html",
                      {"error": str(error), "username": username, "next": _safe_next(next)},
                      status_code=DOMAIN_STATUS.get(type(error), 400))
    target = f"/login/totp?next={_safe_next(next)}" if outcome.mfa_required else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, outcome.session_token)
    return response


@router.get("/login/totp")
def totp_form(request: Request, _actor: Public, next: str | None = None) -> Response:
    return render(request, "auth/totp.html", {"next": _safe_next(next)})


@router.post("/login/totp")
def totp_submit(
    request: Request, _actor: Public, uow: Uow, policy: Policy,
    code: Annotated[str, Form(max_length=12)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        outcome = service.complete_second_factor(uow, policy, session_token=token, code=code, ip=client_ip(request))
    except AuthError as error:
        uow.commit()  # keep the failure count and its audit entry
        return render(request, "auth/totp.html", {"error": str(error), "next": _safe_next(next)},
                      status_code=DOMAIN_STATUS.get(type(error), 401))
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_session_cookie(request, response, outcome.session_token)
    return response


@router.post("/logout")
def logout(request: Request, actor: Public, uow: Uow) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.sign_out(uow, actor, session_token=token)
    if actor.user_id is not None:
        access.end_contacts(uow, actor.user_id)
        agents.sign_off(uow, actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account(request: Request, actor: AnyRole, uow: Uow) -> Response:
    return render(request, "auth/account.html", {"user": service.get_own_account(uow, actor)})


@router.post("/account/totp")
def totp_begin(request: Request, actor: AnyRole, uow: Uow, policy: Policy) -> Response:
    try:
        enrolment = service.begin_totp_enrolment(uow, policy, actor)
    except InvalidUserInput as error:
        return render(request, "auth/account.html", {"user": service.get_own_account(uow, actor),
                                                     "totp_error": str(error)}, status_code=409)
    return render(request, "auth/account.html",
                  {"user": service.get_own_account(uow, actor), "enrolment": enrolment})


@router.post("/account/totp/confirm")
def totp_confirm(
    request: Request, actor: AnyRole, uow: Uow, policy: Policy, code: Annotated[str, Form(max_length=12)]
) -> Response:
    try:
        service.confirm_totp_enrolment(uow, policy, actor, code=code)
    except AuthError as error:
        return render(request, "auth/account.html",
                      {"user": service.get_own_account(uow, actor), "totp_error": str(error)},
                      status_code=401)
    return RedirectResponse("/account?totp=on", status_code=303)


@router.get("/admin/users")
def team(request: Request, actor: TeamReaders, uow: Uow) -> Response:
    return render(request, "auth/users.html", {"users": service.list_users(uow), "roles": list(Role)})


@router.post("/admin/users")
def create_user(
    request: Request, actor: AdminOnly, uow: Uow,
    username: Annotated[str, Form(max_length=150)],
    display_name: Annotated[str, Form(max_length=200)],
    role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        user = service.create_user(uow, actor, UserCreate(
            username=username, display_name=display_name or username, role=role, password=password))
    except (InvalidUserInput, UsernameTaken) as error:
        form = {"username": username, "display_name": display_name, "role": role}
        return render(request, "auth/users.html",
                      {"users": service.list_users(uow), "roles": list(Role), "form": form,
                       "form_error": str(error)}, status_code=DOMAIN_STATUS[type(error)])
    return RedirectResponse(f"/admin/users/{user.id}", status_code=303)


@router.get("/admin/users/{user_id}")
def user_detail(request: Request, actor: TeamReaders, uow: Uow, user_id: UUID) -> Response:
    return render(request, "auth/user.html", {"user": service.get_user(uow, actor, user_id)})
