"""Live notices: what desktops, wallboards and the routing engine hear about, the moment work commits.

A notice is a small JSON-able dict on a named channel (``agent:<id>``, ``center``, ``routing``). Notices are
hints, not records: everything they announce is already in the database, so a listener that missed one
re-reads the state (a desktop does so when its stream reconnects). That is why they may be published after
the commit, outside any transaction, and why a slow listener may lose old notices rather than hold the sender.

``Bus`` fans notices out inside one process. With ``CARELINE_REDIS_URL`` set, ``RedisBus`` sends every notice
through Redis pub/sub and fans out what it hears, so several app processes serve one center.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import structlog
from redis.exceptions import RedisError

Notice = tuple[str, dict[str, Any]]
LISTENER_BACKLOG = 256
REDIS_PREFIX = "careline:"
# Heard only in the process that made them: each process's routing loop routes its own news, and its outbox
# dispatcher sends its own rows (every loop also ticks each second); fanned out, every event would wake every
# process for the same work.
LOCAL_CHANNELS = frozenset({"routing", "outbox"})
# Sent to every listener when notices may have been missed (Redis came back): re-read the state.
RESYNC: Notice = ("*", {"type": "resync"})
PUBLISH_TIMEOUT_SECONDS = 2.0
log = structlog.get_logger(__name__)


class Listener:
    """One subscriber's inbox: bounded, dropping the oldest notice when a reader falls behind."""

    def __init__(self, channels: Iterable[str]) -> None:
        self.channels = frozenset(channels)
        self._inbox: asyncio.Queue[Notice] = asyncio.Queue(LISTENER_BACKLOG)

    def put(self, notice: Notice) -> None:
        if self._inbox.full():
            self._inbox.get_nowait()
        self._inbox.put_nowait(notice)

    def drain(self) -> int:
        """Drop what is waiting (a listener that only needs to know *that* something happened)."""
        dropped = 0
        while not self._inbox.empty():
            self._inbox.get_nowait()
            dropped += 1
        return dropped

    async def get(self, timeout: float | None = None) -> Notice | None:
        """The next notice, or None after ``timeout`` seconds without one (at once for a timeout of 0)."""
        if not self._inbox.empty():  # no waiting task to create, and a timeout of 0 still reads what is there
            return self._inbox.get_nowait()
        try:
            return await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            return None


class Bus:
    """In-process fan-out. Publish and listen from the event loop's thread."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = defaultdict(set)

    async def publish(self, notices: Sequence[Notice]) -> None:
        self.deliver(notices)

    def resync(self) -> None:
        """Tell every listener that notices may have been lost, so each re-reads what it shows."""
        for listener in {listener for group in self._listeners.values() for listener in group}:
            listener.put(RESYNC)

    def deliver(self, notices: Iterable[Notice]) -> None:
        for channel, payload in notices:
            for listener in tuple(self._listeners.get(channel, ())):
                listener.put((channel, payload))

    @contextlib.asynccontextmanager
    async def listen(self, channels: Iterable[str]) -> AsyncIterator[Listener]:
        listener = Listener(channels)
        for channel in listener.channels:
            self._listeners[channel].add(listener)
        try:
            yield listener
        finally:
            for channel in listener.channels:
                self._listeners[channel].discard(listener)
                if not self._listeners[channel]:
                    del self._listeners[channel]

    async def start(self) -> None:
        """Nothing to connect in one process."""

    async def stop(self) -> None:
        """Nothing to close in one process."""


class RedisBus(Bus):
    """Fan-out across processes: publish to Redis; one subscription per process delivers to local listeners.

    Every Redis channel name starts with ``prefix``: processes that share it serve one center, and others
    on the same Redis (another deployment, a test) hear nothing of it.
    """

    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX) -> None:
        super().__init__()
        import redis.asyncio as redis  # noqa: PLC0415 - only needed when Redis is configured

        # Publishing gives up quickly (work already committed must not wait on Redis); the subscription has no
        # read timeout (it is idle between notices) but pings Redis to notice a dead connection.
        self._redis = redis.Redis.from_url(url, socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                                           socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS)
        self._listening = redis.Redis.from_url(url, socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
                                               health_check_interval=15)
        self._prefix = prefix
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def publish(self, notices: Sequence[Notice]) -> None:
        """Send through Redis. Redis being away must not fail work that already committed, so then this
        process's own listeners (its desktops, its routing loop) still hear the notices, and others re-read
        the state when notices resume."""
        local = [notice for notice in notices if notice[0] in LOCAL_CHANNELS]
        self.deliver(local)
        notices = [notice for notice in notices if notice[0] not in LOCAL_CHANNELS]
        if not notices:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for channel, payload in notices:
                    pipe.publish(self._prefix + channel, json.dumps(payload, default=str))
                await asyncio.wait_for(pipe.execute(), PUBLISH_TIMEOUT_SECONDS)
        except (OSError, RedisError, TimeoutError):
            log.warning("live.redis_publish_failed", notices=len(notices))
            self.deliver(notices)

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="careline-redis-bus")
        await asyncio.wait_for(self._subscribed.wait(), 5)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._redis.aclose()
        await self._listening.aclose()

    async def _read(self) -> None:
        while True:
            try:
                async with self._listening.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.psubscribe(self._prefix + "*")
                    # Redis confirms the subscription in order: from then on nothing published is missed.
                    await pubsub.get_message(ignore_subscribe_messages=False, timeout=None)
                    if self._subscribed.is_set():
                        self.resync()  # back after a gap: whatever was published meanwhile is lost
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        self._hear(message)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a dropped connection: reconnect, then tell listeners to re-read
                log.warning("live.redis_reconnect", error_type=type(error).__name__)
                await asyncio.sleep(1)

    def _hear(self, message: dict[str, Any]) -> None:
        try:
            channel = message["channel"].decode()[len(self._prefix):]
            payload = json.loads(message["data"])
        except (ValueError, AttributeError, KeyError):  # not ours to read: skip it, keep the subscription
            log.warning("live.unreadable_notice")
            return
        self.deliver([(channel, payload)])


def make_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else Bus()
