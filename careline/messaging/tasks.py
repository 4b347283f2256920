"""The worker's messaging job: send queued SMS and e-mail through the configured providers, in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from uuid import UUID

from careline.db import UnitOfWork
from careline.integrations.messages import MessageProvider
from careline.messaging.service import delivery
from careline.messaging.service.outgoing import SEND
from careline.worker.runner import Context, Job, Task

MESSAGE_PROVIDERS = "messages"  # Context.providers key: {provider name: MessageProvider}


def send_messages(context: Context, jobs: Sequence[Job]) -> Mapping[UUID, Exception]:
    providers: Mapping[str, MessageProvider] = context.providers[MESSAGE_PROVIDERS]
    return delivery.deliver(partial(UnitOfWork, context.sessions), context.settings, providers, jobs,
                            now=context.clock())


def message_given_up(context: Context, job: Job, reason: str) -> None:
    delivery.gave_up(partial(UnitOfWork, context.sessions), job, reason)


TASKS: dict[str, Task] = {SEND: Task(send_messages, message_given_up)}
