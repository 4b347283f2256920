"""Helpers the patient use cases share: loading a record, who may open it, turning rows into shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from careline.actor import Actor, Role
from careline.db import UnitOfWork
from careline.patients import repository, rules
from careline.patients.errors import IdentityNotVerified, PatientNotFound
from careline.patients.models import Patient
from careline.patients.policy import RESTRICTED_ROLES
from careline.patients.schemas import PatientRead, PatientSummary, PhoneRead


def load(uow: UnitOfWork, patient_id: UUID) -> Patient:
    patient = repository.get(uow.session, patient_id)
    if patient is None:
        raise PatientNotFound()
    return patient


class PatientLike(Protocol):
    """A patient row or object: what a summary and the restriction check read."""

    id: UUID
    given_names: str
    preferred_name: str | None
    family_name: str
    birth_date: date
    mrn: str
    status: str
    restricted: str | None


def may_open_restricted(uow: UnitOfWork, actor: Actor, patient: PatientLike, now: datetime) -> bool:
    if not patient.restricted or actor.role in RESTRICTED_ROLES:
        return True
    if actor.user_id is None:
        return False
    return repository.active_grant(uow.session, user_id=actor.user_id, patient_id=patient.id, now=now) is not None


def require_verified(uow: UnitOfWork, actor: Actor, patient: Patient, now: datetime) -> None:
    """Agents change a record only while the caller's identity is verified for the contact in progress."""
    if actor.role != Role.agent:
        return
    check = repository.current_check(uow.session, user_id=actor.user_id, patient_id=patient.id, now=now) \
        if actor.user_id else None
    if check is None or check.verified_at is None:
        raise IdentityNotVerified()


def display_name(patient: PatientLike) -> str:
    given = patient.preferred_name or patient.given_names.split(" ")[0]
    return f"{given} {patient.family_name}"


def summary(patient: PatientLike, *, visible: bool, phone_use: str | None = None) -> PatientSummary:
    if not visible:
        return PatientSummary(id=patient.id, display_name="Restricted record", birth_date=None, mrn=None,
                              status=patient.status, restricted=True, phone_use=phone_use)
    return PatientSummary(id=patient.id, display_name=display_name(patient), birth_date=patient.birth_date,
                          mrn=patient.mrn, status=patient.status, restricted=bool(patient.restricted),
                          phone_use=phone_use)


def read(uow: UnitOfWork, patient: Patient) -> PatientRead:
    return read_many(uow, [patient])[0]


def read_many(uow: UnitOfWork, patients: list[Patient]) -> list[PatientRead]:
    """Whole records for several patients, with their phones and PCPs read in one query each."""
    phones = repository.phones_of(uow.session, [patient.id for patient in patients])
    pcp_names = repository.practitioner_names(uow.session, {p.pcp_id for p in patients if p.pcp_id})
    return [PatientRead.model_validate(patient).model_copy(update={
        "phones": [PhoneRead(e164=p.e164, use=p.use, display=rules.display_phone(p.e164))
                   for p in sorted(phones[patient.id], key=lambda phone: rules.PHONE_USE_RANK.get(phone.use, 9))],
        "pcp_name": pcp_names.get(patient.pcp_id) if patient.pcp_id else None,
    }) for patient in patients]
