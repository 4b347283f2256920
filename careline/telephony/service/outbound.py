"""Click-to-call: an agent calls a patient, or returns a callback, with the center's caller ID.

The call itself is placed by the worker (an outbox row), never inside the agent's request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup as patient_lookup
from careline.routing.errors import NotYours, WrongState
from careline.routing.rules import VOICE_CHANNELS, Status
from careline.routing.service import external, interactions
from careline.routing.service import setup as routing_setup
from careline.settings import Settings
from careline.telephony import repository
from careline.telephony.errors import InvalidTelephonyInput, NotConfigured, PlacementUnsure
from careline.telephony.ivr import Stage
from careline.telephony.models import Call
from careline.telephony.schemas import CallRead, DialIn
from careline.telephony.service.calls import PLACING
from careline.worker import outbox

PLACE_CALL = "telephony.place_call"


def dial(
    uow: UnitOfWork,
    actor: Actor,
    policy: PatientPolicy,
    settings: Settings,
    data: DialIn,
    *,
    now: datetime | None = None,
) -> CallRead:
    now = now or utcnow()
    call_id = uuid4()
    if settings.telephony_provider == "twilio" and not settings.caller_id:
        raise NotConfigured("Set CARELINE_CALLER_ID to the center's number before placing calls.")
    if data.interaction_id is not None:
        contact = interactions.get(uow, data.interaction_id)
        me = routing_setup.agent_of(uow, actor)
        if contact.agent_id != me.id:
            raise NotYours()
        if contact.status != Status.connected or contact.channel not in VOICE_CHANNELS:
            raise WrongState("Only a callback or call you are working on can be dialled.")
        if any(row.direction == "outbound" and row.ended_at is None
               for row in repository.calls_of_interaction(uow.session, contact.id)):
            raise WrongState("This contact's call is already being placed: wait for it to ring or end.")
        number = data.number or contact.address
        if not number:
            raise InvalidTelephonyInput("number", "This contact has no number to call: type one.")
        number = patient_lookup.e164(policy, number)
        patient_id = contact.patient_id
    else:
        if not data.number:
            raise InvalidTelephonyInput("number", "Choose the number to call.")
        contact = external.start_outbound(uow, actor, policy, number=data.number, patient_id=data.patient_id,
                                          external_ref=f"{settings.telephony_provider}:out:{call_id}", now=now)
        number, patient_id = contact.address or "", contact.patient_id
    call = Call(
        id=call_id,
        provider=settings.telephony_provider,
        provider_sid=None,
        direction="outbound",
        caller=settings.caller_id,
        called=number,
        stage=Stage.dialing,
        interaction_id=contact.id,
        patient_id=patient_id,
        created_at=now,
    )
    repository.add(uow.session, call)
    outbox.send_later(uow, PLACE_CALL, {"call_id": str(call.id)}, key=f"{PLACE_CALL}:{call.id}")
    audit.record(uow, actor, "call.placed", subject_type="interaction", subject_id=contact.id, patient_id=patient_id)
    return CallRead.model_validate(call)


@dataclass(frozen=True, slots=True)
class Placement:
    call_id: UUID
    provider: str
    to: str
    caller_id: str


def start_placing(uow: UnitOfWork, call_id: UUID) -> Placement | None:
    """The worker is about to ask the provider to place the call; None if there is nothing to place.

    Marked before the request and committed, so an attempt cut off mid-request (the worker killed) is known
    afterwards and not repeated: ringing a patient twice is worse than a call the agent places again.
    """
    call = repository.get(uow.session, Call, call_id, for_update=True)
    if call is None or call.provider_sid is not None or call.ended_at is not None:
        return None
    if not _still_wanted(uow, call):  # the agent ended the contact before the worker got to it
        call.ended_at = utcnow()
        return None
    if call.requested == PLACING:
        _give_up(uow, call, "placing was cut off; not repeated")
        raise PlacementUnsure()
    call.requested = PLACING
    return Placement(call.id, call.provider, call.called or "", call.caller or "")


def placed(uow: UnitOfWork, call_id: UUID, sid: str) -> bool:
    """Keep the provider's id; True if the contact ended meanwhile, so the new call must be hung up."""
    call = repository.get(uow.session, Call, call_id, for_update=True)
    if call is None:
        return False
    call.provider_sid = call.provider_sid or sid  # the patient's answer may have brought the id first
    call.requested = None
    return not _still_wanted(uow, call)


def placing_failed(uow: UnitOfWork, call_id: UUID, *, for_good: bool) -> None:
    """The provider said no before placing anything: a retry may place it, unless it refused for good."""
    call = repository.get(uow.session, Call, call_id, for_update=True)
    if call is None or call.requested != PLACING:
        return
    call.requested = None
    if for_good:
        _give_up(uow, call, "the provider refused the call")


def _still_wanted(uow: UnitOfWork, call: Call) -> bool:
    return call.interaction_id is None or interactions.get(uow, call.interaction_id).status == Status.connected


def _give_up(uow: UnitOfWork, call: Call, reason: str) -> None:
    """The call will not ring: it is over, and the agent's contact says why."""
    call.ended_at = utcnow()
    if call.interaction_id is not None:
        interactions.record_event(uow, call.interaction_id, "failed", at=call.ended_at, detail={"reason": reason})


def calls_of(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> list[CallRead]:
    """A contact's calls with their recordings; audited like the contact itself."""
    contact = interactions.open_one(uow, actor, interaction_id)
    return [CallRead.model_validate(row) for row in repository.calls_of_interaction(uow.session, contact.id)]
