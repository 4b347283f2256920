"""The worker's telephony jobs: make the provider's call follow its contact, and place outbound calls.

Both read the current state when they run, so a job run late, or twice, still does the right thing.
"""

from __future__ import annotations

from uuid import UUID

from careline.db import UnitOfWork
from careline.integrations.voice import CallControl, CallGone
from careline.routing.rules import FINAL, Status
from careline.routing.schemas import InteractionRead
from careline.routing.service import interactions
from careline.routing.service.offers import VOICE_CHANGED
from careline.telephony import repository
from careline.telephony.ivr import Stage
from careline.telephony.models import Call
from careline.telephony.service import calls
from careline.telephony.service.outbound import PLACE_CALL
from careline.telephony.twiml import PREFIX
from careline.worker.runner import Context, GiveUp, Handler, Job

VOICE_PROVIDERS = "voice"  # Context.providers key: {provider name: CallControl}


def follow_contact(context: Context, job: Job) -> None:
    """An agent answered, transferred or ended a call's contact: connect, re-queue or hang up the call."""
    with UnitOfWork(context.sessions) as uow:
        call = calls.call_of_interaction(uow, UUID(job.payload["interaction_id"]))
        if call is None or call.ended_at is not None or call.provider_sid is None:
            return
        action = next_action(call, interactions.get(uow, call.interaction_id))  # type: ignore[arg-type]
        call_id, sid, provider = call.id, call.provider_sid, call.provider
    if action is None:
        return
    control = _control(context, provider)
    try:
        if action == "hang_up":
            control.hang_up(sid)
        else:
            control.redirect(sid, f"{_origin(context, provider)}{PREFIX}/{action}/{call_id}")
    except CallGone:
        return  # the caller hung up first: the status callback ends the contact


def next_action(call: Call, contact: InteractionRead) -> str | None:
    """What the provider must do so the call matches its contact (None: it already does)."""
    status = contact.status
    if status in (*FINAL, Status.wrap_up):
        return "hang_up"
    if call.direction != "inbound":
        return None  # an outbound call is bridged when the patient answers
    if status == Status.connected:
        wanted = Stage.held if contact.held_at is not None else Stage.connected
        return None if call.stage == wanted else ("hold" if wanted == Stage.held else "connect")
    if status in (Status.queued, Status.offered) and call.stage in (Stage.connected, Stage.held):
        return "line"
    return None


def place_call(context: Context, job: Job) -> None:
    call_id = UUID(job.payload["call_id"])
    with UnitOfWork(context.sessions) as uow:
        call = repository.get(uow.session, Call, call_id)
        if call is None or call.provider_sid is not None or call.ended_at is not None:
            return  # placed already (a retried job), or given up
        provider, to, caller_id = call.provider, call.called or "", call.caller or ""
    origin = _origin(context, provider)
    sid = _control(context, provider).place(
        to=to,
        caller_id=caller_id,
        url=f"{origin}{PREFIX}/connect/{call_id}",
        status_callback=f"{origin}{PREFIX}/voice/status",
    )
    with UnitOfWork(context.sessions) as uow:
        placed = repository.get(uow.session, Call, call_id, for_update=True)
        if placed is not None:
            placed.provider_sid = sid
        uow.commit()


def _control(context: Context, provider: str) -> CallControl:
    control: CallControl | None = context.providers.get(VOICE_PROVIDERS, {}).get(provider)
    if control is None:
        raise GiveUp(f"the {provider} provider is not configured here")
    return control


def _origin(context: Context, provider: str) -> str:
    if provider == "twilio" and not context.settings.public_url:
        raise GiveUp("set CARELINE_PUBLIC_URL: Twilio needs an address to fetch the call's next steps from")
    return context.settings.public_url or "http://careline.invalid"


HANDLERS: dict[str, Handler] = {VOICE_CHANGED: follow_contact, PLACE_CALL: place_call}
