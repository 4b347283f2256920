"""The 360 view and what guards it: identity verification per contact, break-glass, supervisor alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from careline import audit
from careline.actor import Actor, Role
from careline.db import UnitOfWork, utcnow
from careline.patients import repository, rules
from careline.patients.errors import InvalidPatientInput, RestrictedRecord, VerificationLocked
from careline.patients.models import BreakGlassGrant, IdentityCheck, Patient, SupervisorAlert
from careline.patients.policy import MAX_VERIFICATION_ATTEMPTS, PatientPolicy
from careline.patients.schemas import AlertRead, MaskedPatient, Patient360, VerificationResult
from careline.patients.service import timeline
from careline.patients.service.common import display_name, load, may_open_restricted, read


def open_360(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, patient_id: UUID) -> Patient360 | MaskedPatient:
    """The whole record once this user verified the caller (within the contact window), else the masked view.

    Restricted records raise RestrictedRecord unless the role may see them or the user broke the glass.
    Either way the read is audited, as ``patient.viewed`` or ``patient.viewed_masked``.
    """
    now = utcnow()
    patient = load(uow, patient_id)
    if not may_open_restricted(uow, actor, patient, now):
        audit.record(uow, actor, "patient.restricted_refused", outcome="denied", subject_type="patient",
                     subject_id=patient.id, patient_id=patient.id)
        raise RestrictedRecord()
    check = _current_check(uow, actor, patient, policy, now)
    if check.verified_at is None:
        audit.record(uow, actor, "patient.viewed_masked", subject_type="patient", subject_id=patient.id,
                     patient_id=patient.id)
        return MaskedPatient(id=patient.id, display_name=display_name(patient),
                             counts=repository.counts_of(uow.session, patient.id),
                             restricted=bool(patient.restricted), verification_locked=check.locked_at is not None,
                             attempts_left=max(0, MAX_VERIFICATION_ATTEMPTS - check.failed_attempts),
                             identifiers=[name for name in policy.identifiers if name not in check.preverified],
                             preverified=[name for name in policy.identifiers if name in check.preverified])
    audit.record(uow, actor, "patient.viewed", subject_type="patient", subject_id=patient.id, patient_id=patient.id)
    return timeline.build_360(uow, read(uow, patient), today=now.date())


def _current_check(
    uow: UnitOfWork, actor: Actor, patient: Patient, policy: PatientPolicy, now: datetime
) -> IdentityCheck:
    """This user's verification of this patient for the contact in progress, started on first sight."""
    user_id = _user_id(actor)
    check = repository.current_check(uow.session, user_id=user_id, patient_id=patient.id, now=now)
    if check is None:
        check = IdentityCheck(patient_id=patient.id, user_id=user_id, started_at=now,
                              expires_at=now + timedelta(minutes=policy.verification_minutes))
        repository.add(uow.session, check)
    return check


def verify_identity(
    uow: UnitOfWork, actor: Actor, policy: PatientPolicy, patient_id: UUID, offered: dict[str, str]
) -> VerificationResult:
    """Compare what the caller said with the record. Every configured identifier must match.

    The caller ID never counts (it can be spoofed). The audit names which identifiers matched, never
    their values. The third failure locks the record for this contact and alerts the supervisors.
    """
    now = utcnow()
    patient = load(uow, patient_id)
    if not may_open_restricted(uow, actor, patient, now):
        raise RestrictedRecord()
    check = _current_check(uow, actor, patient, policy, now)
    if check.locked_at is not None:
        raise VerificationLocked()
    if check.verified_at is not None:  # a second submit (a double click) must not count as a failure
        return VerificationResult(verified=True, matched=list(policy.identifiers), attempts_left=0, locked=False)
    matched = (rules.identifiers_matched(
        offered, full_name_keys=_name_keys(patient), birth_date=patient.birth_date,
        postal_code=patient.postal_code, mrn=patient.mrn) | set(check.preverified)) & set(policy.identifiers)
    details = {"required": list(policy.identifiers), "matched": sorted(matched)}
    if matched == set(policy.identifiers):
        check.verified_at = now
        patient.last_contact_at = now
        audit.record(uow, actor, "patient.identity_verified", subject_type="patient", subject_id=patient.id,
                     patient_id=patient.id, details=details)
        return VerificationResult(verified=True, matched=sorted(matched), attempts_left=0, locked=False)
    check.failed_attempts += 1
    audit.record(uow, actor, "patient.identity_failed", outcome="failure", subject_type="patient",
                 subject_id=patient.id, patient_id=patient.id, details=details)
    if check.failed_attempts >= MAX_VERIFICATION_ATTEMPTS:
        check.locked_at = now
        _alert(uow, kind="verification_locked", patient=patient, actor=actor, reason=None)
    return VerificationResult(verified=False, matched=sorted(matched),
                              attempts_left=max(0, MAX_VERIFICATION_ATTEMPTS - check.failed_attempts),
                              locked=check.locked_at is not None)


