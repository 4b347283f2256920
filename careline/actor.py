"""Who is acting, shared by every domain: the role vocabulary and the actor a service is called on behalf of."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from uuid import UUID


class Role(enum.StrEnum):
    agent = "agent"
    supervisor = "supervisor"
    admin = "admin"
    auditor = "auditor"


@dataclass(frozen=True, slots=True)
class Actor:
    """The signed-in user (or a CLI operator) and where the action came from, for policy and audit."""

    username: str
    role: Role | None
    user_id: UUID | None = None
    ip: str | None = None
    route: str | None = None

    @classmethod
    def cli(cls, command: str) -> Actor:
        return cls(username="cli", role=None, route=f"cli: careline {command}")
