from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.patients.errors import DuplicatePatient, IdentityNotVerified, InvalidPatientInput, InvalidPhone
from careline.patients.models import Encounter, Patient
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import PatientCreate, PatientUpdate, PhoneIn
from careline.patients.service import access, records
from tests.factories.patients import make_encounter, make_patient


def _new(**overrides: object) -> PatientCreate:
    fields: dict[str, object] = {"given_names": "Ana", "family_name": "Rivera", "birth_date": date(1961, 2, 3),
                                 "state": "IL", "phones": [PhoneIn(number="(312) 555-0142", use="mobile")]}
    return PatientCreate.model_validate(fields | overrides)


class TestCreate:
    def test_creates_with_normalised_phone_and_derived_time_zone(
        self, uow: UnitOfWork, supervisor: Actor, policy: PatientPolicy
    ) -> None:
        created = records.create_patient(uow, supervisor, policy, _new())
        assert [p.e164 for p in created.phones] == ["+13125550142"]
        assert created.time_zone == "America/Chicago"
        assert created.mrn.startswith("CL")

    def test_same_name_and_birth_date_is_a_suspected_duplicate(
        self, uow: UnitOfWork, supervisor: Actor, policy: PatientPolicy
    ) -> None:
        first = records.create_patient(uow, supervisor, policy, _new())
        with pytest.raises(DuplicatePatient) as raised:
            records.create_patient(uow, supervisor, policy, _new(given_names="ANA", phones=[]))
        assert raised.value.candidates == [first.id]
        assert records.create_patient(uow, supervisor, policy, _new(allow_duplicate=True)).id != first.id

    def test_same_mrn_is_refused(self, uow: UnitOfWork, supervisor: Actor, policy: PatientPolicy) -> None:
        records.create_patient(uow, supervisor, policy, _new(mrn="X1"))
        with pytest.raises(DuplicatePatient, match="MRN"):
            records.create_patient(uow, supervisor, policy, _new(mrn="X1", family_name="Other"))

    def test_bad_input_writes_nothing(self, uow: UnitOfWork, supervisor: Actor, policy: PatientPolicy) -> None:
        with pytest.raises(InvalidPhone):
            records.create_patient(uow, supervisor, policy, _new(phones=[PhoneIn(number="12")]))
        with pytest.raises(InvalidPatientInput, match="IANA"):
            records.create_patient(uow, supervisor, policy, _new(time_zone="Mars/Olympus"))
        assert uow.session.scalar(select(func.count()).select_from(Patient)) == 0


class TestUpdate:
    def test_agent_must_verify_before_changing(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        patient = make_patient(uow)
        change = PatientUpdate(phones=[PhoneIn(number="617 555 0177", use="mobile")])
        with pytest.raises(IdentityNotVerified):
            records.update_patient(uow, agent, policy, patient.id, change)
        access.verify_identity(uow, agent, policy, patient.id, {"name": "Ana Rivera", "birth_date": "1961-02-03"})
        updated = records.update_patient(uow, agent, policy, patient.id, change)
        assert [p.e164 for p in updated.phones] == ["+16175550177"]

    def test_renaming_refreshes_the_search_keys(
        self, uow: UnitOfWork, supervisor: Actor, policy: PatientPolicy
    ) -> None:
        patient = make_patient(uow)
        records.update_patient(uow, supervisor, policy, patient.id, PatientUpdate(family_name="Núñez"))
        assert (patient.family_key, patient.family_sound) == ("nunez", "N520")


class TestMerge:
    def test_merge_keeps_both_histories(self, uow: UnitOfWork, supervisor: Actor, policy: PatientPolicy) -> None:
        survivor = make_patient(uow, phones=(("+16175550100", "home"),))
        duplicate = make_patient(uow, phones=(("+16175550100", "home"), ("+16175550111", "mobile")))
        make_encounter(uow, survivor)
        make_encounter(uow, duplicate, when="2024-01-02T09:00:00+00:00")
        merged = records.merge_patients(uow, supervisor, survivor_id=survivor.id, duplicate_id=duplicate.id)
        assert sorted(p.e164 for p in merged.phones) == ["+16175550100", "+16175550111"]
        encounters = uow.session.scalar(select(func.count()).select_from(Encounter)
                                        .where(Encounter.patient_id == survivor.id))
        assert encounters == 2
        assert (duplicate.status, duplicate.merged_into_id) == ("merged", survivor.id)

    def test_cannot_merge_into_itself(self, uow: UnitOfWork, supervisor: Actor) -> None:
        patient = make_patient(uow)
        with pytest.raises(InvalidPatientInput):
            records.merge_patients(uow, supervisor, survivor_id=patient.id, duplicate_id=patient.id)
