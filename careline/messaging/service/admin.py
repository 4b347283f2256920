"""What admins see of the local sink: the messages it took instead of a provider, and where its file is."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork
from careline.integrations import sink
from careline.settings import Settings


class SentMessage(BaseModel):
    key: str
    channel: str
    to: str
    sender: str | None
    subject: str | None
    body: str
    at: datetime
    repeats: int


def sent_messages(uow: UnitOfWork, actor: Actor, *, channel: str | None = None) -> list[SentMessage]:
    """What the local sink took, newest first: it stands in for the providers, so admins read it to check.
    Audited: the messages hold patients' numbers and words."""
    audit.record(uow, actor, "sent_messages.viewed", subject_type="sink", details={"channel": channel})
    return [SentMessage(key=row.key, channel=row.channel, to=row.to, sender=row.sender, subject=row.subject,
                        body=row.body, at=row.at, repeats=row.repeats)
            for row in sink.recent(uow.session, channel=channel)]


def sink_file(settings: Settings) -> Path:
    return settings.effective_sink_file
