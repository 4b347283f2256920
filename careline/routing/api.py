"""The routing REST API: interactions, offers, agents, queues, dispositions, the wallboard, and live streams.

A telephony or messaging adapter only needs ``POST /api/interactions`` (with its own ``external_ref`` so a
retried webhook is one contact) and ``POST /api/interactions/{id}/end`` when the customer leaves.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from careline.actor import Actor, Role
from careline.db import UnitOfWork
from careline.live import Notice
from careline.routing.errors import RoutingError
from careline.routing.rules import Status
from careline.routing.schemas import (
    AgentIn,
    AgentRead,
    AgentUpdate,
    DispositionIn,
    DispositionRead,
    EventRead,
    InteractionIn,
    InteractionRead,
    MyWork,
    NoteIn,
    QueueIn,
    QueueRead,
    RequeueIn,
    ScreenPop,
    StateIn,
    TransferIn,
    Wallboard,
    WrapUpIn,
)
from careline.routing.service import agents, board, desktop, interactions, offers, setup
from careline.web.deps import (
    AdminOnly,
    PatientClients,
    PatientRules,
    PatientWorkers,
    RecordReaders,
    Supervisors,
    TeamReaders,
    Uow,
    allow,
)
from careline.web.sse import Frames, event_stream, in_unit_of_work

router = APIRouter(prefix="/api", tags=["routing"])
WALLBOARD_SETTLE_SECONDS = 0.5
# Speaking for a caller still in line (no agent has them): the IVR's service account, or a supervisor.
LineKeepers = Annotated[Actor, Depends(allow(Role.supervisor, Role.admin))]
# Changing how agents are routed (skills, capacity) during the day: supervisors, and admins who set it up.
TeamManagers = Annotated[Actor, Depends(allow(Role.admin, Role.supervisor))]


# --- interactions ---------------------------------------------------------------------------------------------


@router.post("/interactions", status_code=201)
def create_interaction(data: InteractionIn, uow: Uow, actor: PatientClients, rules: PatientRules,
                       response: Response) -> InteractionRead:
    """Queue a contact. The same ``external_ref`` again returns the first one with 200 and changes nothing."""
    created, new = interactions.create(uow, actor, rules, data)
    if not new:
        response.status_code = 200
    return created


@router.get("/interactions")
def list_interactions(
    uow: Uow, actor: RecordReaders, status: Annotated[list[Status] | None, Query()] = None,
    queue: str | None = None, agent_id: UUID | None = None, patient_id: UUID | None = None,
    since: AwareDatetime | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[InteractionRead]:
    """The center's contacts, newest first. Agents see their own through ``/api/agents/me``."""
    return interactions.search_audited(uow, actor, statuses=status, queue=queue, agent_id=agent_id,
                                      patient_id=patient_id, since=since, limit=limit)


@router.get("/interactions/{interaction_id}")
def get_interaction(interaction_id: UUID, uow: Uow, actor: RecordReaders) -> InteractionRead:
    return interactions.open_one(uow, actor, interaction_id)


@router.get("/interactions/{interaction_id}/events")
def interaction_history(interaction_id: UUID, uow: Uow, actor: RecordReaders) -> list[EventRead]:
    return interactions.open_history(uow, actor, interaction_id)


@router.post("/interactions/{interaction_id}/hold")
def hold(interaction_id: UUID, uow: Uow, actor: PatientClients) -> InteractionRead:
    return interactions.hold(uow, actor, interaction_id)


@router.post("/interactions/{interaction_id}/resume")
def resume(interaction_id: UUID, uow: Uow, actor: PatientClients) -> InteractionRead:
    return interactions.resume(uow, actor, interaction_id)


@router.post("/interactions/{interaction_id}/end")
def end(interaction_id: UUID, uow: Uow, actor: PatientClients) -> InteractionRead:
    """The conversation is over: after-contact work starts; a contact not yet answered is abandoned."""
    return interactions.end(uow, actor, interaction_id)


@router.post("/interactions/{interaction_id}/wrap-up")
def wrap_up(interaction_id: UUID, data: WrapUpIn, uow: Uow, actor: PatientWorkers) -> InteractionRead:
    return interactions.finish(uow, actor, interaction_id, data)


@router.put("/interactions/{interaction_id}/notes")
def write_notes(interaction_id: UUID, data: NoteIn, uow: Uow, actor: PatientWorkers) -> InteractionRead:
    return interactions.write_notes(uow, actor, interaction_id, data.notes)


@router.post("/interactions/{interaction_id}/transfer")
def transfer(interaction_id: UUID, data: TransferIn, uow: Uow, actor: PatientWorkers) -> InteractionRead:
    return interactions.transfer(uow, actor, interaction_id, data)


@router.post("/interactions/{interaction_id}/complete-transfer")
def complete_transfer(interaction_id: UUID, uow: Uow, actor: PatientWorkers) -> InteractionRead:
    return interactions.complete_transfer(uow, actor, interaction_id)


@router.post("/interactions/{interaction_id}/callback")
def ask_callback(interaction_id: UUID, uow: Uow, actor: LineKeepers) -> InteractionRead:
    """The caller waiting in line asked (in the IVR) to be called back: they keep their place."""
    return interactions.ask_callback(uow, actor, interaction_id)


@router.post("/interactions/{interaction_id}/requeue")
def requeue(interaction_id: UUID, data: RequeueIn, uow: Uow, actor: Supervisors) -> InteractionRead:
    return interactions.requeue(uow, actor, interaction_id, data)


