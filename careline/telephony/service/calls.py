"""A call's life on the provider's side: the IVR, the wait in line, the bridge to an agent, the end.

Every function here answers one provider request (a Twilio webhook, or the simulator standing in for one)
and returns the turn the caller hears next. They are idempotent: a request delivered twice, or late, finds
the call already past that point and answers with where the call is now, changing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog

from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.errors import InvalidPhone
from careline.patients.policy import PatientPolicy
from careline.patients.service import lookup as patient_lookup
from careline.routing.errors import WrongState
from careline.routing.rules import WITHHELD_NUMBERS, Channel, Status
from careline.routing.schemas import InteractionIn, InteractionRead, RequeueIn
from careline.routing.service import interactions
from careline.routing.service import setup as routing_setup
from careline.telephony import ivr, repository
from careline.telephony.errors import UnknownCall
from careline.telephony.ivr import Stage, Turn
from careline.telephony.models import Call, PhoneNumber
from careline.telephony.schemas import IvrConfig, MenuOption
from careline.telephony.service import numbers

log = structlog.get_logger(__name__)
# A status's place in a call's life: a late callback for an earlier one changes nothing.
STATUS_ORDER = {"queued": 0, "initiated": 0, "ringing": 1, "in-progress": 2, "answered": 2}
END_ORDER = 3
TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
UNANSWERED = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "no_answer"}
NOT_IN_SERVICE = "Sorry, this number is not in service. Goodbye."
PLACING = "place"  # Call.requested while the worker asks the provider to place an outbound call


def provider_actor(provider: str) -> Actor:
    """Who acts when a provider reports something: audited as the provider, with no user's rights."""
    return Actor(username=f"telephony:{provider}", role=None, route=f"telephony {provider}")


@dataclass(frozen=True, slots=True)
class Arrival:
    provider: str
    sid: str
    caller: str | None
    called: str | None


def incoming(uow: UnitOfWork, policy: PatientPolicy, arrival: Arrival, *, now: datetime | None = None) -> Turn:
    """A call comes in: record it once (a retried webhook records nothing) and open the IVR."""
    now = now or utcnow()
    number = _number(uow, policy, arrival.called)
    if number is None:
        log.warning("telephony.unknown_number", provider=arrival.provider)  # the number itself may be PHI-free,
        return (ivr.Say(NOT_IN_SERVICE, "en"), ivr.HangUp())  # but nothing about the caller
    created = repository.insert_call_once(
        uow.session,
        {
            "provider": arrival.provider,
            "provider_sid": arrival.sid,
            "direction": "inbound",
            "number_id": number.id,
            "caller": (arrival.caller or "")[:40] or None,
            "called": number.number,
            "stage": Stage.start,
            "created_at": now,
        },
    )
    call = _call(uow, arrival.provider, arrival.sid)
    config = numbers.ivr_of(number)
    turn = ivr.opening(config, is_open=numbers.is_open(number, call.created_at))
    if not created:  # a retry: while the caller has not answered yet, the whole opening again, notice first
        unanswered = call.tries == 0 and call.stage == _stage_after(turn, default=Stage.menu)
        return turn if unanswered else _turn_now(uow, call, config)
    call.candidates = _candidates(uow, policy, call)
    call.language = config.languages[0]  # until the caller chooses: what the opening speaks when there is no choice
    call.stage = _stage_after(turn, default=Stage.menu)
    return turn


def answer(
    uow: UnitOfWork,
    policy: PatientPolicy,
    provider: str,
    sid: str,
    stage: str,
    digits: str,
    *,
    now: datetime | None = None,
) -> Turn:
    """The caller's key presses (or none) at ``stage``. An answer for a stage the call has left is a replay."""
    now = now or utcnow()
    call = _call(uow, provider, sid, lock=True)
    config = _config(uow, call)
    if call.stage != stage:
        return _turn_now(uow, call, config)
    digits = "".join(ch for ch in digits if ch.isdigit())
    handlers = {
        Stage.language: _on_language,
        Stage.menu: _on_menu,
        Stage.identify: _on_identify,
        Stage.waiting: _on_waiting,
        Stage.after_hours: _on_after_hours,
    }
    handler = handlers.get(Stage(call.stage))
    if handler is None:
        return _turn_now(uow, call, config)
    return handler(uow, policy, call, config, digits, now)


