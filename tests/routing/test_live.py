"""Live notices: the in-process bus and its listeners, and the Redis fan-out between processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from careline.live import LISTENER_BACKLOG, RESYNC, Bus, Listener, Notice, RedisBus, make_bus
from tests.support.redis_server import require_redis, unique_prefix

ARRIVAL_SECONDS = 3.0  # generous: Redis on loopback takes milliseconds
QUIET_SECONDS = 0.05


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def notice(n: int, channel: str = "center") -> Notice:
    return channel, {"type": "interaction", "n": n}


class TestListener:
    def test_a_reader_that_falls_behind_loses_the_oldest_notices(self) -> None:
        async def scenario() -> None:
            listener = Listener(["center"])
            for n in range(LISTENER_BACKLOG + 2):
                listener.put(notice(n))
            assert await listener.get(timeout=0) == notice(2)
            assert listener.drain() == LISTENER_BACKLOG - 1

        run(scenario)

    def test_drain_empties_the_inbox_and_get_times_out(self) -> None:
        async def scenario() -> None:
            listener = Listener(["center"])
            listener.put(notice(1))
            listener.put(notice(2))
            assert listener.drain() == 2
            assert listener.drain() == 0
            assert await listener.get(timeout=QUIET_SECONDS) is None

        run(scenario)


class TestBus:
    def test_a_notice_reaches_the_listeners_of_its_channel_only(self) -> None:
        async def scenario() -> None:
            bus = Bus()
            async with bus.listen(["agent:a", "center"]) as both, bus.listen(["agent:b"]) as other:
                await bus.publish([notice(1, "agent:a"), notice(2, "center"), notice(3, "routing")])
                assert [await both.get(timeout=0), await both.get(timeout=0)] == [notice(1, "agent:a"),
                                                                                 notice(2, "center")]
                assert await both.get(timeout=QUIET_SECONDS) is None
                assert await other.get(timeout=QUIET_SECONDS) is None

        run(scenario)

    def test_a_listener_that_left_hears_nothing_more(self) -> None:
        async def scenario() -> None:
            bus = Bus()
            async with bus.listen(["center"]) as gone:
                pass
            async with bus.listen(["center"]) as staying:
                await bus.publish([notice(1)])
                assert await staying.get(timeout=0) == notice(1)
            assert await gone.get(timeout=QUIET_SECONDS) is None

        run(scenario)

    def test_a_resync_reaches_every_listener_once(self) -> None:
        async def scenario() -> None:
            bus = Bus()
            async with bus.listen(["agent:a", "center"]) as both, bus.listen(["routing"]) as engine:
                bus.resync()
                assert await both.get(timeout=0) == RESYNC
                assert await engine.get(timeout=0) == RESYNC
                assert await both.get(timeout=QUIET_SECONDS) is None

        run(scenario)

    def test_redis_is_used_only_when_configured(self) -> None:
        assert type(make_bus(None)) is Bus
        assert isinstance(make_bus("redis://127.0.0.1:6379/0"), RedisBus)  # connects on start, not here

    def test_a_redis_that_cannot_be_reached_still_lets_this_process_hear(self) -> None:
        async def scenario() -> None:
            bus = RedisBus("redis://127.0.0.1:9/0?socket_connect_timeout=0.2", prefix=unique_prefix())
            async with bus.listen(["center"]) as listener:
                await bus.publish([notice(1)])  # after a commit: must not raise
                assert await listener.get(timeout=0) == notice(1)
            await bus.stop()

        run(scenario)


@asynccontextmanager
async def started(url: str, prefix: str) -> AsyncIterator[RedisBus]:
    bus = RedisBus(url, prefix=prefix)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()


class TestRedisFanOut:
    """Two buses stand for two app processes behind a load balancer, sharing one Redis."""

    @pytest.fixture
    def redis_url(self) -> str:
        return require_redis()

    def test_a_notice_published_in_one_process_reaches_a_listener_in_another(self, redis_url: str) -> None:
        prefix = unique_prefix()
        offer: Notice = ("agent:a", {"type": "offer", "assignment_id": "x", "expires_at": "2026-11-26T15:00:00Z"})

        async def scenario() -> None:
            async with (started(redis_url, prefix) as one, started(redis_url, prefix) as two,
                        two.listen(["agent:a"]) as there, one.listen(["agent:a"]) as here):
                await one.publish([offer])
                assert await there.get(timeout=ARRIVAL_SECONDS) == offer
                assert await here.get(timeout=ARRIVAL_SECONDS) == offer  # its own process too, once
                assert await here.get(timeout=QUIET_SECONDS) is None

        run(scenario)

    def test_a_listener_on_another_channel_or_prefix_hears_nothing(self, redis_url: str) -> None:
        prefix, elsewhere = unique_prefix(), unique_prefix()
        marker: Notice = ("agent:a", {"type": "marker"})

        async def scenario() -> None:
            async with (started(redis_url, prefix) as one, started(redis_url, prefix) as two,
                        started(redis_url, elsewhere) as other, two.listen(["agent:a"]) as wanted,
                        two.listen(["agent:b"]) as unrelated, other.listen(["agent:a"]) as other_center):
                await one.publish([notice(1, "agent:a")])
                await other.publish([marker])
                assert await wanted.get(timeout=ARRIVAL_SECONDS) == notice(1, "agent:a")
                # Redis delivers in the order it was sent: the other center's first notice is its own.
                assert await other_center.get(timeout=ARRIVAL_SECONDS) == marker
                assert await unrelated.get(timeout=QUIET_SECONDS) is None

        run(scenario)

    def test_payloads_travel_as_json(self, redis_url: str) -> None:
        prefix = unique_prefix()
        payload: dict[str, Any] = {"type": "state", "state": "break", "since": "2026-11-26T15:00:00+00:00",
                                   "nested": {"list": [1, 2.5, None, True]}}

        async def scenario() -> None:
            async with (started(redis_url, prefix) as one, started(redis_url, prefix) as two,
                        two.listen(["center"]) as listener):
                await one.publish([("center", payload)])
                assert await listener.get(timeout=ARRIVAL_SECONDS) == ("center", payload)

        run(scenario)

    def test_routing_wake_ups_stay_in_the_process_that_made_them(self, redis_url: str) -> None:
        prefix = unique_prefix()

        async def scenario() -> None:
            async with (started(redis_url, prefix) as here, started(redis_url, prefix) as there,
                        here.listen(["routing"]) as near, there.listen(["routing"]) as far):
                await here.publish([notice(1, "routing")])
                assert await near.get(timeout=ARRIVAL_SECONDS) == notice(1, "routing")
                assert await far.get(timeout=QUIET_SECONDS * 10) is None

        run(scenario)
