"""The center's phone numbers: each with its IVR, its hours and the queue every menu option leads to."""

from __future__ import annotations

from datetime import datetime

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork
from careline.routing.errors import InvalidRoutingInput
from careline.routing.rules import hours_of
from careline.routing.service import setup as routing_setup
from careline.telephony import repository
from careline.telephony.errors import InvalidTelephonyInput
from careline.telephony.models import PhoneNumber
from careline.telephony.schemas import IvrConfig, NumberIn, NumberRead


def save(uow: UnitOfWork, actor: Actor, data: NumberIn) -> NumberRead:
    """Create the number, or replace the settings of the number already there. Every queue must exist."""
    for queue in {item.queue for item in data.ivr.menu} | {data.ivr.after_hours_queue}:
        try:
            routing_setup.queue_named(uow, queue)
        except InvalidRoutingInput as error:
            raise InvalidTelephonyInput("ivr", str(error)) from error
    values = data.model_dump(mode="json")
    found = repository.number(uow.session, data.number)
    if found is None:
        found = PhoneNumber(**values, active=True)
        repository.add(uow.session, found)
    else:
        for key, value in values.items():
            setattr(found, key, value)
        found.active = True
    audit.record(uow, actor, "phone_number.saved", subject_type="phone_number", subject_id=found.id)
    uow.flush()
    return NumberRead.model_validate(found)


def create(uow: UnitOfWork, actor: Actor, data: NumberIn) -> NumberRead:
    """Add a new number; one already there (active or not) is refused, to be edited instead."""
    if repository.number(uow.session, data.number) is not None:
        raise InvalidTelephonyInput("number", f"{data.number} is already one of the center's numbers: edit it instead.")
    return save(uow, actor, data)


def all_numbers(uow: UnitOfWork) -> list[NumberRead]:
    return [NumberRead.model_validate(row) for row in repository.numbers(uow.session)]


def deactivate(uow: UnitOfWork, actor: Actor, e164: str) -> NumberRead:
    found = repository.number(uow.session, e164)
    if found is None:
        raise InvalidTelephonyInput("number", "That number is not one of the center's.")
    found.active = False
    audit.record(uow, actor, "phone_number.deactivated", subject_type="phone_number", subject_id=found.id)
    return NumberRead.model_validate(found)


def ivr_of(number: PhoneNumber) -> IvrConfig:
    return IvrConfig.model_validate(number.ivr)


def is_open(number: PhoneNumber, at: datetime) -> bool:
    return hours_of(number.time_zone, number.business_hours, number.holidays).is_open(at)
