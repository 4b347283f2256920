"""The main navigation. Each capability adds its entry here, with the roles that may see it."""

from __future__ import annotations

from dataclasses import dataclass

from careline.actor import Actor, Role

EVERYONE = frozenset(Role)


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    href: str
    roles: frozenset[Role]
    also: tuple[str, ...] = ()  # other pages of the same section, where the entry shows as current


NAV: tuple[NavItem, ...] = (
    NavItem("Home", "/", EVERYONE),
    NavItem("Desktop", "/desktop", frozenset({Role.agent, Role.supervisor})),
    NavItem("Wallboard", "/wallboard", frozenset({Role.admin, Role.supervisor})),
    NavItem("Patients", "/patients", frozenset({Role.agent, Role.supervisor})),
    NavItem("Schedule", "/schedule", frozenset({Role.agent, Role.supervisor})),
    NavItem("Team", "/admin/users", frozenset({Role.admin, Role.supervisor})),
    NavItem("Phone numbers", "/admin/phone-numbers", frozenset({Role.admin})),
    NavItem("Messaging", "/admin/templates", frozenset({Role.admin}), also=("/admin/sent-messages", "/admin/outbox")),
    NavItem("Audit trail", "/audit", frozenset({Role.admin, Role.auditor})),
    NavItem("Account", "/account", EVERYONE),
)


def items_for(actor: Actor | None) -> list[NavItem]:
    if actor is None or actor.role is None:
        return []
    return [item for item in NAV if actor.role in item.roles]
