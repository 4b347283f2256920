"""Importing FHIR R4 Bundles (JSON) and NDJSON files, or whole folders of them, into the patient CRM.

Contract of ``import_paths``:

- Every resource is validated with ``fhir.resources`` (R4B models) and mapped before anything is written;
  each write runs in its own SAVEPOINT, so a resource that fails rolls back alone and the rest of the file
  still imports. Each file is committed once, at its end.
- A JSON file that does not parse (e.g. truncated) is reported and nothing from it is written. In NDJSON,
  a bad line is reported with its line number and skipped; the other lines import.
- Targets are written before what points at them: Organization, Location, Practitioner, Patient, then
  Encounter, then Condition, Observation, Procedure, Immunization. Bundle entries are sorted that way;
  files are ordered JSON first, then NDJSON by the resource type of their first line (a Bulk Data export
  has one type per file). Lines inside one NDJSON file are written in file order.
- Valid FHIR resource types the CRM does not keep (Claim, ExplanationOfBenefit, …) are counted as ignored.
  NDJSON files whose first line is JSON but not a resource (a Bulk Data ``log.ndjson``) are ignored whole.
- Re-importing the same data reports every resource unchanged and changes no row.
- Reports and progress carry file names, positions, resource types and ids only: never names, dates or
  other PHI. Messages of validation errors are built without the offending values.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, IntegrityError

from careline.bootstrap import open_engine
from careline.db import UnitOfWork, make_sessionmaker
from careline.db.migrate import ensure_schema
from careline.fhir.mapping import (
    NPI_SYSTEM,
    RANK,
    REFERENCE_TARGETS,
    MappingError,
    ParsedReference,
    Resolve,
    is_ssn,
    map_resource,
    parse_reference,
    resource_class,
)
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import (
    ConditionUpsert,
    EncounterUpsert,
    ImmunizationUpsert,
    ImportOutcome,
    LocationUpsert,
    ObservationUpsert,
    OrganizationUpsert,
    PatientUpsert,
    PractitionerUpsert,
    ProcedureUpsert,
)
from careline.patients.service import imports
from careline.settings import Settings

NDJSON = (".ndjson", ".jsonl")  # one resource per line; any other file is read as one JSON document
BUNDLE_TYPES = frozenset({"transaction", "batch", "collection", "searchset"})
# Synthea gives Organizations and Locations an identifier in this system whose value is the resource id.
SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
PROGRESS_EVERY = 100
WRITE_CHUNK = 250  # resources written per savepoint when nothing fails
UNRANKED = len(RANK)

UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True, slots=True)
class ReportItem:
    """One thing that was not imported. ``position`` is ``entry[i]`` (0-based, as in FHIRPath), ``line n``
    (1-based) or empty when it concerns the whole file."""

    file: str
    position: str
    resource_type: str | None
    resource_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ImportProgress:
    file: Path
    files_done: int
    files_total: int
    resources_done: int


@dataclass
class ImportReport:
    """Counts per resource type and outcome, ignored types, and every skipped item with its reason."""

    outcomes: dict[str, Counter[ImportOutcome]] = field(default_factory=dict)
    ignored: Counter[str] = field(default_factory=Counter)
    skipped: list[ReportItem] = field(default_factory=list)
    ignored_files: list[ReportItem] = field(default_factory=list)
    files: int = 0
    resources: int = 0
    new_patients: list[str] = field(default_factory=list)
    # Newly imported patients that share name and birth date with another record (Careline ids): merge candidates.
    possible_duplicates: list[tuple[UUID, list[UUID]]] = field(default_factory=list)

    def count(self, resource_type: str, outcome: ImportOutcome) -> int:
        return self.outcomes.get(resource_type, Counter())[outcome]

    def total(self, outcome: ImportOutcome) -> int:
        return sum(counts[outcome] for counts in self.outcomes.values())

    @property
    def upserted(self) -> int:
        """Resources that reached the database: imported, updated or unchanged."""
        return sum(sum(counts.values()) for counts in self.outcomes.values())

    def add(self, resource_type: str, outcome: ImportOutcome) -> None:
        self.outcomes.setdefault(resource_type, Counter())[outcome] += 1


ProgressCallback = Callable[[ImportProgress], None]

Writer = Callable[[UnitOfWork, PatientPolicy, Any, imports.ImportBatch | None], ImportOutcome]
_WRITERS: dict[type[BaseModel], Writer] = {
    OrganizationUpsert: lambda uow, _, data, batch: imports.upsert_organization(uow, data, batch=batch),
    LocationUpsert: lambda uow, _, data, batch: imports.upsert_location(uow, data, batch=batch),
    PractitionerUpsert: lambda uow, _, data, batch: imports.upsert_practitioner(uow, data, batch=batch),
    PatientUpsert: lambda uow, policy, data, batch: imports.upsert_patient(uow, policy, data, batch=batch),
    EncounterUpsert: lambda uow, _, data, batch: imports.upsert_encounter(uow, data, batch=batch),
    ConditionUpsert: lambda uow, _, data, batch: imports.upsert_condition(uow, data, batch=batch),
    ObservationUpsert: lambda uow, _, data, batch: imports.upsert_observation(uow, data, batch=batch),
    ProcedureUpsert: lambda uow, _, data, batch: imports.upsert_procedure(uow, data, batch=batch),
    ImmunizationUpsert: lambda uow, _, data, batch: imports.upsert_immunization(uow, data, batch=batch),
}
# What makes one write fail on its own (anything else, e.g. a lost connection, ends the run).
WRITE_ERRORS = (imports.UnresolvedReference, IntegrityError, DataError)


class ReferenceIndex:
    """Turns references into the source id of the resource they point at, for one import run.

    In order:

    1. ``urn:uuid:…`` (and any other fullUrl) -> the entry of the current Bundle with that fullUrl; an unknown
       ``urn:uuid:<x>`` is taken to be id ``x`` (Synthea and most exporters write ``fullUrl = urn:uuid:<id>``).
    2. ``Type/id`` or ``https://…/Type/id`` -> ``id``, when ``Type`` is the type expected there.
    3. ``Type?identifier=system|value`` (Synthea's Bulk Data style) and ``Reference.identifier`` -> the
       Organization, Location, Practitioner or Patient seen earlier in this run with that identifier, so
       the whole of a folder or Bundle resolves without the database. Failing that, two rules that need
       no identifier storage: a Synthea identifier's value is the resource id (the generator's
       convention), and an NPI is looked up in the practitioners already in Careline through their
       ``npi`` column (answers, misses included, are kept for the run).

    Anything else resolves to None: optional links (practitioner, organization, location, PCP) are then
    left empty, and a clinical resource without a resolvable patient is skipped with that reason.
    """

    def __init__(self) -> None:
        self._by_identifier: dict[tuple[str, str, str], str] = {}
        self._full_urls: dict[str, tuple[str, str]] = {}
        self._npis: dict[str, str | None] = {}

    def start_file(self, full_urls: dict[str, tuple[str, str]]) -> None:
        """Bundle fullUrls are only meaningful inside their Bundle."""
        self._full_urls = full_urls

    def remember(self, resource: Resource) -> None:
        """Index a validated reference target by its identifiers (never by an SSN), before it is written:
        if its write then fails, references to it find no row and are left empty or skipped as unresolved."""
        resource_type = resource.get_resource_type()
        if resource_type not in REFERENCE_TARGETS or not resource.id:
            return
        identifiers: list[Identifier] = getattr(resource, "identifier", None) or []
        for identifier in identifiers:
            if identifier.value and not is_ssn(identifier):
                key = (resource_type, identifier.system or "", identifier.value)
                self._by_identifier[key] = str(resource.id)

    def resolver(self, uow: UnitOfWork) -> Resolve:
        def resolve(reference: Reference | None, expected: str) -> str | None:
            return self.resolve(uow, reference, expected)
        return resolve

    def resolve(self, uow: UnitOfWork, reference: Reference | None, expected: str) -> str | None:
        if reference is None:
            return None
        parsed = parse_reference(reference.reference) if reference.reference else None
        if parsed is None and reference.identifier is not None and reference.identifier.value:
            parsed = ParsedReference(reference.type or expected,
                                     identifier=(reference.identifier.system or "", reference.identifier.value))
        if parsed is None:
            return None
        if parsed.full_url in self._full_urls:
            parsed = ParsedReference(*self._full_urls[parsed.full_url])
        if parsed.resource_type not in (None, expected):
            return None
        if parsed.identifier is not None:
            return self._by_business_identifier(uow, expected, *parsed.identifier)
        return parsed.resource_id

    def _by_business_identifier(self, uow: UnitOfWork, resource_type: str, system: str, value: str) -> str | None:
        found = self._by_identifier.get((resource_type, system, value))
        if found:
            return found
        if system == SYNTHEA_SYSTEM:
            return value
        if resource_type == "Practitioner" and system == NPI_SYSTEM:
            if value not in self._npis:
                self._npis[value] = imports.practitioner_source_ids_by_npi(uow, [value]).get(value)
            return self._npis[value]
        return None


# ---- the run ------------------------------------------------------------------------------------------


@dataclass
class _Run:
    open_uow: UowFactory
    policy: PatientPolicy
    progress: ProgressCallback | None
    report: ImportReport = field(default_factory=ImportReport)
    index: ReferenceIndex = field(default_factory=ReferenceIndex)
    files_total: int = 0

    def tell(self, path: Path) -> None:
        if self.progress:
            self.progress(ImportProgress(file=path, files_done=self.report.files, files_total=self.files_total,
                                         resources_done=self.report.resources))

    def skip(self, path: Path, position: str, raw: object, reason: str) -> None:
        resource_type, resource_id = _identity(raw)
        self.report.skipped.append(ReportItem(str(path), position, resource_type, resource_id, reason))


def import_paths(
    paths: Sequence[Path | str],
    target: Settings | UowFactory,
    *,
    policy: PatientPolicy | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import Bundles, NDJSON files and folders of them (recursively: ``*.json``, ``*.ndjson``, ``*.jsonl``).

    ``target`` is either Settings (the database is opened, and the embedded one migrated, once for the run)
    or a factory of units of work, one per file; the policy defaults to the settings' or the default one.
    ``progress`` is called when each file starts and ends and every 100 resources.
    """
    with _factory(target) as open_uow:
        if policy is None:
            policy = PatientPolicy.from_settings(target) if isinstance(target, Settings) else PatientPolicy()
        run = _Run(open_uow=open_uow, policy=policy, progress=progress)
        files = plan_files([Path(p) for p in paths], run.report)
        run.files_total = len(files)
        for path in files:
            run.tell(path)
            _import_file(run, path)
            run.report.files += 1
            run.tell(path)
        with open_uow() as uow:
            run.report.possible_duplicates = imports.possible_duplicates(uow, run.report.new_patients)
        return run.report


