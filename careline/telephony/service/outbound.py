"""Click-to-call: an agent calls a patient, or returns a callback, with the center's caller ID.

The call itself is placed by the worker (an outbox row), never inside the agent's request.
"""

from __future__ import annotations

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
from careline.telephony.errors import InvalidTelephonyInput, NotConfigured
from careline.telephony.ivr import Stage
from careline.telephony.models import Call
from careline.telephony.schemas import CallRead, DialIn
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
    if settings.telephony_provider == "twilio" and not settings.caller_id:
        raise NotConfigured("Set CARELINE_CALLER_ID to the center's number before placing calls.")
    if data.interaction_id is not None:
        contact = interactions.get(uow, data.interaction_id)
        me = routing_setup.agent_of(uow, actor)
        if contact.agent_id != me.id:
            raise NotYours()
        if contact.status != Status.connected or contact.channel not in VOICE_CHANNELS:
            raise WrongState("Only a callback or call you are working on can be dialled.")
        number = data.number or contact.address
        if not number:
            raise InvalidTelephonyInput("number", "This contact has no number to call: type one.")
        number = patient_lookup.e164(policy, number)
        patient_id = contact.patient_id
    else:
        if not data.number:
            raise InvalidTelephonyInput("number", "Choose the number to call.")
        contact = external.start_outbound(uow, actor, policy, number=data.number, patient_id=data.patient_id, now=now)
        number, patient_id = contact.address or "", contact.patient_id
    call = Call(
        id=uuid4(),
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


def calls_of(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> list[CallRead]:
    """A contact's calls with their recordings; audited like the contact itself."""
    contact = interactions.open_one(uow, actor, interaction_id)
    return [CallRead.model_validate(row) for row in repository.calls_of_interaction(uow.session, contact.id)]
