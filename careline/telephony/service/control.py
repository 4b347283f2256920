"""Keeping a provider's call in step with its contact, for the worker (see ``careline.telephony.tasks``).

Routing writes an outbox row whenever an agent answers, holds, resumes, transfers or ends a call's contact.
The job reads the contact and the call as they are when it runs and names the one thing the provider must do;
what was asked is kept on the call until the provider comes for it, so a second row for the same change sends
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from careline.db import UnitOfWork
from careline.routing.rules import FINAL, Status
from careline.routing.schemas import InteractionRead
from careline.routing.service import interactions
from careline.telephony import repository
from careline.telephony.ivr import Stage
from careline.telephony.models import Call
from careline.telephony.service import calls

SIMULATED = "simulated"


@dataclass(frozen=True, slots=True)
class Instruction:
    call_id: UUID
    provider: str
    sid: str
    action: str  # connect | hold | line | hang_up: the path the provider is sent to, or a hang-up
    key: str  # the action and, for a bridge, the agent: what ``requested`` remembers


def next_instruction(uow: UnitOfWork, interaction_id: UUID) -> Instruction | None:
    """What the provider must do with the contact's call now; None if nothing (or it was already asked).

    The instruction is marked as asked in this transaction, which the caller commits before asking the
    provider: a second dispatcher, or a second outbox row, then finds it asked and sends nothing.
    """
    call = repository.call_of_interaction(uow.session, interaction_id, for_update=True)
    if call is None or call.ended_at is not None or call.provider_sid is None:
        return None
    contact = interactions.get(uow, interaction_id)
    action = next_action(call, contact)
    if action is None:
        return None
    key = f"{action}:{contact.agent_id}" if action == "connect" else action
    if call.requested == key:
        return None
    call.requested = key
    return Instruction(call.id, call.provider, call.provider_sid, action, key)


def sent(uow: UnitOfWork, instruction: Instruction) -> None:
    """The provider took the instruction."""
    if instruction.provider == SIMULATED and instruction.action == "hang_up":
        # The stand-in provider sends no status callbacks: the call is over because we hung it up.
        calls.status_changed(uow, SIMULATED, instruction.sid, "completed")


def not_sent(uow: UnitOfWork, instruction: Instruction) -> None:
    """The provider did not take it (an outage): a retry may ask again."""
    call = repository.get(uow.session, Call, instruction.call_id, for_update=True)
    if call is not None and call.requested == instruction.key:
        call.requested = None


def next_action(call: Call, contact: InteractionRead) -> str | None:
    """What the provider must do so the call matches its contact (None: it already does)."""
    if contact.status in (*FINAL, Status.wrap_up):
        return "hang_up"
    if call.direction != "inbound":
        return None  # an outbound call is bridged when the patient answers
    if contact.status == Status.connected:
        if contact.held_at is not None:
            return None if call.stage == Stage.held else "hold"
        bridged = call.stage == Stage.connected and call.agent_id == contact.agent_id
        return None if bridged else "connect"  # answered, resumed, or handed to a colleague (a warm transfer)
    if contact.status in (Status.queued, Status.offered) and call.stage in (Stage.connected, Stage.held):
        return "line"
    return None
