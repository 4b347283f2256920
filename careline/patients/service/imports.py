"""Writing records that come from the EHR, keyed on the source's resource ids so a re-import is a no-op.

Each function returns whether the row was imported, updated or unchanged, and raises
``UnresolvedReference`` when a resource points at a patient the import has not seen.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

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
from careline.patients.service.records import set_name_keys


class UnresolvedReference(PatientError):
    def __init__(self, kind: str, source_id: str) -> None:
        super().__init__(f"refers to {kind}/{source_id}, which is not in Careline")


def _upsert(uow: UnitOfWork, model: type[Any], source_id: str, fields: dict[str, Any]) -> tuple[Any, ImportOutcome]:
    row = repository.by_source(uow.session, model, source_id)
    if row is None:
        row = model(source_id=source_id, **fields)
        repository.add(uow.session, row)
        return row, ImportOutcome.imported
    changed = {name: value for name, value in fields.items() if getattr(row, name) != value}
    for name, value in changed.items():
        setattr(row, name, value)
    return row, ImportOutcome.updated if changed else ImportOutcome.unchanged


def upsert_organization(uow: UnitOfWork, data: OrganizationUpsert) -> ImportOutcome:
    return _upsert(uow, Organization, data.source_id, data.model_dump(exclude={"source_id"}))[1]


def upsert_location(uow: UnitOfWork, data: LocationUpsert) -> ImportOutcome:
    fields = {"name": data.name, "address": data.address,
              "time_zone": rules.time_zone_for(country=data.country, state=data.state)}
    return _upsert(uow, Location, data.source_id, fields)[1]


def upsert_practitioner(uow: UnitOfWork, data: PractitionerUpsert) -> ImportOutcome:
    return _upsert(uow, Practitioner, data.source_id, data.model_dump(exclude={"source_id"}))[1]


def upsert_patient(uow: UnitOfWork, policy: PatientPolicy, data: PatientUpsert) -> ImportOutcome:
    """Create or refresh a patient from the EHR. Numbers that are not phone numbers are left out."""
    fields = data.model_dump(exclude={"source_id", "phones", "identifiers", "pcp_source_id"})
    fields["status"] = "deceased" if data.deceased_at else "active"
    fields["time_zone"] = rules.time_zone_for(country=data.country, state=data.state)
    fields["pcp_id"] = _optional_ref(uow, Practitioner, data.pcp_source_id)
    patient, outcome = _upsert(uow, Patient, data.source_id, fields)
    set_name_keys(patient)
    phones = _valid_phones(policy, data)
    identifiers = [(i.system, i.value, i.kind) for i in data.identifiers]
    if outcome is ImportOutcome.imported or _contacts_changed(uow, patient, phones, identifiers):
        repository.replace_phones(uow.session, patient.id, phones)
        repository.replace_identifiers(uow.session, patient.id, identifiers)
        outcome = ImportOutcome.imported if outcome is ImportOutcome.imported else ImportOutcome.updated
    uow.flush()
    return outcome


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


def _patient_ref(uow: UnitOfWork, source_id: str) -> UUID:
    found = repository.ids_by_source(uow.session, Patient, [source_id]).get(source_id)
    if found is None:
        raise UnresolvedReference("Patient", source_id)
    return found


def _optional_ref(uow: UnitOfWork, model: type[Any], source_id: str | None) -> UUID | None:
    if not source_id:
        return None
    return repository.ids_by_source(uow.session, model, [source_id]).get(source_id)


def upsert_encounter(uow: UnitOfWork, data: EncounterUpsert) -> ImportOutcome:
    fields = data.model_dump(exclude={"source_id", "patient_source_id", "practitioner_source_id",
                                      "organization_source_id", "location_source_id"})
    fields |= {"patient_id": _patient_ref(uow, data.patient_source_id),
               "practitioner_id": _optional_ref(uow, Practitioner, data.practitioner_source_id),
               "organization_id": _optional_ref(uow, Organization, data.organization_source_id),
               "location_id": _optional_ref(uow, Location, data.location_source_id)}
    return _upsert(uow, Encounter, data.source_id, fields)[1]


def _upsert_clinical(uow: UnitOfWork, model: type[Any], data: ConditionUpsert | ObservationUpsert |
                     ProcedureUpsert | ImmunizationUpsert) -> ImportOutcome:
    fields = data.model_dump(exclude={"source_id", "patient_source_id"})
    fields["patient_id"] = _patient_ref(uow, data.patient_source_id)
    return _upsert(uow, model, data.source_id, fields)[1]


def upsert_condition(uow: UnitOfWork, data: ConditionUpsert) -> ImportOutcome:
    return _upsert_clinical(uow, Condition, data)


def upsert_observation(uow: UnitOfWork, data: ObservationUpsert) -> ImportOutcome:
    return _upsert_clinical(uow, Observation, data)


def upsert_procedure(uow: UnitOfWork, data: ProcedureUpsert) -> ImportOutcome:
    return _upsert_clinical(uow, Procedure, data)


def upsert_immunization(uow: UnitOfWork, data: ImmunizationUpsert) -> ImportOutcome:
    return _upsert_clinical(uow, Immunization, data)
