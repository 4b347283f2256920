"""The audit trail search page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from careline import audit
from careline.audit.schemas import AuditFilter
from careline.web.deps import AuditReaders, Uow
from careline.web.templates import render

router = APIRouter(include_in_schema=False)


def _page_href(criteria: AuditFilter, page: int) -> str:
    query = criteria.model_dump(mode="json", exclude_defaults=True) | {"page": page}
    return "/audit?" + urlencode(query)


@router.get("/audit")
def audit_trail(
    request: Request, actor: AuditReaders, uow: Uow, criteria: Annotated[AuditFilter, Query()]
) -> Response:
    results = audit.search(uow, actor, criteria)
    template = "audit/results.html" if request.headers.get("hx-request") else "audit/search.html"
    return render(request, template, {
        "criteria": criteria,
        "results": results,
        "newer_href": _page_href(criteria, results.page - 1) if results.page > 1 else None,
        "older_href": _page_href(criteria, results.page + 1) if results.has_next else None,
    })
