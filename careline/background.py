"""A background loop an app process runs beside its requests (the routing engine, the outbox dispatcher)."""

from __future__ import annotations

import asyncio
import contextlib

STOP_RETRY_SECONDS = 0.5


class Loop:
    """Started in the app's lifespan and cancelled at shutdown; subclasses say what one run does."""

    name = "careline-loop"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel, again and again until it ends: on Python 3.11 ``asyncio.wait_for`` can swallow a cancel that
        lands just as its wait ends, and a loop that lost its cancel would run on and hold up the shutdown."""
        if self._task is None:
            return
        while not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_RETRY_SECONDS)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        raise NotImplementedError
