"""A burst of 1,000 calls arriving within 10 seconds through Twilio's webhooks, with Twilio's retries: 0 lost,
0 duplicated, every caller queued where their menu choice leads. On SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.telephony_burst [--calls 1000] [--within 10] [--replay 0.05]
        [--patients 100000] [--servers 2] [--engines sqlite,postgresql] [--write]

    (a quick look while developing: --patients 5000 --calls 200 --within 5)

Target (issue 6): 0 lost, 0 duplicated interactions, every call queued in the right queue.
The center's number and queues are the webhook benchmark's (English and Spanish, identification by birth date),
over a population made as the caller lookup benchmark makes it; `--servers` `careline serve` processes run on
127.0.0.1 with CARELINE_TWILIO_AUTH_TOKEN set. Call n starts at n * within / calls seconds, each call its own
task, so calls overlap as a real burst does. Each call plays Twilio's part: POST /voice, then the URL of each
`<Gather>` the TwiML answers with (the language: 1 or 2; the menu: a digit drawn from the menu; the birth date
step, which a known caller skips with #), each request signed for its URL, until the TwiML puts the caller in
a queue (`<Enqueue>`); calls alternate between the servers. A share `--replay` of all requests is sent twice,
as Twilio retries a webhook it thinks failed: half of the copies at the same moment as the original (a retry
racing the first delivery), half right after it (a late retry), to the other server.

Afterwards the database is counted: a call is lost unless it has exactly one Call row, which names an
interaction; a duplicate is a second interaction for one CallSid (external_ref twilio:<CallSid>) or more
interactions than calls; each interaction must be queued in the queue of its digit, in the language chosen.
Nobody answers, so every contact stays in line. Exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import Engine, func, select

from benchmarks.patient_lookup import populate
from benchmarks.support import Served, careline_servers, on_each_engine, write_section
from benchmarks.telephony_webhook import (
    MENU,
    VOICE,
    Signed,
    call_params,
    caller_numbers,
    parse_twiml,
    post,
    seed_center,
    server_env,
    signed,
)
from careline.db import make_engine
from careline.db.migrate import upgrade_to_head
from careline.routing.models import Interaction, Queue
from careline.telephony.models import Call

SPANISH_SHARE = 0.15


@dataclass(frozen=True, slots=True)
class Plan:
    sid: str
    caller: str
    language: str  # "1" English, "2" Spanish
    digit: str


@dataclass
class Sent:
    requests: int = 0
    replays: int = 0
    errors: list[str] = field(default_factory=list)
    queued_as: dict[str, str] = field(default_factory=dict)  # sid → the queue the last TwiML enqueued it in
    seconds: list[float] = field(default_factory=list)  # each call's time from /voice to <Enqueue>


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--within", type=float, default=10.0, help="seconds over which the calls arrive")
    parser.add_argument("--replay", type=float, default=0.05, help="share of requests delivered twice")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--servers", type=int, default=2, help="`careline serve` processes (one per core)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    rows = on_each_engine(args.engines, lambda engine_name, url, workdir: run(
        engine_name, url, workdir, args=args))
    table = render(rows, args)
    print(table)
    if args.write:
        write_section("telephony-burst", f"`.venv/bin/python -m benchmarks.telephony_burst --calls {args.calls} "
                                         f"--within {args.within:g} --replay {args.replay:g} --patients "
                                         f"{args.patients} --servers {args.servers} --write`\n\n{table}")
    if any(row["lost"] or row["duplicated"] or row["misqueued"] or row["errors"] for row in rows):
        raise SystemExit("the burst lost, duplicated or misqueued calls")


def run(engine_name: str, url: str, workdir: Path, *, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    populate(engine, args.patients)
    seed_center(engine)
    rng = random.Random(23)
    run_id = rng.randbytes(4).hex()
    plans = [Plan(f"CA{run_id}{n:024d}", caller, "2" if rng.random() < SPANISH_SHARE else "1",
                  rng.choice(MENU).digit) for n, caller in enumerate(caller_numbers(engine, args.calls, seed=29))]
    print(f"  {engine_name}: {len(plans)} calls within {args.within:g} s, {args.replay:.0%} of requests replayed")
    with careline_servers(url, workdir, username="bench-api", count=args.servers, env=server_env(),
                          logs=[workdir / f"serve-{engine_name}-{n}.log" for n in range(args.servers)]) as served:
        started = time.perf_counter()
        sent = asyncio.run(burst(served, plans, args.within, args.replay, rng))
        elapsed = time.perf_counter() - started
    counted = count(engine, plans, sent)
    engine.dispose()
    return {"engine": engine_name, "calls": len(plans), "elapsed": elapsed, "requests": sent.requests,
            "replays": sent.replays, "errors": sent.errors, "seconds": sorted(sent.seconds), **counted}


async def burst(served: list[Served], plans: list[Plan], within: float, replay: float,
                rng: random.Random) -> Sent:
    sent = Sent()
    bases = [server.base_url for server in served]
    # Each request's fate is drawn up front, so one seed gives the same retries on every engine.
    fates = [[rng.random() < replay and ("race" if rng.random() < 0.5 else "late") for _ in range(4)]
             for _ in plans]
    limits = httpx.Limits(max_connections=len(plans) + 10, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.perf_counter()
        tasks = [asyncio.create_task(one_call(client, bases, n, plan, start + n * within / len(plans), fates[n],
                                              sent)) for n, plan in enumerate(plans)]
        await asyncio.gather(*tasks)
    return sent


async def one_call(client: httpx.AsyncClient, bases: list[str], n: int, plan: Plan, due: float,
                   fates: list[Any], sent: Sent) -> None:
    await asyncio.sleep(max(0.0, due - time.perf_counter()))
    began = time.perf_counter()
    base, other = bases[n % len(bases)], bases[(n + 1) % len(bases)]
    url, extra = base + VOICE, dict[str, str]()
    try:
        for step in range(len(fates)):
            params = call_params(plan.sid, plan.caller, **extra)
            root = parse_twiml(await deliver(client, signed(url, params), signed(other + url[len(base):], params),
                                             fates[step], sent))
            enqueued, gather = root.find("Enqueue"), root.find("Gather")
            if enqueued is not None:
                sent.queued_as[plan.sid] = (enqueued.text or "").strip()
                sent.seconds.append(time.perf_counter() - began)
                return
            if gather is None:
                raise RuntimeError("neither a question nor a queue")
            url = gather.attrib["action"]
            stage = url.rsplit("/", 1)[-1]
            extra = {"Digits": {"language": plan.language, "menu": plan.digit}.get(stage, "#")}
        raise RuntimeError("never reached a queue")
    except (httpx.HTTPError, RuntimeError, SystemExit) as error:
        sent.errors.append(f"{type(error).__name__}: {str(error)[:120]}")


async def deliver(client: httpx.AsyncClient, request: Signed, elsewhere: Signed, fate: Any,
                  sent: Sent) -> httpx.Response:
    """Send one webhook; a replayed one goes again to the other server, racing the first or right after it."""
    sent.requests += 1
    if fate == "race":
        sent.replays += 1
        first, again = await asyncio.gather(post(client, request), post(client, elsewhere))
        parse_twiml(again)
        return first
    answer = await post(client, request)
    if fate == "late":
        sent.replays += 1
        parse_twiml(await post(client, elsewhere))
    return answer


def count(engine: Engine, plans: list[Plan], sent: Sent) -> dict[str, Any]:
    """What the database holds for the burst's CallSids: calls, interactions and their queues."""
    sids = [plan.sid for plan in plans]
    queue_of_digit = {item.digit: item.queue for item in MENU}
    with engine.connect() as connection:
        rows = connection.execute(select(Call.provider_sid, Call.interaction_id, Call.language)
                                  .where(Call.provider == "twilio", Call.provider_sid.in_(sids))).all()
        calls_per_sid = Counter(sid for sid, _id, _language in rows)
        contacts = connection.execute(
            select(Interaction.id, Interaction.external_ref, Queue.name, Interaction.language, Interaction.status)
            .join(Queue, Queue.id == Interaction.queue_id)
            .where(Interaction.external_ref.in_([f"twilio:{sid}" for sid in sids]))).all()
        all_contacts = connection.scalar(select(func.count()).select_from(Interaction)) or 0
    by_ref = Counter(ref for _id, ref, _queue, _language, _status in contacts)
    contact_of = {ref: (contact_id, queue, language, status) for contact_id, ref, queue, language, status in contacts}
    interaction_of = {sid: interaction_id for sid, interaction_id, _language in rows}
    lost = misqueued = 0
    for plan in plans:
        found = contact_of.get(f"twilio:{plan.sid}")
        if calls_per_sid[plan.sid] != 1 or found is None or interaction_of.get(plan.sid) != found[0]:
            lost += 1
            continue
        _contact_id, queue, language, status = found
        expected = queue_of_digit[plan.digit]
        if (queue, language, status, sent.queued_as.get(plan.sid)) != (expected, "es" if plan.language == "2"
                                                                          else "en", "queued", expected):
            misqueued += 1
    duplicated = sum(times - 1 for times in by_ref.values()) + max(0, all_contacts - len(plans)) \
        + sum(times - 1 for times in calls_per_sid.values())
    return {"lost": lost, "duplicated": duplicated, "misqueued": misqueued, "interactions": all_contacts,
            "queues": Counter(queue for _id, _ref, queue, _language, _status in contacts)}


