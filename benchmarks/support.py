"""What every benchmark shares: throw-away databases on both engines, timing, and the results page."""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from careline.actor import Actor, Role
from careline.auth import crypto
from careline.auth import service as auth_service
from careline.auth.models import User
from careline.db import UnitOfWork
from careline.settings import Settings

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
CARELINE = str(Path(sys.executable).parent / "careline")
T = TypeVar("T")
POSTGRES_ADMIN_URL = Settings(database_url=os.environ.get(
    "CARELINE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")).database_url or ""


@contextmanager
def throwaway_database(engine_name: str, workdir: Path) -> Iterator[str]:
    """A new, empty database URL for one engine, dropped (or deleted) afterwards."""
    if engine_name == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"careline_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]

    def pct(self, q: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return self.pct(99)


def time_calls(call: Callable[[int], object], count: int, *, warmup: int = 50) -> Timing:
    for n in range(warmup):
        call(n)
    samples = []
    for n in range(count):
        started = time.perf_counter()
        call(n)
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(samples)


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section between this benchmark's markers in docs/benchmarks.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    stamp = f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}.\n\n"
    block = f"{start}\n{stamp}{body.strip()}\n{end}"
    page = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    if start in page:
        page = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _m: block, page, flags=re.S)
    else:
        page = page.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(page)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (of this machine) has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def staff_users(uow: UnitOfWork, count: int, *, prefix: str, role: Role = Role.agent) -> list[User]:
    """``count`` users named ``<prefix>-<n>``, sharing one password hash: hashing each one (argon2, about 0.1 s)
    would take minutes and measure nothing. Benchmarks sign them in with API tokens, never passwords."""
    password_hash = crypto.hash_password(f"{prefix} benchmark password")
    users = [User(username=f"{prefix}-{n}", display_name=f"{prefix.title()} {n}", role=role,
                  password_hash=password_hash) for n in range(count)]
    uow.session.add_all(users)
    uow.flush()
    return users


def bearer_tokens(uow: UnitOfWork, usernames: list[str]) -> list[str]:
    """A fresh API token for each user, in order."""
    actor = Actor.cli("bench")
    return [auth_service.issue_api_token(uow, actor, username=username, name="benchmark").token
            for username in usernames]


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """The (event name, decoded data) pairs of a server-sent event stream, as they arrive."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].strip())
        elif not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []


def on_each_engine(engines: str, run: Callable[[str, str, Path], T]) -> list[T]:
    """``run(engine_name, url, workdir)`` on a throw-away database of each engine named (comma-separated)."""
    with tempfile.TemporaryDirectory() as workdir:
        results = []
        for engine_name in engines.split(","):
            with throwaway_database(engine_name, Path(workdir)) as url:
                results.append(run(engine_name, url, Path(workdir)))
        return results


@dataclass(frozen=True)
class Served:
    base_url: str
    token: str  # a bearer token of the user named when serving
    pid: int = 0  # the server process, to read its CPU time


@contextmanager
def careline_serve(url: str, workdir: Path, *, username: str, log: Path | None = None) -> Iterator[Served]:
    """A real `careline serve` process on loopback over ``url``, with a bearer token for ``username``.

    The server's own log (error types, never PHI) goes to ``log`` when given.
    """
    with careline_servers(url, workdir, username=username, logs=[log] if log else None) as (served,):
        yield served


@contextmanager
def careline_servers(url: str, workdir: Path, *, username: str, count: int = 1, env: dict[str, str] | None = None,
                     logs: list[Path] | None = None) -> Iterator[list[Served]]:
    """``count`` `careline serve` processes on loopback over one database ``url``, each on its own port, with
    one bearer token for ``username``; ``env`` adds settings (e.g. CARELINE_REDIS_URL to join them up).

    Each server's own log (error types, never PHI) goes to its entry of ``logs`` when given.
    """
    env = os.environ | {"CARELINE_DATABASE_URL": url, "CARELINE_DATA_DIR": str(workdir),
                        "CARELINE_SECRET_KEY": "benchmark-secret-key", "CARELINE_LOG_LEVEL": "WARNING"} | (env or {})
    token = subprocess.run([CARELINE, "users", "token", username], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    servers: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for n in range(count):
            port = _free_port()
            stderr = logs[n].open("w") if logs else subprocess.DEVNULL
            servers.append((subprocess.Popen([CARELINE, "serve", "--port", str(port)], env=env,
                                             stdout=subprocess.DEVNULL, stderr=stderr),
                            f"http://127.0.0.1:{port}"))
        for _server, base_url in servers:
            _wait_until_up(base_url)
        yield [Served(base_url, token, server.pid) for server, base_url in servers]
    finally:
        for server, _base_url in servers:
            server.terminate()
        for server, _base_url in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(base_url: str) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base_url) as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
    raise RuntimeError("careline serve did not start")
