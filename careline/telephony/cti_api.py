"""The CTI events API: ``POST /api/cti/events`` for any PBX or contact-center platform (docs/cti.md).

Public in the sense of the access rules (a PBX has no session), but every request must be signed with the
shared secret (``CARELINE_CTI_SECRET``) within the last five minutes; anything else gets 403 and records nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from careline.settings import Settings
from careline.telephony.schemas import CtiEventIn, CtiEventResult
from careline.telephony.service import cti
from careline.web import hmac_signing
from careline.web.deps import PatientRules, Public, Uow

router = APIRouter(prefix="/api/cti", tags=["telephony"])


async def signed_event(request: Request) -> CtiEventIn:
    """The event, once its signature over the raw body is checked; only then is the body read as JSON."""
    settings: Settings = request.app.state.settings
    body = await request.body()
    hmac_signing.check(request, settings.cti_secret, body, event="telephony.cti_bad_signature")
    try:
        return CtiEventIn.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None


SignedEvent = Annotated[CtiEventIn, Depends(signed_event)]


@router.post("/events")
def receive_event(event: SignedEvent, request: Request, uow: Uow, policy: PatientRules, _: Public) -> CtiEventResult:
    """Apply one call event. Replays and late events answer 200 and change nothing (``duplicate``/``ignored``)."""
    settings: Settings = request.app.state.settings
    return cti.apply(uow, policy, event, default_queue=settings.cti_default_queue)
