"""The worker's telephony jobs: make the provider's call follow its contact, and place outbound calls.

Both read the current state when they run, so a job run late, or twice, still does the right thing.
"""

from __future__ import annotations

import contextlib
from uuid import UUID

from careline.db import UnitOfWork
from careline.integrations.voice import CallControl, CallGone, CallRefused, ProviderError
from careline.routing.service.offers import VOICE_CHANGED
from careline.telephony.errors import PlacementUnsure
from careline.telephony.service import control, outbound
from careline.telephony.service.outbound import PLACE_CALL
from careline.telephony.twiml import PREFIX
from careline.worker.runner import Context, GiveUp, Job, Task, one_at_a_time

VOICE_PROVIDERS = "voice"  # Context.providers key: {provider name: CallControl}


def follow_contact(context: Context, job: Job) -> None:
    """An agent answered, held, transferred or ended a call's contact: bridge, hold, re-queue or hang up."""
    with UnitOfWork(context.sessions) as uow:
        instruction = control.next_instruction(uow, UUID(job.payload["interaction_id"]))
        uow.commit()  # marked as asked before asking, so no one else asks the same
    if instruction is None:
        return
    try:
        _carry_out(context, instruction)
    except CallGone:
        return  # the caller hung up first: the status callback ends the contact
    except Exception as error:
        with UnitOfWork(context.sessions) as uow:
            control.not_sent(uow, instruction)
            uow.commit()
        if isinstance(error, CallRefused):
            raise GiveUp(str(error)) from error
        raise
    with UnitOfWork(context.sessions) as uow:
        control.sent(uow, instruction)
        uow.commit()


def _carry_out(context: Context, instruction: control.Instruction) -> None:
    provider = _control(context, instruction.provider)
    if instruction.action == "hang_up":
        provider.hang_up(instruction.sid)
    else:
        origin = _origin(context, instruction.provider)
        provider.redirect(instruction.sid, f"{origin}{PREFIX}/{instruction.action}/{instruction.call_id}")


def place_call(context: Context, job: Job) -> None:
    """Place a click-to-call. Never twice: an attempt cut off mid-request is given up, not repeated."""
    call_id = UUID(job.payload["call_id"])
    with UnitOfWork(context.sessions) as uow:
        try:
            placement = outbound.start_placing(uow, call_id)
        except PlacementUnsure as error:
            uow.commit()  # the call is marked over, and the contact says why it never rang
            raise GiveUp(str(error)) from error
        uow.commit()
    if placement is None:
        return
    origin = _origin(context, placement.provider)
    try:
        sid = _control(context, placement.provider).place(
            to=placement.to, caller_id=placement.caller_id, url=f"{origin}{PREFIX}/connect/{call_id}",
            status_callback=f"{origin}{PREFIX}/voice/status?call={call_id}")
    except ProviderError as error:  # the provider said no: nothing was placed
        with UnitOfWork(context.sessions) as uow:
            outbound.placing_failed(uow, call_id, for_good=isinstance(error, CallRefused))
            uow.commit()
        if isinstance(error, CallRefused):
            raise GiveUp(str(error)) from error
        raise
    with UnitOfWork(context.sessions) as uow:
        ended_meanwhile = outbound.placed(uow, call_id, sid)
        uow.commit()
    if ended_meanwhile:  # the agent hung up while the provider was placing it: stop it ringing
        with contextlib.suppress(CallGone):
            _control(context, placement.provider).hang_up(sid)


def _control(context: Context, provider: str) -> CallControl:
    control: CallControl | None = context.providers.get(VOICE_PROVIDERS, {}).get(provider)
    if control is None:
        raise GiveUp(f"the {provider} provider is not configured here")
    return control


def _origin(context: Context, provider: str) -> str:
    if provider == "twilio" and not context.settings.public_url:
        raise GiveUp("set CARELINE_PUBLIC_URL: Twilio needs an address to fetch the call's next steps from")
    return context.settings.public_url or "http://careline.invalid"


TASKS: dict[str, Task] = {VOICE_CHANGED: one_at_a_time(follow_contact), PLACE_CALL: one_at_a_time(place_call)}
