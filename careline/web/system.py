"""Routes that belong to the platform rather than a domain: health check and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from careline.web.deps import AnyRole, Public

router = APIRouter(tags=["system"])


@router.get("/healthz")
def health(_actor: Public) -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/openapi.json")
def openapi_document(request: Request, _actor: AnyRole) -> dict[str, Any]:
    """The API description for integrators; it holds no PHI but is only served to signed-in clients."""
    document: dict[str, Any] = request.app.openapi()
    return document
