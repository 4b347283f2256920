"""Contacts as lines of the patient's timeline: "Call · Appointment · answered by Alex Rivera · 4 min".

Read for the 360 view, which has already audited the read; nothing here writes. The words for channels,
reasons and durations live here too, so the desktop and the wallboard say them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from careline.db import UnitOfWork
from careline.patients.schemas import TimelineItem
from careline.routing import repository
from careline.routing.models import Agent, Interaction
from careline.routing.rules import Status

HISTORY_LENGTH = 30
NOTES_SHOWN = 200
CHANNEL_NAMES = {"voice": "Call", "sms": "SMS", "email": "E-mail", "chat": "Chat", "callback": "Callback",
                 "outbound": "Outbound call"}


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel.capitalize())


def reason_name(reason: str) -> str:
    """'nurse_advice' is 'Nurse advice'."""
    return reason.replace("_", " ").capitalize()


def duration(seconds: float) -> str:
    """A length of time as an agent says it: '45 s', '4 min', '1 h 5 min'."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def timeline_for(uow: UnitOfWork, patient_id: UUID, *, limit: int = HISTORY_LENGTH) -> list[TimelineItem]:
    """The patient's contacts on every channel, newest first."""
    contacts = repository.of_patient(uow.session, patient_id, limit=limit)
    if not contacts:
        return []
    agents = _agent_names(uow, {contact.agent_id for contact in contacts if contact.agent_id})
    labels = {code.code: code.label for code in repository.dispositions(uow.session, active_only=False)}
    return [TimelineItem(at=contact.created_at, kind="contact", title=_title(contact, agents),
                         detail=_detail(contact, labels)) for contact in contacts]


def _agent_names(uow: UnitOfWork, agent_ids: Iterable[UUID]) -> dict[UUID, str]:
    """The few agents a patient's contacts name (usually one or two), from the session's identity map."""
    found = (repository.get(uow.session, Agent, agent_id) for agent_id in agent_ids)
    return {agent.id: agent.name for agent in found if agent is not None}


def _title(contact: Interaction, agents: dict[UUID, str]) -> str:
    parts = [channel_name(contact.channel)]
    if contact.reason != "other":
        parts.append(reason_name(contact.reason))
    parts.append(_outcome(contact, agents.get(contact.agent_id) if contact.agent_id else None))
    return " · ".join(parts)


def _outcome(contact: Interaction, agent: str | None) -> str:
    if contact.status == Status.abandoned:
        return f"abandoned after {duration(_seconds(contact.queued_at, contact.abandoned_at))}"
    if contact.status in (Status.queued, Status.offered):
        return "waiting in line"
    by = f"answered by {agent or 'an agent'}"
    if contact.status == Status.connected:
        return f"{by} · in progress"
    talk = duration(_seconds(contact.answered_at, contact.ended_at or contact.closed_at))
    return f"{by} · {talk}" if contact.status == Status.completed else f"{by} · {talk} · wrapping up"


def _detail(contact: Interaction, labels: dict[str, str]) -> str | None:
    parts = []
    if contact.disposition:
        parts.append(labels.get(contact.disposition, contact.disposition))
    if contact.resolved is not None:
        parts.append("resolved" if contact.resolved else "not resolved")
    if contact.notes:
        notes = contact.notes if len(contact.notes) <= NOTES_SHOWN else contact.notes[:NOTES_SHOWN - 1] + "…"
        parts.append(f"notes: {notes}")
    return " · ".join(parts) or None


def _seconds(start: datetime | None, end: datetime | None) -> float:
    return (end - start).total_seconds() if start and end else 0.0
