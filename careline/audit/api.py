"""JSON search over the audit trail, for admins and auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from careline import audit
from careline.audit.schemas import AuditFilter, AuditPage
from careline.web.deps import AuditReaders, Uow

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit")
def search_audit(actor: AuditReaders, uow: Uow, criteria: Annotated[AuditFilter, Query()]) -> AuditPage:
    return audit.search(uow, actor, criteria)
