"""Interactions as the API and pages show them."""

from __future__ import annotations

from careline.db import UnitOfWork
from careline.routing import repository
from careline.routing.models import Interaction, Queue
from careline.routing.schemas import InteractionRead


def read(uow: UnitOfWork, interaction: Interaction) -> InteractionRead:
    queue = repository.get(uow.session, Queue, interaction.queue_id)
    return InteractionRead.model_validate(interaction).model_copy(update={"queue": queue.name if queue else ""})
