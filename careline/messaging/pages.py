"""Messaging's pages: a contact's thread on the agent's desktop, message templates, sent messages (the local sink),
and the outbox's given-up rows.

The thread is a fragment the desktop's contact card loads (and reloads when the agent's stream says so); the
admin pages are plain forms, with htmx for the template's live preview.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from careline.messaging.errors import MessagingError
from careline.messaging.rules import PHI_FIELDS, SMS_LIMIT, Channel
from careline.messaging.schemas import Preview, ReplyIn, TemplateIn
from careline.messaging.service import admin, desk, templates, threads
from careline.routing.errors import RoutingError
from careline.routing.service.history import channel_name, duration
from careline.web.deps import AdminOnly, PatientWorkers, Uow
from careline.web.errors import DOMAIN_STATUS
from careline.web.templates import render
from careline.worker import service as outbox_admin

router = APIRouter(include_in_schema=False)

STATUS_WORDS = {"queued": "Queued", "held": "Held", "sending": "Sending", "sent": "Sent", "delivered": "Delivered",
                "undelivered": "Not delivered", "failed": "Failed", "blocked": "Not sent", "received": "Received"}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
KIND_NAMES = {"opt_out_confirmation": "STOP confirmation", "opt_in_confirmation": "START confirmation",
              "help": "HELP answer", "chat_transcript": "Chat transcript"}
SENT_CHANNELS = (Channel.sms.value, Channel.email.value)  # chat lines go straight to the browser, no provider
OPT_OUT_SOURCES = {"keyword": "replied", "carrier": "carrier error", "agent": "by an agent", "admin": "by an admin"}


def _status_of(error: Exception) -> int:
    return next((code for kind, code in DOMAIN_STATUS.items() if isinstance(error, kind)), 422)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def local_clock(request: Request) -> Any:
    """Times as the center's clock shows them, named, on every messaging page alike: 'Nov 27 3:05 PM EST'."""
    zone = ZoneInfo(request.app.state.settings.center_time_zone)
    return lambda at: datetime.astimezone(at, zone).strftime("%b %-d %-I:%M %p %Z")


# --- the desktop's thread ------------------------------------------------------------------------------------


def _show_thread(request: Request, uow: Uow, actor: PatientWorkers, interaction_id: UUID, *,
                 message: str | None = None, status: int = 200, draft: str = "") -> Response:
    try:
        shown = desk.thread_of(uow, actor, interaction_id)
    except (MessagingError, RoutingError) as error:
        return render(request, "messaging/_thread_gone.html", {"message": str(error)}, status_code=_status_of(error))
    return render(request, "messaging/_thread.html", {
        "thread": shown, "c": shown.conversation, "interaction_id": interaction_id, "message": message,
        "problem": status >= 400, "draft": draft, "status_words": STATUS_WORDS, "channel_name": channel_name,
        "sources": OPT_OUT_SOURCES, "sms_limit": SMS_LIMIT,
        "local": local_clock(request)}, status_code=status)


@router.get("/desktop/contacts/{interaction_id}/conversation")
def thread_panel(request: Request, actor: PatientWorkers, uow: Uow, interaction_id: UUID) -> Response:
    return _show_thread(request, uow, actor, interaction_id)


