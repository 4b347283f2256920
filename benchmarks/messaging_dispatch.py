"""Outbox dispatch to the local sink: N texts queued, then `careline worker` processes drain them, on PostgreSQL.

    .venv/bin/python -m benchmarks.messaging_dispatch --write

    (a quick look while developing: --messages 5000)

Target (issue 7): ≥ 1,000 messages/s sustained with 2 workers.
A fresh PostgreSQL database; N threads to N numbers, each with one text waiting in the outbox, written in bulk
as `outgoing.queue` writes them (purpose "reply": no patient record, so no consent to look up). Then `--workers`
`careline worker` processes start, with CARELINE_OUTBOX_BATCH=`--batch` and CARELINE_SMS_RATE_GLOBAL=0 and
CARELINE_SMS_RATE_PER_SENDER=0: the carrier pacing (100 texts/s by default) would otherwise be the figure,
not the dispatcher. Every check of the sending path (opt-out, thread order) runs.
The sink's rows are counted every 0.2 s; the sustained rate is the slope between 10% and 90% of the messages,
which leaves out the workers' start-up and the last, thin batches.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from rich.progress import Progress
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from benchmarks.support import CARELINE, on_each_engine, write_section
from careline.db import make_engine, utcnow
from careline.db.migrate import upgrade_to_head
from careline.integrations.sink import SinkMessage
from careline.messaging.models import Conversation, Message
from careline.messaging.rules import Channel, Purpose, Status
from careline.messaging.service import outgoing
from careline.worker.models import OutboxMessage

CENTER = "+18005550100"
PER_TRANSACTION = 1_000
SAMPLE_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class Drain:
    seconds: float  # from the workers' start to the last message in the sink
    sustained: float  # messages/s between 10% and 90%
    samples: list[tuple[float, int]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500, help="CARELINE_OUTBOX_BATCH for the workers")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    row = on_each_engine("postgresql", lambda _engine_name, url, workdir: run(url, workdir, args))[0]
    table = render(row, args)
    print(table)
    if args.write:
        command = f"`.venv/bin/python -m benchmarks.messaging_dispatch --messages {args.messages} --workers " \
                  f"{args.workers}{f' --batch {args.batch}' if args.batch else ''} --write`"
        write_section("messaging-dispatch", f"{command}\n\n{table}")
    if row["sent"] != args.messages or row["repeats"]:
        raise SystemExit("the dispatch lost or repeated messages")


def run(url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    seconds = seed(engine, args.messages)
    print(f"  queued {args.messages:,} texts in {seconds:.1f} s; starting {args.workers} workers")
    with workers(url, workdir, args.workers, batch=args.batch) as pool:
        drained = watch(engine, args.messages, progress_label="Sent", tick=lambda _elapsed: alive(pool, workdir))
    counted = count(engine)
    engine.dispose()
    return {"seed_seconds": seconds, "drain": drained, **counted}


def seed(engine: Engine, messages: int) -> float:
    """``messages`` texts, one to each of as many numbers, waiting in the outbox.

    Written in bulk, 1,000 to a statement, as ``outgoing.queue`` writes them (a thread, its message, the
    outbox row ``message.send``): through the service one at a time it takes minutes, and measures nothing.
    """
    started = time.perf_counter()
    with Progress(transient=True) as progress, Session(engine) as session:
        task = progress.add_task(f"Queueing {messages:,} texts", total=messages)
        for first in range(0, messages, PER_TRANSACTION):
            threads, texts, rows = [], [], []
            now = utcnow()
            for n in range(first, min(messages, first + PER_TRANSACTION)):
                thread, text = uuid4(), uuid4()
                threads.append({"id": thread, "channel": Channel.sms.value, "address": number(n), "candidates": 0,
                                "center_address": CENTER, "language": "en", "created_at": now,
                                "last_message_at": now})
                texts.append({"id": text, "conversation_id": thread, "seq": 1, "channel": Channel.sms.value,
                              "direction": "outbound", "kind": "bench_reminder", "purpose": Purpose.reply.value,
                              "body": f"Reminder {n}: reply C to confirm, R to reschedule.",
                              "status": Status.queued.value, "status_rank": 0, "links": [], "created_at": now})
                rows.append({"id": uuid4(), "kind": outgoing.SEND, "key": f"message:{text}",
                             "payload": {"message_id": str(text)}, "status": "pending", "attempts": 0,
                             "created_at": now, "due_at": now})
            for model, values in ((Conversation, threads), (Message, texts), (OutboxMessage, rows)):
                session.execute(insert(model), values)
            session.commit()
            progress.update(task, completed=min(messages, first + PER_TRANSACTION))
    return time.perf_counter() - started


def number(n: int) -> str:
    """Distinct numbers on the 555 exchange, 10,000 to an area code."""
    return f"+1{201 + n // 10_000}555{n % 10_000:04d}"


def worker_env(url: str, workdir: Path, *, batch: int | None) -> dict[str, str]:
    return os.environ | {"CARELINE_DATABASE_URL": url, "CARELINE_DATA_DIR": str(workdir),
                         "CARELINE_SECRET_KEY": "benchmark-secret-key", "CARELINE_LOG_LEVEL": "WARNING",
                         "CARELINE_SMS_RATE_GLOBAL": "0", "CARELINE_SMS_RATE_PER_SENDER": "0",
                         "CARELINE_SMS_SENDER": CENTER} | ({"CARELINE_OUTBOX_BATCH": str(batch)} if batch else {})


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen([CARELINE, "worker", "--idle", "0.1"], env=env, stdout=subprocess.DEVNULL,
                                stderr=stderr)


@contextmanager
def workers(url: str, workdir: Path, count: int, *, batch: int | None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` `careline worker` processes, stopped with SIGTERM (as an operator would) at the end."""
    env = worker_env(url, workdir, batch=batch)
    pool = [start_worker(env, workdir / f"worker-{n}.log") for n in range(count)]
    try:
        yield pool
    finally:
        stop(pool)


