"""Each role lands on its own home page after signing in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from careline import audit
from careline.actor import Role
from careline.auth import service as auth_service
from careline.patients.service import access as patient_access
from careline.web.deps import AnyRole, Uow
from careline.web.templates import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, actor: AnyRole, uow: Uow) -> Response:
    settings = request.app.state.settings
    # While texts go to the local sink, the simulated phone works: the demo's way to be the patient.
    context: dict[str, object] = {"account": auth_service.get_own_account(uow, actor),
                                  "try_channels": settings.sms_provider == "sink"}
    if actor.role in (Role.admin, Role.supervisor):
        context["team"] = auth_service.list_users(uow)
    if actor.role == Role.supervisor:
        context["alerts"] = patient_access.list_alerts(uow)
    if actor.role in (Role.admin, Role.auditor):
        context["audit_entries"] = audit.count_entries(uow)
    return render(request, f"home/{actor.role}.html", context)
