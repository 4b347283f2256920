"""What machines that message patients need of their records: language, time zone, consents, who they are.

Like the caller lookup, these are not audited reads: no person sees the record. The message a worker sends
is itself kept in the patient's conversations, which are audited when someone opens them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlalchemy import func, select

from careline.db import UnitOfWork
from careline.patients import rules
from careline.patients.models import Patient
from careline.patients.policy import PatientPolicy


@dataclass(frozen=True, slots=True)
class Reach:
    patient_id: UUID
    language: str
    time_zone: str | None
    consents: dict[str, bool]
    reachable: bool  # not deceased, not merged away


def reach_of(uow: UnitOfWork, patient_ids: Iterable[UUID]) -> dict[UUID, Reach]:
    ids = list(set(patient_ids))
    if not ids:
        return {}
    patients = uow.session.scalars(select(Patient).where(Patient.id.in_(ids))).all()
    return {p.id: Reach(patient_id=p.id, language=p.language, time_zone=p.time_zone,
                        consents=dict(p.consents or {}), reachable=p.status == "active") for p in patients}


def ids_with_email(uow: UnitOfWork, address: str) -> list[UUID]:
    """The active patients whose record has this e-mail address (any case; ``_`` and ``%`` are only letters)."""
    wanted = address.strip().lower()
    return list(uow.session.scalars(select(Patient.id).where(func.lower(Patient.email) == wanted,
                                                             Patient.status == "active")))


def ids_named(uow: UnitOfWork, name: str, birth_date: date) -> list[UUID]:
    """Active patients born on ``birth_date`` whose name ``name`` is (a chat's "who are you?"): accent- and
    case-free whole words, the first given name and every family name, and no word that is not one of theirs
    (a middle name may be left out). A near miss, or a list of names hoping one fits, matches no one."""
    words = set(rules.name_key(name).split())
    if not words:
        return []
    found = uow.session.execute(select(Patient.id, Patient.given_key, Patient.family_key)
                                .where(Patient.birth_date == birth_date, Patient.status == "active"))
    return [patient_id for patient_id, given, family in found
            if given.split()[:1] and {given.split()[0], *family.split()} <= words <= {*given.split(), *family.split()}]


def normalise_number(policy: PatientPolicy, number: str) -> str:
    return rules.normalise_phone(number, default_region=policy.default_region)
