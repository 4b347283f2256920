"""The "Simulated phone" page of the demo: pick a patient's number (or type one), text the center's number, and
see the conversation as that phone sees it. Clearly a simulation; refused unless texts go to the local sink."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.messaging import simulator
from careline.messaging.errors import InvalidMessage
from careline.messaging.pages import local_clock
from careline.patients.policy import PatientPolicy
from careline.telephony.demo import DEMO_NUMBER
from careline.web.deps import AnyRole, PatientRules, Uow
from careline.web.templates import render

router = APIRouter(include_in_schema=False)

PAGE = "/simulator/phone"
POLL_SECONDS = 3


@router.get(PAGE)
def phone_page(request: Request, uow: Uow, actor: AnyRole, rules: PatientRules, number: str = "",
               after: str = "") -> Response:
    settings = request.app.state.settings
    simulator.check_enabled(settings)
    lines = simulator.screen(uow, rules, number) if number else []
    if request.headers.get("hx-request") != "true":
        return _page(request, uow, actor, rules, number=number, lines=lines)
    # The open page asks for its screen again: nothing to swap unless a text came since its last one.
    if not lines or lines[-1].at.isoformat() == after:
        return Response(status_code=204)
    return render(request, "messaging/_phone_screen.html", {
        "number": number, "lines": lines, "poll_seconds": POLL_SECONDS, "news": _news(lines[-1]),
        "local": local_clock(request)})


@router.post(PAGE)
def phone_send(request: Request, uow: Uow, actor: AnyRole, rules: PatientRules,
               number: Annotated[str, Form(max_length=40)] = "",
               body: Annotated[str, Form(max_length=1600)] = "") -> Response:
    try:
        simulator.text(uow, rules, request.app.state.settings, number=number, body=body)
    except InvalidMessage as error:
        return _page(request, uow, actor, rules, number=number, body=body, problem=error, status_code=422)
    shown = simulator.number_of(rules, number)
    return RedirectResponse(f"{PAGE}?number={shown.replace('+', '%2B')}", status_code=303)


def _page(request: Request, uow: UnitOfWork, actor: Actor, rules: PatientPolicy, *, number: str,
          lines: list[simulator.PhoneLine] | None = None,
          body: str = "", problem: InvalidMessage | None = None, status_code: int = 200) -> Response:
    return render(request, "messaging/phone.html", {
        "number": number, "lines": lines or [], "body": body, "problem": problem, "center": DEMO_NUMBER,
        "poll_seconds": POLL_SECONDS, "numbers": simulator.demo_numbers(uow, actor, rules),
        "local": local_clock(request)}, status_code=status_code)


def _news(line: simulator.PhoneLine) -> str:
    """What a screen reader says when the screen changes by itself."""
    return f"{'You sent' if line.sent else 'New text from the center'}: {line.body}"
