"""Server-sent event streams fed by live notices (``careline.live``).

A stream never holds a database connection while it waits: the route resolves who is listening within its
request, returns, and the stream then only waits on the bus. Work a notice needs (a screen pop's patient
view) takes a connection through the same gate as a request, for just that moment.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from careline.db import UnitOfWork
from careline.live import RESYNC, Notice

KEEP_ALIVE_SECONDS = 15.0
# A stream ends after this long and the client reconnects: its sign-in is checked again and its state re-read,
# so a session that ended (sign-out, idle time-out, a deactivated user) stops receiving screen pops soon after.
MAX_STREAM_SECONDS = 300.0
# A stream never ends by itself, and Uvicorn waits for open responses before it stops: it should cancel
# them this long after being asked to stop (``timeout_graceful_shutdown``). Desktops reconnect elsewhere.
SHUTDOWN_GRACE_SECONDS = 3
RECONNECT = "retry: 2000\n\n"  # how long a browser waits before reconnecting, in milliseconds
KEEP_ALIVE = ": keep-alive\n\n"  # a comment: proxies see traffic, clients ignore it
T = TypeVar("T")
Frames = list[tuple[str, Any]]
# A notice becomes zero or more (event name, data) pairs for the browser or integration.
Translate = Callable[[Notice], Awaitable[Frames]]
log = structlog.get_logger(__name__)


def frame(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def event_stream(request: Request, channels: Iterable[str], translate: Translate, *,
                 first: Callable[[], Awaitable[Frames]] | None = None,
                 coalesce: float | None = None) -> StreamingResponse:
    """Stream the notices of ``channels`` as events.

    ``first`` reads the state to send before any notice; it runs once the stream is subscribed, so a change
    committed after that read arrives as a notice, and one committed before it is in the read. With
    ``coalesce``, a burst of notices within that many seconds becomes one event (a wallboard needs to know
    that something moved, not each move).
    """
    bus = request.app.state.bus
    channels = tuple(channels)
    route = getattr(request.scope.get("route"), "path", None)

    async def events() -> AsyncIterator[str]:
        async with bus.listen(channels) as listener:
            yield RECONNECT
            ends = time.monotonic() + MAX_STREAM_SECONDS
            try:
                for name, data in await first() if first else []:
                    yield frame(name, data)
                while time.monotonic() < ends:
                    notice = await listener.get(timeout=KEEP_ALIVE_SECONDS)
                    if notice is None:
                        yield KEEP_ALIVE
                        continue
                    if notice == RESYNC:
                        return  # notices were lost: the client reconnects and re-reads the state
                    if coalesce:
                        await asyncio.sleep(coalesce)
                        listener.drain()
                    for name, data in await translate(notice):
                        yield frame(name, data)
            except Exception as error:
                # End the stream cleanly: the client reconnects and its first event re-reads the state.
                # Only the error's type is logged; its message may hold PHI.
                log.error("stream_failed", error_type=type(error).__name__, route=route)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def in_unit_of_work(request: Request, work: Callable[[UnitOfWork], T]) -> T:
    """Run ``work`` in a committed unit of work outside any request, through the request gate."""
    async with request.app.state.db_gate:
        def run() -> T:
            with UnitOfWork(request.app.state.sessionmaker) as uow:
                result = work(uow)
                uow.commit()
                return result

        return await run_in_threadpool(run)
