"""Creating, changing, merging and reading patient records through the API."""

from __future__ import annotations

import secrets
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients import repository, rules
from careline.patients.errors import DuplicatePatient, InvalidPatientInput, RestrictedRecord
from careline.patients.models import Patient, PatientNote
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import CONSENT_KEYS, PatientCreate, PatientRead, PatientRef, PatientUpdate, PhoneIn
from careline.patients.service.common import display_name, load, may_open_restricted, read, require_verified


def normalised_phones(policy: PatientPolicy, phones: list[PhoneIn]) -> list[tuple[str, str]]:
    return [(rules.normalise_phone(phone.number, default_region=policy.default_region), phone.use)
            for phone in phones]


def _check_time_zone(time_zone: str | None) -> None:
    if not time_zone:
        return
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidPatientInput("time_zone", "Use an IANA time zone such as America/New_York.") from error


def _check_consents(consents: dict[str, bool]) -> None:
    unknown = set(consents) - set(CONSENT_KEYS)
    if unknown:
        raise InvalidPatientInput("consents", f"Unknown consents; use {', '.join(CONSENT_KEYS)}.")


def set_name_keys(patient: Patient) -> None:
    patient.family_key = rules.name_key(patient.family_name)
    patient.given_key = rules.name_key(patient.given_names)
    patient.family_sound = rules.name_sound(patient.family_name)


def create_patient(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, data: PatientCreate) -> PatientRead:
    """Create a patient. Raises DuplicatePatient for a taken MRN, or a same name and birth date unless allowed."""
    phones = normalised_phones(policy, data.phones)
    _check_time_zone(data.time_zone)
    _check_consents(data.consents)
    mrn = data.mrn or _new_mrn(uow)
    existing = repository.by_mrn(uow.session, mrn)
    if existing:
        raise DuplicatePatient([existing.id], reason="MRN")
    fields = data.model_dump(exclude={"mrn", "allow_duplicate", "phones"})
    patient = Patient(**fields, mrn=mrn, status="active")
    set_name_keys(patient)
    patient.time_zone = data.time_zone or rules.time_zone_for(country=data.country, state=data.state)
    twins = repository.same_name_and_birth_date(uow.session, family_key=patient.family_key,
                                                given_key=patient.given_key, birth_date=data.birth_date)
    if twins and not data.allow_duplicate:
        raise DuplicatePatient(twins, reason="name and date of birth")
    repository.add(uow.session, patient)
    repository.replace_phones(uow.session, patient.id, phones)
    audit.record(uow, actor, "patient.created", subject_type="patient", subject_id=patient.id, patient_id=patient.id)
    return read(uow, patient)


def _new_mrn(uow: UnitOfWork) -> str:
    while True:
        mrn = f"CL{secrets.randbelow(10**8):08d}"
        if repository.by_mrn(uow.session, mrn) is None:
            return mrn


def update_patient(
    uow: UnitOfWork, actor: Actor, policy: PatientPolicy, patient_id: UUID, data: PatientUpdate
) -> PatientRead:
    """Change the fields sent. An agent must have verified the caller first (IdentityNotVerified)."""
    patient = _openable(uow, actor, patient_id)
    require_verified(uow, actor, patient, utcnow())
    changes = data.model_dump(exclude_unset=True, exclude={"phones"})
    _check_time_zone(changes.get("time_zone"))
    _check_consents(changes.get("consents") or {})
    if changes.get("restricted") == "none":
        changes["restricted"] = None
    if data.phones is not None:
        repository.replace_phones(uow.session, patient.id, normalised_phones(policy, data.phones))
    for field, value in changes.items():
        setattr(patient, field, value)
    if {"given_names", "family_name"} & changes.keys():
        set_name_keys(patient)
    if "state" in changes and "time_zone" not in changes:
        patient.time_zone = rules.time_zone_for(country=patient.country, state=patient.state) or patient.time_zone
    uow.flush()
    audit.record(uow, actor, "patient.updated", subject_type="patient", subject_id=patient.id,
                 patient_id=patient.id, details={"fields": sorted([*changes, *(["phones"] if data.phones else [])])})
    return read(uow, patient)


