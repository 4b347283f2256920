"""The local sink: the embedded default provider. Nothing leaves the machine; every message lands in the
``sink_messages`` table (the "Sent messages" page) and, once, as a JSON line in a file.

It honours idempotency keys as a careful provider would: a key it has seen is not sent again, only counted
in ``repeats``, which is how the crash test tells a retry that was absorbed from a message sent twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from careline.db import Base, UnitOfWork, utcnow
from careline.db.upsert import insert_into
from careline.integrations.messages import Outgoing, ProviderError, Receipt

PAGE = 200


class SinkMessage(Base):
    __tablename__ = "sink_messages"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    to: Mapped[str] = mapped_column(String(320))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    repeats: Mapped[int] = mapped_column(Integer, default=0)  # the same key asked again after it was sent


class LocalSink:
    name = "sink"
    idempotent = True

    def __init__(self, sessions: sessionmaker[Session], path: Path | None) -> None:
        self._sessions, self._path, self._lock = sessions, path, threading.Lock()

    def send(self, messages: Sequence[Outgoing]) -> list[Receipt | ProviderError]:
        if not messages:
            return []
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {"key": m.key, "channel": m.channel, "to": m.to, "sender": m.sender, "subject": m.subject, "body": m.body,
             "at": now, "repeats": 0} for m in {m.key: m for m in messages}.values()]
        with UnitOfWork(self._sessions) as uow:
            upsert = insert_into(uow.session, SinkMessage).on_conflict_do_update(index_elements=["key"],
                                                  set_={"repeats": SinkMessage.repeats + 1})
            # Many parameter sets, not one statement with the rows in it: compiled once, cached for every batch.
            first_time = {key for key, repeats in uow.session.execute(
                upsert.returning(SinkMessage.key, SinkMessage.repeats), rows) if repeats == 0}
            uow.commit()
        self._write([row for row in rows if row["key"] in first_time])
        return [Receipt(provider_id=f"sink-{m.key}") for m in messages]

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if self._path is None or not rows:
            return
        lines = "".join(json.dumps({**row, "at": row["at"].isoformat()}) + "\n" for row in rows)
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a", encoding="utf-8") as handle:
                handle.write(lines)


def recent(session: Session, *, channel: str | None = None, to: str | None = None,
           limit: int = PAGE) -> list[SinkMessage]:
    """The latest messages the sink took (to one address when ``to`` is given), newest first."""
    query = select(SinkMessage).order_by(SinkMessage.at.desc(), SinkMessage.key).limit(limit)
    if channel:
        query = query.where(SinkMessage.channel == channel)
    if to:
        query = query.where(SinkMessage.to == to)
    return list(session.scalars(query))