# --- offers ---------------------------------------------------------------------------------------------------


@router.post("/offers/{assignment_id}/accept")
def accept_offer(assignment_id: UUID, uow: Uow, actor: PatientWorkers) -> InteractionRead:
    return offers.accept(uow, actor, assignment_id)


@router.post("/offers/{assignment_id}/reject", status_code=204)
def reject_offer(assignment_id: UUID, uow: Uow, actor: PatientWorkers) -> None:
    offers.reject(uow, actor, assignment_id)


@router.get("/offers/{assignment_id}/pop")
def screen_pop(assignment_id: UUID, uow: Uow, actor: PatientWorkers, rules: PatientRules) -> ScreenPop:
    return desktop.screen_pop(uow, actor, rules, assignment_id)


# --- agents ---------------------------------------------------------------------------------------------------


@router.get("/agents")
def list_agents(uow: Uow, _actor: PatientClients) -> list[AgentRead]:
    """Who takes contacts and their state now: the team's presence list, also an agent's transfer directory."""
    return setup.list_agents(uow)


@router.post("/agents", status_code=201)
def create_agent(data: AgentIn, uow: Uow, actor: AdminOnly) -> AgentRead:
    return setup.create_agent(uow, actor, data)


# The agent's own routes come before ``/agents/{agent_id}/...``, which would read "me" as an agent id.
@router.get("/agents/me")
def my_work(uow: Uow, actor: PatientWorkers) -> MyWork:
    return desktop.my_work(uow, actor)


@router.put("/agents/me/state")
def set_my_state(data: StateIn, uow: Uow, actor: PatientWorkers) -> AgentRead:
    return agents.set_own_state(uow, actor, data)


@router.get("/agents/me/events", response_class=StreamingResponse)
def my_events(request: Request, uow: Uow, actor: PatientWorkers, rules: PatientRules) -> StreamingResponse:
    """Server-sent events for this agent: ``hello`` (their work now, first and on every reconnect),
    ``offer`` (with the screen pop), ``offer_gone``, ``state`` and ``interaction`` changes.

    The request only finds the agent (404 without a profile); the stream reads their work once it listens.
    """
    agent_id = setup.agent_of(uow, actor).id

    async def hello() -> Frames:
        work = await in_unit_of_work(request, lambda inner: desktop.my_work(inner, actor))
        return [("hello", work.model_dump(mode="json"))]

    async def translate(notice: Notice) -> Frames:
        _channel, payload = notice
        if payload.get("type") != "offer":
            return [(str(payload.get("type", "notice")), payload)]

        def pop(inner: UnitOfWork) -> dict[str, Any]:
            return desktop.screen_pop(inner, actor, rules, UUID(payload["assignment_id"])).model_dump(mode="json")

        try:
            return [("offer", await in_unit_of_work(request, pop))]
        except RoutingError:  # taken back before the pop was built: the next notice says so
            return []

    return event_stream(request, [f"agent:{agent_id}"], translate, first=hello)


@router.patch("/agents/{agent_id}")
def update_agent(agent_id: UUID, data: AgentUpdate, uow: Uow, actor: TeamManagers) -> AgentRead:
    """Skills, languages and capacity: supervisors re-skill their team during the day."""
    return setup.update_agent(uow, actor, agent_id, data)


@router.put("/agents/{agent_id}/state")
def set_agent_state(agent_id: UUID, data: StateIn, uow: Uow, actor: Supervisors) -> AgentRead:
    return agents.set_state_of(uow, actor, agent_id, data)


# --- queues, dispositions, wallboard --------------------------------------------------------------------------


@router.get("/queues")
def list_queues(uow: Uow, _actor: PatientClients) -> list[QueueRead]:
    return setup.list_queues(uow)


@router.post("/queues")
def save_queue(data: QueueIn, uow: Uow, actor: AdminOnly) -> QueueRead:
    """Create the queue, or replace the settings of the queue with the same name."""
    return setup.save_queue(uow, actor, data)


@router.get("/dispositions")
def list_dispositions(uow: Uow, _actor: PatientClients) -> list[DispositionRead]:
    return setup.list_dispositions(uow)


@router.put("/dispositions")
def save_dispositions(data: list[DispositionIn], uow: Uow, actor: AdminOnly) -> list[DispositionRead]:
    return setup.save_dispositions(uow, actor, data)


@router.get("/wallboard")
def wallboard(request: Request, uow: Uow, _actor: TeamReaders) -> Wallboard:
    """Today's figures: since midnight in the center's zone (``CARELINE_CENTER_TIME_ZONE``)."""
    return board.wallboard(uow, zone=request.app.state.settings.center_time_zone)


@router.get("/wallboard/events", response_class=StreamingResponse)
def wallboard_events(request: Request, _actor: TeamReaders) -> StreamingResponse:
    """A ``changed`` event whenever something on the wallboard moved; read ``/api/wallboard`` again then.
    One is sent first too, so a client that reconnects after a gap re-reads at once."""

    async def translate(notice: Notice) -> Frames:
        return [("changed", {"type": notice[1].get("type")})]

    async def first() -> Frames:
        return [("changed", {"type": "connected"})]

    return event_stream(request, ["center"], translate, first=first, coalesce=WALLBOARD_SETTLE_SECONDS)
