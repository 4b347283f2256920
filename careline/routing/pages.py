"""The agent desktop and the supervisor wallboard.

Both pages are server-rendered fragments that htmx swaps in; only the live part (the event streams, the offer
banner, the clocks and the keyboard shortcuts) is script: ``web/static/live.js``, ``desktop.js``,
``wallboard.js``. Every action is a plain form post as well: an htmx request gets its fragment back (a refusal
with its message and status), a plain one goes back to the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from careline.actor import Actor, Role
from careline.db import utcnow
from careline.patients.errors import PatientError
from careline.patients.schemas import PatientCreate, PhoneIn
from careline.routing.errors import NotFound, RoutingError
from careline.routing.rules import AgentState, Channel, Reason, Status
from careline.routing.schemas import AgentRead, InteractionRead, RequeueIn, StateIn, TransferIn, WrapUpIn
from careline.routing.service import agents, board, callers, desktop, interactions, offers, setup
from careline.routing.service.history import CHANNEL_NAMES, channel_name, duration, reason_name
from careline.web.deps import PatientRules, PatientWorkers, Supervisors, TeamReaders, Uow
from careline.web.errors import DOMAIN_STATUS
from careline.web.templates import render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

# The states an agent chooses, in the order of their shortcuts (Alt+1 … Alt+6).
STATE_CHOICES = (AgentState.available, AgentState.break_, AgentState.lunch, AgentState.training,
                 AgentState.meeting, AgentState.offline)
STATE_NAMES = {"available": "Available", "busy": "On a contact", "wrap_up": "Wrap-up", "not_ready": "Not ready",
               "break": "Break", "lunch": "Lunch", "training": "Training", "meeting": "Meeting",
               "offline": "Offline"}
TEXT_CHANNELS = frozenset({Channel.sms, Channel.email, Channel.chat})
LIVE_STATUSES = [Status.queued, Status.offered, Status.connected]
LIVE_SHOWN = 100


def clock(seconds: float) -> str:
    """A running time as the clocks show it: '0:42', '12:05', '1:02:05' (live.js counts on the same way)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def started(now: datetime, seconds: float) -> datetime:
    """When a running figure began, so its clock keeps counting between two refreshes of the page."""
    return now - timedelta(seconds=seconds)


WORDS = {"channel_name": channel_name, "reason_name": reason_name, "duration": duration, "clock": clock,
         "started": started, "state_names": STATE_NAMES}


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def _status_of(error: Exception) -> int:
    return next((code for kind, code in DOMAIN_STATUS.items() if isinstance(error, kind)), 422)


def _attempt(uow: Uow, work: Callable[[], T]) -> T:
    """Run one action in a savepoint: a refusal undoes whatever the action wrote before it was refused, so the
    request can commit and show the refusal alone."""
    with uow.savepoint():
        return work()


# --- the desktop ---------------------------------------------------------------------------------------------


@router.get("/desktop")
def desktop_page(request: Request, actor: PatientWorkers, uow: Uow) -> Response:
    try:
        work = desktop.my_work(uow, actor)
    except NotFound:
        return render(request, "routing/no_profile.html", {})
    # What the script shows in the offer banner, in the words the pages use.
    banner_words = {"channels": CHANNEL_NAMES, "reasons": {reason.value: reason_name(reason) for reason in Reason}}
    return render(request, "routing/desktop.html", _state_context(work.agent)
                  | _contacts_context(uow, work.contacts) | {"banner_words": banner_words})


def _state_context(agent: AgentRead, message: str | None = None) -> dict[str, Any]:
    return {"agent": agent, "choices": STATE_CHOICES, "now": utcnow(), "state_message": message} | WORDS


def _show_state(request: Request, agent: AgentRead, *, message: str | None = None, status: int = 200) -> Response:
    if not _is_htmx(request) and status < 400:
        return RedirectResponse("/desktop", status_code=303)
    return render(request, "routing/_state.html", _state_context(agent, message), status_code=status)


