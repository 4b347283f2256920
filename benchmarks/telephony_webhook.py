"""Incoming-call webhook → TwiML: Twilio's POST /telephony/twilio/voice, signed, with the caller looked up among
1,000,000 patients, through real HTTP on loopback, on SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.telephony_webhook [--patients 1000000] [--samples 2000] [--concurrency 4]
        [--servers 2] [--engines sqlite,postgresql] [--write]

    (a quick look while developing: --patients 20000 --samples 300)

Target (issue 6): p95 ≤ 20 ms per webhook, and the requests/s two cores sustain.
The population is made as the caller lookup benchmark makes it (people, phones and notes; ANALYZE after). The
center has one number whose IVR speaks English and Spanish and identifies callers by birth date, so each call
is looked up by its caller's number when it arrives. `--servers` `careline serve` processes (one per core) run
on 127.0.0.1 with CARELINE_TWILIO_AUTH_TOKEN set; each request is a Twilio-shaped form body signed with the
twilio library's RequestValidator for the URL it is sent to, and the server checks that signature, records the
call once and answers with TwiML (the emergency notice and the language choice), which is parsed here.
Callers' numbers: 9 in 10 drawn at random from those on file, the rest unknown. Signatures are computed before
the clock starts, so the figures are the server's.

Two phases: one request at a time (latency: the time from sending to the whole TwiML read), then
`--concurrency` requests in flight alternating between the servers (latency under load and requests/s).
Before timing, a request with a tampered signature must get 403. The PostgreSQL database is created for the
run (CARELINE_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres) and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from benchmarks.patient_lookup import populate
from benchmarks.support import Served, Timing, careline_servers, on_each_engine, write_section
from careline.actor import Actor, Role
from careline.auth import service as auth_service
from careline.auth.schemas import UserCreate
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.db.migrate import upgrade_to_head
from careline.patients.models import PatientPhone
from careline.routing.schemas import QueueIn
from careline.routing.service import setup
from careline.telephony.schemas import IvrConfig, MenuOption, NumberIn
from careline.telephony.service import numbers

AUTH_TOKEN = "benchmark_auth_token_0123456789ab"  # noqa: S105 - signs loopback requests only
ACCOUNT_SID = "AC" + "0" * 32
CENTER = "+16175550100"
VOICE = "/telephony/twilio/voice"
MENU = [MenuOption(digit="1", option="appointments", queue="scheduling"),
        MenuOption(digit="2", option="tests", queue="scheduling"),
        MenuOption(digit="3", option="prescriptions", queue="prescriptions"),
        MenuOption(digit="4", option="billing", queue="billing"),
        MenuOption(digit="5", option="nurse", queue="nurse"),
        MenuOption(digit="0", option="operator", queue="general")]
WARMUP = 30
ON_FILE_SHARE = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2_000, help="timed requests in each phase")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight in the second phase")
    parser.add_argument("--servers", type=int, default=2, help="`careline serve` processes (one per core)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows = on_each_engine(args.engines, lambda engine_name, url, workdir: run(
        engine_name, url, workdir, patients=args.patients, samples=args.samples, concurrency=args.concurrency,
        servers=args.servers))
    table = render(rows, args.patients, args.servers, args.concurrency)
    print(table)
    if args.write:
        write_section("telephony-webhook", f"`.venv/bin/python -m benchmarks.telephony_webhook --patients "
                                           f"{args.patients} --samples {args.samples} --concurrency "
                                           f"{args.concurrency} --servers {args.servers} --write`\n\n{table}")


def run(engine_name: str, url: str, workdir: Path, *, patients: int, samples: int, concurrency: int,
        servers: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    populate(engine, patients)
    seed_center(engine)
    callers = caller_numbers(engine, 2 * (WARMUP + samples), seed=17)
    engine.dispose()
    print(f"  {engine_name}: {patients:,} patients; {samples} signed webhooks a phase")
    with careline_servers(url, workdir, username="bench-api", count=servers, env=server_env(),
                          logs=[workdir / f"serve-{engine_name}-{n}.log" for n in range(servers)]) as served:
        one, many, per_second = asyncio.run(drive(served, callers, samples, concurrency))
    return {"engine": engine_name, "one": one, "many": many, "per_second": per_second}


def server_env() -> dict[str, str]:
    return {"CARELINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN}


def seed_center(engine: Engine, *, identify: bool = True) -> None:
    """The menu's queues, the center's number with its IVR, and the user whose token `careline_servers` asks for."""
    admin = Actor.cli("bench")
    with UnitOfWork(make_sessionmaker(engine)) as uow:
        for queue in sorted({item.queue for item in MENU}):
            setup.save_queue(uow, admin, QueueIn(name=queue))
        numbers.save(uow, admin, NumberIn(number=CENTER, label="Bench line", ivr=IvrConfig(
            menu=MENU, identify_by_birth_date=identify, after_hours_queue="general")))
        auth_service.create_user(uow, admin, UserCreate(
            username="bench-api", display_name="Bench API", role=Role.admin, password="bench password 123"))
        uow.commit()


def caller_numbers(engine: Engine, count: int, *, seed: int) -> list[str]:
    """Callers' numbers: ``ON_FILE_SHARE`` drawn from those on file, the rest fictional unknown lines."""
    rng = random.Random(seed)
    with engine.connect() as connection:
        on_file = list(connection.scalars(select(PatientPhone.e164).order_by(func.random()).limit(count)))
    return [rng.choice(on_file) if on_file and rng.random() < ON_FILE_SHARE
            else f"+1{rng.choice(('212', '305', '415'))}55501{rng.randrange(100):02d}" for _ in range(count)]