def in_line(uow: UnitOfWork, provider: str, sid: str, *, now: datetime | None = None) -> Turn:
    """What a caller on hold hears next: their place, the expected wait, the offer of a callback."""
    call = _call(uow, provider, sid)
    if call.stage != Stage.waiting or call.interaction_id is None:
        return (ivr.HoldMusic(),)
    position, expected = interactions.place_in_line(uow, call.interaction_id, now=now)
    if position is None:  # an agent is being offered the call: keep the music going
        return (ivr.HoldMusic(),)
    return ivr.in_line(
        call.language, position=position, expected_seconds=expected, can_call_back=_callable(call.caller)
    )


def take_voicemail(
    uow: UnitOfWork,
    policy: PatientPolicy,
    provider: str,
    sid: str,
    *,
    recording_url: str | None,
    seconds: int,
    now: datetime | None = None,
) -> Turn:
    """A message left after hours becomes a callback contact, routed when the queue opens, with the link."""
    now = now or utcnow()
    call = _call(uow, provider, sid, lock=True)
    if call.stage != Stage.voicemail:
        return ivr.goodbye(call.language)
    call.stage = Stage.callback
    if not recording_url or seconds <= 0:  # hung up at the tone: nothing to call back about
        return ivr.goodbye(call.language)
    config = _config(uow, call)
    contact = _queue(
        uow, policy, call, config.after_hours_queue, ivr.REASON_OF_OPTION["operator"], now, channel=Channel.callback
    )
    call.recording_url = recording_url[:500]
    interactions.record_event(
        uow, contact.id, "voicemail", at=now, detail={"recording_url": call.recording_url, "seconds": seconds}
    )
    return ivr.goodbye(call.language, "message_taken")


def keep_recording(
    uow: UnitOfWork,
    provider: str,
    sid: str,
    *,
    recording_url: str,
    now: datetime | None = None,
) -> None:
    """A conversation's recording is ready: kept as a link with the call and in the contact's history."""
    call = _call(uow, provider, sid, lock=True)
    if call.recording_url == recording_url[:500]:
        return  # delivered twice
    call.recording_url = recording_url[:500]
    if call.interaction_id is not None and call.stage != Stage.callback:
        interactions.record_event(
            uow, call.interaction_id, "recording", at=now or utcnow(), detail={"recording_url": call.recording_url}
        )


def status_changed(uow: UnitOfWork, provider: str, sid: str, status: str, *, at: datetime | None = None,
                   call_id: UUID | None = None) -> None:
    """The provider's news of the call: ringing, answered, over.

    News can arrive out of order (over before answered): a status no later in a call's life than one
    already applied, or anything after the end, changes nothing. ``call_id`` (in our own callback URL) finds
    an outbound call whose id the provider has told us before the worker could store it.
    """
    at = at or utcnow()
    call = _call_for_status(uow, provider, sid, call_id)
    order = END_ORDER if status in TERMINAL else STATUS_ORDER.get(status)
    if order is None or call.ended_at is not None or order <= call.status_order:
        return
    call.status_order, call.provider_status = order, status
    if status in TERMINAL:
        _over(uow, call, status, at)
    elif call.direction == "outbound" and status == "ringing":
        _note(uow, call, "ringing", at)
    elif call.direction == "outbound" and order == STATUS_ORDER["in-progress"]:
        call.answered_at = at
        _note(uow, call, "callee_answered", at)


def connect_turn(uow: UnitOfWork, call_id: UUID, *, record: bool, sid: str | None = None) -> Turn:
    """The agent took the call: bridge the caller to their softphone or phone, after the announcement."""
    call = _came_for(uow, call_id, sid)
    contact = interactions.get(uow, call.interaction_id) if call.interaction_id else None
    if contact is None or contact.status != Status.connected or contact.agent_id is None:
        return _turn_now(uow, call, _config(uow, call))
    call.stage, call.agent_id = Stage.connected, contact.agent_id
    agent = routing_setup.read_agent(uow, routing_setup.agent(uow, contact.agent_id))
    return ivr.connect(
        call.language, client=None if agent.phone else softphone_identity(agent.id), number=agent.phone, record=record
    )