def alive(pool: list[subprocess.Popen[bytes]], workdir: Path) -> None:
    """A worker that exits on its own (a broken install, a bad setting) ends the run with its log's name."""
    if any(process.poll() is not None for process in pool):
        raise SystemExit(f"a worker exited early: see {workdir}/worker-*.log")


def stop(pool: list[subprocess.Popen[bytes]]) -> None:
    for process in pool:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in pool:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sink_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(SinkMessage)) or 0)


def watch(engine: Engine, expected: int, *, progress_label: str, timeout: float = 900,
          tick: Callable[[float], None] | None = None) -> Drain:
    """Count the sink's rows until all ``expected`` are there; ``tick(seconds)`` runs between counts."""
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task(f"{progress_label} to the sink", total=expected)
        while not samples or samples[-1][1] < expected:
            elapsed = time.perf_counter() - started
            if elapsed > timeout:
                break
            samples.append((elapsed, sink_rows(engine)))
            progress.update(task, completed=samples[-1][1])
            if tick is not None:
                tick(elapsed)
            time.sleep(SAMPLE_SECONDS)
    return Drain(samples[-1][0], sustained(samples, expected), samples)


def sustained(samples: list[tuple[float, int]], expected: int) -> float:
    """Messages/s between the first samples past 10% and 90% of ``expected``."""
    low = next(((t, c) for t, c in samples if c >= expected * 0.1), None)
    high = next(((t, c) for t, c in samples if c >= expected * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


def count(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        sent = int(connection.scalar(select(func.count()).select_from(SinkMessage)) or 0)
        repeats = int(connection.scalar(select(func.coalesce(func.sum(SinkMessage.repeats), 0))) or 0)
        pending = int(connection.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.status != "sent")) or 0)
    return {"sent": sent, "repeats": repeats, "unsettled": pending}


def render(row: dict[str, Any], args: argparse.Namespace) -> str:
    drain: Drain = row["drain"]
    batch = f"CARELINE_OUTBOX_BATCH={args.batch}" if args.batch else "the default batch"
    return "\n".join([
        f"Outbox dispatch to the local sink on PostgreSQL: {args.messages:,} texts waiting in the outbox as the "
        f"messaging service queues them, drained by {args.workers} `careline worker` processes ({batch}), with "
        "CARELINE_SMS_RATE_GLOBAL=0 and CARELINE_SMS_RATE_PER_SENDER=0 so that the carrier pacing (100 texts/s "
        "by default) does not set the figure (target: ≥ 1,000 messages/s sustained).", "",
        "| messages | queued in | drained in | sustained (10% to 90%) | in the sink | repeats | unsettled |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {args.messages:,} | {row['seed_seconds']:.1f} s | {drain.seconds:.1f} s | "
        f"{drain.sustained:,.0f} messages/s | {row['sent']:,} | {row['repeats']} | {row['unsettled']} |"])


if __name__ == "__main__":
    main()