@router.post("/desktop/contacts/{interaction_id}/messages")
def send_reply(request: Request, actor: PatientWorkers, uow: Uow, interaction_id: UUID,
               body: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    try:
        data = ReplyIn(body=body)
    except ValidationError:
        return _show_thread(request, uow, actor, interaction_id, message="Write a message before sending.",
                            status=422)
    try:
        with uow.savepoint():
            threads.reply(uow, actor, request.app.state.settings, interaction_id, data)
    except (MessagingError, RoutingError) as error:
        return _show_thread(request, uow, actor, interaction_id, message=str(error), status=_status_of(error),
                            draft=body)
    if not _is_htmx(request):
        return RedirectResponse("/desktop", status_code=303)
    return _show_thread(request, uow, actor, interaction_id)


@router.post("/desktop/contacts/{interaction_id}/typing", status_code=204)
def typing(actor: PatientWorkers, uow: Uow, interaction_id: UUID) -> Response:
    """The agent is writing: a chat's patient sees "typing…". A contact no longer theirs is ignored."""
    try:
        with uow.savepoint():
            threads.agent_typing(uow, actor, interaction_id)
    except (MessagingError, RoutingError):
        pass  # a notice of typing is best effort: the reply itself says what went wrong
    return Response(status_code=204)


@router.get("/desktop/attachments/{attachment_id}")
def download_attachment(actor: PatientWorkers, uow: Uow, attachment_id: UUID) -> Response:
    filename, content_type, data = threads.attachment(uow, actor, attachment_id)
    # Always a download, never shown inline: a patient's file must not run as a page of ours.
    return Response(data, media_type=content_type or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff"})


# --- templates -----------------------------------------------------------------------------------------------

TEMPLATES_PAGE = "/admin/templates"


def _templates_context(uow: Uow, request: Request, *, editing: dict[str, Any] | None, message: str | None = None,
                       field: str | None = None, done: str | None = None) -> dict[str, Any]:
    rows = templates.all_templates(uow)
    preview = _preview(uow, request, TemplateForm(**editing)) if editing is not None else None
    return {"rows": rows, "editing": editing, "preview": preview, "message": message, "field": field, "done": done,
            "language_names": LANGUAGE_NAMES, "kind_names": KIND_NAMES, "channel_name": channel_name,
            "phi_fields": sorted(PHI_FIELDS), "channels": [c.value for c in Channel]}


def _preview(uow: Uow, request: Request, form: TemplateForm) -> Preview | None:
    try:
        data = form.template()
    except ValidationError:
        return None
    return templates.preview(uow, request.app.state.settings, data)


@router.get(TEMPLATES_PAGE)
def templates_page(request: Request, uow: Uow, _: AdminOnly, kind: str = "", channel: str = "",
                   language: str = "", saved: str = "") -> Response:
    editing = next(({"kind": row.kind, "channel": row.channel, "language": row.language, "subject": row.subject or "",
                     "body": row.body, "allow_phi": bool(row.phi_fields)}
                    for row in templates.all_templates(uow)
                    if (row.kind, row.channel, row.language) == (kind, channel, language)), None)
    if editing is None and kind:
        editing = {"kind": kind, "channel": channel or "sms", "language": language or "en", "subject": "",
                   "body": "", "allow_phi": False}
    done = f"Saved the {saved} template." if saved else None
    return render(request, "messaging/templates.html",
                  _templates_context(uow, request, editing=editing, done=done))


class TemplateForm(BaseModel):
    """The template editor's fields, kept as typed so a refusal shows them again."""

    kind: str = Field(default="", max_length=40)
    channel: str = Field(default="sms", max_length=10)
    language: str = Field(default="en", max_length=8)
    subject: str = Field(default="", max_length=300)
    body: str = Field(default="", max_length=20_000)
    allow_phi: bool = False

    def template(self) -> TemplateIn:
        """Raises ValidationError for a field that is not valid."""
        return TemplateIn(kind=self.kind.strip(), channel=self.channel, language=self.language.strip(),
                          subject=self.subject or None, body=self.body, allow_phi=self.allow_phi)


@router.post(TEMPLATES_PAGE)
def save_template(request: Request, uow: Uow, actor: AdminOnly, form: Annotated[TemplateForm, Form()]) -> Response:
    try:
        data = form.template()
        with uow.savepoint():
            templates.save(uow, actor, request.app.state.settings, data)
    except ValidationError as error:
        where = str(error.errors()[0]["loc"][0]) if error.errors() else "body"
        message = "Write the message." if where == "body" else f"Choose or write a valid {where}."
        return render(request, "messaging/templates.html", _templates_context(
            uow, request, editing=form.model_dump(), message=message, field=where), status_code=422)
    except MessagingError as error:
        return render(request, "messaging/templates.html", _templates_context(
            uow, request, editing=form.model_dump(), message=str(error), field=getattr(error, "field", "body")),
            status_code=_status_of(error))
    name = f"{KIND_NAMES.get(data.kind, data.kind)} ({channel_name(data.channel)}, " \
           f"{LANGUAGE_NAMES.get(data.language, data.language)})"
    return RedirectResponse(f"{TEMPLATES_PAGE}?saved={quote(name)}", status_code=303)


@router.post(f"{TEMPLATES_PAGE}/preview")
def preview_template(request: Request, uow: Uow, _: AdminOnly, form: Annotated[TemplateForm, Form()]) -> Response:
    return render(request, "messaging/_preview.html", {"preview": _preview(uow, request, form)})


# --- sent messages and the outbox ----------------------------------------------------------------------------


@router.get("/admin/sent-messages")
def sent_messages_page(request: Request, uow: Uow, actor: AdminOnly, channel: str = "") -> Response:
    chosen = channel if channel in SENT_CHANNELS else None
    settings = request.app.state.settings
    return render(request, "messaging/sent_messages.html", {
        "messages": admin.sent_messages(uow, actor, channel=chosen), "channel": chosen or "",
        "channels": SENT_CHANNELS, "channel_name": channel_name, "file": admin.sink_file(settings),
        "providers": {"sms": settings.sms_provider, "email": settings.email_provider}, "local": local_clock(request)})


@router.get("/admin/outbox")
def outbox_page(request: Request, uow: Uow, _: AdminOnly, redriven: int | None = None) -> Response:
    state = outbox_admin.outbox_state(uow)
    kinds = sorted({count.kind for count in state.counts} | {row.kind for row in state.dead})
    table = {(count.kind, count.status): count.rows for count in state.counts}
    return render(request, "messaging/outbox.html", {
        "state": state, "kinds": kinds, "table": table, "kind_name": outbox_admin.kind_name, "redriven": redriven,
        "age": duration})


@router.post("/admin/outbox/redrive")
def redrive(uow: Uow, actor: AdminOnly, ids: Annotated[list[UUID] | None, Form()] = None,
            kind: Annotated[str, Form(max_length=60)] = "") -> Response:
    done = outbox_admin.redrive(uow, actor, outbox_admin.RedriveIn(ids=ids or [], kind=kind or None))
    return RedirectResponse(f"/admin/outbox?redriven={done.redriven}", status_code=303)