@dataclass(frozen=True, slots=True)
class Signed:
    url: str
    body: str
    signature: str


def signed(url: str, params: dict[str, str]) -> Signed:
    """A request as Twilio sends it: the form body and its X-Twilio-Signature for the full URL."""
    return Signed(url, urlencode(params), RequestValidator(AUTH_TOKEN).compute_signature(url, params))


def call_params(sid: str, caller: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid, "CallStatus": "ringing",
            "Direction": "inbound", "From": caller, "To": CENTER, "Caller": caller, "Called": CENTER,
            "FromCountry": "US", "ToCountry": "US", **extra}


async def post(client: httpx.AsyncClient, request: Signed, *, signature: str | None = None) -> httpx.Response:
    return await client.post(request.url, content=request.body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature or request.signature})


def parse_twiml(response: httpx.Response) -> ET.Element:
    if response.status_code != 200 or not response.headers["content-type"].startswith("text/xml"):
        raise SystemExit(f"webhook answered {response.status_code}: {response.text[:200]}")
    root = ET.fromstring(response.content)  # noqa: S314 - the benchmarked server's own answer
    if root.tag != "Response":
        raise SystemExit("the webhook's answer is not TwiML")
    return root


async def drive(served: list[Served], callers: list[str], samples: int,
                concurrency: int) -> tuple[Timing, Timing, float]:
    bases = [server.base_url for server in served]
    run_id = random.randbytes(4).hex()
    requests = [signed(bases[n % len(bases)] + VOICE, call_params(f"CA{run_id}{n:024d}", caller))
                for n, caller in enumerate(callers)]
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency * 2)) as client:
        refused = await post(client, requests[0], signature="bm90IHRoZSBzaWduYXR1cmU=")
        if refused.status_code != 403:
            raise SystemExit(f"a tampered signature was answered {refused.status_code}, not 403")
        half = WARMUP + samples
        one = await timed(client, requests[:half], 1)
        started = time.perf_counter()
        many = await timed(client, requests[half:], concurrency)
        per_second = len(requests[half:]) / (time.perf_counter() - started)
    return Timing(one[WARMUP:]), Timing(many[WARMUP:]), per_second


async def timed(client: httpx.AsyncClient, requests: list[Signed], concurrency: int) -> list[float]:
    """Send the requests with ``concurrency`` in flight; each one's latency in ms, in order of sending."""
    latencies = [0.0] * len(requests)
    order = itertools.count()

    async def worker() -> None:
        while (n := next(order)) < len(requests):
            started = time.perf_counter()
            response = await post(client, requests[n])
            latencies[n] = (time.perf_counter() - started) * 1000
            if parse_twiml(response).find("Gather") is None:
                raise SystemExit("the incoming call was not asked to choose a language")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def render(rows: list[dict[str, Any]], patients: int, servers: int, concurrency: int) -> str:
    lines = [f"Incoming-call webhook, {patients:,} patients: signed POST {VOICE} (signature checked, call recorded "
             f"once, caller looked up by number) → TwiML, {servers} `careline serve` processes on loopback "
             "(target: p95 ≤ 20 ms).", "",
             "| engine | one at a time p50 / p95 / p99 | "
             f"{concurrency} in flight p50 / p95 / p99 | requests/s ({concurrency} in flight) |",
             "| --- | --- | --- | ---: |"]
    for row in rows:
        one, many = row["one"], row["many"]
        lines.append(f"| {row['engine']} | {one.p50:.1f} / {one.pct(95):.1f} / {one.p99:.1f} ms | "
                     f"{many.p50:.1f} / {many.pct(95):.1f} / {many.p99:.1f} ms | {row['per_second']:.0f} |")
    lines += ["", "Latency is from sending the request to having read the whole TwiML, on the same two cores as "
              "the servers; 9 in 10 callers are on file."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
