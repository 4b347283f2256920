"""A contact's life: created and queued, answered, held, transferred, ended, wrapped up — or abandoned.

Every stage stamps its time on the interaction and adds a row to its history. The final state is reached
once: ``completed`` (after wrap-up) or ``abandoned`` (the caller left before an agent answered).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError

from careline import audit
from careline.actor import Actor, Role
from careline.db import UnitOfWork, utcnow
from careline.patients.errors import InvalidPhone
from careline.patients.policy import PatientPolicy
from careline.patients.service import access as patient_access
from careline.patients.service import lookup as patient_lookup
from careline.patients.service import records as patient_records
from careline.routing import repository, rules
from careline.routing.errors import InvalidRoutingInput, NoCapacity, NotFound, NotYours, WrongState
from careline.routing.models import Agent, Assignment, Interaction
from careline.routing.rules import AgentState, Channel, Status
from careline.routing.schemas import (
    EventRead,
    InteractionIn,
    InteractionRead,
    RequeueIn,
    TransferIn,
    WrapUpIn,
)
from careline.routing.service import offers, setup
from careline.routing.service.offers import announce, event, lock, tell_provider
from careline.routing.service.states import change_state
from careline.routing.service.views import read

PHONE_CHANNELS = frozenset({Channel.voice, Channel.sms, Channel.callback, Channel.outbound})
NOTES_LIMIT = 4000
# What providers may add to a contact's history besides its stages.
PROVIDER_EVENTS = frozenset({"ringing", "callee_answered", "busy", "no_answer", "failed", "recording", "voicemail",
                             "agent_unreachable"})
EXPECTED_WAIT_SAMPLE = 20  # answered contacts the expected-wait announcement averages


def create(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, data: InteractionIn, *,
           now: datetime | None = None, preverified: Sequence[str] = ()) -> tuple[InteractionRead, bool]:
    """Queue a new contact. Returns it and whether it is new: the same ``external_ref`` twice is one contact.

    ``preverified`` names identifiers the caller proved to a machine on this very call (the IVR's keypad); only
    a provider adapter says so, never the public API.
    """
    now = now or utcnow()
    if data.external_ref:
        existing = repository.by_external_ref(uow.session, data.external_ref)
        if existing is not None:
            return read(uow, existing), False
    queue = setup.queue_named(uow, data.queue)
    interaction = Interaction(id=uuid4(), channel=data.channel.value, direction=data.direction.value,
                              reason=data.reason.value, language=data.language, priority=data.priority + queue.priority,
                              status=Status.queued, queue_id=queue.id, external_ref=data.external_ref,
                              preverified=list(preverified), created_at=now, queued_at=now,
                              entered_queue_at=now, not_before=data.not_before)
    _match_patient(uow, actor, policy, interaction, data)
    history = [event(interaction.id, now, "created", queue_id=queue.id, detail={"channel": interaction.channel}),
               event(interaction.id, now, "queued", queue_id=queue.id)]
    hours = rules.hours_of(queue.time_zone, queue.business_hours, queue.holidays)
    if not hours.is_open(now):
        interaction.not_before = max(interaction.not_before or now, hours.next_opening(now) or now)
        if interaction.channel == Channel.voice:  # nobody holds the line overnight
            interaction.channel, interaction.preverified = Channel.callback, []
        history.append(event(interaction.id, now, "after_hours", queue_id=queue.id,
                             detail={"action": queue.after_hours, "until": interaction.not_before.isoformat()}))
    if interaction.not_before is not None and interaction.not_before > now:
        # The wait (its place in line, escalation, speed of answer) counts from when the contact is due.
        interaction.queued_at = interaction.entered_queue_at = interaction.not_before
    try:
        with uow.session.begin_nested():
            repository.add(uow.session, interaction)
    except IntegrityError:  # the same external_ref created a moment ago by a retried webhook
        existing = repository.by_external_ref(uow.session, data.external_ref or "")
        if existing is None:
            raise
        return read(uow, existing), False
    repository.add_events(uow.session, history)
    announce(uow, interaction, "queued")
    uow.notify("routing", {"type": "queued"})
    return read(uow, interaction), True


def _match_patient(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, interaction: Interaction,
                   data: InteractionIn) -> None:
    if data.patient_id is not None:
        interaction.patient_id = patient_records.patient_to_read(uow, actor, data.patient_id).id
        interaction.candidates = 1
    if not data.address or data.address.strip().lower() in rules.WITHHELD_NUMBERS:
        return  # a caller who withholds their number is still a caller: queued, with no one to look up
    if data.channel not in PHONE_CHANNELS:
        interaction.address = data.address.strip().lower()
        return
    try:
        matches = patient_lookup.ids_on_number(uow, policy, data.address)
    except InvalidPhone as error:
        raise InvalidRoutingInput("address", str(error)) from error
    interaction.address = patient_lookup.e164(policy, data.address)
    if interaction.patient_id is None:
        interaction.candidates = len(matches)
        interaction.patient_id = matches[0] if len(matches) == 1 else None


def get(uow: UnitOfWork, interaction_id: UUID) -> InteractionRead:
    found = repository.get(uow.session, Interaction, interaction_id)
    if found is None:
        raise NotFound("interaction")
    return read(uow, found)


def history(uow: UnitOfWork, interaction_id: UUID) -> list[EventRead]:
    get(uow, interaction_id)
    return [EventRead.model_validate(row) for row in repository.events_of(uow.session, interaction_id)]


def search(uow: UnitOfWork, *, statuses: list[Status] | None = None, queue: str | None = None,
           agent_id: UUID | None = None, patient_id: UUID | None = None, since: datetime | None = None,
           limit: int = 100) -> list[InteractionRead]:
    queue_id = setup.queue_named(uow, queue).id if queue else None
    rows = repository.search(uow.session, statuses=[s.value for s in statuses or []], queue_id=queue_id,
                             agent_id=agent_id, patient_id=patient_id, since=since, limit=limit)
    return [read(uow, row) for row in rows]


def open_one(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> InteractionRead:
    """One contact, read through the API: audited, since its notes and caller's number belong to the
    patient's record. The entry is written before the contact is returned, or nothing is."""
    found = get(uow, interaction_id)
    audit.record(uow, actor, "interaction.viewed", subject_type="interaction", subject_id=found.id,
                 patient_id=found.patient_id)
    return found


def open_history(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> list[EventRead]:
    open_one(uow, actor, interaction_id)
    return history(uow, interaction_id)


def search_audited(uow: UnitOfWork, actor: Actor, **filters: Any) -> list[InteractionRead]:
    """``search`` through the API, audited with the filters used (their names) and the number found."""
    found = search(uow, **filters)
    audit.record(uow, actor, "interaction.searched", patient_id=filters.get("patient_id"),
                 details={"fields": sorted(name for name, value in filters.items() if value and name != "limit"),
                          "found": len(found)})
    return found


def _mine(uow: UnitOfWork, actor: Actor, interaction_id: UUID, *allowed: Status) -> tuple[Interaction, Agent | None]:
    """The interaction, locked, in one of ``allowed``; an agent may only act on their own contacts."""
    interaction = lock(uow, interaction_id)
    if interaction.status not in allowed:
        raise WrongState(f"This contact is {interaction.status.replace('_', ' ')}; that cannot be done now.")
    if actor.role != Role.agent:
        agent = setup.agent(uow, interaction.agent_id) if interaction.agent_id else None
        return interaction, agent
    me = setup.agent_of(uow, actor)
    if interaction.agent_id != me.id:
        raise NotYours()
    return interaction, me


def working_on(uow: UnitOfWork, actor: Actor, interaction_id: UUID) -> InteractionRead:
    """The contact, if the actor is answering it now (an agent their own; a supervisor any connected one)."""
    interaction, _ = _mine(uow, actor, interaction_id, Status.connected)
    return read(uow, interaction)


def is_open(uow: UnitOfWork, interaction_id: UUID) -> bool:
    """Still waiting or being answered: a new message from the patient joins it instead of starting another."""
    found = repository.get(uow.session, Interaction, interaction_id)
    return found is not None and found.status not in (Status.wrap_up, *rules.FINAL)


def matched_by_machine(uow: UnitOfWork, interaction_id: UUID, patient_id: UUID, preverified: Sequence[str]) -> None:
    """A machine matched the contact to one patient (a chat's name and birth date): its agent's screen pop
    shows that record, and what the patient proved counts for whoever answers, as the keypad's does."""
    interaction = lock(uow, interaction_id)
    if interaction.status in rules.FINAL:
        return
    interaction.patient_id, interaction.candidates = patient_id, 1
    interaction.preverified = sorted(set(interaction.preverified or []) | set(preverified))
    announce(uow, interaction, "matched", interaction.agent_id)


def tell_agent(uow: UnitOfWork, interaction_id: UUID, kind: str) -> None:
    """Something new on a contact (a patient's message): its agent's desktop and the center hear of it."""
    found = repository.get(uow.session, Interaction, interaction_id)
    if found is not None:
        announce(uow, found, kind, found.agent_id)


def hold(uow: UnitOfWork, actor: Actor, interaction_id: UUID, *, now: datetime | None = None) -> InteractionRead:
    now = now or utcnow()
    interaction, agent = _mine(uow, actor, interaction_id, Status.connected)
    if interaction.held_at is None:
        interaction.held_at = now
        _log(uow, interaction, now, "held", agent)
        tell_provider(uow, interaction)
    return read(uow, interaction)


def resume(uow: UnitOfWork, actor: Actor, interaction_id: UUID, *, now: datetime | None = None) -> InteractionRead:
    now = now or utcnow()
    interaction, agent = _mine(uow, actor, interaction_id, Status.connected)
    if interaction.held_at is not None:
        stop_hold(interaction, now)
        _log(uow, interaction, now, "resumed", agent)
        tell_provider(uow, interaction)
    return read(uow, interaction)


def end(uow: UnitOfWork, actor: Actor, interaction_id: UUID, *, now: datetime | None = None) -> InteractionRead:
    """The conversation is over. Before an answer that is an abandon; after it, after-contact work starts.

    Agents end their own contacts; a provider adapter (or a supervisor) reports any contact's end.
    """
    now = now or utcnow()
    interaction = lock(uow, interaction_id)
    if interaction.status in (Status.wrap_up, *rules.FINAL):
        return read(uow, interaction)  # already over: the provider reports every end, the agent may have been first
    if interaction.status in (Status.queued, Status.offered) and actor.role != Role.agent:
        return _abandon(uow, interaction, now)
    interaction, agent = _mine(uow, actor, interaction_id, Status.connected)
    stop_hold(interaction, now)
    interaction.ended_at = now
    tell_provider(uow, interaction)
    freed = offers.end_legs(uow, interaction, now, keep=_primary_leg(uow, interaction))
    offers.settle_all(uow, freed, now)
    wrap_seconds = agent.wrap_up_seconds if agent else 0
    interaction.status, interaction.wrap_up_at = Status.wrap_up, now
    interaction.wrap_up_until = now + timedelta(seconds=wrap_seconds)
    _log(uow, interaction, now, "ended", agent)
    if (agent is not None and wrap_seconds and rules.capacity_kind(interaction.channel) == "voice"
            and agent.state in rules.ROUTABLE_STATES):  # one who chose a break or went offline stays there
        change_state(uow, agent, AgentState.wrap_up, now)
    if not wrap_seconds:
        return _complete(uow, interaction, agent, now, disposition=None, resolved=None, kind="closed")
    return read(uow, interaction)


def finish(uow: UnitOfWork, actor: Actor, interaction_id: UUID, data: WrapUpIn, *,
           now: datetime | None = None) -> InteractionRead:
    """Wrap-up done: disposition, notes, resolved. From a live contact this ends it first."""
    now = now or utcnow()
    code = setup.disposition(uow, data.disposition)
    interaction = lock(uow, interaction_id)
    if interaction.status == Status.connected:
        end(uow, actor, interaction_id, now=now)
    interaction, agent = _mine(uow, actor, interaction_id, Status.wrap_up, Status.completed)
    if data.notes:
        interaction.notes = data.notes.strip()[:NOTES_LIMIT]
    resolved = code.resolves if data.resolved is None else data.resolved
    if interaction.status == Status.completed:  # closed with no wrap-up time: the codes come afterwards
        interaction.disposition, interaction.resolved = code.code, resolved
        _log(uow, interaction, now, "disposed", agent, {"disposition": code.code})
        return read(uow, interaction)
    return _complete(uow, interaction, agent, now, disposition=code.code, resolved=resolved, kind="wrapped_up")


def finish_due(uow: UnitOfWork, now: datetime) -> int:
    """After-contact work that ran out of time closes by itself, with no disposition."""
    closed = 0
    for interaction in repository.due_wrap_ups(uow.session, now):
        if offers.lock_unless_busy(uow, interaction.id) is not None and interaction.status == Status.wrap_up:
            agent = setup.agent(uow, interaction.agent_id) if interaction.agent_id else None
            _complete(uow, interaction, agent, now, disposition=None, resolved=None, kind="wrap_up_timeout")
            closed += 1
    return closed


def _complete(uow: UnitOfWork, interaction: Interaction, agent: Agent | None, now: datetime, *,
              disposition: str | None, resolved: bool | None, kind: str) -> InteractionRead:
    interaction.status, interaction.closed_at = Status.completed, now
    _forget_keypad(uow, interaction)
    interaction.disposition, interaction.resolved = disposition, resolved
    freed = offers.end_legs(uow, interaction, now)
    offers.settle_all(uow, freed, now)
    _log(uow, interaction, now, kind, agent, {"disposition": disposition} if disposition else None)
    return read(uow, interaction)


def _forget_keypad(uow: UnitOfWork, interaction: Interaction) -> None:
    """The call is over: what its caller proved on the keypad stops counting for every agent it reached."""
    if not interaction.preverified or interaction.patient_id is None:
        return
    for agent_id in repository.agents_offered(uow.session, interaction.id):
        patient_access.forget_preverified(uow, setup.agent(uow, agent_id).user_id, interaction.patient_id)


def _abandon(uow: UnitOfWork, interaction: Interaction, now: datetime) -> InteractionRead:
    interaction.status, interaction.abandoned_at = Status.abandoned, now
    _forget_keypad(uow, interaction)
    freed = offers.end_legs(uow, interaction, now, status="withdrawn")
    interaction.agent_id = None
    offers.settle_all(uow, freed, now)
    waited = (now - interaction.queued_at).total_seconds() if interaction.queued_at else None
    _log(uow, interaction, now, "abandoned", None, {"waited_seconds": waited})
    return read(uow, interaction)


def transfer(uow: UnitOfWork, actor: Actor, interaction_id: UUID, data: TransferIn, *,
             now: datetime | None = None) -> InteractionRead:
    """Cold: the contact goes back in line (keeping its place) for a queue or one agent. Warm: the other
    agent is offered a consult leg; both talk (a conference) until ``complete_transfer``."""
    now = now or utcnow()
    interaction, agent = _mine(uow, actor, interaction_id, Status.connected)
    if data.mode == "warm":
        return _invite(uow, interaction, agent, data.agent_id, now)  # type: ignore[arg-type]
    target = setup.queue_named(uow, data.queue) if data.queue else setup.queue_by_id(uow, interaction.queue_id)
    wanted = setup.agent(uow, data.agent_id) if data.agent_id else None
    stop_hold(interaction, now)
    freed = offers.end_legs(uow, interaction, now)
    interaction.status, interaction.agent_id, interaction.transferred_at = Status.queued, None, now
    if agent is not None:  # not straight back to the one who passed it on (the decline cool-down)
        interaction.declined_by, interaction.declined_at = agent.id, now
    interaction.wanted_agent_id = wanted.id if wanted else None
    interaction.queue_id, interaction.entered_queue_at, interaction.step = target.id, now, 0  # a new wait
    _log(uow, interaction, now, "transferred", agent, {"mode": "cold", "queue": target.name,
                                                       "to_agent": str(wanted.id) if wanted else None})
    offers.settle_all(uow, freed, now)
    tell_provider(uow, interaction)
    uow.notify("routing", {"type": "transferred"})
    return read(uow, interaction)


def _invite(uow: UnitOfWork, interaction: Interaction, agent: Agent | None, target_id: UUID,
            now: datetime) -> InteractionRead:
    target = setup.agent(uow, target_id)
    if agent is not None and target.id == agent.id:
        raise InvalidRoutingInput("agent_id", "Choose another agent to bring in.")
    kind = rules.capacity_kind(interaction.channel)
    if not repository.reserve_direct(uow.session, target.id, kind):
        raise NoCapacity()
    queue = setup.queue_by_id(uow, interaction.queue_id)
    leg = Assignment(interaction_id=interaction.id, agent_id=target.id, kind=kind, role="consult", status="offered",
                     offered_at=now, expires_at=now + timedelta(seconds=queue.offer_seconds))
    repository.add(uow.session, leg)
    _log(uow, interaction, now, "consult_offered", agent, {"to_agent": str(target.id)})
    offers.tell_offered(uow, target.id, leg.id, interaction.id, leg.expires_at)
    return read(uow, interaction)


def complete_transfer(uow: UnitOfWork, actor: Actor, interaction_id: UUID, *,
                      now: datetime | None = None) -> InteractionRead:
    """The agent who brought a colleague in leaves; the colleague carries on with the contact."""
    now = now or utcnow()
    interaction, agent = _mine(uow, actor, interaction_id, Status.connected)
    legs = repository.live_assignments(uow.session, interaction.id)
    consult = next((leg for leg in legs if leg.role == "consult" and leg.status == "accepted"), None)
    if consult is None:
        raise WrongState("Nobody has joined yet: wait for your colleague to accept, or transfer cold.")
    freed = offers.end_legs(uow, interaction, now, keep=consult.id)
    consult.role = "primary"
    interaction.agent_id = consult.agent_id
    interaction.transferred_at = now
    uow.flush()
    _log(uow, interaction, now, "transferred", agent, {"mode": "warm", "to_agent": str(consult.agent_id)})
    offers.settle_all(uow, freed, now)
    tell_provider(uow, interaction)
    return read(uow, interaction)


def requeue(uow: UnitOfWork, actor: Actor, interaction_id: UUID, data: RequeueIn, *,
            now: datetime | None = None) -> InteractionRead:
    """A supervisor puts a contact back in line (keeping its place), maybe in another queue or higher."""
    now = now or utcnow()
    interaction = lock(uow, interaction_id)
    if interaction.status not in (Status.queued, Status.offered, Status.connected):
        raise WrongState(f"This contact is {interaction.status.replace('_', ' ')}; only a waiting or live "
                         "contact can be put back in line.")
    target = setup.queue_named(uow, data.queue) if data.queue else setup.queue_by_id(uow, interaction.queue_id)
    freed = offers.end_legs(uow, interaction, now)
    stop_hold(interaction, now)
    interaction.status, interaction.agent_id, interaction.wanted_agent_id = Status.queued, None, None
    interaction.queue_id, interaction.entered_queue_at, interaction.step = target.id, now, 0  # a new wait
    if data.priority is not None:
        interaction.priority = data.priority
    repository.add_events(uow.session, [event(interaction.id, now, "requeued", queue_id=interaction.queue_id,
                                              detail={"by": actor.username})])
    announce(uow, interaction, "requeued", *freed)  # the agents it was taken from: their desktops drop it
    offers.settle_all(uow, freed, now)
    tell_provider(uow, interaction)
    uow.notify("routing", {"type": "requeued"})
    return read(uow, interaction)


def ask_callback(uow: UnitOfWork, actor: Actor, interaction_id: UUID, *,
                 now: datetime | None = None) -> InteractionRead:
    """A caller in line asks to be called back instead of holding: the contact keeps its place."""
    now = now or utcnow()
    interaction = lock(uow, interaction_id)
    if interaction.status != Status.queued or interaction.channel != Channel.voice:
        raise WrongState("Only a call waiting in line can become a callback.")
    # Whoever calls back talks to the patient later: what the keypad proved on this call does not carry over.
    interaction.channel, interaction.preverified = Channel.callback, []
    _log(uow, interaction, now, "callback_requested", None)
    return read(uow, interaction)


def place_in_line(uow: UnitOfWork, interaction_id: UUID, *, now: datetime | None = None,
                  ) -> tuple[int | None, float | None]:
    """For a caller on hold: their place in line (1 = next) and the expected wait, the average wait of the
    queue's last answered contacts. (None, None) once they are no longer waiting."""
    now = now or utcnow()
    interaction = repository.get(uow.session, Interaction, interaction_id)
    if interaction is None or interaction.status != Status.queued:
        return None, None
    waits = repository.recent_answer_seconds(uow.session, interaction.queue_id, last=EXPECTED_WAIT_SAMPLE)
    return repository.ahead_in_line(uow.session, interaction, now) + 1, (sum(waits) / len(waits) if waits else None)


def record_event(uow: UnitOfWork, interaction_id: UUID, kind: str, *, at: datetime,
                 detail: dict[str, object] | None = None) -> None:
    """Add what a provider saw to the contact's history (a recording, a voicemail, an unanswered dial)."""
    if kind not in PROVIDER_EVENTS:
        raise InvalidRoutingInput("kind", f"{kind!r} is not an event a provider reports.")
    interaction = repository.get(uow.session, Interaction, interaction_id)
    if interaction is None:
        raise NotFound("interaction")
    _log(uow, interaction, at, kind, None, detail)


def write_notes(uow: UnitOfWork, actor: Actor, interaction_id: UUID, notes: str, *,
                now: datetime | None = None) -> InteractionRead:
    interaction, _agent = _mine(uow, actor, interaction_id, Status.offered, Status.connected, Status.wrap_up,
                                Status.completed)
    interaction.notes = notes.strip()[:NOTES_LIMIT] or None
    return read(uow, interaction)


def follow_merge(uow: UnitOfWork, *, duplicate_id: UUID, survivor_id: UUID) -> None:
    """After two patient records are merged, the duplicate's contacts move to the surviving record."""
    repository.move_patient(uow.session, from_id=duplicate_id, to_id=survivor_id)


def _primary_leg(uow: UnitOfWork, interaction: Interaction) -> UUID | None:
    legs = repository.live_assignments(uow.session, interaction.id)
    return next((leg.id for leg in legs if leg.role == "primary"), None)


def stop_hold(interaction: Interaction, now: datetime) -> None:
    """The hold ends (resumed, transferred, hung up): its seconds are added to the contact's hold time."""
    if interaction.held_at is not None:
        interaction.hold_seconds += int((now - interaction.held_at).total_seconds())
        interaction.held_at = None


def _log(uow: UnitOfWork, interaction: Interaction, now: datetime, kind: str, agent: Agent | None,
         detail: dict[str, object] | None = None) -> None:
    repository.add_events(uow.session, [event(interaction.id, now, kind, agent_id=agent.id if agent else None,
                                               queue_id=interaction.queue_id, detail=detail)])
    announce(uow, interaction, kind, agent.id if agent else None)
