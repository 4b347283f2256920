"""The demo center's phone number: the line simulated callers dial, with an IVR whose every menu option leads
to one of the demo's queues (``careline.routing.demo``). Saved through the numbers service, once: an operator's
own settings for the number are left alone."""

from __future__ import annotations

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.telephony.schemas import DEFAULT_MENU, IvrConfig, NumberIn, NumberRead
from careline.telephony.service import numbers

# 555-01xx is reserved for fiction; the demo's patients and its unknown callers never use this one.
DEMO_NUMBER = "+18005550100"
# The usual menu; the demo has no operator's queue of its own, so the operator is the scheduling desk.
MENU = [item if item.option != "operator" else item.model_copy(update={"queue": "scheduling"})
        for item in DEFAULT_MENU]
# No opening hours: the demo answers whenever someone tries it (the queues keep their own hours).
DEMO_LINE = NumberIn(number=DEMO_NUMBER, label="Demo center main line",
                     ivr=IvrConfig(languages=["en", "es"], menu=MENU, after_hours_queue="scheduling"))


def ensure_number(uow: UnitOfWork, actor: Actor) -> NumberRead:
    """The demo line, saved if missing (its queues must exist: ``routing.demo.ensure_queues`` first)."""
    found = next((number for number in numbers.all_numbers(uow) if number.number == DEMO_NUMBER), None)
    return found if found is not None else numbers.save(uow, actor, DEMO_LINE)
