"""A real Careline server on 127.0.0.1 in a background thread, stopped when the test ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from careline.app import create_app
from careline.settings import Settings
from careline.web.sse import SHUTDOWN_GRACE_SECONDS


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
