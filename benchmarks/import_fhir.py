"""FHIR import throughput: the Synthea R4 Bundles into a throw-away database of each engine.

    .venv/bin/python -m benchmarks.import_fhir [--data DIR] [--engines sqlite,postgresql] [--generated N] [--write]

Prints one markdown table row per engine: resources read per second (every entry of every Bundle,
the ignored billing resources included) and upserted per second (validated, mapped and written),
for a first import into an empty database and for a re-import of the same files (all unchanged); then the
time to bulk-load a generated population of --generated patients. PostgreSQL is reached at
CARELINE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres), where a database is
created for each run and dropped after it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.support import throwaway_database, write_section
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.db.migrate import upgrade_to_head
from careline.fhir.importer import ImportReport, import_paths
from careline.patients.demo import generate_population

DATA = Path(os.environ.get("CARELINE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared") / "data" / \
    "synthea" / "r4-bundles"
HEADER = ("| engine | files | resources read | upserted | first import s | read/s | upserted/s "
          "| re-import s | re-import read/s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")


@dataclass(frozen=True)
class Run:
    report: ImportReport
    seconds: float


def _migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()


def timed_import(url: str, data: Path) -> Run:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        started = time.perf_counter()
        report = import_paths([data], lambda: UnitOfWork(sessions))
        return Run(report, time.perf_counter() - started)
    finally:
        engine.dispose()


def row(engine_name: str, first: Run, again: Run) -> str:
    report = first.report
    return (f"| {engine_name} | {report.files} | {report.resources} | {report.upserted} | {first.seconds:.1f} "
            f"| {report.resources / first.seconds:,.0f} | {report.upserted / first.seconds:,.0f} "
            f"| {again.seconds:.1f} | {again.report.resources / again.seconds:,.0f} |")


def generated_population(url: str, patients: int) -> str:
    """Bulk-loading a generated population (the demo generator's path, not FHIR parsing), for scale."""
    engine = make_engine(url)
    with engine.begin() as connection:
        stats = generate_population(connection, patients=patients)
    engine.dispose()
    rows = (stats.patients + stats.phones + stats.encounters + stats.conditions + stats.observations
            + stats.procedures + stats.immunizations + stats.notes)
    return f"{stats.patients:,} patients, {rows:,} rows in {stats.seconds:.0f} s: {rows / stats.seconds:,.0f} rows/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="Folder or files to import.")
    parser.add_argument("--engines", default="sqlite,postgresql", help="Comma-separated: sqlite, postgresql.")
    parser.add_argument("--generated", type=int, default=100_000, help="Patients in the generated population.")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"No data at {args.data}")
    lines, generated = [HEADER], []
    with tempfile.TemporaryDirectory(prefix="careline-bench-") as workdir:
        for engine_name in (name.strip() for name in args.engines.split(",")):
            with throwaway_database(engine_name, Path(workdir)) as url:
                _migrate(url)
                first = timed_import(url, args.data)
                again = timed_import(url, args.data)
                if first.report.skipped or again.report.skipped:
                    raise SystemExit(f"{engine_name}: {len(first.report.skipped)} resources were skipped")
                lines.append(row(engine_name, first, again))
            with throwaway_database(engine_name, Path(workdir)) as url:
                _migrate(url)
                generated.append(f"- {engine_name}: {generated_population(url, args.generated)}")
            print(lines[-1], generated[-1], sep="\n", flush=True)
    body = (f"FHIR import of the Synthea R4 bundles ({args.data.name}):\n\n" + "\n".join(lines)
            + "\n\nLoading a generated population:\n\n" + "\n".join(generated))
    print(body)
    if args.write:
        write_section("fhir-import", f"`.venv/bin/python -m benchmarks.import_fhir --write`\n\n{body}")


if __name__ == "__main__":
    main()
