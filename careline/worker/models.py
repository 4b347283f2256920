"""The outbox: a side effect (a provider call, a message) written in the transaction of the change that causes it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from careline.db import Base, utcnow

PENDING = text("status = 'pending'")


class OutboxMessage(Base):
    """One side effect to carry out. ``key`` makes it idempotent: the same key is written and sent once.

    A dispatcher leases a due row by moving ``due_at`` past the lease; a dispatcher that dies mid-send leaves
    the row to come due again, so every row is tried until it is ``sent`` or given up (``dead``).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "due_at", postgresql_where=PENDING, sqlite_where=PENDING),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    redriven_at: Mapped[datetime | None]  # an admin sent a given-up row again: its age counts from then
    # The dispatcher holding the row: only it may settle it, so one whose lease ran out cannot undo another's work.
    lease_token: Mapped[uuid.UUID | None]
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)  # given up because it may have been sent
