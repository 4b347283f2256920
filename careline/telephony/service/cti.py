"""CTI events: what another PBX or contact-center platform (Asterisk, FreeSWITCH, Genesys, Amazon Connect) saw
happen to a call, applied to the same interactions as Twilio's calls. The PBX picks the agent itself, so its
contacts are marked ``routed_externally`` and Careline's engine never offers them (see docs/cti.md).

Order and replays: each call keeps the place in its life of the last event applied, as ``Call.status_order``:
milliseconds since the call's first event, times eight, plus the event type's rank (so two events at the same
instant still have an order). An event no later than that changes nothing (the same one again is a duplicate),
except ``call.ended``, which always ends a live call, and ``call.answered`` while the contact has no answer yet
(a late answer still makes the call a handled one, not an abandon); nothing changes a call that has ended.

Times: each applied event is stamped no earlier than the contact's latest stamp, so no wait is ever negative
however the PBX's clocks disagree. An event naming an extension no active agent has changes nothing but still
records the call it is the first event of (``ignored: unknown_extension``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from careline.db import UnitOfWork
from careline.patients.policy import PatientPolicy
from careline.routing.rules import Channel, Reason, Status
from careline.routing.schemas import InteractionIn, InteractionRead, RequeueIn
from careline.routing.service import external, interactions
from careline.telephony import repository
from careline.telephony.errors import UnknownCall
from careline.telephony.ivr import Stage
from careline.telephony.models import Call
from careline.telephony.schemas import CtiEventIn, CtiEventResult
from careline.telephony.service.calls import provider_actor

PROVIDER = "cti"
# Where a call goes when the PBX names no queue: the operator's queue of the default IVR menu.
DEFAULT_QUEUE = "general"
RANK = {"call.queued": 0, "call.offered": 1, "call.answered": 2, "call.transferred": 3, "call.held": 4,
        "call.resumed": 5, "call.ended": 6}
RANKS = 8
EXTENSION_EVENTS = ("call.offered", "call.answered", "call.transferred")
OFFSET_LIMIT_MS = 2**28 - 1  # offsets past about three days are clamped, so the order fits a 32-bit column
NOTHING_APPLIED = -1  # the column's default; no key is -1, as no event type has rank 7


def apply(uow: UnitOfWork, policy: PatientPolicy, event: CtiEventIn, *,
          default_queue: str = DEFAULT_QUEUE) -> CtiEventResult:
    """Apply one event to its call and contact; see the module's docstring for order and replays.
    A call whose first event names no queue waits in ``default_queue`` (``CARELINE_CTI_DEFAULT_QUEUE``)."""
    at = event.at.astimezone(UTC)
    call = repository.call_by_sid(uow.session, PROVIDER, event.call_id, for_update=True)
    if call is None:
        if event.type not in ("call.offered", "call.queued"):
            raise UnknownCall()
        call = _arrive(uow, policy, event, at, default_queue)
    if call.status_order == NOTHING_APPLIED:
        return _apply(uow, call, event, at, first=True)
    key = _key(call, event.type, at)
    if key == call.status_order:
        return _result(uow, call, duplicate=True)
    if call.ended_at is not None:
        return _result(uow, call, ignored="call_ended")
    if key < call.status_order and event.type != "call.ended" and not _first_answer(uow, call, event):
        return _result(uow, call, ignored="out_of_order")
    return _apply(uow, call, event, at, first=False)


def _first_answer(uow: UnitOfWork, call: Call, event: CtiEventIn) -> bool:
    """A late answer is still the call's answer: dropping it would book the handled call as an abandon."""
    assert call.interaction_id is not None
    return event.type == "call.answered" and interactions.get(uow, call.interaction_id).answered_at is None