def merge_patients(uow: UnitOfWork, actor: Actor, *, survivor_id: UUID, duplicate_id: UUID) -> PatientRead:
    """Fold a duplicate into the survivor: every encounter, note and phone moves, the duplicate points on."""
    if survivor_id == duplicate_id:
        raise InvalidPatientInput("duplicate_id", "A record cannot be merged into itself.")
    survivor, duplicate = _openable(uow, actor, survivor_id), _openable(uow, actor, duplicate_id)
    if "merged" in (survivor.status, duplicate.status):
        raise InvalidPatientInput("duplicate_id", "One of these records was already merged.")
    repository.move_children(uow.session, from_id=duplicate.id, to_id=survivor.id)
    duplicate.status, duplicate.merged_into_id = "merged", survivor.id
    survivor.tags = sorted(set(survivor.tags) | set(duplicate.tags))
    survivor.alerts = list(dict.fromkeys([*survivor.alerts, *duplicate.alerts]))
    uow.flush()
    audit.record(uow, actor, "patient.merged", subject_type="patient", subject_id=duplicate.id,
                 patient_id=survivor.id, details={"duplicate": str(duplicate.id)})
    return read(uow, survivor)


def read_patient(uow: UnitOfWork, actor: Actor, patient_id: UUID) -> PatientRead:
    """An audited read for integrations: the entry is written before the record is returned."""
    patient = _openable(uow, actor, patient_id)
    audit.record(uow, actor, "patient.viewed", subject_type="patient", subject_id=patient.id, patient_id=patient.id)
    return read(uow, patient)


def add_note(uow: UnitOfWork, actor: Actor, patient_id: UUID, body: str) -> None:
    patient = _openable(uow, actor, patient_id)
    require_verified(uow, actor, patient, utcnow())
    text = body.strip()
    if not text:
        raise InvalidPatientInput("body", "Write something in the note.")
    repository.add(uow.session, PatientNote(patient_id=patient.id, author=actor.username, body=text[:5000]))
    audit.record(uow, actor, "patient.note_added", subject_type="patient", subject_id=patient.id,
                 patient_id=patient.id)


def patient_to_read(uow: UnitOfWork, actor: Actor, patient_id: UUID) -> PatientRef:
    """The patient whose records another domain is about to show or wind down (appointments, orders).

    The same guards as opening the record: restricted records refused (audited), an agent's caller verified.
    """
    patient = _openable(uow, actor, patient_id)
    require_verified(uow, actor, patient, utcnow())
    return PatientRef(id=patient.id, display_name=display_name(patient), time_zone=patient.time_zone,
                      status=patient.status)


def patient_to_act_on(uow: UnitOfWork, actor: Actor, patient_id: UUID) -> PatientRef:
    """The patient another domain is about to start something new for (a booking, a message).

    As ``patient_to_read``, and only for an active record: a merged one names the record to use instead.
    """
    patient = patient_to_read(uow, actor, patient_id)
    if patient.status == "merged":
        raise InvalidPatientInput("patient_id", "This record was merged into another; use the surviving record.")
    if patient.status != "active":
        raise InvalidPatientInput("patient_id", f"This record is {patient.status}; nothing new can start for it.")
    return patient


def _openable(uow: UnitOfWork, actor: Actor, patient_id: UUID) -> Patient:
    patient = load(uow, patient_id)
    if not may_open_restricted(uow, actor, patient, utcnow()):
        audit.record(uow, actor, "patient.restricted_refused", outcome="denied", subject_type="patient",
                     subject_id=patient.id, patient_id=patient.id)
        raise RestrictedRecord()
    return patient