def hold_turn(uow: UnitOfWork, call_id: UUID, *, record: bool) -> Turn:
    """The agent put the caller on hold: music until they resume, then the bridge again."""
    call = _came_for(uow, call_id)
    contact = interactions.get(uow, call.interaction_id) if call.interaction_id else None
    if contact is not None and contact.status == Status.connected and contact.held_at is None:
        return connect_turn(uow, call_id, record=record)  # resumed before this request came: back to the agent
    if contact is None or contact.status != Status.connected:
        return _turn_now(uow, call, _config(uow, call))
    first_time = call.stage != Stage.held
    call.stage = Stage.held
    music = ivr.OnHold(str(call.id))
    return (ivr.say(call.language, "please_hold"), music) if first_time else (music,)


def back_in_line(uow: UnitOfWork, call_id: UUID) -> Turn:
    """Where a transferred or requeued call is sent: the line again, at the place it keeps."""
    call = _came_for(uow, call_id)
    return _turn_now(uow, call, _config(uow, call))


def dial_ended(uow: UnitOfWork, provider: str, sid: str, dial_status: str, *, now: datetime | None = None) -> Turn:
    """The bridge to the agent ended. If the agent's phone never answered, the caller goes back in line."""
    now = now or utcnow()
    call = _call(uow, provider, sid, lock=True)
    if dial_status in ("completed", "answered") or call.interaction_id is None or call.direction == "outbound":
        return (ivr.HangUp(),)
    contact = interactions.get(uow, call.interaction_id)
    if contact.status != Status.connected:
        return _turn_now(uow, call, _config(uow, call))
    interactions.record_event(uow, contact.id, "agent_unreachable", at=now, detail={"dial_status": dial_status})
    interactions.requeue(uow, provider_actor(provider), contact.id, RequeueIn(), now=now)
    call.stage, call.agent_id, call.requested = Stage.waiting, None, None
    return (ivr.say(call.language, "no_agent"), ivr.WaitInLine(_queue_name(uow, contact)))


def softphone_identity(agent_id: UUID) -> str:
    return f"agent-{agent_id}"


def call_of_interaction(uow: UnitOfWork, interaction_id: UUID) -> Call | None:
    return repository.call_of_interaction(uow.session, interaction_id)


def call_by_sid(uow: UnitOfWork, provider: str, sid: str) -> Call | None:
    return repository.call_by_sid(uow.session, provider, sid)


# --- the IVR's answers -----------------------------------------------------------------------------------------


def _on_language(
    uow: UnitOfWork, policy: PatientPolicy, call: Call, config: IvrConfig, digits: str, now: datetime
) -> Turn:
    language = ivr.chosen_language(config, digits)
    if language is None and _try_again(call):
        return (ivr.language_choice(config),)
    call.language, call.stage, call.tries = language or config.languages[0], Stage.menu, 0
    return ivr.menu(config, call.language)


def _on_menu(uow: UnitOfWork, policy: PatientPolicy, call: Call, config: IvrConfig, digits: str, now: datetime) -> Turn:
    option = ivr.chosen_option(config, digits)
    if option is None and _try_again(call):
        return ivr.menu(config, call.language, after_mistake=bool(digits))
    option = option or ivr.fallback_option(config)
    call.option, call.tries = option.option, 0
    if config.identify_by_birth_date and call.candidates:
        call.stage = Stage.identify
        return ivr.identify(call.language)
    return _wait_for_agent(uow, policy, call, option, now)


def _on_identify(
    uow: UnitOfWork, policy: PatientPolicy, call: Call, config: IvrConfig, digits: str, now: datetime
) -> Turn:
    """A birth date keyed in that matches exactly one patient on the caller's number pre-verifies it.

    The caller hears the same thanks whether it matched or not, and nothing of the record.
    """
    born = ivr.birth_date_of(digits)
    if born is not None and call.caller:
        matches = [
            found
            for found in patient_lookup.lookup_by_phone(uow, provider_actor(call.provider), policy, call.caller)
            if found.birth_date == born
        ]
        if len(matches) == 1:
            call.patient_id = matches[0].id
    option = ivr.option_named(config, call.option) or ivr.fallback_option(config)
    thanks = (ivr.say(call.language, "thanks"),) if born is not None else ()
    return thanks + _wait_for_agent(uow, policy, call, option, now)


