"""Importing FHIR R4 Bundles and NDJSON files: the real Synthea data, malformed input, and the CLI."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from careline.cli import app
from careline.db import UnitOfWork, make_engine, make_sessionmaker
from careline.fhir.importer import ImportReport, import_paths
from careline.models import metadata
from careline.patients.models import (
    Condition,
    Encounter,
    Immunization,
    Location,
    Observation,
    Organization,
    Patient,
    PatientIdentifier,
    PatientPhone,
    Practitioner,
    Procedure,
)
from careline.patients.schemas import ImportOutcome
from tests.support import shared_dir
from tests.support.databases import DatabaseFactory

SYNTHEA = shared_dir() / "data" / "synthea"
REQUIRE_SHARED_DATA = os.environ.get("CARELINE_REQUIRE_SHARED_DATA") == "1"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
NPI = "http://hl7.org/fhir/sid/us-npi"
TABLES: dict[str, type[Any]] = {
    "Patient": Patient, "Encounter": Encounter, "Condition": Condition, "Observation": Observation,
    "Procedure": Procedure, "Immunization": Immunization, "Organization": Organization,
    "Practitioner": Practitioner, "Location": Location,
}
runner = CliRunner()


def row_counts(session: Session) -> dict[str, int]:
    return {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in TABLES.items()}


# ---- the Synthea data, counted independently with the json module --------------------------------------


@dataclass
class FileCounts:
    ids: dict[str, set[str]]  # distinct ids per resource type
    occurrences: Counter[str]  # resources per type, repeats included (Synthea inlines its directory)
    ssns: set[str]
    deceased: int
    encounter_links: Counter[str]  # encounters naming a practitioner, an organization, a location


def count_files(root: Path) -> FileCounts:
    counts = FileCounts(defaultdict(set), Counter(), set(), 0, Counter())
    for path in sorted(root.rglob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]:
            _count(counts, entry["resource"])
    for path in sorted(root.rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            resource = json.loads(line)
            if "resourceType" in resource:
                _count(counts, resource)
    return counts


def _count(counts: FileCounts, resource: dict[str, Any]) -> None:
    counts.ids[resource["resourceType"]].add(resource["id"])
    counts.occurrences[resource["resourceType"]] += 1
    if resource["resourceType"] == "Patient":
        counts.ssns |= {i["value"] for i in resource.get("identifier", []) if i.get("system") == SSN_SYSTEM}
        counts.deceased += "deceasedDateTime" in resource
    if resource["resourceType"] == "Encounter":
        counts.encounter_links["practitioner"] += any("individual" in p for p in resource.get("participant", []))
        counts.encounter_links["organization"] += "serviceProvider" in resource
        counts.encounter_links["location"] += bool(resource.get("location"))


@dataclass
class SyntheaImport:
    engine: Engine
    files: FileCounts
    first: ImportReport
    after_first: dict[str, int]
    second: ImportReport
    after_second: dict[str, int]


@pytest.fixture(scope="module")
def synthea(databases: DatabaseFactory) -> Iterator[SyntheaImport]:
    """All of ../shared/data/synthea imported twice into a fresh database of each engine."""
    if not SYNTHEA.is_dir():
        message = f"the shared Synthea data is not at {SYNTHEA}"
        if REQUIRE_SHARED_DATA:
            pytest.fail(message + " and CARELINE_REQUIRE_SHARED_DATA=1", pytrace=False)
        pytest.skip(message)
    engine = make_engine(databases.fresh())
    sessions = make_sessionmaker(engine)
    first = import_paths([SYNTHEA], lambda: UnitOfWork(sessions))
    with sessions() as session:
        after_first = row_counts(session)
    second = import_paths([SYNTHEA], lambda: UnitOfWork(sessions))
    with sessions() as session:
        after_second = row_counts(session)
    yield SyntheaImport(engine, count_files(SYNTHEA), first, after_first, second, after_second)
    engine.dispose()


CLINICAL = ("Patient", "Encounter", "Condition", "Observation", "Procedure", "Immunization")
DIRECTORY = ("Organization", "Practitioner", "Location")


class TestSyntheaImport:
    def test_rows_match_what_the_files_hold(self, synthea: SyntheaImport) -> None:
        expected = {name: len(synthea.files.ids[name]) for name in TABLES}
        assert synthea.after_first == expected
        assert expected["Patient"] == 112
        assert expected["Observation"] == 7240

    def test_report_counts_every_resource_once(self, synthea: SyntheaImport) -> None:
        report = synthea.first
        assert report.skipped == []
        for name in (*CLINICAL, *DIRECTORY):
            assert report.count(name, ImportOutcome.imported) == len(synthea.files.ids[name]), name
            assert sum(report.outcomes[name].values()) == synthea.files.occurrences[name], name

    def test_other_resource_types_are_ignored_not_errors(self, synthea: SyntheaImport) -> None:
        kept = set(TABLES)
        assert synthea.first.ignored == Counter({k: v for k, v in synthea.files.occurrences.items() if k not in kept})
        assert synthea.first.ignored["Claim"] == 1450
        assert [Path(item.file).name for item in synthea.first.ignored_files] == ["log.ndjson"]

    def test_second_import_changes_nothing(self, synthea: SyntheaImport) -> None:
        report = synthea.second
        assert report.total(ImportOutcome.imported) == report.total(ImportOutcome.updated) == 0
        assert report.total(ImportOutcome.unchanged) == synthea.first.upserted
        assert report.skipped == []
        assert synthea.after_second == synthea.after_first

    def test_no_ssn_is_stored_anywhere(self, synthea: SyntheaImport) -> None:
        assert len(synthea.files.ssns) == 112
        with synthea.engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(PatientIdentifier).where(
                (PatientIdentifier.system == SSN_SYSTEM) | (PatientIdentifier.kind == "SS"))) == 0
            for table in metadata.sorted_tables:
                dump = repr(connection.execute(select(table)).all())
                assert not [ssn for ssn in synthea.files.ssns if ssn in dump], table.name

    def test_codes_are_kept_as_given(self, synthea: SyntheaImport) -> None:
        with Session(synthea.engine) as session:
            hba1c = session.scalar(select(func.count()).select_from(Observation).where(
                Observation.code_system == "http://loinc.org", Observation.code == "4548-4"))
            colonoscopy = session.scalar(select(func.count()).select_from(Procedure).where(
                Procedure.code_system == "http://snomed.info/sct", Procedure.code == "73761001"))
            mammography = session.scalar(select(func.count()).select_from(Procedure).where(
                Procedure.display.like("%mammography%")))
            flu = session.scalar(select(func.count()).select_from(Immunization).where(
                Immunization.code_system == "http://hl7.org/fhir/sid/cvx"))
        assert hba1c
        assert colonoscopy
        assert mammography
        assert flu == len(synthea.files.ids["Immunization"])

    def test_conditional_and_uuid_references_resolve(self, synthea: SyntheaImport) -> None:
        with Session(synthea.engine) as session:
            encounters = session.execute(select(func.count(), func.count(Encounter.practitioner_id),
                                                func.count(Encounter.organization_id),
                                                func.count(Encounter.location_id))).one()
        links = synthea.files.encounter_links
        assert encounters == (len(synthea.files.ids["Encounter"]), links["practitioner"], links["organization"],
                              links["location"])
        assert links["location"] == 1215  # only the Bulk Data set has Locations, by conditional reference

    def test_patients_in_detail(self, synthea: SyntheaImport) -> None:
        with Session(synthea.engine) as session:
            deceased = session.scalar(select(func.count()).select_from(Patient).where(Patient.status == "deceased"))
            mobile_or_home = session.scalar(select(func.count(func.distinct(PatientPhone.patient_id))))
            no_zone = session.scalar(select(func.count()).select_from(Patient).where(Patient.time_zone.is_(None)))
        assert deceased == synthea.files.deceased
        assert mobile_or_home == 112
        assert no_zone == 0


# ---- small files written by the tests -----------------------------------------------------------------


def fhir_patient(pid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1970-01-02", "gender": "male",
            "name": [{"use": "official", "family": "Zebulon", "given": ["Quincy"]}],
            "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:mrn", "value": f"MRN-{pid}"},
                           {"system": SSN_SYSTEM, "value": "999-11-2222"}],
            "telecom": [{"system": "phone", "value": "617-555-0101", "use": "mobile"}]} | fields


def fhir_condition(cid: str, pid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"urn:uuid:{pid}"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes"}]},
            "onsetDateTime": "2010-05-06T07:08:09+00:00"} | fields


def fhir_observation(oid: str, pid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            "effectiveDateTime": "2011-01-01T00:00:00Z", "valueQuantity": {"value": 7.2, "unit": "%"}} | fields


def bundle(*resources: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind,
            "entry": [{"fullUrl": f"urn:uuid:{r.get('id')}", "resource": r} for r in resources]}


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def write_ndjson(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def run(sessions: sessionmaker[Session]) -> Any:
    def run(*paths: Path) -> ImportReport:
        return import_paths(list(paths), lambda: UnitOfWork(sessions))
    return run


@pytest.fixture
def counts(sessions: sessionmaker[Session]) -> Any:
    def counts() -> dict[str, int]:
        with sessions() as session:
            return {name: n for name, n in row_counts(session).items() if n}
    return counts


def reasons(report: ImportReport) -> list[tuple[str, str, str | None, str | None, str]]:
    """Skipped items by file and position (the report lists them in the order they were met)."""
    found = [(Path(i.file).name, i.position, i.resource_type, i.resource_id, i.reason) for i in report.skipped]
    return sorted(found, key=lambda item: (item[0], len(item[1]), item[1]))


class TestMalformedInput:
    def test_wrong_resource_type(self, tmp_path: Path, run: Any, counts: Any) -> None:
        report = run(write(tmp_path / "b.json", bundle(
            fhir_patient("p1"), fhir_patient("p2") | {"resourceType": "Patinet"},
            fhir_patient("p3") | {"resourceType": "Observation"})))
        assert reasons(report)[0] == ("b.json", "entry[1]", "Patinet", "p2", "unknown resourceType 'Patinet'")
        _file, position, kind, rid, reason = reasons(report)[1]
        assert (position, kind, rid) == ("entry[2]", "Observation", "p3")
        assert reason.startswith("invalid FHIR: ")
        assert counts() == {"Patient": 1}

    def test_missing_ids(self, tmp_path: Path, run: Any, counts: Any) -> None:
        nameless = fhir_patient("p1")
        del nameless["id"]
        report = run(write(tmp_path / "b.json", bundle(nameless, fhir_condition("c1", "p1"),
                                                      fhir_condition("c2", "p9") | {"id": None})))
        assert reasons(report) == [
            ("b.json", "entry[0]", "Patient", None, "Patient has no id"),
            ("b.json", "entry[1]", "Condition", "c1", "refers to Patient/p1, which is not in Careline"),
            ("b.json", "entry[2]", "Condition", None, "Condition has no id"),
        ]
        assert counts() == {}

    def test_invalid_dates_are_reported_without_their_values(self, tmp_path: Path, run: Any, counts: Any) -> None:
        report = run(write(tmp_path / "b.json", bundle(
            fhir_patient("p1", birthDate="1980-13-45"), fhir_condition("c1", "p1"),
            fhir_patient("p2"), fhir_condition("c2", "p2", onsetDateTime="yesterday"), fhir_condition("c3", "p2"))))
        found = {(r[1], r[3]): r[4] for r in reasons(report)}
        assert set(found) == {("entry[0]", "p1"), ("entry[3]", "c2"), ("entry[1]", "c1")}
        assert found[("entry[0]", "p1")].startswith("invalid FHIR: birthDate: ")
        assert found[("entry[3]", "c2")].startswith("invalid FHIR: onsetDateTime: ")
        assert "1980-13-45" not in repr(report)
        assert "yesterday" not in repr(report)
        assert counts() == {"Patient": 1, "Condition": 1}

    def test_a_truncated_file_writes_nothing(self, tmp_path: Path, run: Any, counts: Any) -> None:
        text = json.dumps(bundle(fhir_patient("p1"), fhir_condition("c1", "p1")))
        (tmp_path / "cut.json").write_text(text[: len(text) // 2], encoding="utf-8")
        report = run(tmp_path / "cut.json")
        [(file, position, kind, rid, reason)] = reasons(report)
        assert (file, position, kind, rid) == ("cut.json", "", None, None)
        assert reason.startswith("not valid JSON (truncated or corrupt?) at line 1 column ")
        assert counts() == {}

    def test_ndjson_bad_line_is_skipped_and_the_rest_imports(self, tmp_path: Path, run: Any, counts: Any) -> None:
        report = run(write_ndjson(tmp_path / "Patient.ndjson", [
            fhir_patient("p1"), '{"resourceType": "Patient", "id": "p2", "birthDa', fhir_patient("p3"),
            ["not", "an", "object"]]))
        assert reasons(report) == [
            ("Patient.ndjson", "line 2", None, None, "not valid JSON at column 49"),
            ("Patient.ndjson", "line 4", None, None, "not a FHIR resource (no resourceType)"),
        ]
        assert counts() == {"Patient": 2}

    def test_one_bad_resource_leaves_the_rest_of_the_bundle(self, tmp_path: Path, run: Any, counts: Any) -> None:
        good = [fhir_observation(f"o{i}", "p1") for i in range(5)]
        bad = fhir_observation("o-bad", "p1", valueQuantity={"value": "lots"})
        report = run(write(tmp_path / "b.json", bundle(fhir_patient("p1"), *good[:2], bad, *good[2:])))
        assert [(r[1], r[3]) for r in reasons(report)] == [("entry[3]", "o-bad")]
        assert report.count("Observation", ImportOutcome.imported) == 5
        assert counts() == {"Patient": 1, "Observation": 5}

    def test_a_refused_write_rolls_back_alone(self, tmp_path: Path, run: Any, counts: Any) -> None:
        """p2 takes p1's MRN: the database refuses it; p1, p3 and their facts are written."""
        twin = fhir_patient("p2", identifier=[{"type": {"coding": [{"code": "MR"}]}, "system": "urn:mrn",
                                               "value": "MRN-p1"}])
        report = run(write(tmp_path / "b.json", bundle(
            fhir_patient("p1"), twin, fhir_patient("p3"), fhir_condition("c1", "p1"), fhir_condition("c2", "p2"),
            fhir_condition("c3", "p3"))))
        skipped = reasons(report)
        assert [(r[1], r[3]) for r in skipped] == [("entry[1]", "p2"), ("entry[4]", "c2")]
        assert skipped[0][4].startswith("the database refused it: ")
        assert "MRN-p1" not in skipped[0][4]
        assert counts() == {"Patient": 2, "Condition": 2}

    def test_unsupported_bundle_type_and_non_fhir_files(self, tmp_path: Path, run: Any, counts: Any) -> None:
        write(tmp_path / "history.json", bundle(fhir_patient("p1"), kind="history"))
        write_ndjson(tmp_path / "log.ndjson", [{"eventId": "kickoff"}])
        write(tmp_path / "notes.txt", {"resourceType": "Patient"})
        report = run(tmp_path)
        assert reasons(report) == [("history.json", "", "Bundle", None, "Bundle type 'history' is not imported "
                                    "(use batch, collection, searchset, transaction)")]
        assert [Path(i.file).name for i in report.ignored_files] == ["log.ndjson"]
        assert counts() == {}

    def test_other_resource_types_are_counted_as_ignored(self, tmp_path: Path, run: Any) -> None:
        claim = {"resourceType": "Claim", "id": "x1", "whatever": "is not even checked"}
        report = run(write(tmp_path / "b.json", bundle(fhir_patient("p1"), claim, claim | {"id": "x2"})))
        assert report.ignored == Counter({"Claim": 2})
        assert report.skipped == []