@router.get("/desktop/state")
def state_panel(request: Request, actor: PatientWorkers, uow: Uow) -> Response:
    return render(request, "routing/_state.html", _state_context(desktop.my_work(uow, actor).agent))


@router.post("/desktop/state")
def choose_state(request: Request, actor: PatientWorkers, uow: Uow,
                 state: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        chosen = _attempt(uow, lambda: agents.set_own_state(uow, actor, StateIn(state=AgentState(state))))
    except (ValueError, RoutingError) as error:
        message = str(error) if isinstance(error, RoutingError) else "Choose one of the states shown."
        return _show_state(request, desktop.my_work(uow, actor).agent, message=message, status=422)
    return _show_state(request, chosen)


def _contacts_context(uow: Uow, contacts: list[InteractionRead], *, message: str | None = None,
                      problem: bool = False, open_record: UUID | None = None) -> dict[str, Any]:
    return {"contacts": contacts, "dispositions": setup.list_dispositions(uow),
            "queues": [queue.name for queue in setup.list_queues(uow) if queue.active],
            "text_channels": TEXT_CHANNELS, "message": message, "problem": problem, "open_record": open_record,
            "now": utcnow()} | WORDS


def _show_contacts(request: Request, uow: Uow, actor: Actor, *, message: str | None = None, status: int = 200,
                   open_record: UUID | None = None) -> Response:
    if not _is_htmx(request) and status < 400:
        return RedirectResponse("/desktop", status_code=303)
    context = _contacts_context(uow, desktop.my_work(uow, actor).contacts, message=message, problem=status >= 400,
                                open_record=open_record)
    return render(request, "routing/_contacts.html", context, status_code=status)


def _act(request: Request, uow: Uow, actor: Actor, work: Callable[[], T], said: Callable[[T], str], *,
         opens_record: bool = False) -> Response:
    """One action on the agent's work, then their contacts again with what it did, or with the refusal."""
    try:
        result = _attempt(uow, work)
    except RoutingError as error:
        return _show_contacts(request, uow, actor, message=str(error), status=_status_of(error))
    opened = result.id if opens_record and isinstance(result, InteractionRead) else None
    return _show_contacts(request, uow, actor, message=said(result), open_record=opened)


@router.get("/desktop/contacts")
def contacts_panel(request: Request, actor: PatientWorkers, uow: Uow) -> Response:
    return render(request, "routing/_contacts.html",
                  _contacts_context(uow, desktop.my_work(uow, actor).contacts))


@router.post("/desktop/offers/{assignment_id}/accept")
def accept_offer(request: Request, actor: PatientWorkers, uow: Uow, assignment_id: UUID) -> Response:
    return _act(request, uow, actor, lambda: offers.accept(uow, actor, assignment_id),
                lambda accepted: f"Connected: {channel_name(accepted.channel)} from the {accepted.queue} queue.",
                opens_record=True)


@router.post("/desktop/offers/{assignment_id}/reject")
def reject_offer(request: Request, actor: PatientWorkers, uow: Uow, assignment_id: UUID) -> Response:
    return _act(request, uow, actor, lambda: offers.reject(uow, actor, assignment_id),
                lambda _none: "Declined: the contact goes to the next agent.")


@router.post("/desktop/contacts/{interaction_id}/hold")
def hold(request: Request, actor: PatientWorkers, uow: Uow, interaction_id: UUID,
         on: Annotated[bool, Form()] = True) -> Response:
    """Put the caller on hold, or (``on=false``) take them off it."""
    move = interactions.hold if on else interactions.resume
    return _act(request, uow, actor, lambda: move(uow, actor, interaction_id),
                lambda _contact: "The caller is on hold." if on else "Back with the caller.")


@router.post("/desktop/contacts/{interaction_id}/end")
def end(request: Request, actor: PatientWorkers, uow: Uow, interaction_id: UUID) -> Response:
    return _act(request, uow, actor, lambda: interactions.end(uow, actor, interaction_id),
                lambda ended: "Ended. Wrap up before the time runs out." if ended.status == Status.wrap_up
                else "Ended and closed.")


@router.post("/desktop/contacts/{interaction_id}/transfer")
def transfer(request: Request, actor: PatientWorkers, uow: Uow, interaction_id: UUID,
             queue: Annotated[str, Form(max_length=60)] = "") -> Response:
    return _act(request, uow, actor,
                lambda: interactions.transfer(uow, actor, interaction_id, TransferIn(queue=queue or None)),
                lambda moved: f"Transferred to the {moved.queue} queue.")


@router.post("/desktop/contacts/{interaction_id}/notes")
def save_notes(request: Request, actor: PatientWorkers, uow: Uow, interaction_id: UUID,
               notes: Annotated[str, Form(max_length=4000)] = "") -> Response:
    return _act(request, uow, actor, lambda: interactions.write_notes(uow, actor, interaction_id, notes),
                lambda _saved: "Notes saved.")


@router.post("/desktop/contacts/{interaction_id}/wrap-up")
def wrap_up(request: Request, actor: PatientWorkers, uow: Uow, interaction_id: UUID,
            disposition: Annotated[str, Form(max_length=40)] = "", notes: Annotated[str, Form(max_length=4000)] = "",
            resolved: Annotated[bool, Form()] = False) -> Response:
    if not disposition:
        return _show_contacts(request, uow, actor, message="Choose how the contact ended (the disposition).",
                              status=422)
    labels = {code.code: code.label for code in setup.list_dispositions(uow)}
    return _act(request, uow, actor, lambda: interactions.finish(
        uow, actor, interaction_id, WrapUpIn(disposition=disposition, notes=notes or None, resolved=resolved)),
        lambda done: f"Wrapped up: {labels.get(done.disposition or '', 'no disposition')}.")


# --- who is calling: the candidates on a shared number, or a new caller ----------------------------------------


@router.get("/desktop/contacts/{interaction_id}/record")
def caller_record(request: Request, actor: PatientWorkers, uow: Uow, policy: PatientRules,
                  interaction_id: UUID) -> Response:
    """The caller's 360 page when the contact names a patient; else who it may be, or a new patient."""
    contact, candidates = callers.who_is_calling(uow, actor, policy, interaction_id)
    if contact.patient_id is not None:
        return RedirectResponse(f"/patients/{contact.patient_id}", status_code=303)
    return _show_caller(request, contact, candidates)


def _show_caller(request: Request, contact: InteractionRead, candidates: list[Any], *, message: str | None = None,
                 typed: dict[str, str] | None = None, status: int = 200) -> Response:
    phone = contact.address if contact.channel not in TEXT_CHANNELS or contact.channel == Channel.sms else None
    template = "routing/_caller.html" if request.headers.get("hx-request") else "routing/caller_page.html"
    return render(request, template, {
        "contact": contact, "candidates": candidates, "message": message, "typed": typed or {"phone": phone or ""},
    }, status_code=status)


@router.post("/desktop/contacts/{interaction_id}/caller")
def choose_caller(request: Request, actor: PatientWorkers, uow: Uow, policy: PatientRules, interaction_id: UUID,
                  patient_id: Annotated[UUID, Form()]) -> Response:
    try:
        _attempt(uow, lambda: callers.identify(uow, actor, policy, interaction_id, patient_id))
    except RoutingError as error:
        return _caller_again(request, uow, actor, policy, interaction_id, str(error), _status_of(error))
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


def _caller_again(request: Request, uow: Uow, actor: Actor, policy: PatientRules, interaction_id: UUID,
                  message: str, status: int, typed: dict[str, str] | None = None) -> Response:
    contact, candidates = callers.who_is_calling(uow, actor, policy, interaction_id)
    return _show_caller(request, contact, candidates, message=message, typed=typed, status=status)


class NewCaller(BaseModel):
    """The new-patient form, kept as typed so a refusal shows it again."""

    given_names: str = Field(default="", max_length=150)
    family_name: str = Field(default="", max_length=100)
    birth_date: str = Field(default="", max_length=20)
    phone: str = Field(default="", max_length=40)

    def patient(self) -> PatientCreate:
        """Raises ValueError (a ValidationError among them) for a missing name or a malformed date."""
        return PatientCreate(given_names=self.given_names.strip(), family_name=self.family_name.strip(),
                             birth_date=date.fromisoformat(self.birth_date),
                             phones=[PhoneIn(number=self.phone)] if self.phone.strip() else [])


@router.post("/desktop/contacts/{interaction_id}/new-caller")
def new_caller(request: Request, actor: PatientWorkers, uow: Uow, policy: PatientRules, interaction_id: UUID,
               form: Annotated[NewCaller, Form()]) -> Response:
    try:
        data = form.patient()
    except ValueError:
        return _caller_again(request, uow, actor, policy, interaction_id,
                             "Give the caller's first and last name and a valid date of birth.", 422, form.model_dump())
    try:
        named = _attempt(uow, lambda: callers.register(uow, actor, policy, interaction_id, data))
    except (PatientError, RoutingError) as error:
        return _caller_again(request, uow, actor, policy, interaction_id, str(error), _status_of(error),
                             form.model_dump())
    return RedirectResponse(f"/patients/{named.patient_id}", status_code=303)


# --- the wallboard ------------------------------------------------------------------------------------------


def _board_context(request: Request, uow: Uow, actor: Actor, *, message: str | None = None,
                   problem: bool = False) -> dict[str, Any]:
    figures = board.wallboard(uow, zone=request.app.state.settings.center_time_zone)
    live = sorted(interactions.search(uow, statuses=LIVE_STATUSES, limit=LIVE_SHOWN),
                  key=lambda contact: contact.queued_at or contact.created_at)
    return {"board": figures, "live": live, "agent_names": {agent.agent_id: agent.name for agent in figures.agents},
            "queue_options": [(queue.name, queue.name) for queue in figures.queues],
            "state_options": [(state.value, STATE_NAMES[state]) for state in STATE_CHOICES],
            "manage": actor.role == Role.supervisor, "message": message, "problem": problem, "now": figures.at} | WORDS


def _show_board(request: Request, uow: Uow, actor: Actor, *, message: str | None = None,
                status: int = 200) -> Response:
    if not _is_htmx(request) and status < 400:
        return RedirectResponse("/wallboard", status_code=303)
    context = _board_context(request, uow, actor, message=message, problem=status >= 400)
    return render(request, "routing/_board.html", context, status_code=status)


@router.get("/wallboard")
def wallboard_page(request: Request, actor: TeamReaders, uow: Uow) -> Response:
    return render(request, "routing/wallboard.html", _board_context(request, uow, actor))


@router.get("/wallboard/board")
def board_panel(request: Request, actor: TeamReaders, uow: Uow) -> Response:
    return render(request, "routing/_board.html", _board_context(request, uow, actor))


@router.post("/wallboard/agents/{agent_id}/state")
def set_agent_state(request: Request, actor: Supervisors, uow: Uow, agent_id: UUID,
                    state: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        chosen = StateIn(state=AgentState(state))
        moved = _attempt(uow, lambda: agents.set_state_of(uow, actor, agent_id, chosen))
    except ValueError:
        return _show_board(request, uow, actor, message="Choose one of the states shown.", status=422)
    except RoutingError as error:
        return _show_board(request, uow, actor, message=str(error), status=_status_of(error))
    return _show_board(request, uow, actor, message=f"{moved.name} is now {STATE_NAMES[moved.state].lower()}.")


@router.post("/wallboard/interactions/{interaction_id}/requeue")
def requeue(request: Request, actor: Supervisors, uow: Uow, interaction_id: UUID,
            queue: Annotated[str, Form(max_length=60)] = "") -> Response:
    try:
        moved = _attempt(uow, lambda: interactions.requeue(uow, actor, interaction_id, RequeueIn(queue=queue or None)))
    except RoutingError as error:
        return _show_board(request, uow, actor, message=str(error), status=_status_of(error))
    return _show_board(request, uow, actor, message=f"Back in line in the {moved.queue} queue.")