def render(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [f"Burst: {args.calls:,} calls arriving within {args.within:g} s through the signed Twilio webhooks "
             f"(/voice, then each `<Gather>`'s URL until `<Enqueue>`), {args.replay:.0%} of requests delivered "
             f"twice, {args.servers} `careline serve` processes on loopback, {args.patients:,} patients "
             "(target: 0 lost, 0 duplicated, every call in its menu choice's queue).", "",
             "| engine | calls | requests (replays) | all queued after | call to queue p50 / p95 | lost | duplicated "
             "| wrong queue | errors |",
             "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for row in rows:
        seconds = row["seconds"] or [0.0]
        p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
        lines.append(f"| {row['engine']} | {row['calls']:,} | {row['requests']:,} ({row['replays']}) | "
                     f"{row['elapsed']:.1f} s | {seconds[len(seconds) // 2]:.2f} / {p95:.2f} s | {row['lost']} | "
                     f"{row['duplicated']} | {row['misqueued']} | {len(row['errors'])} |")
        for error, times in Counter(row["errors"]).most_common(3):
            lines.append(f"|  | {times} times: {error} | | | | | | | |")
    queues = rows[0]["queues"] if rows else {}
    lines += ["", "Queues reached: " + ", ".join(f"{name} {times}" for name, times in sorted(queues.items())) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