@contextmanager
def _factory(target: Settings | UowFactory) -> Iterator[UowFactory]:
    if not isinstance(target, Settings):
        yield target
        return
    with open_engine(target) as engine:
        ensure_schema(engine)
        sessions = make_sessionmaker(engine)
        yield lambda: UnitOfWork(sessions)


# ---- planning -----------------------------------------------------------------------------------------


def plan_files(paths: Sequence[Path], report: ImportReport) -> list[Path]:
    """The files to read, in import order; missing paths and non-FHIR NDJSON files go into the report."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", *NDJSON))
        elif path.is_file():
            found.append(path)
        else:
            report.skipped.append(ReportItem(str(path), "", None, None, "no such file or folder"))
    bundles = [p for p in dict.fromkeys(found) if p.suffix not in NDJSON]
    ndjson: list[tuple[int, Path]] = []
    for path in dict.fromkeys(p for p in found if p.suffix in NDJSON):
        first = _first_line(path)
        if isinstance(first, dict) and "resourceType" not in first:
            report.ignored_files.append(ReportItem(str(path), "", None, None,
                                                   "not FHIR resources (no resourceType on its first line)"))
            continue
        resource_type = first.get("resourceType") if isinstance(first, dict) else None
        ndjson.append((RANK.get(resource_type, UNRANKED) if isinstance(resource_type, str) else UNRANKED, path))
    return bundles + [path for _, path in sorted(ndjson, key=lambda item: item[0])]


def _first_line(path: Path) -> object:
    """The first non-blank line of an NDJSON file, parsed; None when it is unreadable (reported later)."""
    try:
        with path.open(encoding="utf-8-sig") as lines:
            for line in lines:
                if line.strip():
                    return json.loads(line)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return None


# ---- files --------------------------------------------------------------------------------------------


def _import_file(run: _Run, path: Path) -> None:
    """One file in one unit of work, committed once at the end (nothing, for a JSON file that won't parse)."""
    with run.open_uow() as uow:
        if path.suffix in NDJSON:
            _import_ndjson(run, uow, path)
        else:
            _import_json(run, uow, path)
        uow.commit()


def _import_json(run: _Run, uow: UnitOfWork, path: Path) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        run.skip(path, "", None, "not UTF-8 text")
        return
    except json.JSONDecodeError as error:
        run.skip(path, "", None, f"not valid JSON (truncated or corrupt?) at line {error.lineno} "
                                 f"column {error.colno}; nothing from this file was imported")
        return
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        run.index.start_file({})
        item = _prepare(run, uow, path, "resource", document)
        _write_chunk(run, uow, path, [item] if item else [])
        return
    entries = _bundle_entries(run, path, document)
    if entries is not None:
        _import_entries(run, uow, path, entries)


def _bundle_entries(run: _Run, path: Path, bundle: dict[str, Any]) -> list[Any] | None:
    """The Bundle's entries, or None (reported) when the envelope is not one we import."""
    if bundle.get("type") not in BUNDLE_TYPES:
        run.skip(path, "", bundle, f"Bundle type {str(bundle.get('type'))[:20]!r} is not imported "
                                   f"(use {', '.join(sorted(BUNDLE_TYPES))})")
        return None
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        run.skip(path, "", bundle, "Bundle.entry is not a list")
        return None
    return entries


def _import_entries(run: _Run, uow: UnitOfWork, path: Path, entries: list[Any]) -> None:
    resources = [entry.get("resource") if isinstance(entry, dict) else None for entry in entries]
    run.index.start_file(_full_urls(entries))
    items = []
    for position in sorted(range(len(entries)), key=lambda i: (_rank(resources[i]), i)):
        if resources[position] is None:
            run.skip(path, f"entry[{position}]", None, "entry has no resource")
            continue
        item = _prepare(run, uow, path, f"entry[{position}]", resources[position])
        if item is not None:
            items.append(item)
    for start in range(0, len(items), WRITE_CHUNK):
        _write_chunk(run, uow, path, items[start:start + WRITE_CHUNK])


def _full_urls(entries: list[Any]) -> dict[str, tuple[str, str]]:
    found = {}
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and isinstance(entry.get("fullUrl"), str):
            resource_type, resource_id = _identity(resource)
            if resource_type and resource_id:
                found[entry["fullUrl"]] = (resource_type, resource_id)
    return found


def _import_ndjson(run: _Run, uow: UnitOfWork, path: Path) -> None:
    """Line by line, written WRITE_CHUNK resources at a time, so a large file never sits in memory."""
    run.index.start_file({})
    items: list[_Item] = []
    try:
        with path.open(encoding="utf-8-sig") as lines:
            for number, line in enumerate(lines, start=1):
                item = _prepare_line(run, uow, path, number, line) if line.strip() else None
                if item is not None:
                    items.append(item)
                if len(items) >= WRITE_CHUNK:
                    _write_chunk(run, uow, path, items)
                    items = []
    except UnicodeDecodeError:
        run.skip(path, "", None, "not UTF-8 text; only the lines before the bad bytes were imported")
    _write_chunk(run, uow, path, items)


def _prepare_line(run: _Run, uow: UnitOfWork, path: Path, number: int, line: str) -> _Item | None:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        run.report.resources += 1
        run.skip(path, f"line {number}", None, f"not valid JSON at column {error.colno}")
        return None
    return _prepare(run, uow, path, f"line {number}", raw)


# ---- resources ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    """A validated, mapped resource waiting to be written, and where it came from."""

    position: str
    resource_type: str
    resource_id: str | None
    upsert: imports.Upsert


def _prepare(run: _Run, uow: UnitOfWork, path: Path, position: str, raw: object) -> _Item | None:
    """Validate and map one resource; None (and a report line, or an ignored count) when it won't be written.

    Reference targets are remembered here, before anything is written, so that later resources of the same
    run resolve against them.
    """
    run.report.resources += 1
    if run.progress and run.report.resources % PROGRESS_EVERY == 0:
        run.tell(path)
    model = _model_for(run, path, position, raw)
    if model is None:
        return None
    try:
        resource = model.model_validate(raw)
        upsert = map_resource(resource, run.index.resolver(uow))
    except ValidationError as error:
        run.skip(path, position, raw, describe_validation_error(error))
        return None
    except (MappingError, ValueError, TypeError) as error:
        run.skip(path, position, raw, str(error) if isinstance(error, MappingError) else "not valid FHIR R4")
        return None
    run.index.remember(resource)
    return _Item(position, resource.get_resource_type(), _identity(raw)[1], cast(imports.Upsert, upsert))


def _model_for(run: _Run, path: Path, position: str, raw: object) -> type[Resource] | None:
    """The R4B model to validate with; None for what is not a resource (reported) or not kept (ignored)."""
    resource_type, _ = _identity(raw)
    if resource_type is None:
        run.skip(path, position, raw, "not a FHIR resource (no resourceType)")
        return None
    model = resource_class(resource_type)
    if model is None:
        run.skip(path, position, raw, f"unknown resourceType {resource_type[:40]!r}")
        return None
    if resource_type not in RANK:
        run.report.ignored[resource_type] += 1
        return None
    return model


def _write_chunk(run: _Run, uow: UnitOfWork, path: Path, items: list[_Item]) -> None:
    """Write items together in one SAVEPOINT, with their rows and references read up front.

    If any of them fails, that savepoint rolls back and every item is written again in a SAVEPOINT of its
    own, so the failing resource rolls back alone and is reported, and the others are written: the same
    end state as one savepoint per resource, at a fraction of the round trips when nothing fails.
    """
    if not items:
        return
    batch = imports.prepare_batch(uow, [item.upsert for item in items])
    outcomes: list[ImportOutcome | None]
    try:
        with uow.session.begin_nested():
            outcomes = [_WRITERS[type(item.upsert)](uow, run.policy, item.upsert, batch) for item in items]
    except WRITE_ERRORS:
        outcomes = [_write_alone(run, uow, path, item) for item in items]
    for item, outcome in zip(items, outcomes, strict=True):
        if outcome is not None:
            run.report.add(item.resource_type, outcome)
        if outcome is ImportOutcome.imported and isinstance(item.upsert, PatientUpsert):
            run.report.new_patients.append(item.upsert.source_id)


def _write_alone(run: _Run, uow: UnitOfWork, path: Path, item: _Item) -> ImportOutcome | None:
    """One write in its own SAVEPOINT; a refusal rolls back this resource only and is reported."""
    raw = {"resourceType": item.resource_type, "id": item.resource_id}
    try:
        with uow.session.begin_nested():
            return _WRITERS[type(item.upsert)](uow, run.policy, item.upsert, None)
    except imports.UnresolvedReference as error:
        run.skip(path, item.position, raw, str(error))
    except (IntegrityError, DataError) as error:
        run.skip(path, item.position, raw, f"the database refused it: {database_reason(error)}")
    return None


def _identity(raw: object) -> tuple[str | None, str | None]:
    """(resourceType, id) of raw JSON, when they are short strings; never any other field."""
    if not isinstance(raw, dict):
        return None, None
    resource_type, resource_id = raw.get("resourceType"), raw.get("id")
    return (resource_type if isinstance(resource_type, str) and resource_type else None,
            resource_id[:64] if isinstance(resource_id, str) and resource_id else None)


def _rank(raw: object) -> int:
    resource_type, _ = _identity(raw)
    return RANK.get(resource_type, UNRANKED) if resource_type else UNRANKED


def describe_validation_error(error: ValidationError, *, limit: int = 3) -> str:
    """Where and why validation failed, without the offending values (they may be PHI)."""
    problems = []
    for detail in error.errors(include_input=False, include_url=False, include_context=False)[:limit]:
        where = ".".join(str(part) for part in detail["loc"]) or "resource"
        message = " ".join(str(detail["msg"]).split())
        problems.append(f"{where}: {message[:160]}")
    more = error.error_count() - limit
    return "invalid FHIR: " + "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def database_reason(error: IntegrityError | DataError) -> str:
    """The first line of the driver's message: it names the rule (e.g. a unique constraint), while
    PostgreSQL's DETAIL line, which quotes the values, is left out."""
    lines = str(error.orig).strip().splitlines()
    return lines[0][:200] if lines else type(error.orig).__name__
