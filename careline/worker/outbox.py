"""What the domains call: ``send_later`` writes a side effect in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import uuid4

from careline.db import UnitOfWork, utcnow
from careline.worker import repository

CHANNEL = "outbox"  # the live channel that wakes a dispatcher when new work commits


def send_later(
    uow: UnitOfWork, kind: str, payload: dict[str, Any], *, key: str | None = None, due_at: datetime | None = None
) -> None:
    """Carry out ``kind`` with ``payload`` after this unit of work commits (and never if it rolls back).

    ``key`` names the side effect: asked for twice under one key, it happens once.
    """
    now = utcnow()
    repository.add(
        uow.session,
        {
            "id": uuid4(),
            "kind": kind,
            "key": key or f"{kind}:{uuid4()}",
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "due_at": due_at or now,
        },
    )
    uow.notify(CHANNEL, {"kind": kind})
