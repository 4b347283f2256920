from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from careline.actor import Actor
from careline.audit.models import AuditEntry
from careline.db import UnitOfWork
from careline.patients.errors import InvalidPhone
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import SearchCriteria
from careline.patients.service import lookup
from tests.factories.patients import make_patient

HOME = "+16175550100"


class TestCallerLookup:
    def test_family_on_one_number_best_match_first(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        make_patient(uow, given="Luis", family="Muñoz", phones=((HOME, "home"),))
        child = make_patient(uow, given="Sofía", family="Muñoz", birth_date=date(2015, 5, 1), phones=((HOME, "home"),))
        mother = make_patient(uow, given="Carmen", family="Muñoz", phones=((HOME, "mobile"),))
        child.last_contact_at = datetime(2026, 11, 1, tzinfo=UTC)
        uow.flush()
        matches = lookup.lookup_by_phone(uow, agent, policy, "(617) 555-0100")
        assert [m.display_name for m in matches] == ["Carmen Muñoz", "Sofía Muñoz", "Luis Muñoz"]
        assert [m.phone_use for m in matches] == ["mobile", "home", "home"]
        assert matches[0].id == mother.id

    @pytest.mark.parametrize("typed", ["+1 617 555 0100", "6175550100", "617.555.0100"])
    def test_any_typed_form_finds_the_same_people(
        self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy, typed: str
    ) -> None:
        patient = make_patient(uow, phones=((HOME, "mobile"),))
        assert [m.id for m in lookup.lookup_by_phone(uow, agent, policy, typed)] == [patient.id]

    def test_unknown_number_finds_nobody(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        assert lookup.lookup_by_phone(uow, agent, policy, "617-555-0199") == []

    def test_invalid_number_is_rejected(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        with pytest.raises(InvalidPhone, match="not a phone number"):
            lookup.lookup_by_phone(uow, agent, policy, "not a number")

    def test_restricted_record_is_found_but_nameless_for_an_agent(
        self, uow: UnitOfWork, agent: Actor, supervisor: Actor, policy: PatientPolicy
    ) -> None:
        make_patient(uow, given="Vera", family="Important", phones=((HOME, "mobile"),), restricted="vip")
        assert lookup.lookup_by_phone(uow, agent, policy, HOME)[0].display_name == "Restricted record"
        assert lookup.lookup_by_phone(uow, supervisor, policy, HOME)[0].display_name == "Vera Important"

    def test_lookup_is_audited_without_the_number(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        lookup.lookup_by_phone(uow, agent, policy, HOME)
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.lookup")).one()
        assert "555" not in str(entry.details)


class TestSearch:
    @pytest.fixture(autouse=True)
    def people(self, uow: UnitOfWork) -> None:
        make_patient(uow, given="José", family="Muñoz", birth_date=date(1970, 1, 1), mrn="M1")
        make_patient(uow, given="Ana", family="Rivera", birth_date=date(1961, 2, 3), mrn="M2",
                     phones=(("+16175550123", "mobile"),))
        make_patient(uow, given="Robert", family="Johnson", birth_date=date(1980, 6, 7), mrn="M3")
        make_patient(uow, given="Anabel", family="Smith", birth_date=date(1990, 8, 9), mrn="M4")

    def _names(self, uow: UnitOfWork, actor: Actor, policy: PatientPolicy, **criteria: object) -> list[str]:
        page = lookup.search_patients(uow, actor, policy, SearchCriteria.model_validate(criteria))
        return [hit.display_name for hit in page.results]

    def test_accent_and_case_insensitive(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        assert self._names(uow, agent, policy, name="JOSE MUNOZ") == ["José Muñoz"]
        assert self._names(uow, agent, policy, name="muñ") == ["José Muñoz"]

    def test_prefix_of_either_name(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        assert self._names(uow, agent, policy, name="ana") == ["Ana Rivera", "Anabel Smith"]

    def test_family_then_given_works_too(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        assert self._names(uow, agent, policy, name="rivera ana") == ["Ana Rivera"]

    def test_small_typo_still_finds(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        assert self._names(uow, agent, policy, name="Jonhson") == ["Robert Johnson"]
        assert self._names(uow, agent, policy, name="robert jonson") == ["Robert Johnson"]

    def test_by_birth_date_mrn_and_phone(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        assert self._names(uow, agent, policy, birth_date="1961-02-03") == ["Ana Rivera"]
        assert self._names(uow, agent, policy, mrn="M3") == ["Robert Johnson"]
        assert self._names(uow, agent, policy, phone="617 555 0123") == ["Ana Rivera"]
        assert self._names(uow, agent, policy, name="ana", birth_date="1990-08-09") == ["Anabel Smith"]

    def test_pages(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        first = lookup.search_patients(uow, agent, policy, SearchCriteria(name="a", per_page=1))
        second = lookup.search_patients(uow, agent, policy, SearchCriteria(name="a", per_page=1, page=2))
        assert first.has_next
        assert first.results[0].id != second.results[0].id

    def test_audit_names_the_fields_not_the_values(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        self._names(uow, agent, policy, name="rivera", birth_date="1961-02-03")
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.searched")).one()
        assert entry.details == {"fields": ["birth_date", "name"]}
