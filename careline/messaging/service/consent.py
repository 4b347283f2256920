"""Opt-out and opt-in by address, recorded with time and source; the sending path asks before every send."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from careline.db import UnitOfWork
from careline.messaging import repository
from careline.messaging.models import OptOutEvent


def opted_out(uow: UnitOfWork, channel: str, addresses: Iterable[str]) -> dict[str, OptOutEvent]:
    return repository.opted_out(uow.session, channel, addresses)


def is_opted_out(uow: UnitOfWork, channel: str, address: str) -> bool:
    return address in opted_out(uow, channel, [address])


def record(uow: UnitOfWork, channel: str, address: str, *, out: bool, source: str, detail: str | None,
           now: datetime) -> bool:
    """Record the address's choice; returns whether it changed anything (a second STOP does not)."""
    history = repository.opt_out_history(uow.session, channel, address)
    already_out = bool(history) and history[-1].opted_out
    if already_out == out:
        return False
    # Strictly after the last event, so "the latest" is never a tie (a STOP and a START in one clock tick).
    at = max(now, history[-1].at + timedelta(microseconds=1)) if history else now
    repository.add(uow.session, OptOutEvent(channel=channel, address=address, opted_out=out, source=source,
                                            detail=detail, at=at))
    return True
