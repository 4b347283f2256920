"""The supervisor's wallboard: per queue and per agent, today so far (since midnight in the center's zone)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from careline.db import UnitOfWork, utcnow
from careline.routing import repository, rules
from careline.routing.schemas import AgentFigures, QueueFigures, Wallboard


def wallboard(uow: UnitOfWork, *, zone: str, now: datetime | None = None) -> Wallboard:
    now = now or utcnow()
    since = datetime.combine(now.astimezone(ZoneInfo(zone)).date(), time(), tzinfo=ZoneInfo(zone))
    day = repository.queue_day_figures(uow.session, since)
    line = repository.waiting_now(uow.session, now)
    queues = []
    for queue in repository.queues(uow.session, active_only=True):
        figures = day.get(queue.id, {})
        waiting, oldest = line.get(queue.id, (0, None))
        answered = int(figures.get("answered", 0))
        level = rules.service_level(int(figures.get("answered_within", 0)), answered,
                                    int(figures.get("abandoned_after", 0)))
        queues.append(QueueFigures(
            queue_id=queue.id, name=queue.name, waiting=waiting,
            longest_wait_seconds=int((now - oldest).total_seconds()) if oldest else 0,
            offered=int(figures.get("offered", 0)), answered=answered,
            abandoned=int(figures.get("abandoned", 0)),
            service_level=level, service_level_target=queue.service_level_target,
            service_level_seconds=queue.service_level_seconds,
            average_answer_seconds=figures["answer_seconds"] / answered if answered else None))
    handled = repository.agent_day_figures(uow.session, since)
    agents = []
    for agent in repository.agents(uow.session, active_only=True):
        count, seconds = handled.get(agent.id, (0, 0.0))
        agents.append(AgentFigures(
            agent_id=agent.id, name=agent.name, state=rules.AgentState(agent.state),
            seconds_in_state=max(0, int((now - agent.state_since).total_seconds())),
            load_voice=agent.load_voice, load_text=agent.load_text, handled=count,
            average_handle_seconds=seconds / count if count else None))
    return Wallboard(at=now, queues=queues, agents=agents)
