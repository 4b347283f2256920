"""``careline import fhir PATH...``: FHIR R4 Bundles, NDJSON files and folders into the patient CRM."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from careline.db.migrate import SchemaOutOfDate
from careline.fhir.importer import ImportProgress, ImportReport, ReportItem, import_paths
from careline.patients.schemas import ImportOutcome
from careline.settings import Settings

import_app = typer.Typer(help="Import data from the EHR.", no_args_is_help=True)

MAX_REASONS = 20
OUTCOMES = (ImportOutcome.imported, ImportOutcome.updated, ImportOutcome.unchanged)

Paths = Annotated[list[Path], typer.Argument(
    help="Bundle .json files, .ndjson files, or folders (searched recursively for both).",
    exists=True, resolve_path=True, show_default=False, metavar="PATH")]


@import_app.command("fhir")
def fhir(paths: Paths) -> None:
    """Import FHIR R4 Bundles (.json), NDJSON files, or folders of them.

    Kept: Patient, Practitioner, Organization, Location, Encounter, Condition, Observation, Procedure, Immunization.

    Other resource types are counted as ignored. Importing the same files again changes nothing.

    A malformed resource is skipped and listed with its file and position (Bundle entry index or NDJSON line).

    Exit status 1 when anything was skipped.
    """
    with _cli_errors():
        settings = Settings()
        report = _import_with_progress(paths, settings)
    Console().print(summary_table(report))
    _print_problems(report)
    if report.skipped:
        raise typer.Exit(code=1)


@contextmanager
def _cli_errors() -> Iterator[None]:
    """Bad settings or a stale schema become one red line and exit status 1, not a traceback."""
    try:
        yield
    except SchemaOutOfDate as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from error
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        typer.secho(problems, fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from error


def _import_with_progress(paths: list[Path], settings: Settings) -> ImportReport:
    """The import under a progress bar on standard error (files done, resources read, time)."""
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("files · {task.fields[resources]} resources"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("Importing", total=None, resources=0)

        def advance(event: ImportProgress) -> None:
            bar.update(task, total=event.files_total, completed=event.files_done, resources=event.resources_done)

        return import_paths(paths, settings, progress=advance)


def summary_table(report: ImportReport) -> Table:
    """Counts per resource type: imported, updated, unchanged, skipped; ignored types on their own rows."""
    table = Table(title=f"FHIR import: {_plural(report.files, 'file')}, {_plural(report.resources, 'resource')}")
    for column in ("resource", *OUTCOMES, "ignored", "skipped"):
        table.add_column(str(column), justify="left" if column == "resource" else "right")
    skipped = _skipped_per_type(report.skipped)
    for resource_type in sorted(set(report.outcomes) | set(skipped)):
        counts = [str(report.count(resource_type, outcome)) for outcome in OUTCOMES]
        table.add_row(resource_type, *counts, "", str(skipped.get(resource_type, 0)))
    for resource_type, count in sorted(report.ignored.items()):
        table.add_row(resource_type, "", "", "", str(count), "")
    table.add_row("total", *(str(report.total(outcome)) for outcome in OUTCOMES),
                  str(sum(report.ignored.values())), str(len(report.skipped)), style="bold")
    return table


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _skipped_per_type(items: list[ReportItem]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        key = item.resource_type or "(file or line)"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _print_problems(report: ImportReport) -> None:
    for item in report.ignored_files:
        typer.echo(f"Ignored {item.file}: {item.reason}")
    if report.possible_duplicates:
        typer.secho(f"{_plural(len(report.possible_duplicates), 'new patient')} share name and date of birth with "
                    "another record; review them for merging (POST /api/patients/{id}/merge):", fg=typer.colors.YELLOW)
        for patient_id, twins in report.possible_duplicates[:MAX_REASONS]:
            typer.echo(f"  {patient_id} ~ {', '.join(map(str, twins))}")
    if not report.skipped:
        return
    typer.secho(f"Skipped {len(report.skipped)}:", fg=typer.colors.RED, err=True)
    for item in report.skipped[:MAX_REASONS]:
        typer.echo(f"  {describe(item)}", err=True)
    if len(report.skipped) > MAX_REASONS:
        typer.echo(f"  … and {len(report.skipped) - MAX_REASONS} more", err=True)


def describe(item: ReportItem) -> str:
    """'file entry[3] Patient/abc: reason' — where and what, never any PHI."""
    where = " ".join(x for x in (item.file, item.position) if x)
    what = "/".join(x for x in (item.resource_type, item.resource_id) if x)
    return f"{where} {what}: {item.reason}" if what else f"{where}: {item.reason}"
