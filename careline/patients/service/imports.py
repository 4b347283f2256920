"""Writing records that come from the EHR, keyed on the source's resource ids so a re-import is a no-op.

Each function returns whether the row was imported, updated or unchanged, and raises
``UnresolvedReference`` when a resource points at a patient the import has not seen.

Bulk imports pass an ``ImportBatch`` (from ``prepare_batch``): the rows and ids the batch needs are then read
in a few queries up front and new rows are flushed together, instead of several round trips per resource.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

from careline.db import UnitOfWork
from careline.patients import repository, rules
from careline.patients.errors import PatientError
from careline.patients.models import (
    Condition,
    Encounter,
    Immunization,
    Location,
    Observation,
    Organization,
    Patient,
    Practitioner,
    Procedure,
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


class UnresolvedReference(PatientError):
    def __init__(self, kind: str, source_id: str) -> None:
        super().__init__(f"refers to {kind}/{source_id}, which is not in Careline")


Upsert = (OrganizationUpsert | LocationUpsert | PractitionerUpsert | PatientUpsert | EncounterUpsert | ConditionUpsert
          | ObservationUpsert | ProcedureUpsert | ImmunizationUpsert)


@dataclass
class ImportBatch:
    """What a batch of upserts knows before it writes, so it need not ask the database row by row.

    ``rows`` holds each shape's existing row (None: known to be absent) and the rows the batch inserts;
    ``ids`` the row ids of what the shapes refer to. Valid inside one transaction or savepoint only: if
    that rolls back, discard the batch (it would name rows that no longer exist) and write again without.
    """

    rows: dict[tuple[type[Any], str], Any] = field(default_factory=dict)
    ids: dict[tuple[type[Any], str], UUID] = field(default_factory=dict)


_MODEL_OF: dict[type[BaseModel], type[Any]] = {
    OrganizationUpsert: Organization, LocationUpsert: Location, PractitionerUpsert: Practitioner,
    PatientUpsert: Patient, EncounterUpsert: Encounter, ConditionUpsert: Condition,
    ObservationUpsert: Observation, ProcedureUpsert: Procedure, ImmunizationUpsert: Immunization,
}
# Fields of the shapes that refer to other rows by source id, and what they refer to.
_REFERENCES = {"patient_source_id": Patient, "pcp_source_id": Practitioner, "practitioner_source_id": Practitioner,
               "organization_source_id": Organization, "location_source_id": Location}


def prepare_batch(uow: UnitOfWork, shapes: Sequence[Upsert]) -> ImportBatch:
    """Read, in one query per table, the existing rows of these Upsert shapes and the ids they refer to."""
    batch = ImportBatch()
    wanted: dict[type[Any], set[str]] = {}
    referred: dict[type[Any], set[str]] = {}
    for shape in shapes:
        wanted.setdefault(_MODEL_OF[type(shape)], set()).add(shape.source_id)
        for name, model in _REFERENCES.items():
            if source_id := getattr(shape, name, None):
                referred.setdefault(model, set()).add(source_id)
    for model, source_ids in wanted.items():
        found = {row.source_id: row for row in repository.rows_by_source(uow.session, model, source_ids)}
        batch.rows |= {(model, source_id): found.get(source_id) for source_id in source_ids}
    for model, source_ids in referred.items():
        batch.ids |= {(model, source_id): row_id
                      for source_id, row_id in repository.ids_by_source(uow.session, model, source_ids).items()}
    return batch


def _upsert(uow: UnitOfWork, model: type[Any], source_id: str, fields: dict[str, Any],
            batch: ImportBatch | None) -> tuple[Any, ImportOutcome]:
    """Insert or update the row keyed on ``source_id``. Without a batch a new row is flushed at once; in a
    batch it is flushed with the others (by the next query, the savepoint's release or the commit)."""
    key = (model, source_id)
    row = batch.rows[key] if batch is not None and key in batch.rows else repository.by_source(
        uow.session, model, source_id)
    if row is None:
        row = model(id=uuid4(), source_id=source_id, **fields)
        if batch is None:
            repository.add(uow.session, row)
        else:
            uow.session.add(row)
            batch.rows[key], batch.ids[key] = row, row.id
        return row, ImportOutcome.imported
    changed = {name: value for name, value in fields.items() if getattr(row, name) != value}
    for name, value in changed.items():
        setattr(row, name, value)
    return row, ImportOutcome.updated if changed else ImportOutcome.unchanged


def upsert_organization(uow: UnitOfWork, data: OrganizationUpsert, *, batch: ImportBatch | None = None
                        ) -> ImportOutcome:
    return _upsert(uow, Organization, data.source_id, data.model_dump(exclude={"source_id"}), batch)[1]


def upsert_location(uow: UnitOfWork, data: LocationUpsert, *, batch: ImportBatch | None = None) -> ImportOutcome:
    fields = {"name": data.name, "address": data.address,
              "time_zone": rules.time_zone_for(country=data.country, state=data.state)}
    return _upsert(uow, Location, data.source_id, fields, batch)[1]


def upsert_practitioner(uow: UnitOfWork, data: PractitionerUpsert, *, batch: ImportBatch | None = None
                        ) -> ImportOutcome:
    return _upsert(uow, Practitioner, data.source_id, data.model_dump(exclude={"source_id"}), batch)[1]


def upsert_patient(uow: UnitOfWork, policy: PatientPolicy, data: PatientUpsert, *,
                   batch: ImportBatch | None = None) -> ImportOutcome:
    """Create or refresh a patient from the EHR. Numbers that are not phone numbers are left out."""
    fields = data.model_dump(exclude={"source_id", "phones", "identifiers", "pcp_source_id", "deceased"})
    fields["status"] = "deceased" if data.deceased or data.deceased_at else "active"
    existing = _existing(uow, data.source_id, batch)
    if existing is not None and existing.status in ("merged", "inactive") and fields["status"] == "active":
        fields["status"] = existing.status  # a decision made in Careline; the EHR feed does not undo it
    fields["time_zone"] = rules.time_zone_for(country=data.country, state=data.state)
    fields["pcp_id"] = _optional_ref(uow, Practitioner, data.pcp_source_id, batch)
    # The search keys go in with the row: they are NOT NULL, and _upsert may flush a new row at once.
    fields |= {"family_key": rules.name_key(data.family_name), "given_key": rules.name_key(data.given_names),
               "family_sound": rules.name_sound(data.family_name)}
    patient, outcome = _upsert(uow, Patient, data.source_id, fields, batch)
    phones = _valid_phones(policy, data)
    identifiers = [(i.system, i.value, i.kind) for i in data.identifiers]
    if outcome is ImportOutcome.imported or _contacts_changed(uow, patient, phones, identifiers):
        repository.replace_phones(uow.session, patient.id, phones)
        repository.replace_identifiers(uow.session, patient.id, identifiers)
        outcome = ImportOutcome.imported if outcome is ImportOutcome.imported else ImportOutcome.updated
    uow.flush()
    return outcome


def _existing(uow: UnitOfWork, source_id: str, batch: ImportBatch | None) -> Patient | None:
    key = (Patient, source_id)
    if batch is not None and key in batch.rows:
        found: Patient | None = batch.rows[key]
        return found
    return repository.by_source(uow.session, Patient, source_id)


def _valid_phones(policy: PatientPolicy, data: PatientUpsert) -> list[tuple[str, str]]:
    phones = []
    for phone in data.phones:
        try:
            phones.append((rules.normalise_phone(phone.number, default_region=policy.default_region), phone.use))
        except PatientError:
            continue
    return phones


def _contacts_changed(uow: UnitOfWork, patient: Patient, phones: list[tuple[str, str]],
                      identifiers: list[tuple[str, str, str | None]]) -> bool:
    stored_phones = {(p.e164, p.use) for p in repository.phones_of(uow.session, [patient.id])[patient.id]}
    stored_ids = set(repository.identifiers_of(uow.session, patient.id))
    return stored_phones != set(dict(phones).items()) or stored_ids != set(identifiers)


def _patient_ref(uow: UnitOfWork, source_id: str, batch: ImportBatch | None) -> UUID:
    found = _optional_ref(uow, Patient, source_id, batch)
    if found is None:
        raise UnresolvedReference("Patient", source_id)
    return found


def _optional_ref(uow: UnitOfWork, model: type[Any], source_id: str | None, batch: ImportBatch | None
                  ) -> UUID | None:
    if not source_id:
        return None
    if batch is not None and (model, source_id) in batch.ids:
        return batch.ids[(model, source_id)]
    found = repository.ids_by_source(uow.session, model, [source_id]).get(source_id)
    if batch is not None and found is not None:
        batch.ids[(model, source_id)] = found
    return found


def upsert_encounter(uow: UnitOfWork, data: EncounterUpsert, *, batch: ImportBatch | None = None) -> ImportOutcome:
    fields = data.model_dump(exclude={"source_id", "patient_source_id", "practitioner_source_id",
                                      "organization_source_id", "location_source_id"})
    fields |= {"patient_id": _patient_ref(uow, data.patient_source_id, batch),
               "practitioner_id": _optional_ref(uow, Practitioner, data.practitioner_source_id, batch),
               "organization_id": _optional_ref(uow, Organization, data.organization_source_id, batch),
               "location_id": _optional_ref(uow, Location, data.location_source_id, batch)}
    return _upsert(uow, Encounter, data.source_id, fields, batch)[1]


def _upsert_clinical(uow: UnitOfWork, model: type[Any], data: ConditionUpsert | ObservationUpsert |
                     ProcedureUpsert | ImmunizationUpsert, batch: ImportBatch | None) -> ImportOutcome:
    fields = data.model_dump(exclude={"source_id", "patient_source_id"})
    fields["patient_id"] = _patient_ref(uow, data.patient_source_id, batch)
    return _upsert(uow, model, data.source_id, fields, batch)[1]


def upsert_condition(uow: UnitOfWork, data: ConditionUpsert, *, batch: ImportBatch | None = None) -> ImportOutcome:
    return _upsert_clinical(uow, Condition, data, batch)


def upsert_observation(uow: UnitOfWork, data: ObservationUpsert, *, batch: ImportBatch | None = None
                       ) -> ImportOutcome:
    return _upsert_clinical(uow, Observation, data, batch)


def upsert_procedure(uow: UnitOfWork, data: ProcedureUpsert, *, batch: ImportBatch | None = None) -> ImportOutcome:
    return _upsert_clinical(uow, Procedure, data, batch)


def upsert_immunization(uow: UnitOfWork, data: ImmunizationUpsert, *, batch: ImportBatch | None = None
                        ) -> ImportOutcome:
    return _upsert_clinical(uow, Immunization, data, batch)


def possible_duplicates(uow: UnitOfWork, source_ids: Sequence[str]) -> list[tuple[UUID, list[UUID]]]:
    """Of these imported patients, those sharing name and birth date with another record: merge candidates.

    Nothing is merged automatically: the same name and birthday can be two people.
    """
    found = []
    for patient in repository.rows_by_source(uow.session, Patient, source_ids):
        twins = repository.same_name_and_birth_date(uow.session, family_key=patient.family_key,
                                                    given_key=patient.given_key, birth_date=patient.birth_date,
                                                    exclude=patient.id)
        if twins:
            found.append((patient.id, twins))
    return found


def practitioner_source_ids_by_npi(uow: UnitOfWork, npis: Collection[str]) -> dict[str, str]:
    """NPI -> source id of practitioners already in Careline (those without a source id are left out).

    For the FHIR import's conditional references (``Practitioner?identifier=…/us-npi|<npi>``) to practitioners
    that an earlier import brought in. If two practitioners share an NPI, the lowest source id wins.
    """
    return repository.practitioner_source_ids_by_npi(uow.session, npis)
