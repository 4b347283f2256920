"""JSON API for patients: search (any phone form), caller lookup, read, create, update, merge."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from careline.patients.schemas import (
    PatientCreate,
    PatientRead,
    PatientSummary,
    PatientUpdate,
    SearchCriteria,
    SearchPage,
)
from careline.patients.service import lookup, records
from careline.routing.service import interactions
from careline.scheduling.service import booking
from careline.web.deps import PatientClients, PatientRules, RecordReaders, Uow

router = APIRouter(prefix="/api/patients", tags=["patients"])


class MergeRequest(BaseModel):
    duplicate_id: UUID


@router.get("")
def search(actor: PatientClients, uow: Uow, policy: PatientRules,
           criteria: Annotated[SearchCriteria, Query()]) -> SearchPage:
    """Search by name (accent- and case-insensitive prefix, small typos), birth date, MRN, identifier or
    phone in any typed form. Results are summaries; restricted records show no name."""
    return lookup.search_patients(uow, actor, policy, criteria)


@router.get("/lookup")
def lookup_by_phone(actor: PatientClients, uow: Uow, policy: PatientRules,
                    phone: Annotated[str, Query(min_length=1, max_length=40)]) -> list[PatientSummary]:
    """Everyone on a number, best match first (mobile before home, most recent contact first)."""
    return lookup.lookup_by_phone(uow, actor, policy, phone)


@router.post("", status_code=201)
def create(actor: PatientClients, uow: Uow, policy: PatientRules, body: PatientCreate) -> PatientRead:
    """Create a patient. 409 with the candidates' ids when the MRN, or the name and birth date, exist already;
    send ``allow_duplicate: true`` to create it anyway."""
    return records.create_patient(uow, actor, policy, body)


@router.get("/{patient_id}")
def read(actor: RecordReaders, uow: Uow, patient_id: UUID) -> PatientRead:
    """The whole record (an audited read)."""
    return records.read_patient(uow, actor, patient_id)


@router.patch("/{patient_id}")
def update(actor: PatientClients, uow: Uow, policy: PatientRules, patient_id: UUID,
           body: PatientUpdate) -> PatientRead:
    """Change the fields sent. Agents must have verified the caller's identity first."""
    return records.update_patient(uow, actor, policy, patient_id, body)


@router.post("/{patient_id}/merge")
def merge(actor: RecordReaders, uow: Uow, patient_id: UUID, body: MergeRequest) -> PatientRead:
    """Merge a duplicate into this patient: both histories, its appointments and its contacts are kept under
    this record."""
    survivor = records.merge_patients(uow, actor, survivor_id=patient_id, duplicate_id=body.duplicate_id)
    booking.follow_merge(uow, duplicate_id=body.duplicate_id, survivor_id=patient_id)
    interactions.follow_merge(uow, duplicate_id=body.duplicate_id, survivor_id=patient_id)
    return survivor
