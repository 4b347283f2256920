"""A background loop an app process runs beside its requests (the routing engine, the outbox dispatcher)."""

from __future__ import annotations

import asyncio
import contextlib


class Loop:
    """Started in the app's lifespan and cancelled at shutdown; subclasses say what one run does."""

    name = "careline-loop"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        raise NotImplementedError
