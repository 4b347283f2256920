from __future__ import annotations

import pytest
from sqlalchemy import select

from careline.actor import Actor
from careline.audit.models import AuditEntry
from careline.db import UnitOfWork
from careline.patients.errors import InvalidPatientInput, RestrictedRecord, VerificationLocked
from careline.patients.models import SupervisorAlert
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import MaskedPatient, Patient360
from careline.patients.service import access
from tests.factories.patients import make_encounter, make_patient

RIGHT = {"name": "ana rivera", "birth_date": "1961-02-03"}
WRONG = {"name": "ana rivera", "birth_date": "1961-03-02"}


def _audit(uow: UnitOfWork, action: str) -> list[AuditEntry]:
    return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


class TestMaskedUntilVerified:
    def test_masked_view_shows_only_name_and_that_records_exist(
        self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy
    ) -> None:
        patient = make_patient(uow)
        make_encounter(uow, patient)
        view = access.open_360(uow, agent, policy, patient.id)
        assert isinstance(view, MaskedPatient)
        assert view.display_name == "Ana Rivera"
        assert view.counts["encounters"] == 1
        assert set(MaskedPatient.model_fields) == {"id", "display_name", "counts", "restricted",
                                                   "verification_locked", "attempts_left", "identifiers",
                                                   "preverified"}
        assert _audit(uow, "patient.viewed_masked")[0].patient_id == str(patient.id)

    def test_verified_caller_opens_the_whole_record(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        patient = make_patient(uow)
        make_encounter(uow, patient)
        result = access.verify_identity(uow, agent, policy, patient.id, RIGHT)
        assert result.verified
        view = access.open_360(uow, agent, policy, patient.id)
        assert isinstance(view, Patient360)
        assert view.patient.birth_date.isoformat() == "1961-02-03"
        assert [item.title for item in view.timeline] == ["Encounter for check up"]
        verified = _audit(uow, "patient.identity_verified")[0]
        assert verified.details == {"required": ["name", "birth_date"], "matched": ["birth_date", "name"]}
        assert "1961" not in str(verified.details)
        assert len(_audit(uow, "patient.viewed")) == 1

    def test_signing_out_ends_every_verified_contact(
        self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy
    ) -> None:
        patient = make_patient(uow)
        access.verify_identity(uow, agent, policy, patient.id, RIGHT)
        assert agent.user_id is not None
        access.end_contacts(uow, agent.user_id)
        assert isinstance(access.open_360(uow, agent, policy, patient.id), MaskedPatient)

    def test_verifying_again_is_not_a_failure(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        patient = make_patient(uow)
        access.verify_identity(uow, agent, policy, patient.id, RIGHT)
        assert access.verify_identity(uow, agent, policy, patient.id, WRONG).verified
        assert _audit(uow, "patient.identity_failed") == []

    def test_caller_id_alone_never_verifies(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        patient = make_patient(uow, phones=(("+16175550100", "mobile"),))
        result = access.verify_identity(uow, agent, policy, patient.id, {"phone": "+16175550100"})
        assert not result.verified

    def test_verification_is_per_user(
        self, uow: UnitOfWork, agent: Actor, supervisor: Actor, policy: PatientPolicy
    ) -> None:
        patient = make_patient(uow)
        access.verify_identity(uow, agent, policy, patient.id, RIGHT)
        assert isinstance(access.open_360(uow, supervisor, policy, patient.id), MaskedPatient)

    def test_other_identifier_sets_can_be_configured(self, uow: UnitOfWork, agent: Actor) -> None:
        policy = PatientPolicy(identifiers=("birth_date", "postal_code"))
        patient = make_patient(uow)
        assert not access.verify_identity(uow, agent, policy, patient.id, RIGHT).verified
        assert access.verify_identity(uow, agent, policy, patient.id,
                                      {"birth_date": "1961-02-03", "postal_code": "02139"}).verified


class TestThreeStrikes:
    def test_third_failure_locks_the_contact_and_alerts_a_supervisor(
        self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy
    ) -> None:
        patient = make_patient(uow)
        results = [access.verify_identity(uow, agent, policy, patient.id, WRONG) for _ in range(3)]
        assert [r.attempts_left for r in results] == [2, 1, 0]
        assert results[-1].locked
        with pytest.raises(VerificationLocked):
            access.verify_identity(uow, agent, policy, patient.id, RIGHT)
        view = access.open_360(uow, agent, policy, patient.id)
        assert isinstance(view, MaskedPatient)
        assert view.verification_locked
        alert = uow.session.scalars(select(SupervisorAlert)).one()
        assert (alert.kind, alert.username) == ("verification_locked", "alex")
        assert [a.id for a in access.list_alerts(uow)] == [alert.id]
        assert [e.details["matched"] for e in _audit(uow, "patient.identity_failed")] == [["name"]] * 3


class TestRestricted:
    def test_agent_must_break_the_glass(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        patient = make_patient(uow, restricted="staff")
        with pytest.raises(RestrictedRecord):
            access.open_360(uow, agent, policy, patient.id)
        access.break_glass(uow, agent, policy, patient.id, "Patient on the line asking about her results")
        assert isinstance(access.open_360(uow, agent, policy, patient.id), MaskedPatient)
        grant = _audit(uow, "patient.break_glass")[0]
        assert grant.details["minutes"] == 60
        alert = uow.session.scalars(select(SupervisorAlert)).one()
        assert alert.kind == "break_glass"
        assert alert.reason == "Patient on the line asking about her results"

    def test_a_reason_is_mandatory(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        patient = make_patient(uow, restricted="vip")
        with pytest.raises(InvalidPatientInput, match="Give the reason"):
            access.break_glass(uow, agent, policy, patient.id, "   because ")

    def test_supervisor_may_open_without_breaking_glass(
        self, uow: UnitOfWork, supervisor: Actor, policy: PatientPolicy
    ) -> None:
        patient = make_patient(uow, restricted="vip")
        assert isinstance(access.open_360(uow, supervisor, policy, patient.id), MaskedPatient)

    def test_refusal_is_audited(self, uow: UnitOfWork, agent: Actor, policy: PatientPolicy) -> None:
        patient = make_patient(uow, restricted="sensitive")
        with pytest.raises(RestrictedRecord):
            access.open_360(uow, agent, policy, patient.id)
        assert _audit(uow, "patient.restricted_refused")[0].outcome == "denied"
