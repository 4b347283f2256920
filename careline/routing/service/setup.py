"""Setting up the center: queues, agents with their skills and capacity, disposition codes. Audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from careline import audit
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.db import UnitOfWork, utcnow
from careline.routing import repository
from careline.routing.errors import InvalidRoutingInput, NotFound
from careline.routing.models import Agent, Disposition, Queue
from careline.routing.schemas import (
    AgentIn,
    AgentRead,
    AgentUpdate,
    DispositionIn,
    DispositionRead,
    QueueIn,
    QueueRead,
)

AGENT_ROLES = frozenset({Role.agent, Role.supervisor})


def list_queues(uow: UnitOfWork) -> list[QueueRead]:
    return [QueueRead.model_validate(queue) for queue in repository.queues(uow.session)]


def queue_named(uow: UnitOfWork, name: str) -> Queue:
    queue = repository.queue_named(uow.session, name)
    if queue is None or not queue.active:
        raise InvalidRoutingInput("queue", f"There is no active queue named {name!r}.")
    return queue


def queue_exists(uow: UnitOfWork, name: str) -> bool:
    queue = repository.queue_named(uow.session, name)
    return queue is not None and queue.active


def queue_by_id(uow: UnitOfWork, queue_id: UUID) -> Queue:
    queue = repository.get(uow.session, Queue, queue_id)
    if queue is None:
        raise NotFound("queue")
    return queue


def save_queue(uow: UnitOfWork, actor: Actor, data: QueueIn) -> QueueRead:
    """Create the queue, or replace the settings of the queue with that name."""
    _check_overflows(uow, data)
    values = data.model_dump(mode="json")
    queue = repository.queue_named(uow.session, data.name)
    created = queue is None
    if queue is None:
        queue = Queue(**values)
        repository.add(uow.session, queue)
    else:
        for key, value in values.items():
            setattr(queue, key, value)
        queue.active = True
    uow.flush()
    audit.record(uow, actor, "queue.created" if created else "queue.updated", subject_type="queue",
                 subject_id=queue.id, details={"name": queue.name})
    return QueueRead.model_validate(queue)


def _check_overflows(uow: UnitOfWork, data: QueueIn) -> None:
    for step in data.steps:
        if step.overflow_queue and step.overflow_queue != data.name:
            try:
                queue_named(uow, step.overflow_queue)
            except InvalidRoutingInput as error:  # named by the steps, not by a queue field
                raise InvalidRoutingInput("steps", str(error)) from error
        elif step.overflow_queue:
            raise InvalidRoutingInput("steps", "A queue cannot overflow into itself.")


def list_agents(uow: UnitOfWork) -> list[AgentRead]:
    rows = repository.agents(uow.session, active_only=False)
    skills = repository.skills_of(uow.session)
    return [_read(agent, skills.get(agent.id, {})) for agent in rows]


def agent(uow: UnitOfWork, agent_id: UUID) -> Agent:
    found = repository.get(uow.session, Agent, agent_id)
    if found is None:
        raise NotFound("agent")
    return found


def lock_agent(uow: UnitOfWork, agent_id: UUID) -> Agent:
    """The agent, re-read and locked until the end of the transaction, for a change that depends on its state
    (an engine pass that wants to reserve them waits, then sees the change)."""
    found = repository.get_for_update(uow.session, Agent, agent_id)
    if found is None:
        raise NotFound("agent")
    return found


def agent_for_user(uow: UnitOfWork, user_id: UUID) -> Agent | None:
    return repository.agent_of_user(uow.session, user_id)


def agent_of(uow: UnitOfWork, actor: Actor) -> Agent:
    """The signed-in user's agent profile."""
    found = repository.agent_of_user(uow.session, actor.user_id) if actor.user_id else None
    if found is None or not found.active:
        raise NotFound("agent profile for you; ask a supervisor to set one up")
    return found


def read_agent(uow: UnitOfWork, found: Agent) -> AgentRead:
    return _read(found, repository.skills_of(uow.session, [found.id]).get(found.id, {}))


def _read(found: Agent, skills: dict[str, int]) -> AgentRead:
    return AgentRead.model_validate(found).model_copy(update={"skills": skills})


def create_agent(uow: UnitOfWork, actor: Actor, data: AgentIn, *, now: datetime | None = None) -> AgentRead:
    user = auth_service.get_user(uow, actor, data.user_id)
    if user.role not in AGENT_ROLES:
        raise InvalidRoutingInput("user_id", "Only agents and supervisors take contacts.")
    now = now or utcnow()
    found = Agent(user_id=user.id, name=user.display_name, extension=data.extension, phone=data.phone,
                  languages=data.languages,
                  voice_slots=data.voice_slots, text_slots=data.text_slots, blend=data.blend,
                  wrap_up_seconds=data.wrap_up_seconds, state="offline", state_since=now, idle_since=now)
    try:
        with uow.session.begin_nested():
            repository.add(uow.session, found)
    except IntegrityError as error:
        raise InvalidRoutingInput("user_id", "That user already has an agent profile, or the extension is taken.") \
            from error
    repository.replace_skills(uow.session, found.id, data.skills)
    repository.record_state(uow.session, found.id, "offline", now, reason="created", changed_by=actor.username)
    audit.record(uow, actor, "agent.created", subject_type="agent", subject_id=found.id)
    return read_agent(uow, found)


def update_agent(uow: UnitOfWork, actor: Actor, agent_id: UUID, data: AgentUpdate) -> AgentRead:
    found = agent(uow, agent_id)
    holder = repository.agent_by_extension(uow.session, data.extension) if data.extension else None
    if holder is not None and holder.id != found.id:  # said plainly here; the unique index still decides races
        raise InvalidRoutingInput("extension", "That extension belongs to another agent.")
    changes = data.model_dump(exclude_unset=True, exclude={"skills"})
    for key, value in changes.items():
        setattr(found, key, value)
    if data.skills is not None:
        repository.replace_skills(uow.session, found.id, data.skills)
    try:
        with uow.session.begin_nested():
            uow.flush()
    except IntegrityError as error:  # the capacity check: fewer slots than contacts held right now
        raise InvalidRoutingInput("capacity", "The agent holds more contacts than that right now, or the "
                                              "extension is taken.") from error
    audit.record(uow, actor, "agent.updated", subject_type="agent", subject_id=found.id,
                 details={"fields": sorted(changes) + (["skills"] if data.skills is not None else [])})
    uow.notify("routing", {"type": "agent_changed"})
    return read_agent(uow, found)


def list_dispositions(uow: UnitOfWork) -> list[DispositionRead]:
    return [DispositionRead.model_validate(row) for row in repository.dispositions(uow.session)]


def disposition(uow: UnitOfWork, code: str) -> Disposition:
    found = repository.get(uow.session, Disposition, code)
    if found is None or not found.active:
        raise InvalidRoutingInput("disposition", f"{code!r} is not a disposition code in use.")
    return found


def save_dispositions(uow: UnitOfWork, actor: Actor, codes: Sequence[DispositionIn]) -> list[DispositionRead]:
    """Create or relabel codes. A code is never deleted (past contacts name it); it is retired instead."""
    for data in codes:
        found = repository.get(uow.session, Disposition, data.code)
        if found is None:
            uow.session.add(Disposition(code=data.code, label=data.label, resolves=data.resolves))
        else:
            found.label, found.resolves, found.active = data.label, data.resolves, True
    uow.flush()
    audit.record(uow, actor, "dispositions.saved", details={"codes": [data.code for data in codes]})
    return list_dispositions(uow)
