"""The simulated provider (the demo's line) sends no status callbacks: a call the agent ends is over at once,
and what Careline asked of the provider is kept for anyone to look at."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.db import UnitOfWork, utcnow
from careline.integrations.voice import RecordingCallControl
from careline.routing.service import interactions
from careline.settings import Settings
from careline.telephony.models import Call
from careline.telephony.schemas import DialIn
from careline.telephony.service import outbound
from tests.factories.routing import POLICY, make_agent, make_queue


def test_a_simulated_call_the_agent_ends_is_over(sessions: sessionmaker[Session], settings: Settings) -> None:
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "outbound")
        alex = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
        placed = outbound.dial(uow, alex.actor, POLICY, settings, DialIn(number="+16175550142"))
        uow.commit()
    line = RecordingCallControl()
    worker = jobs.dispatcher(sessions, settings, simulated_voice=line)
    worker.drain()
    assert [request.action for request in line.requests] == ["place"]

    with UnitOfWork(sessions) as uow:
        assert placed.interaction_id is not None
        interactions.end(uow, alex.actor, placed.interaction_id)
        uow.commit()
    worker.drain()

    assert [request.action for request in line.requests] == ["place", "hang_up"]
    with sessions() as session:
        call = session.get_one(Call, placed.id)
        assert call.ended_at is not None
        assert call.provider_status == "completed"
