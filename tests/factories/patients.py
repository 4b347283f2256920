"""Patients for tests: small keyword factories that write through the models, with sensible defaults."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from uuid import UUID

from careline.db import UnitOfWork
from careline.patients import rules
from careline.patients.models import Encounter, Patient, PatientPhone, SupervisorAlert


def make_patient(
    uow: UnitOfWork, *, given: str = "Ana", family: str = "Rivera", birth_date: date = date(1961, 2, 3),
    phones: tuple[tuple[str, str], ...] = (), restricted: str | None = None, postal_code: str = "02139",
    language: str = "en", mrn: str | None = None,
) -> Patient:
    patient = Patient(mrn=mrn or f"T{secrets.randbelow(10**9):09d}", given_names=given, family_name=family,
                      family_key=rules.name_key(family), given_key=rules.name_key(given),
                      family_sound=rules.name_sound(family), birth_date=birth_date, sex="female",
                      language=language, postal_code=postal_code, state="MA", country="US",
                      time_zone="America/New_York", status="active", restricted=restricted, consents={},
                      tags=[], alerts=[])
    uow.session.add(patient)
    uow.flush()
    for e164, use in phones:
        uow.session.add(PatientPhone(patient_id=patient.id, e164=e164, use=use))
    uow.flush()
    return patient


def make_encounter(uow: UnitOfWork, patient: Patient, *, when: str = "2025-03-04T10:00:00+00:00",
                   title: str = "Encounter for check up") -> Encounter:
    encounter = Encounter(patient_id=patient.id, starts_at=datetime.fromisoformat(when), type_display=title)
    uow.session.add(encounter)
    uow.flush()
    return encounter


def make_alert(uow: UnitOfWork, patient: Patient, *, kind: str = "break_glass") -> UUID:
    alert = SupervisorAlert(kind=kind, patient_id=patient.id, username="someone", reason="testing the alert")
    uow.session.add(alert)
    uow.flush()
    return alert.id
