"""The demo population: realistic enough to demo and benchmark on, and the same for the same seed."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from careline.actor import Actor
from careline.db import UnitOfWork
from careline.patients import rules
from careline.patients.demo import PopulationStats, generate_population, population_rows
from careline.patients.models import (
    Condition,
    Encounter,
    Immunization,
    Observation,
    Patient,
    PatientPhone,
    Practitioner,
    Procedure,
)
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import CONSENT_KEYS
from careline.patients.service import lookup

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
SEED = 42
PATIENTS = 300
DIABETES, HBA1C, COLONOSCOPY, MAMMOGRAPHY = "44054006", "4548-4", "73761001", "71651007"


@pytest.fixture
def stats(uow: UnitOfWork) -> PopulationStats:
    return generate_population(uow.session, patients=PATIENTS, seed=SEED, progress=None, now=NOW)


def _people(seed: int, count: int) -> list[tuple[str, str, object]]:
    rows = [row for batch in population_rows(patients=count, seed=seed, now=NOW) for row in batch.rows["patients"]]
    return [(row["given_names"], row["family_name"], row["birth_date"]) for row in rows]


class TestWhatIsWritten:
    def test_exactly_the_patients_asked_for(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        assert stats.patients == PATIENTS
        assert uow.session.scalar(select(func.count()).select_from(Patient)) == PATIENTS
        assert stats.practitioners == uow.session.scalar(select(func.count()).select_from(Practitioner))
        assert stats.practitioners >= 30
        assert stats.encounters == uow.session.scalar(select(func.count()).select_from(Encounter))
        assert stats.encounters > PATIENTS

    def test_mrns_are_unique_and_well_formed(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        mrns = list(uow.session.scalars(select(Patient.mrn)))
        assert len(set(mrns)) == PATIENTS
        assert all(re.fullmatch(r"D\d{8}", mrn) for mrn in mrns)

    def test_search_keys_follow_the_rules(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        for patient in uow.session.scalars(select(Patient)):
            assert patient.family_key == rules.name_key(patient.family_name)
            assert patient.given_key == rules.name_key(patient.given_names)
            assert patient.family_sound == rules.name_sound(patient.family_name)

    def test_progress_counts_up_to_the_total(self, uow: UnitOfWork) -> None:
        seen: list[int] = []
        generate_population(uow.session, patients=1_200, seed=SEED, progress=seen.append, now=NOW)
        assert seen == sorted(seen)
        assert seen[-1] == 1_200
        assert len(seen) >= 2

    def test_no_patients_is_allowed(self, uow: UnitOfWork) -> None:
        assert generate_population(uow.session, patients=0, seed=SEED, progress=None, now=NOW).patients == 0

    def test_without_history_only_people_and_phones(self, uow: UnitOfWork) -> None:
        stats = generate_population(uow.session, patients=200, seed=SEED, progress=None, now=NOW, history=False)
        assert (stats.patients, stats.encounters, stats.observations) == (200, 0, 0)
        assert uow.session.scalar(select(func.count()).select_from(PatientPhone)) == stats.phones > 200


class TestContacts:
    def test_every_phone_is_e164_and_normalises_to_itself(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        numbers = list(uow.session.scalars(select(PatientPhone.e164)))
        assert len(numbers) == stats.phones > PATIENTS
        assert all(rules.normalise_phone(number, default_region="US") == number for number in numbers)
        assert all(number[5:8] == "555" for number in numbers)  # fictional exchange

    def test_families_share_a_home_phone(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        households: dict[str, list[str]] = defaultdict(list)
        rows = uow.session.execute(select(PatientPhone.e164, Patient.family_name)
                                   .join(Patient, Patient.id == PatientPhone.patient_id)
                                   .where(PatientPhone.use == "home"))
        for e164, family_name in rows:
            households[e164].append(family_name)
        shared = [names for names in households.values() if len(names) >= 2]
        assert any(len(set(names)) == 1 for names in shared)
        mobiles = Counter(uow.session.scalars(select(PatientPhone.e164).where(PatientPhone.use == "mobile")))
        assert max(mobiles.values()) == 1  # a mobile is one person's

    def test_caller_lookup_on_a_home_number_finds_the_household(
        self, uow: UnitOfWork, stats: PopulationStats, agent: Actor, policy: PatientPolicy
    ) -> None:
        number, members = uow.session.execute(
            select(PatientPhone.e164, func.count()).where(PatientPhone.use == "home")
            .group_by(PatientPhone.e164).order_by(func.count().desc(), PatientPhone.e164).limit(1)).one()
        assert members >= 2
        typed = rules.display_phone(number)  # as an agent types it: (617) 555-0123
        assert len(lookup.lookup_by_phone(uow, agent, policy, typed)) == members

    def test_languages_time_zones_and_consents(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        patients = list(uow.session.scalars(select(Patient)))
        languages = Counter(patient.language for patient in patients)
        assert languages.most_common(1)[0][0] == "en"
        assert languages["en"] > PATIENTS / 2
        assert languages["es"] > PATIENTS / 10
        for patient in patients:
            assert patient.time_zone == rules.time_zone_for(country=patient.country, state=patient.state)
            assert set(patient.consents) == set(CONSENT_KEYS)
            needs_interpreter = any(alert.startswith("needs interpreter") for alert in patient.alerts)
            assert needs_interpreter == (patient.language != "en")

    def test_ages_are_plausible(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        ages = [rules.age_on(birth_date, NOW.date()) for birth_date in uow.session.scalars(select(Patient.birth_date))]
        assert min(ages) >= 0
        assert max(ages) <= 100
        assert sum(age >= 18 for age in ages) > 0.6 * PATIENTS
        assert sum(age < 18 for age in ages) > 0.1 * PATIENTS


class TestClinicalHistory:
    def test_diabetics_have_hba1c_results(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        diabetics = set(uow.session.scalars(
            select(Condition.patient_id).join(Patient, Patient.id == Condition.patient_id)
            .where(Condition.code == DIABETES, Patient.status != "deceased")))
        tested = set(uow.session.scalars(select(Observation.patient_id).where(Observation.code == HBA1C)))
        assert diabetics
        assert diabetics <= tested
        units = set(uow.session.scalars(select(Observation.unit).where(Observation.code == HBA1C)))
        assert units == {"%"}

    def test_screenings_go_to_the_right_people(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        screened = select(Patient).join(Procedure, Procedure.patient_id == Patient.id)
        colonoscopies = uow.session.scalars(screened.where(Procedure.code == COLONOSCOPY).with_only_columns(
            Patient.birth_date)).all()
        assert colonoscopies
        assert all(45 <= rules.age_on(born, NOW.date()) <= 75 for born in colonoscopies)
        mammographies = set(uow.session.scalars(screened.where(Procedure.code == MAMMOGRAPHY).with_only_columns(
            Patient.sex)))
        assert mammographies == {"female"}

    def test_history_lies_in_the_past_and_in_utc(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        first, last = uow.session.execute(select(func.min(Encounter.starts_at), func.max(Encounter.starts_at))).one()
        assert first >= NOW - timedelta(days=5 * 366)
        assert last < NOW
        assert last.utcoffset() == timedelta(0)
        shots = uow.session.scalar(select(func.max(Immunization.occurred_at)))
        assert shots is not None
        assert shots < NOW

    def test_blood_pressure_is_a_panel_of_two_components(self, uow: UnitOfWork, stats: PopulationStats) -> None:
        panel = uow.session.scalars(select(Observation).where(Observation.code == "85354-9").limit(1)).one()
        assert [part["code"] for part in panel.components] == ["8480-6", "8462-4"]
        assert {part["unit"] for part in panel.components} == {"mm[Hg]"}
        assert 70 < panel.components[0]["value"] < 220


class TestDeterminism:
    def test_the_same_seed_gives_the_same_people(self) -> None:
        assert _people(SEED, 50) == _people(SEED, 50)

    def test_another_seed_gives_other_people(self) -> None:
        assert _people(SEED, 50) != _people(SEED + 1, 50)
