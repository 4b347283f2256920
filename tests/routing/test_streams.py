"""The event streams against a real server (uvicorn on 127.0.0.1, its own database, the routing loop running):
the agent's desktop stream with the screen pop, the wallboard's coalesced stream, streams that hold no
database connection while they wait, and two app processes sharing one database and one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from careline import app as careline_app
from careline.actor import Role
from careline.auth.models import User
from careline.bootstrap import unit_of_work
from careline.db import utcnow
from careline.settings import Settings
from careline.web import sse
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.routing import make_agent, make_queue
from tests.support.databases import DatabaseFactory
from tests.support.live import live_server
from tests.support.redis_server import require_redis

PHONE = "+16175550142"
SHARED = "+16175550199"  # a household's landline: two patients on it
POP_SECONDS = 5.0  # "within a few seconds"; on loopback it takes milliseconds
QUIET_SECONDS = 1.0
BURST = 8  # contacts created at once; the wallboard hears of them in a few events, not eight


@dataclass(frozen=True)
class Seeded:
    settings: Settings
    tokens: dict[str, str]  # agent (Alex, available, with a desk), admin (the telephony integration), supervisor


@pytest.fixture
def seeded(databases: DatabaseFactory, tmp_path: Path) -> Seeded:
    settings = Settings(database_url=databases.fresh(), secret_key="streams-test-secret", data_dir=tmp_path,
                        log_level="WARNING")
    with unit_of_work(settings) as uow:
        make_queue(uow, "scheduling")
        alex = make_agent(uow, "alex", available_at=utcnow())
        make_patient(uow, given="Rosa", family="Diaz", phones=((PHONE, "mobile"),))
        for given in ("Luis", "Marta"):
            make_patient(uow, given=given, family="Ortega", phones=((SHARED, "home"),))
        tokens = {"agent": make_api_token(uow, uow.session.get_one(User, alex.actor.user_id))}
        tokens |= {role.value: make_api_token(uow, make_user(uow, role=role)) for role in (Role.admin,
                                                                                          Role.supervisor)}
        uow.commit()
    return Seeded(settings, tokens)


@pytest.fixture
def url(seeded: Seeded) -> Iterator[str]:
    with live_server(seeded.settings) as base:
        yield base


@pytest.fixture
def frequent_keep_alives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep-alive comments every 0.2 s instead of 15 s, so they interleave with the events under test."""
    monkeypatch.setattr(sse, "KEEP_ALIVE_SECONDS", 0.2)


