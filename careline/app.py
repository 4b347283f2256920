"""The application factory. The engine is built in the lifespan, so tests can bring their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from careline import jobs
from careline.auth.policy import SecurityPolicy
from careline.db import make_engine, make_sessionmaker
from careline.db.migrate import ensure_schema
from careline.live import Bus, make_bus
from careline.logs import configure_logging
from careline.patients.policy import PatientPolicy
from careline.routes import ROUTERS
from careline.routing.tasks import RoutingLoop
from careline.settings import Settings
from careline.web.csrf import csrf_protect
from careline.web.deps import assert_every_route_guarded
from careline.web.errors import install_error_handlers
from careline.web.middleware import install_middleware
from careline.worker.runner import OutboxLoop

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"
# Requests holding a database connection at once (see web.deps.get_uow): one pooled connection each, and
# well under the 40 worker threads that run their dependencies, routes and commits.
DB_REQUESTS = 16
# The routing loop, the outbox dispatcher, a desktop's screen pop being built, the demo's simulated callers.
BACKGROUND_CONNECTIONS = 4


class BackgroundTask(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


# Made in the lifespan, once the database and the bus are open: e.g. the demo's simulated callers.
Background = Callable[[sessionmaker[Session], Bus], BackgroundTask]


def create_app(settings: Settings | None = None, *, sessions: sessionmaker[Session] | None = None,
               routing_loop: bool | None = None, outbox_loop: bool | None = None,
               background: Sequence[Background] = ()) -> FastAPI:
    """Build the app. Pass ``sessions`` to run on an existing connection (tests); otherwise the lifespan
    opens the configured database, migrating the embedded SQLite one to head.

    The routing loop (the ACD) and the outbox dispatcher run unless ``routing_loop`` / ``outbox_loop`` is
    False; tests on a shared connection leave them off by default and run passes themselves. ``background``
    tasks start after them and stop before them.
    """
    settings = settings or Settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    run_routing = sessions is None if routing_loop is None else routing_loop
    run_outbox = sessions is None if outbox_loop is None else outbox_loop

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db_gate = asyncio.Semaphore(DB_REQUESTS)  # bound to the loop that serves the requests
        engine = None
        if sessions is None:
            engine = make_engine(settings.effective_database_url, pool_size=DB_REQUESTS + BACKGROUND_CONNECTIONS,
                                 max_overflow=0)
            ensure_schema(engine)
        app.state.sessionmaker = sessions or make_sessionmaker(engine)
        app.state.bus = make_bus(settings.redis_url)
        await app.state.bus.start()
        tasks: list[BackgroundTask] = [RoutingLoop(app.state.sessionmaker, app.state.bus)] if run_routing else []
        if run_outbox:
            tasks.append(OutboxLoop(jobs.dispatcher(app.state.sessionmaker, settings), app.state.bus))
        tasks += [make(app.state.sessionmaker, app.state.bus) for make in background]
        for task in tasks:
            task.start()
        try:
            yield
        finally:
            for task in reversed(tasks):
                await task.stop()
            await app.state.bus.stop()
            if engine is not None:
                engine.dispose()

    app = FastAPI(
        title="Careline",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.settings = settings
    app.state.policy = SecurityPolicy.from_settings(settings)
    app.state.patient_policy = PatientPolicy.from_settings(settings)
    app.state.db_gate = asyncio.Semaphore(DB_REQUESTS)
    app.state.bus = Bus()
    if sessions is not None:
        app.state.sessionmaker = sessions
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    install_middleware(app)
    assert_every_route_guarded(ROUTERS)
    return app
