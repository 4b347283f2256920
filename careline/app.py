"""The application factory. The engine is built in the lifespan, so tests can bring their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from careline.auth.policy import SecurityPolicy
from careline.db import make_engine, make_sessionmaker
from careline.db.migrate import ensure_schema
from careline.logs import configure_logging
from careline.patients.policy import PatientPolicy
from careline.routes import ROUTERS
from careline.settings import Settings
from careline.web.csrf import csrf_protect
from careline.web.deps import assert_every_route_guarded
from careline.web.errors import install_error_handlers
from careline.web.middleware import install_middleware

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"
# Requests holding a database connection at once (see web.deps.get_uow): one pooled connection each, and
# well under the 40 worker threads that run their dependencies, routes and commits.
DB_REQUESTS = 16


def create_app(settings: Settings | None = None, *, sessions: sessionmaker[Session] | None = None) -> FastAPI:
    """Build the app. Pass ``sessions`` to run on an existing connection (tests); otherwise the lifespan
    opens the configured database, migrating the embedded SQLite one to head."""
    settings = settings or Settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db_gate = asyncio.Semaphore(DB_REQUESTS)  # bound to the loop that serves the requests
        if sessions is not None:
            app.state.sessionmaker = sessions
            yield
            return
        engine = make_engine(settings.effective_database_url, pool_size=DB_REQUESTS, max_overflow=0)
        ensure_schema(engine)
        app.state.sessionmaker = make_sessionmaker(engine)
        yield
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
    if sessions is not None:
        app.state.sessionmaker = sessions
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    install_middleware(app)
    assert_every_route_guarded(ROUTERS)
    return app