class Events:
    """One open event stream, read by a task of its own into a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[httpx2.ServerSentEvent] = asyncio.Queue()
        self.status = 0

    async def next(self, name: str, *, timeout: float = POP_SECONDS) -> Any:
        """The data of the next event called ``name``; other events before it are passed over."""
        deadline = time.monotonic() + timeout
        while True:
            event = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - time.monotonic()))
            if event.event == name:
                return event.json()

    async def names_within(self, seconds: float) -> list[str]:
        await asyncio.sleep(seconds)
        names = []
        while not self.queue.empty():
            names.append(self.queue.get_nowait().event)
        return names


def client(base: str, token: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                              timeout=httpx2.Timeout(10, read=None))


@asynccontextmanager
async def listening(http: httpx2.AsyncClient, path: str) -> AsyncIterator[Events]:
    """Open the stream at ``path``; it is closed (and the server's listener with it) on leaving."""
    events, opened = Events(), asyncio.Event()

    async def read() -> None:
        async with http.sse(path) as source:
            events.status = source.response.status_code
            opened.set()
            async for event in source:
                if event.event != "message":  # the reconnect delay ("retry:") parses as a nameless event
                    await events.queue.put(event)

    reader = asyncio.create_task(read())
    try:
        await asyncio.wait_for(opened.wait(), POP_SECONDS)
        yield events
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def new_contact(http: httpx2.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await http.post("/api/interactions", json={"channel": "voice", "queue": "scheduling"} | fields)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestDesktopStream:
    @pytest.mark.usefixtures("frequent_keep_alives")
    def test_the_screen_pop_arrives_with_the_callers_name(self, url: str, seeded: Seeded) -> None:
        async def scenario() -> None:
            async with client(url, seeded.tokens["agent"]) as desk, client(url, seeded.tokens["admin"]) as phone, \
                    listening(desk, "/api/agents/me/events") as events:
                hello = await events.next("hello")
                assert (hello["agent"]["state"], hello["offers"], hello["contacts"]) == ("available", [], [])
                await asyncio.sleep(0.5)  # keep-alive comments go by first: the parser must pass over them

                started = time.monotonic()
                call = await new_contact(phone, address="(617) 555-0142", external_ref="CA-pop")
                pop = await events.next("offer")
                assert time.monotonic() - started < POP_SECONDS
                assert pop["offer"]["interaction"]["id"] == call["id"]
                assert pop["patient"]["display_name"] == "Rosa Diaz"
                assert {"patient", "birth_date"}.isdisjoint(pop["patient"])  # masked until verified

                accepted = await desk.post(f"/api/offers/{pop['offer']['assignment_id']}/accept")
                assert accepted.status_code == 200, accepted.text
                assert (await events.next("state"))["state"] == "busy"  # announced before the answer
                answered = await events.next("interaction")
                assert (answered["event"], answered["interaction_id"], answered["status"]) == \
                    ("answered", call["id"], "connected")

        run(scenario)

    def test_a_shared_number_pops_its_candidates(self, url: str, seeded: Seeded) -> None:
        async def scenario() -> None:
            async with client(url, seeded.tokens["agent"]) as desk, client(url, seeded.tokens["admin"]) as phone, \
                    listening(desk, "/api/agents/me/events") as events:
                await events.next("hello")
                await new_contact(phone, address=SHARED)
                pop = await events.next("offer")
                assert pop["patient"] is None
                assert sorted(person["display_name"] for person in pop["candidates"]) == ["Luis Ortega",
                                                                                          "Marta Ortega"]

        run(scenario)

    def test_an_offer_taken_back_is_announced_and_a_reconnect_sees_what_is_open(self, url: str,
                                                                                  seeded: Seeded) -> None:
        async def scenario() -> None:
            async with client(url, seeded.tokens["agent"]) as desk, client(url, seeded.tokens["admin"]) as phone:
                async with listening(desk, "/api/agents/me/events") as events:
                    await events.next("hello")
                    first = await new_contact(phone)
                    offer = (await events.next("offer"))["offer"]
                async with listening(desk, "/api/agents/me/events") as events:  # the desktop reconnects
                    hello = await events.next("hello")
                    assert [row["assignment_id"] for row in hello["offers"]] == [offer["assignment_id"]]
                    assert (await phone.post(f"/api/interactions/{first['id']}/end")).status_code == 200
                    gone = await events.next("offer_gone")
                    assert (gone["assignment_id"], gone["interaction_id"], gone["reason"]) == \
                        (offer["assignment_id"], first["id"], "caller_left")
                    assert (await desk.put("/api/agents/me/state", json={"state": "break"})).status_code == 200
                    assert (await events.next("state"))["state"] == "break"

        run(scenario)

    def test_a_user_without_a_desk_is_refused_before_any_stream(self, url: str, seeded: Seeded) -> None:
        async def scenario() -> None:
            async with client(url, seeded.tokens["supervisor"]) as http:
                response = await http.get("/api/agents/me/events")
                assert response.status_code == 404
                assert response.headers["content-type"] == "application/problem+json"

        run(scenario)


class TestWallboardStream:
    def test_a_burst_of_changes_is_coalesced(self, url: str, seeded: Seeded) -> None:
        async def scenario() -> None:
            async with client(url, seeded.tokens["supervisor"]) as board, \
                    client(url, seeded.tokens["admin"]) as phone, \
                    client(url, seeded.tokens["agent"]) as desk, \
                    listening(board, "/api/wallboard/events") as events:
                assert await events.next("changed") == {"type": "connected"}  # a reconnect re-reads at once
                assert (await desk.put("/api/agents/me/state", json={"state": "lunch"})).status_code == 200
                assert await events.next("changed") == {"type": "state"}
                await events.names_within(QUIET_SECONDS)  # let that settle
                await asyncio.gather(*(new_contact(phone) for _ in range(BURST)))
                names = await events.names_within(2 * QUIET_SECONDS)
                assert set(names) == {"changed"}
                assert len(names) < BURST / 2
                figures = (await board.get("/api/wallboard")).json()
                assert figures["queues"][0]["waiting"] == BURST

        run(scenario)


class TestRawStream:
    @pytest.mark.usefixtures("frequent_keep_alives")
    def test_keep_alives_are_comments_between_whole_events(self, url: str, seeded: Seeded) -> None:
        async def scenario() -> None:
            async with client(url, seeded.tokens["agent"]) as desk, client(url, seeded.tokens["admin"]) as phone, \
                    desk.stream("GET", "/api/agents/me/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.headers["cache-control"] == "no-store"
                blocks = await asyncio.wait_for(read_blocks(response, phone), POP_SECONDS * 2)
            assert blocks[0] == ["retry: 2000"]
            assert blocks[1][0] == "event: hello"
            assert [": keep-alive"] in blocks
            offer = next(block for block in blocks if block[0] == "event: offer")
            assert len(offer) == 2
            assert json.loads(offer[1].removeprefix("data: "))["patient"]["display_name"] == "Rosa Diaz"

        run(scenario)


async def read_blocks(response: httpx2.Response, phone: httpx2.AsyncClient) -> list[list[str]]:
    """The stream as blank-line-separated blocks, until the offer made after two keep-alives."""
    blocks: list[list[str]] = [[]]
    keep_alives = 0
    async for line in response.aiter_lines():
        if line:
            blocks[-1].append(line)
            continue
        if blocks[-1] == [": keep-alive"]:
            keep_alives += 1
            if keep_alives == 2:
                await new_contact(phone, address=PHONE)
        if blocks[-1] and blocks[-1][0] == "event: offer":
            return blocks
        blocks.append([])
    raise AssertionError("the stream ended")


class TestStreamsHoldNoConnection:
    def test_more_streams_than_database_places_leave_requests_answered(self, url: str, seeded: Seeded) -> None:
        streams = careline_app.DB_REQUESTS + 4

        async def scenario() -> None:
            async with client(url, seeded.tokens["agent"]) as desk, client(url, seeded.tokens["admin"]) as phone, \
                    client(url, seeded.tokens["supervisor"]) as board, AsyncExitStack() as stack:
                desks = [await stack.enter_async_context(listening(desk, "/api/agents/me/events"))
                         for _ in range(streams)]
                for events in desks:
                    await events.next("hello")
                boards = [await stack.enter_async_context(listening(board, "/api/wallboard/events"))
                          for _ in range(streams)]
                assert {events.status for events in desks + boards} == {200}

                mine = await asyncio.wait_for(desk.get("/api/agents/me"), POP_SECONDS)
                assert mine.status_code == 200
                await new_contact(phone, address=PHONE)
                pops = await asyncio.gather(*(events.next("offer") for events in desks))
                assert {pop["patient"]["display_name"] for pop in pops} == {"Rosa Diaz"}
                await asyncio.gather(*(events.next("changed") for events in boards))

        run(scenario)


class TestShutdown:
    def test_a_server_asked_to_stop_ends_its_open_streams(self, seeded: Seeded) -> None:
        """Desktops keep a stream open all day: a deploy must not wait for them to close."""
        server = ExitStack()
        base = server.enter_context(live_server(seeded.settings))
        with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {seeded.tokens['supervisor']}"},
                           timeout=httpx2.Timeout(10, read=None)) as board, \
                board.stream("GET", "/api/wallboard/events") as response:
            chunks = response.iter_bytes()
            assert next(chunks).startswith(b"retry:")
            started = time.monotonic()
            server.close()  # asks the server to stop, and waits up to 10 s for its thread
            assert time.monotonic() - started < sse.SHUTDOWN_GRACE_SECONDS + 3
            with contextlib.suppress(httpx2.RemoteProtocolError):  # cut off mid-stream, or ended cleanly
                assert list(chunks) in ([], [b""])


@contextmanager
def two_servers(settings: Settings, redis_url: str) -> Iterator[tuple[str, str]]:
    shared = settings.model_copy(update={"redis_url": redis_url})
    with live_server(shared) as first, live_server(shared) as second:
        yield first, second


class TestTwoProcesses:
    """Two app instances behind a load balancer: one database, one Redis, each with its own routing loop."""

    def test_an_offer_reaches_the_desktop_connected_to_the_other_instance(self, seeded: Seeded) -> None:
        redis_url = require_redis()

        async def scenario(first: str, second: str) -> None:
            async with client(first, seeded.tokens["agent"]) as desk, \
                    client(second, seeded.tokens["admin"]) as phone, \
                    listening(desk, "/api/agents/me/events") as events:
                await events.next("hello")
                call = await new_contact(phone, address=PHONE)
                pop = await events.next("offer")
                assert (pop["offer"]["interaction"]["id"], pop["patient"]["display_name"]) == \
                    (call["id"], "Rosa Diaz")
                response = await phone.get(f"/api/interactions/{call['id']}")  # the other instance agrees
                assert response.json()["status"] == "offered"

        with two_servers(seeded.settings, redis_url) as (first, second):
            asyncio.run(scenario(first, second))