def _on_waiting(
    uow: UnitOfWork, policy: PatientPolicy, call: Call, config: IvrConfig, digits: str, now: datetime
) -> Turn:
    if digits != "1" or call.interaction_id is None:
        return in_line(uow, call.provider, call.provider_sid or "", now=now)
    if not _callable(call.caller):
        return (ivr.say(call.language, "no_callback_number"), ivr.HoldMusic())
    try:
        interactions.ask_callback(uow, provider_actor(call.provider), call.interaction_id, now=now)
    except WrongState:
        return (ivr.HoldMusic(),)  # an agent is being offered the call this very moment: stay on the line
    call.stage = Stage.callback
    return ivr.goodbye(call.language, "callback_confirmed")


def _on_after_hours(
    uow: UnitOfWork, policy: PatientPolicy, call: Call, config: IvrConfig, digits: str, now: datetime
) -> Turn:
    if digits != "1" or not _callable(call.caller):
        call.stage = Stage.ended
        return ivr.goodbye(call.language)
    call.stage = Stage.callback
    _queue(uow, policy, call, config.after_hours_queue, ivr.REASON_OF_OPTION["operator"], now, channel=Channel.callback)
    return ivr.goodbye(call.language, "message_taken")


def _wait_for_agent(uow: UnitOfWork, policy: PatientPolicy, call: Call, option: MenuOption, now: datetime) -> Turn:
    contact = _queue(uow, policy, call, option.queue, ivr.REASON_OF_OPTION[option.option], now, channel=Channel.voice)
    if contact.channel == Channel.callback:  # the queue closed meanwhile: routing made it a callback
        call.stage = Stage.callback
        return ivr.goodbye(call.language, "message_taken")
    call.stage = Stage.waiting
    return (ivr.WaitInLine(option.queue),)


def _queue(
    uow: UnitOfWork, policy: PatientPolicy, call: Call, queue: str, reason: str, now: datetime, *, channel: Channel
) -> InteractionRead:
    data = InteractionIn(
        channel=channel,
        queue=queue,
        reason=reason,
        language=call.language,
        address=call.caller,
        external_ref=f"{call.provider}:{call.provider_sid}",
        patient_id=call.patient_id,
    )
    # What the keypad proved counts for the agent who takes this call now, not for a callback later.
    proved = ["birth_date"] if call.patient_id and channel == Channel.voice else []
    contact, _new = interactions.create(uow, provider_actor(call.provider), policy, data, now=now, preverified=proved)
    call.interaction_id = contact.id
    return contact


# --- helpers ---------------------------------------------------------------------------------------------------


def _over(uow: UnitOfWork, call: Call, status: str, at: datetime) -> None:
    """The call is over. A caller still in line abandoned (at ``at``); one who asked for a callback keeps it."""
    contact = interactions.get(uow, call.interaction_id) if call.interaction_id else None
    if contact is not None:
        # The provider's clock and ours differ (its stamps are whole seconds): never end before the last stage.
        stamps = (contact.queued_at, contact.offered_at, contact.answered_at, contact.held_at, contact.transferred_at)
        at = max([at, *(stamp for stamp in stamps if stamp and stamp <= utcnow())])
    call.ended_at, call.stage = at, Stage.ended if call.stage != Stage.callback else call.stage
    if contact is None:
        return  # hung up in the IVR, before becoming a contact
    if contact.channel == Channel.callback and contact.status == Status.queued:
        return
    if call.direction == "outbound" and status in UNANSWERED:
        _note(uow, call, UNANSWERED[status], at)
    interactions.end(uow, provider_actor(call.provider), contact.id, now=at)


def _note(uow: UnitOfWork, call: Call, kind: str, at: datetime) -> None:
    if call.interaction_id is not None:
        interactions.record_event(uow, call.interaction_id, kind, at=at)


