"""The telephony REST API: the center's numbers and their IVR (admin), click-to-call, a contact's calls and
recordings, and the agent's softphone token."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from careline.integrations.twilio import tokens
from careline.routing.service import setup as routing_setup
from careline.settings import Settings
from careline.telephony.errors import InvalidTelephonyInput, NotConfigured
from careline.telephony.schemas import CallRead, DialIn, NumberIn, NumberRead
from careline.telephony.service import calls, numbers, outbound
from careline.web.deps import AdminOnly, PatientRules, PatientWorkers, Uow

router = APIRouter(prefix="/api", tags=["telephony"])


class SoftphoneToken(BaseModel):
    identity: str
    token: str


@router.get("/telephony/numbers")
def list_numbers(uow: Uow, _: AdminOnly) -> list[NumberRead]:
    return numbers.all_numbers(uow)


@router.put("/telephony/numbers/{number}")
def save_number(number: str, data: NumberIn, uow: Uow, actor: AdminOnly) -> NumberRead:
    if data.number != number:
        raise InvalidTelephonyInput("number", "The number in the address and in the body differ.")
    return numbers.save(uow, actor, data)


@router.delete("/telephony/numbers/{number}")
def deactivate_number(number: str, uow: Uow, actor: AdminOnly) -> NumberRead:
    return numbers.deactivate(uow, actor, number)


@router.post("/calls", status_code=201)
def place_call(data: DialIn, request: Request, uow: Uow, actor: PatientWorkers, policy: PatientRules) -> CallRead:
    return outbound.dial(uow, actor, policy, request.app.state.settings, data)


@router.get("/interactions/{interaction_id}/calls")
def calls_of_interaction(interaction_id: UUID, uow: Uow, actor: PatientWorkers) -> list[CallRead]:
    return outbound.calls_of(uow, actor, interaction_id)


@router.get("/telephony/token")
def softphone_token(request: Request, uow: Uow, actor: PatientWorkers) -> SoftphoneToken:
    """A short-lived token for the browser softphone; the identity is the one calls are bridged to."""
    settings: Settings = request.app.state.settings
    if not (settings.twilio_account_sid and settings.twilio_api_key_sid and settings.twilio_api_key_secret):
        raise NotConfigured(
            "The softphone needs Twilio: set CARELINE_TWILIO_ACCOUNT_SID, CARELINE_TWILIO_API_KEY_SID "
            "and CARELINE_TWILIO_API_KEY_SECRET."
        )
    identity = calls.softphone_identity(routing_setup.agent_of(uow, actor).id)
    return SoftphoneToken(
        identity=identity,
        token=tokens.softphone_token(
            account_sid=settings.twilio_account_sid,
            api_key_sid=settings.twilio_api_key_sid,
            api_key_secret=settings.twilio_api_key_secret,
            identity=identity,
            twiml_app_sid=settings.twilio_twiml_app_sid,
        ),
    )