def _arrive(uow: UnitOfWork, policy: PatientPolicy, event: CtiEventIn, at: datetime, default_queue: str) -> Call:
    """Record the call and queue its contact, once however many first events race for it."""
    repository.insert_call_once(uow.session, {
        "provider": PROVIDER, "provider_sid": event.call_id, "direction": "inbound", "caller": event.caller,
        "stage": Stage.waiting, "language": event.language or "en", "created_at": at,
    })
    call = repository.call_by_sid(uow.session, PROVIDER, event.call_id, for_update=True)
    assert call is not None
    if call.interaction_id is None:
        contact = external.take_external(uow, provider_actor(PROVIDER), policy, InteractionIn(
            channel=Channel.voice, queue=event.queue or default_queue, reason=event.reason or Reason.other,
            language=event.language or "en", address=event.caller, external_ref=f"{PROVIDER}:{event.call_id}",
        ), now=at)
        call.interaction_id = contact.id
    return call


def _apply(uow: UnitOfWork, call: Call, event: CtiEventIn, sent_at: datetime, *, first: bool) -> CtiEventResult:
    assert call.interaction_id is not None
    contact_id, actor = call.interaction_id, provider_actor(PROVIDER)
    if event.type in EXTENSION_EVENTS and event.extension and not external.has_extension(uow, event.extension):
        return _result(uow, call, ignored="unknown_extension")  # the call stays recorded; nothing else changes
    at = max(sent_at, _latest_stamp(interactions.get(uow, contact_id)))
    if event.type == "call.ended":
        at = max(at, _last_applied(call))  # a late end never ends a call before what was already applied
        interactions.end(uow, actor, contact_id, now=at)
        call.ended_at, call.stage = at, Stage.ended
    elif event.type == "call.queued" and not first:
        _back_in_line(uow, contact_id, event.queue, at)
        call.stage = Stage.waiting
    elif event.type == "call.offered" and event.extension:
        external.offer_to_extension(uow, contact_id, event.extension, now=at)
    elif event.type == "call.transferred" and event.extension:
        moved = external.transferred_to_extension(uow, contact_id, event.extension, now=at)
        call.stage = Stage.connected if moved.status == Status.connected else Stage.waiting
    elif event.type == "call.answered" and event.extension:
        external.answered_by_extension(uow, contact_id, event.extension, now=at)
        call.stage = Stage.connected
    elif event.type == "call.held":
        interactions.hold(uow, actor, contact_id, now=at)
    elif event.type == "call.resumed":
        interactions.resume(uow, actor, contact_id, now=at)
    call.status_order = max(call.status_order, _key(call, event.type, sent_at))  # as sent, so a retry is a duplicate
    call.provider_status = event.type
    return _result(uow, call)


def _back_in_line(uow: UnitOfWork, contact_id: UUID, queue: str | None, at: datetime) -> None:
    """The PBX put the call (back) in a queue: off any agent who had it, into ``queue`` if it names one."""
    contact = interactions.get(uow, contact_id)
    if contact.status == Status.queued and queue in (None, contact.queue):
        return
    if contact.status in (Status.queued, Status.offered, Status.connected):
        interactions.requeue(uow, provider_actor(PROVIDER), contact.id, RequeueIn(queue=queue), now=at)


def _key(call: Call, kind: str, at: datetime) -> int:
    offset = int((at - call.created_at) / timedelta(milliseconds=1))
    return max(-OFFSET_LIMIT_MS, min(offset, OFFSET_LIMIT_MS)) * RANKS + RANK[kind]


def _latest_stamp(contact: InteractionRead) -> datetime:
    stamps = (contact.created_at, contact.queued_at, contact.offered_at, contact.answered_at, contact.held_at,
              contact.transferred_at, contact.wrap_up_at, contact.ended_at, contact.abandoned_at)
    return max(stamp for stamp in stamps if stamp is not None)


def _last_applied(call: Call) -> datetime:
    return call.created_at + timedelta(milliseconds=call.status_order // RANKS)


def _result(uow: UnitOfWork, call: Call, *, duplicate: bool = False, ignored: str | None = None) -> CtiEventResult:
    contact: InteractionRead | None = interactions.get(uow, call.interaction_id) if call.interaction_id else None
    return CtiEventResult.model_validate({
        "call_id": call.provider_sid, "interaction_id": contact.id if contact else None,
        "status": contact.status if contact else None, "duplicate": duplicate, "ignored": ignored})
