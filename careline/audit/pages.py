"""The audit trail search page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from careline import audit
from careline.audit.schemas import AuditFilter
from careline.web.deps import AuditReaders, Uow
from careline.web.templates import render

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_trail(
    request: Request, actor: AuditReaders, uow: Uow, criteria: Annotated[AuditFilter, Query()]
) -> Response:
    results = audit.search(uow, actor, criteria)
    template = "audit/results.html" if request.headers.get("hx-request") else "audit/search.html"
    return render(request, template, {"criteria": criteria, "results": results})