class TestImportBehaviour:
    def test_reimport_updates_what_changed(self, tmp_path: Path, run: Any, sessions: sessionmaker[Session]) -> None:
        run(write(tmp_path / "b.json", bundle(fhir_patient("p1"), fhir_condition("c1", "p1"))))
        changed = fhir_patient("p1", telecom=[{"system": "phone", "value": "617-555-0199", "use": "home"}])
        report = run(write(tmp_path / "b.json", bundle(changed, fhir_condition("c1", "p1"))))
        assert report.count("Patient", ImportOutcome.updated) == 1
        assert report.count("Condition", ImportOutcome.unchanged) == 1
        with sessions() as session:
            assert session.execute(select(PatientPhone.e164, PatientPhone.use)).all() == [("+16175550199", "home")]

    def test_reimport_respects_a_merge_made_in_careline(
        self, tmp_path: Path, run: Any, sessions: sessionmaker[Session]
    ) -> None:
        run(write(tmp_path / "b.json", bundle(fhir_patient("p1"), fhir_patient("p2"))))
        with sessions() as session:
            survivor, duplicate = (session.scalars(select(Patient).where(Patient.source_id == sid)).one()
                                   for sid in ("p1", "p2"))
            duplicate.status, duplicate.merged_into_id = "merged", survivor.id
            survivor_id = survivor.id
            session.commit()
        run(write(tmp_path / "b.json", bundle(fhir_patient("p2"), fhir_condition("c9", "p2"))))
        with sessions() as session:
            assert session.scalars(select(Patient.status).where(Patient.source_id == "p2")).one() == "merged"
            assert session.scalars(select(Condition.patient_id).where(Condition.source_id == "c9")).one() == survivor_id

    def test_folder_of_ndjson_imports_in_dependency_order(self, tmp_path: Path, run: Any, counts: Any) -> None:
        """Files named so that alphabetical order would be wrong: conditions before patients."""
        write_ndjson(tmp_path / "a-conditions.ndjson", [fhir_condition("c1", "p1") | {
            "subject": {"reference": "Patient/p1"}}])
        write_ndjson(tmp_path / "b-patients.ndjson", [fhir_patient("p1")])
        report = run(tmp_path)
        assert report.skipped == []
        assert counts() == {"Patient": 1, "Condition": 1}

    def test_npi_references_resolve_against_an_earlier_import(self, tmp_path: Path, run: Any,
                                                              sessions: sessionmaker[Session]) -> None:
        doctor = {"resourceType": "Practitioner", "id": "dr-1", "identifier": [{"system": NPI, "value": "999"}],
                  "name": [{"family": "Kassulke", "given": ["June"]}]}
        encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
                     "subject": {"reference": "Patient/p1"}, "period": {"start": "2020-01-01T10:00:00Z"},
                     "participant": [{"individual": {"reference": f"Practitioner?identifier={NPI}|999"}}]}
        run(write_ndjson(tmp_path / "Practitioner.ndjson", [doctor]), write_ndjson(tmp_path / "P.ndjson",
                                                                                   [fhir_patient("p1")]))
        report = run(write_ndjson(tmp_path / "Encounter.ndjson", [encounter]))
        assert report.count("Encounter", ImportOutcome.imported) == 1
        with sessions() as session:
            linked = session.scalar(select(Practitioner.source_id).join(
                Encounter, Encounter.practitioner_id == Practitioner.id))
        assert linked == "dr-1"

    def test_progress_is_reported_per_file(self, tmp_path: Path, sessions: sessionmaker[Session]) -> None:
        write(tmp_path / "a.json", bundle(fhir_patient("p1")))
        write(tmp_path / "b.json", bundle(fhir_patient("p2")))
        events: list[tuple[int, int]] = []
        import_paths([tmp_path], lambda: UnitOfWork(sessions),
                     progress=lambda e: events.append((e.files_done, e.files_total)))
        assert events == [(0, 2), (1, 2), (1, 2), (2, 2)]


