"""Every query on routing's tables.

The writes that decide who gets what are conditional updates (compare-and-set): they name the state they
expect, and a row that changed in the meantime is simply not updated. Callers read ``rowcount``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Row, and_, bindparam, case, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from careline.routing import rules
from careline.routing.models import (
    Agent,
    AgentSkill,
    AgentStateChange,
    Assignment,
    Disposition,
    Interaction,
    InteractionEvent,
    Queue,
)

Model = TypeVar("Model", Queue, Agent, Interaction, Assignment, Disposition)
ROUTABLE = sorted(rules.ROUTABLE_STATES)
BULK_ROWS = 8  # from this many rows on, PostgreSQL writes them as arrays in one statement


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def get(session: Session, model: type[Model], row_id: Any) -> Model | None:
    return session.get(model, row_id)


def get_for_update(session: Session, model: type[Model], row_id: Any, *, skip_locked: bool = False) -> Model | None:
    """The row, locked until the end of the transaction on PostgreSQL (SQLite's write lock covers it).

    With ``skip_locked``, None while another transaction holds the row, instead of waiting for it."""
    return session.get(model, row_id, with_for_update={"skip_locked": True} if skip_locked else True,
                       populate_existing=True)


# --- queues, agents, skills, dispositions ---------------------------------------------------------------------


def queues(session: Session, *, active_only: bool = False) -> Sequence[Queue]:
    query = select(Queue).order_by(Queue.name)
    if active_only:
        query = query.where(Queue.active.is_(True))
    return session.scalars(query).all()


def queue_named(session: Session, name: str) -> Queue | None:
    return session.scalars(select(Queue).where(Queue.name == name)).one_or_none()


def agents(session: Session, *, active_only: bool = True) -> Sequence[Agent]:
    query = select(Agent).order_by(Agent.name)
    if active_only:
        query = query.where(Agent.active.is_(True))
    return session.scalars(query).all()


def agent_of_user(session: Session, user_id: UUID) -> Agent | None:
    return session.scalars(select(Agent).where(Agent.user_id == user_id)).one_or_none()


def agent_by_extension(session: Session, extension: str) -> Agent | None:
    return session.scalars(select(Agent).where(Agent.extension == extension)).one_or_none()


def skills_of(session: Session, agent_ids: Iterable[UUID] | None = None) -> dict[UUID, dict[str, int]]:
    query = select(AgentSkill.agent_id, AgentSkill.skill, AgentSkill.level)
    if agent_ids is not None:
        query = query.where(AgentSkill.agent_id.in_(list(agent_ids)))
    found: dict[UUID, dict[str, int]] = defaultdict(dict)
    for agent_id, skill, level in session.execute(query):
        found[agent_id][skill] = level
    return found


def replace_skills(session: Session, agent_id: UUID, skills: dict[str, int]) -> None:
    session.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent_id))
    if skills:
        session.execute(insert(AgentSkill), [{"agent_id": agent_id, "skill": skill, "level": level}
                                              for skill, level in skills.items()])


def record_state(session: Session, agent_id: UUID, state: str, at: datetime, *, reason: str | None,
                 changed_by: str | None) -> None:
    session.execute(insert(AgentStateChange).values(agent_id=agent_id, state=state, at=at, reason=reason,
                                                    changed_by=changed_by))


def dispositions(session: Session, *, active_only: bool = True) -> Sequence[Disposition]:
    query = select(Disposition).order_by(Disposition.label)
    if active_only:
        query = query.where(Disposition.active.is_(True))
    return session.scalars(query).all()


# --- interactions and their history ---------------------------------------------------------------------------


def by_external_ref(session: Session, ref: str) -> Interaction | None:
    return session.scalars(select(Interaction).where(Interaction.external_ref == ref)).one_or_none()


def add_events(session: Session, events: Sequence[dict[str, Any]]) -> None:
    _insert_many(session, InteractionEvent.__table__, events)


def _insert_many(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows of the same keys. An engine pass writes hundreds at once: on PostgreSQL they go as one
    ``INSERT … SELECT FROM unnest(arrays)`` (executemany would cost the server a statement per row)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql" or len(rows) < BULK_ROWS:
        session.execute(insert(table), list(rows))
        return
    dialect, names = session.get_bind().dialect, list(rows[0])
    types = {name: table.c[name].type.compile(dialect=dialect) for name in names}
    arrays = ", ".join(f"CAST(:{name} AS {'TEXT' if types[name] == 'JSON' else types[name]}[])" for name in names)
    picks = ", ".join(f"CAST({name} AS JSON)" if types[name] == "JSON" else name for name in names)
    params = {name: [_pg_value(row[name], types[name]) for row in rows] for name in names}
    session.execute(text(f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608 - names are our columns
                         f"SELECT {picks} FROM unnest({arrays}) AS rows ({', '.join(names)})"), params)


def _pg_value(value: Any, type_name: str) -> Any:
    return json.dumps(value) if type_name == "JSON" and value is not None else value


def events_of(session: Session, interaction_id: UUID) -> Sequence[InteractionEvent]:
    return session.scalars(select(InteractionEvent).where(InteractionEvent.interaction_id == interaction_id)
                           .order_by(InteractionEvent.at, InteractionEvent.id)).all()


def search(session: Session, *, statuses: Sequence[str] | None, queue_id: UUID | None, agent_id: UUID | None,
           patient_id: UUID | None, since: datetime | None, limit: int) -> Sequence[Interaction]:
    query = select(Interaction).order_by(Interaction.created_at.desc()).limit(limit)
    if statuses:
        query = query.where(Interaction.status.in_(statuses))
    if queue_id:
        query = query.where(Interaction.queue_id == queue_id)
    if agent_id:
        query = query.where(Interaction.agent_id == agent_id)
    if patient_id:
        query = query.where(Interaction.patient_id == patient_id)
    if since:
        query = query.where(Interaction.created_at >= since)
    return session.scalars(query).all()


def of_patient(session: Session, patient_id: UUID, *, limit: int) -> Sequence[Interaction]:
    return session.scalars(select(Interaction).where(Interaction.patient_id == patient_id)
                           .order_by(Interaction.created_at.desc()).limit(limit)).all()


def move_patient(session: Session, *, from_id: UUID, to_id: UUID) -> None:
    session.execute(update(Interaction).where(Interaction.patient_id == from_id).values(patient_id=to_id))


# --- what the engine reads ------------------------------------------------------------------------------------


def waiting(session: Session, now: datetime, *, limit: int) -> list[Row[Any]]:
    """Queued interactions due now, best first: highest priority, then longest in line."""
    columns = (Interaction.id, Interaction.queue_id, Interaction.channel, Interaction.language,
               Interaction.priority, Interaction.queued_at, Interaction.entered_queue_at, Interaction.step,
               Interaction.wanted_agent_id, Interaction.declined_by, Interaction.declined_at)
    return list(session.execute(
        select(*columns).where(Interaction.status == "queued", Interaction.routed_externally.is_(False),
                               or_(Interaction.not_before.is_(None), Interaction.not_before <= now))
        .order_by(Interaction.priority.desc(), Interaction.queued_at).limit(limit)))


def routable_agents(session: Session) -> list[Row[Any]]:
    """Agents who could take one more contact of some kind right now, and have no offer of ours waiting on them
    (a PBX ringing their phone holds no capacity here, and a lost ring event must not keep them from work)."""
    room = or_(and_(Agent.load_voice < Agent.voice_slots, or_(Agent.blend, Agent.load_text == 0)),
               and_(Agent.load_text < Agent.text_slots, or_(Agent.blend, Agent.load_voice == 0)))
    deciding = select(Assignment.id).where(Assignment.agent_id == Agent.id, Assignment.status == "offered",
                                           Assignment.kind != rules.UNRESERVED).exists()
    return list(session.execute(
        select(Agent.id, Agent.languages, Agent.idle_since, Agent.load_voice, Agent.load_text, Agent.voice_slots,
               Agent.text_slots, Agent.blend)
        .where(Agent.active.is_(True), Agent.state.in_(ROUTABLE), room, ~deciding)))


def expired_offers(session: Session, now: datetime) -> Sequence[Assignment]:
    return session.scalars(select(Assignment).where(Assignment.status == "offered", Assignment.expires_at <= now)
                           .order_by(Assignment.expires_at)).all()


def due_wrap_ups(session: Session, now: datetime) -> Sequence[Interaction]:
    return session.scalars(select(Interaction).where(Interaction.status == "wrap_up",
                                                     Interaction.wrap_up_until <= now)).all()


def live_assignments(session: Session, interaction_id: UUID) -> Sequence[Assignment]:
    return session.scalars(select(Assignment).where(Assignment.interaction_id == interaction_id,
                                                    Assignment.status.in_(("offered", "accepted")))
                           .order_by(Assignment.offered_at)).all()


def agents_offered(session: Session, interaction_id: UUID) -> list[UUID]:
    """Every agent the interaction was ever offered to (any leg, any outcome)."""
    return list(session.scalars(select(Assignment.agent_id).where(Assignment.interaction_id == interaction_id)
                                .distinct()))


def assignments_of_agent(session: Session, agent_id: UUID, statuses: Sequence[str]) -> Sequence[Assignment]:
    return session.scalars(select(Assignment).where(Assignment.agent_id == agent_id,
                                                    Assignment.status.in_(statuses))
                           .order_by(Assignment.offered_at)).all()


def wrap_ups_of(session: Session, agent_id: UUID) -> int:
    return session.scalar(select(func.count()).select_from(Interaction).where(
        Interaction.agent_id == agent_id, Interaction.status == "wrap_up")) or 0


# --- compare-and-set writes -----------------------------------------------------------------------------------


def claim_many(session: Session, interaction_ids: Sequence[UUID], now: datetime) -> set[UUID]:
    """queued → offered, for each one still queued; returns those claimed. The agent is set by ``assign``."""
    if not interaction_ids:
        return set()
    claimed = session.execute(
        update(Interaction).where(Interaction.id.in_(interaction_ids), Interaction.status == "queued")
        .values(status="offered", offers=Interaction.offers + 1,
                offered_at=func.coalesce(Interaction.offered_at, now))
        .returning(Interaction.id).execution_options(synchronize_session=False))
    return set(claimed.scalars())


def unclaim_many(session: Session, interaction_ids: Sequence[UUID]) -> None:
    """Claimed in this transaction but no agent could be reserved: back in line as they were."""
    if interaction_ids:
        session.execute(update(Interaction).where(Interaction.id.in_(interaction_ids), Interaction.status == "offered",
                                                  Interaction.agent_id.is_(None))
                        .values(status="queued", offers=Interaction.offers - 1)
                        .execution_options(synchronize_session=False))


_ASSIGN = update(Interaction).where(Interaction.id == bindparam("interaction")).values(agent_id=bindparam("agent"))


def assign(session: Session, pairs: Sequence[tuple[UUID, UUID]]) -> None:
    """Name the agent of interactions this transaction claimed, in one statement."""
    if not pairs:
        return
    if session.get_bind().dialect.name == "postgresql" and len(pairs) >= BULK_ROWS:
        session.execute(text("UPDATE interactions SET agent_id = pairs.agent FROM unnest(CAST(:ids AS UUID[]), "
                             "CAST(:agents AS UUID[])) AS pairs (id, agent) WHERE interactions.id = pairs.id"),
                        {"ids": [pair[0] for pair in pairs], "agents": [pair[1] for pair in pairs]})
        return
    session.connection().execute(_ASSIGN, [{"interaction": interaction, "agent": agent}
                                           for interaction, agent in pairs])


def back_to_queue(session: Session, interaction_id: UUID, agent_id: UUID, now: datetime, *, declined: bool) -> bool:
    """offered (to this agent) → queued again; a refusal keeps the agent from being asked again at once.

    A contact sent to this one agent now waits for anyone in its queue: they said no, or left."""
    result = session.execute(
        update(Interaction).where(Interaction.id == interaction_id, Interaction.status == "offered",
                                  Interaction.agent_id == agent_id)
        .values(status="queued", agent_id=None, wanted_agent_id=None, declined_by=agent_id if declined else None,
                declined_at=now if declined else None)
        .execution_options(synchronize_session=False))
    return _changed(result)


def update_waiting(session: Session, interaction_id: UUID, values: dict[str, Any]) -> None:
    session.execute(update(Interaction).where(Interaction.id == interaction_id, Interaction.status == "queued")
                    .values(**values).execution_options(synchronize_session=False))


def reserve_many(session: Session, kind: str, wanted: dict[UUID, int]) -> set[UUID]:
    """Raise each agent's load of ``kind`` by the count wanted, only for routable agents it still fits;
    returns the agents reserved. Agents wanting the same count share one statement."""
    column, other, slots = _capacity_columns(kind)
    reserved: set[UUID] = set()
    for count in sorted(set(wanted.values())):
        agent_ids = [agent_id for agent_id, n in wanted.items() if n == count]
        done = session.execute(
            update(Agent).where(Agent.id.in_(agent_ids), Agent.state.in_(ROUTABLE), column + count <= slots,
                                or_(Agent.blend, other == 0))
            .values({column.key: column + count}).returning(Agent.id).execution_options(synchronize_session=False))
        reserved.update(done.scalars())
    return reserved


def _capacity_columns(kind: str) -> tuple[Any, Any, Any]:
    if kind == "voice":
        return Agent.load_voice, Agent.load_text, Agent.voice_slots
    return Agent.load_text, Agent.load_voice, Agent.text_slots


def reserve_direct(session: Session, agent_id: UUID, kind: str) -> bool:
    """Like ``reserve`` for a consult or a direct hand-over, which may reach an agent in any working state."""
    column, other, slots = _capacity_columns(kind)
    result = session.execute(update(Agent).where(Agent.id == agent_id, Agent.state != "offline", column < slots,
                                                 or_(Agent.blend, other == 0))
                             .values({column.key: column + 1}).execution_options(synchronize_session=False))
    return _changed(result)


def release(session: Session, agent_id: UUID, kind: str, now: datetime) -> None:
    """One contact fewer; an agent left holding nothing starts idling now (longest-idle routing)."""
    if kind not in ("voice", "text"):
        return  # a leg recorded without a reservation (a PBX-routed call) gives nothing back
    column, other, _slots = _capacity_columns(kind)
    session.execute(update(Agent).where(Agent.id == agent_id)
                    .values({column.key: column - 1,
                             Agent.idle_since.key: case((and_(column == 1, other == 0), now),
                                                        else_=Agent.idle_since)})
                    .execution_options(synchronize_session=False))


def set_assignment_status(session: Session, assignment_id: UUID, *, expected: Sequence[str], status: str,
                          now: datetime) -> bool:
    values: dict[str, Any] = {"status": status}
    if status == "accepted":
        values["accepted_at"] = now
    else:
        values["ended_at"] = now
    result = session.execute(update(Assignment).where(Assignment.id == assignment_id,
                                                      Assignment.status.in_(expected))
                             .values(**values).execution_options(synchronize_session=False))
    return _changed(result)


def insert_assignments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    _insert_many(session, Assignment.__table__, rows)


def _changed(result: Any) -> bool:
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


# --- figures for the wallboard --------------------------------------------------------------------------------


def queue_day_figures(session: Session, since: datetime) -> dict[UUID, dict[str, float]]:
    """Per queue, for interactions that reached it since ``since``: counts, and answer times in seconds.

    Summed in the database: a busy day is hundreds of thousands of rows.
    """
    dialect = session.get_bind().dialect.name
    answer = _seconds(dialect, Interaction.queued_at, Interaction.answered_at)
    abandon = _seconds(dialect, Interaction.queued_at, Interaction.abandoned_at)
    threshold = Queue.service_level_seconds
    answered = Interaction.answered_at.is_not(None)
    abandoned = and_(Interaction.status == "abandoned", Interaction.answered_at.is_(None))
    rows = session.execute(
        select(Interaction.queue_id, func.count(),
               func.count(case((answered, 1))),
               func.count(case((abandoned, 1))),
               func.count(case((and_(answered, answer <= threshold), 1))),
               func.count(case((and_(abandoned, abandon > threshold), 1))),
               func.coalesce(func.sum(case((answered, answer))), 0))
        .join(Queue, Queue.id == Interaction.queue_id)
        .where(Interaction.queued_at >= since).group_by(Interaction.queue_id)).all()
    keys = ("offered", "answered", "abandoned", "answered_within", "abandoned_after", "answer_seconds")
    return {row[0]: dict(zip(keys, (float(value) for value in row[1:]), strict=True)) for row in rows}


def _seconds(dialect: str, start: Any, end: Any) -> Any:
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def waiting_now(session: Session, now: datetime) -> dict[UUID, tuple[int, datetime | None]]:
    rows = session.execute(
        select(Interaction.queue_id, func.count(), func.min(Interaction.entered_queue_at))
        .where(Interaction.status.in_(("queued", "offered")),
               or_(Interaction.not_before.is_(None), Interaction.not_before <= now))
        .group_by(Interaction.queue_id)).all()
    return {row[0]: (row[1], row[2]) for row in rows}


def agent_day_figures(session: Session, since: datetime) -> dict[UUID, tuple[int, float]]:
    """Per agent: contacts completed since ``since`` and their total handle time (answer → close), seconds."""
    handle = _seconds(session.get_bind().dialect.name, Interaction.answered_at, Interaction.closed_at)
    rows = session.execute(
        select(Interaction.agent_id, func.count(), func.coalesce(func.sum(handle), 0))
        .where(Interaction.status == "completed", Interaction.closed_at >= since,
               Interaction.answered_at.is_not(None)).group_by(Interaction.agent_id)).all()
    return {row[0]: (int(row[1]), float(row[2])) for row in rows}


def ahead_in_line(session: Session, interaction: Interaction, now: datetime) -> int:
    """Contacts due in the same queue that the engine would serve before this one."""
    ahead = or_(Interaction.priority > interaction.priority,
                and_(Interaction.priority == interaction.priority, Interaction.queued_at < interaction.queued_at))
    return int(session.scalar(
        select(func.count()).select_from(Interaction)
        .where(Interaction.status == "queued", Interaction.queue_id == interaction.queue_id, ahead,
               or_(Interaction.not_before.is_(None), Interaction.not_before <= now))) or 0)


def recent_answer_seconds(session: Session, queue_id: UUID, *, last: int) -> list[float]:
    """How long the last ``last`` answered contacts of a queue waited, in seconds."""
    rows = session.execute(
        select(Interaction.queued_at, Interaction.answered_at)
        .where(Interaction.queue_id == queue_id, Interaction.answered_at.is_not(None))
        .order_by(Interaction.created_at.desc()).limit(last)).all()
    return [max((answered - queued).total_seconds(), 0.0) for queued, answered in rows if queued and answered]


def try_routing_lock(session: Session) -> bool:
    """On PostgreSQL, one engine pass at a time across processes; SQLite's write lock already serialises."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(7264021)")))
