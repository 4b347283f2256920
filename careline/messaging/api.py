"""Agents answer threads, admins keep templates and the outbox: messaging's JSON API."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from careline.messaging.schemas import ConversationRead, Preview, ReplyIn, TemplateIn, TemplateRead
from careline.messaging.service import templates, threads
from careline.web.deps import AdminOnly, PatientWorkers, Uow
from careline.worker import service as outbox_admin

router = APIRouter(prefix="/api", tags=["messaging"])


@router.get("/contacts/{interaction_id}/conversation")
def conversation(interaction_id: UUID, uow: Uow, actor: PatientWorkers) -> ConversationRead:
    return threads.for_contact(uow, actor, interaction_id)


@router.post("/contacts/{interaction_id}/messages", status_code=201)
def reply(interaction_id: UUID, data: ReplyIn, request: Request, uow: Uow, actor: PatientWorkers) -> ConversationRead:
    return threads.reply(uow, actor, request.app.state.settings, interaction_id, data)


@router.get("/messaging/templates")
def list_templates(uow: Uow, _: AdminOnly) -> list[TemplateRead]:
    return templates.all_templates(uow)


@router.put("/messaging/templates")
def save_template(data: TemplateIn, request: Request, uow: Uow, actor: AdminOnly) -> TemplateRead:
    return templates.save(uow, actor, request.app.state.settings, data)


@router.post("/messaging/templates/preview")
def preview_template(data: TemplateIn, request: Request, uow: Uow, _: AdminOnly) -> Preview:
    return templates.preview(uow, request.app.state.settings, data)


@router.get("/outbox")
def outbox(uow: Uow, _: AdminOnly, kind: str | None = None) -> outbox_admin.OutboxRead:
    return outbox_admin.outbox_state(uow, kind=kind)


@router.post("/outbox/redrive")
def redrive(data: outbox_admin.RedriveIn, uow: Uow, actor: AdminOnly) -> outbox_admin.Redriven:
    return outbox_admin.redrive(uow, actor, data)