class TestCommand:
    @pytest.fixture
    def database_url(self, databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch) -> str:
        url = databases.fresh()
        monkeypatch.setenv("CARELINE_DATABASE_URL", url)
        monkeypatch.setenv("CARELINE_SECRET_KEY", "cli-test-secret-for-fhir-import")
        return url

    def test_help(self) -> None:
        result = runner.invoke(app, ["import", "fhir", "--help"])
        assert result.exit_code == 0
        assert "Usage:" in result.output
        assert "NDJSON" in result.output

    def test_import_prints_a_summary(self, database_url: str, tmp_path: Path) -> None:
        write(tmp_path / "b.json", bundle(fhir_patient("p1"), fhir_condition("c1", "p1")))
        result = runner.invoke(app, ["import", "fhir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert "FHIR import: 1 file, 2 resources" in result.output
        assert "Patient" in result.output
        assert "Condition" in result.output
        again = runner.invoke(app, ["import", "fhir", str(tmp_path / "b.json")])
        assert again.exit_code == 0
        assert "│ total     │        0 │       0 │         2 │" in again.output

    def test_skipped_resources_are_listed_and_fail_the_command(self, database_url: str, tmp_path: Path) -> None:
        lines: list[Any] = [fhir_patient(f"p{i}", birthDate="1980") for i in range(25)]
        write_ndjson(tmp_path / "Patient.ndjson", [fhir_patient("ok"), "{oops", *lines])
        result = runner.invoke(app, ["import", "fhir", str(tmp_path)])
        assert result.exit_code == 1
        assert "Skipped 26:" in result.output
        assert f"{tmp_path / 'Patient.ndjson'} line 2: not valid JSON at column 2" in result.output
        assert "line 3 Patient/p0: Patient birthDate is not a full date" in result.output
        assert "… and 6 more" in result.output
        assert "Zebulon" not in result.output
        assert "Quincy" not in result.output

    def test_missing_path_is_a_usage_error(self, database_url: str, tmp_path: Path) -> None:
        result = runner.invoke(app, ["import", "fhir", str(tmp_path / "nowhere.json")])
        assert result.exit_code == 2


def test_new_patients_like_existing_ones_are_reported_as_merge_candidates(
    tmp_path: Path, run: Any, sessions: sessionmaker[Session]
) -> None:
    run(write(tmp_path / "a.json", bundle(fhir_patient("p1"))))
    report = run(write(tmp_path / "b.json", bundle(fhir_patient("p2"))))  # same name and birth date, other id
    with sessions() as session:
        ids = {sid: session.scalars(select(Patient.id).where(Patient.source_id == sid)).one() for sid in ("p1", "p2")}
    assert report.possible_duplicates == [(ids["p2"], [ids["p1"]])]
    assert run(write(tmp_path / "b.json", bundle(fhir_patient("p2")))).possible_duplicates == []
