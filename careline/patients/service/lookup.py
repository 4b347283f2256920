"""Finding patients: by the caller's number (screen pop) and by name, birth date, MRN or phone."""

from __future__ import annotations

from uuid import UUID

from careline import audit
from careline.actor import Actor
from careline.db import UnitOfWork, utcnow
from careline.patients import repository, rules
from careline.patients.models import Patient
from careline.patients.policy import PatientPolicy
from careline.patients.schemas import PatientRead, PatientSummary, SearchCriteria, SearchPage
from careline.patients.service.common import may_open_restricted, read_many, summary


def lookup_by_phone(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, number: str) -> list[PatientSummary]:
    """Every patient on a number in any typed or provider-sent form, best match first.

    Mobile before home before work, then the most recent contact. Raises InvalidPhone for a non-number.
    """
    number_e164 = e164(policy, number)
    now = utcnow()
    matches = [summary(row, visible=may_open_restricted(uow, actor, row, now), phone_use=row.use)
               for row in repository.by_phone(uow.session, number_e164)]
    audit.record(uow, actor, "patient.lookup", details={"matches": len(matches)})
    return matches


def ids_on_number(uow: UnitOfWork, policy: PatientPolicy, number: str) -> list[UUID]:
    """The patients on a number, best match first, as ids only: for machines (the IVR deciding whether to
    offer self-identification, routing attaching a caller's record to their contact). It shows no one any
    part of a record, so it is not an audited read; the person who then opens the record is audited."""
    return [row.id for row in repository.by_phone(uow.session, e164(policy, number))]


def e164(policy: PatientPolicy, number: str) -> str:
    """A number as stored and matched (E.164). Raises InvalidPhone for a non-number."""
    return rules.normalise_phone(number, default_region=policy.default_region)


def search_patients(uow: UnitOfWork, actor: Actor, policy: PatientPolicy, criteria: SearchCriteria) -> SearchPage:
    """Search by any mix of name (accent- and case-free prefix, small typos), birth date, MRN and phone.

    Exact prefix matches come first and page in the database; on a first page with room to spare, names
    that only sound alike (a typo) follow. The audit entry names the fields used, never their values.
    """
    phone = rules.normalise_phone(criteria.phone, default_region=policy.default_region) if criteria.phone else None
    tokens = rules.name_key(criteria.name or "").split()
    offset, size = (criteria.page - 1) * criteria.per_page, criteria.per_page
    filters = repository.Filters(birth_date=criteria.birth_date, mrn=criteria.mrn, phone=phone, identifier=(
        (criteria.identifier_system, criteria.identifier) if criteria.identifier else None))
    names = repository.name_prefix(tokens) if tokens else []
    found = repository.search(uow.session, filters, names=names, offset=offset, limit=size + 1)
    if tokens and criteria.page == 1 and len(found) < size:
        found += _sound_alikes(uow, filters, tokens, exclude={p.id for p in found}, limit=size - len(found))
    audit.record(uow, actor, "patient.searched",
                 details={"fields": sorted(k for k, v in criteria.model_dump(exclude={"page", "per_page"}).items()
                                           if v)})
    now = utcnow()
    return SearchPage(results=[summary(p, visible=may_open_restricted(uow, actor, p, now)) for p in found[:size]],
                      page=criteria.page, per_page=size, has_next=len(found) > size)


def _sound_alikes(uow: UnitOfWork, filters: repository.Filters, tokens: list[str], *,
                  exclude: set[UUID], limit: int) -> list[Patient]:
    """Typo tolerance: same-sounding family names, kept only when within a small edit distance."""
    family, given = tokens[-1], (tokens[0] if len(tokens) > 1 else None)
    sound = rules.name_sound(family)
    if not sound:
        return []
    candidates = repository.sound_alike(uow.session, filters, family_sound=sound, family_start=family[:2],
                                        given_initial=given[:1] if given else None, limit=500)
    close = [p for p in candidates if p.id not in exclude and rules.close_enough(family, p.family_key)
             and (given is None or rules.close_enough(given, p.given_key))]
    return close[:limit]


def search_patient_records(
    uow: UnitOfWork, actor: Actor, policy: PatientPolicy, criteria: SearchCriteria
) -> tuple[list[PatientRead], bool]:
    """Whole records for the hits of a search (the FHIR API); each one returned is an audited read.

    Restricted records the actor may not open are left out. Returns the records and whether more exist.
    """
    hits = search_patients(uow, actor, policy, criteria)
    visible = [hit.id for hit in hits.results if not (hit.restricted and hit.mrn is None)]
    patients = [uow.session.get_one(Patient, patient_id) for patient_id in visible]  # already in the session
    for patient in patients:
        audit.record(uow, actor, "patient.viewed", subject_type="patient", subject_id=patient.id,
                     patient_id=patient.id)
    return read_many(uow, patients), hits.has_next


def sample_phone_numbers(uow: UnitOfWork, actor: Actor, *, limit: int) -> list[str]:
    """Up to ``limit`` patients' numbers (E.164) for synthetic callers (``careline simulate``), so that their
    calls pop real records. Audited by count; the numbers are PHI, so callers must not print or log them."""
    numbers = repository.some_phone_numbers(uow.session, limit=limit)
    audit.record(uow, actor, "patient.phones_sampled", details={"count": len(numbers)})
    return numbers