def preverify(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, patient_id: UUID, identifiers: list[str]) -> None:
    """The caller proved ``identifiers`` to a machine before reaching this agent (a birth date keyed into the
    IVR): this agent's check for the contact counts them, and asks only for the rest. Never all of them: a
    person still verifies at least one identifier."""
    now = utcnow()
    patient = load(uow, patient_id)
    check = _current_check(uow, actor, patient, policy, now)
    proved = [name for name in policy.identifiers if name in identifiers][: len(policy.identifiers) - 1]
    if not proved or set(proved) <= set(check.preverified):
        return
    check.preverified = sorted(set(check.preverified) | set(proved))
    audit.record(uow, actor, "patient.identity_preverified", subject_type="patient", subject_id=patient.id,
                 patient_id=patient.id, details={"identifiers": proved})


def forget_preverified(uow: UnitOfWork, user_id: UUID, patient_id: UUID) -> None:
    """The call whose keypad proved an identifier is over: another contact about this patient starts afresh."""
    check = repository.current_check(uow.session, user_id=user_id, patient_id=patient_id, now=utcnow())
    if check is not None and check.preverified and check.verified_at is None:
        check.preverified = []


def _name_keys(patient: Patient) -> set[str]:
    given_first = patient.given_names.split(" ")[0]
    names = {f"{given_first} {patient.family_name}", f"{patient.given_names} {patient.family_name}"}
    if patient.preferred_name:
        names.add(f"{patient.preferred_name} {patient.family_name}")
    return {rules.name_key(name) for name in names}


def end_contacts(uow: UnitOfWork, user_id: UUID) -> None:
    """The user signs out: every caller they verified must be verified again by whoever signs in next."""
    repository.end_checks_of(uow.session, user_id=user_id, now=utcnow())


def break_glass(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, patient_id: UUID, reason: str) -> None:
    """Open a restricted record for a limited time, with a reason; audited as such, supervisors alerted."""
    reason = " ".join(reason.split())
    if len(reason) < 10:
        raise InvalidPatientInput("reason", "Give the reason for opening this record (at least 10 characters).")
    patient, now = load(uow, patient_id), utcnow()
    grant = BreakGlassGrant(patient_id=patient.id, user_id=_user_id(actor), reason=reason[:500], granted_at=now,
                            expires_at=now + timedelta(minutes=policy.break_glass_minutes))
    repository.add(uow.session, grant)
    audit.record(uow, actor, "patient.break_glass", subject_type="patient", subject_id=patient.id,
                 patient_id=patient.id, details={"grant": str(grant.id), "minutes": policy.break_glass_minutes})
    _alert(uow, kind="break_glass", patient=patient, actor=actor, reason=grant.reason)


def _alert(uow: UnitOfWork, *, kind: str, patient: Patient, actor: Actor, reason: str | None) -> None:
    repository.add(uow.session, SupervisorAlert(kind=kind, patient_id=patient.id, username=actor.username,
                                                reason=reason))


def list_alerts(uow: UnitOfWork, *, limit: int = 20) -> list[AlertRead]:
    return [AlertRead.model_validate(alert) for alert in repository.open_alerts(uow.session, limit=limit)]


def acknowledge_alert(uow: UnitOfWork, actor: Actor, alert_id: UUID) -> None:
    alert = repository.get_alert(uow.session, alert_id)
    if alert is None or alert.acknowledged_at is not None:
        return
    alert.acknowledged_at, alert.acknowledged_by = utcnow(), actor.username
    audit.record(uow, actor, "alert.acknowledged", subject_type="alert", subject_id=alert.id,
                 patient_id=alert.patient_id)


def _user_id(actor: Actor) -> UUID:
    if actor.user_id is None or actor.role not in (Role.agent, Role.supervisor):
        raise InvalidPatientInput("actor", "Only a signed-in agent or supervisor can do this.")
    return actor.user_id