def _turn_now(uow: UnitOfWork, call: Call, config: IvrConfig) -> Turn:
    """What a call hears at the stage it is at, for a replayed or out-of-turn request."""
    stage = Stage(call.stage)
    if stage in (Stage.start, Stage.language, Stage.menu, Stage.identify, Stage.after_hours, Stage.voicemail):
        return _asking(stage, config, call.language)
    contact = interactions.get(uow, call.interaction_id) if call.interaction_id else None
    if contact is None or stage not in (Stage.waiting, Stage.connected, Stage.held):
        return (ivr.HangUp(),)
    if contact.status in (Status.queued, Status.offered):
        call.stage = Stage.waiting
        return (ivr.WaitInLine(_queue_name(uow, contact)),)
    if contact.status != Status.connected:
        return (ivr.HangUp(),)
    return (ivr.OnHold(str(call.id)),) if contact.held_at is not None else (ivr.HoldMusic(),)


def _asking(stage: Stage, config: IvrConfig, language: str) -> Turn:
    """The question a call at an IVR stage is being asked."""
    if stage == Stage.menu:
        return ivr.menu(config, language)
    if stage == Stage.identify:
        return ivr.identify(language)
    if stage == Stage.after_hours:
        return ivr.after_hours(config, language)
    if stage == Stage.voicemail:
        return (ivr.Record(),)
    return _opening_again(config, language)


def _opening_again(config: IvrConfig, language: str) -> Turn:
    return (ivr.language_choice(config),) if len(config.languages) > 1 else ivr.menu(config, language)


def _queue_name(uow: UnitOfWork, contact: InteractionRead) -> str:
    return contact.queue or routing_setup.queue_by_id(uow, contact.queue_id).name


def _stage_after(turn: Turn, *, default: Stage) -> Stage:
    for verb in turn:
        if isinstance(verb, ivr.Ask):
            return verb.stage
        if isinstance(verb, ivr.Record):
            return Stage.voicemail
    return default


def _try_again(call: Call) -> bool:
    """Count an unusable answer; True while the caller gets another go."""
    call.tries += 1
    return call.tries < ivr.MAX_TRIES


def _came_for(uow: UnitOfWork, call_id: UUID, sid: str | None = None) -> Call:
    """The call whose provider came for the instructions Careline sent it to: what was asked is done.

    An outbound call comes for its first turn when the patient answers, perhaps before the worker has
    stored its id: the request brings it. The placing mark stays until the worker has heard back.
    """
    call = repository.get(uow.session, Call, call_id, for_update=True)
    if call is None:
        raise UnknownCall()
    if sid and call.provider_sid is None:
        call.provider_sid = sid
    if call.requested != PLACING:
        call.requested = None
    return call


def _call_for_status(uow: UnitOfWork, provider: str, sid: str, call_id: UUID | None) -> Call:
    found = repository.call_by_sid(uow.session, provider, sid, for_update=True)
    if found is None and call_id is not None:
        found = repository.get(uow.session, Call, call_id, for_update=True)
        if found is None or found.provider != provider or found.provider_sid not in (None, sid):
            raise UnknownCall()
        found.provider_sid = sid
    if found is None:
        raise UnknownCall()
    return found


def _call(uow: UnitOfWork, provider: str, sid: str, *, lock: bool = False) -> Call:
    call = repository.call_by_sid(uow.session, provider, sid, for_update=lock)
    if call is None:
        raise UnknownCall()
    return call


def _config(uow: UnitOfWork, call: Call) -> IvrConfig:
    number = repository.get(uow.session, PhoneNumber, call.number_id) if call.number_id else None
    return numbers.ivr_of(number) if number is not None else IvrConfig()


def _number(uow: UnitOfWork, policy: PatientPolicy, called: str | None) -> PhoneNumber | None:
    if not called:
        return None
    try:
        found = repository.number(uow.session, patient_lookup.e164(policy, called))
    except InvalidPhone:
        return None
    return found if found is not None and found.active else None


def _callable(caller: str | None) -> bool:
    """Whether we could call this caller back: a real number, not a hidden one."""
    return bool(caller and caller.startswith("+") and caller.lower() not in WITHHELD_NUMBERS)


def _candidates(uow: UnitOfWork, policy: PatientPolicy, call: Call) -> int:
    """How many patients are on the caller's number (the screen pop and the DOB step depend on it)."""
    if not _callable(call.caller):
        return 0
    try:
        return len(patient_lookup.ids_on_number(uow, policy, call.caller or ""))
    except InvalidPhone:
        return 0
