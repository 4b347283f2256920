"""Orders and referrals on file: what a test needs before it can be booked."""

from __future__ import annotations

from uuid import UUID

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients.service import records as patient_records
from careline.scheduling import repository
from careline.scheduling.errors import InvalidSchedulingInput
from careline.scheduling.models import Order
from careline.scheduling.schemas import OrderIn, OrderRead
from careline.scheduling.service import catalog


def add_order(uow: UnitOfWork, actor: Actor, data: OrderIn) -> OrderRead:
    patient = patient_records.patient_to_act_on(uow, actor, data.patient_id)
    catalog.visit_type(uow, data.visit_type_id)
    if data.expires_on and data.expires_on < utcnow().date():
        raise InvalidSchedulingInput("expires_on", "This order has already expired.")
    order = Order(**data.model_dump())
    repository.add(uow.session, order)
    audit.record(uow, actor, "order.added", subject_type="order", subject_id=order.id, patient_id=patient.id)
    return OrderRead.model_validate(order)


def list_orders(uow: UnitOfWork, actor: Actor, patient_id: UUID) -> list[OrderRead]:
    """A patient's orders on file, newest first: the same guards as booking for them, and an audited read."""
    patient = patient_records.patient_to_read(uow, actor, patient_id)
    audit.record(uow, actor, "order.viewed", subject_type="patient", subject_id=patient.id, patient_id=patient.id)
    return [OrderRead.model_validate(order) for order in repository.orders_of(uow.session, patient.id)]


def has_active_order(uow: UnitOfWork, patient_id: UUID, visit_type_id: UUID) -> bool:
    """Whether an unexpired order on file lets this visit be booked without an override."""
    return repository.active_order(uow.session, patient_id, visit_type_id, utcnow().date()) is not None
