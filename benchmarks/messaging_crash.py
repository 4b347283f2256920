"""Crash test: texts queued, `careline worker` processes killed with SIGKILL while they send, and restarted.

    .venv/bin/python -m benchmarks.messaging_crash --write

    (a quick look while developing: --messages 3000 --kill-every 2)

Target (issue 7): 0 lost, 0 sent twice.
On a fresh PostgreSQL database, 20,000 texts wait in the outbox (written as the dispatch benchmark writes
them). Two workers start; every `--kill-every` seconds one of them (in turn) is killed with `kill -9` — mid-batch,
with no chance to finish — and a new one is started in its place, until every message is in the sink. The rows a
killed worker held come due again once their lease ends (CARELINE_OUTBOX_LEASE_SECONDS, 10 s here instead of
60 s, so the run is short); they are sent again with the same idempotency key, which the sink absorbs (counted in
its `repeats`). The run waits until no outbox row is pending, then counts from the database and the sink's file:
lost = queued messages whose key is not in the sink; sent twice = keys written to the sink's file more than
once; not final = messages still queued or sending, or outbox rows given up.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from benchmarks.messaging_dispatch import alive, seed, sink_rows, start_worker, stop, watch, worker_env
from benchmarks.support import on_each_engine, write_section
from careline.db import make_engine
from careline.db.migrate import upgrade_to_head
from careline.integrations.sink import SinkMessage
from careline.messaging.models import Message
from careline.messaging.service import outgoing
from careline.worker.models import OutboxMessage

LEASE_SECONDS = 10
SETTLE_TIMEOUT = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between two kills")
    parser.add_argument("--batch", type=int, default=200, help="CARELINE_OUTBOX_BATCH for the workers")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    row = on_each_engine("postgresql", lambda _engine_name, url, workdir: run(url, workdir, args))[0]
    table = render(row, args)
    print(table)
    if args.write:
        write_section("messaging-crash", f"`.venv/bin/python -m benchmarks.messaging_crash --messages "
                                         f"{args.messages} --workers {args.workers} --kill-every "
                                         f"{args.kill_every:g} --batch {args.batch} --write`\n\n{table}")
    if row["lost"] or row["twice"] or row["not_final"]:
        raise SystemExit("the crash test lost messages, sent one twice or left some unsettled")


def run(url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    seconds = seed(engine, args.messages)
    print(f"  queued {args.messages:,} texts in {seconds:.1f} s; {args.workers} workers, one killed every "
          f"{args.kill_every:g} s")
    env = worker_env(url, workdir, batch=args.batch) | {"CARELINE_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS)}
    logs = iter(workdir / f"worker-{n}.log" for n in range(1_000_000))
    pool = [start_worker(env, next(logs)) for _ in range(args.workers)]
    kills = 0

    def kill_one(elapsed: float) -> None:
        nonlocal kills
        if elapsed >= (kills + 1) * args.kill_every:
            slot = kills % len(pool)
            pool[slot].send_signal(signal.SIGKILL)
            pool[slot].wait()
            pool[slot] = start_worker(env, next(logs))
            kills += 1
            print(f"  {elapsed:5.1f} s: kill {kills}, {sink_rows(engine):,} in the sink", flush=True)
        alive(pool, workdir)

    try:
        drained = watch(engine, args.messages, progress_label="Sent, with kills,", tick=kill_one)
        settled = settle(engine)
    finally:
        stop(pool)
    counted = count(engine, workdir / "sent-messages.jsonl")
    engine.dispose()
    return {"seed_seconds": seconds, "seconds": drained.seconds, "kills": kills, "settled": settled, **counted}


def settle(engine: Engine) -> float:
    """Wait until no outbox row is pending (the killed workers' leases run out and their rows are retried)."""
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_TIMEOUT:
        with engine.connect() as connection:
            if not connection.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.status == "pending")):
                break
        time.sleep(0.5)
    return time.perf_counter() - started


def count(engine: Engine, sink_file: Path) -> dict[str, int]:
    with engine.connect() as connection:
        queued = set(connection.scalars(select(OutboxMessage.key).where(OutboxMessage.kind == outgoing.SEND)))
        in_sink = set(connection.scalars(select(SinkMessage.key)))
        repeats = int(connection.scalar(select(func.coalesce(func.sum(SinkMessage.repeats), 0))) or 0)
        unsettled = int(connection.scalar(select(func.count()).select_from(OutboxMessage)
                                          .where(OutboxMessage.status != "sent")) or 0)
        open_messages = int(connection.scalar(select(func.count()).select_from(Message)
                                              .where(Message.status.in_(("queued", "held", "sending")))) or 0)
    lines = Counter(json.loads(line)["key"] for line in sink_file.read_text().splitlines()) \
        if sink_file.exists() else Counter()
    return {"queued": len(queued), "in_sink": len(queued & in_sink), "lost": len(queued - in_sink),
            "repeats": repeats, "twice": sum(1 for times in lines.values() if times > 1),
            "file_lines": sum(lines.values()), "not_final": unsettled + open_messages}


def render(row: dict[str, Any], args: argparse.Namespace) -> str:
    return "\n".join([
        f"Crash test on PostgreSQL: {args.messages:,} texts queued, {args.workers} `careline worker` processes "
        f"(CARELINE_OUTBOX_BATCH={args.batch}, CARELINE_OUTBOX_LEASE_SECONDS={LEASE_SECONDS}), one killed with "
        f"`kill -9` every {args.kill_every:g} s and restarted, until all were in the sink; then counted from the "
        "database and the sink's file (target: 0 lost, 0 sent twice).", "",
        "| queued | kills | all in the sink after | settled after | in the sink | lost | retries absorbed (repeats) "
        "| sent twice | not final |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {row['queued']:,} | {row['kills']} | {row['seconds']:.1f} s | +{row['settled']:.1f} s | "
        f"{row['in_sink']:,} | {row['lost']} | {row['repeats']} | {row['twice']} | {row['not_final']} |"])


if __name__ == "__main__":
    main()
