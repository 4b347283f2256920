"""Every query on the patient CRM's tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Row, and_, bindparam, case, delete, func, or_, select, union, update
from sqlalchemy.orm import Session

from careline.patients.models import (
    BreakGlassGrant,
    Condition,
    Encounter,
    IdentityCheck,
    Immunization,
    Observation,
    Organization,
    Patient,
    PatientIdentifier,
    PatientNote,
    PatientPhone,
    Practitioner,
    Procedure,
    SupervisorAlert,
)

Sourced = TypeVar("Sourced", Patient, Organization, Practitioner, Encounter, Condition, Observation, Procedure,
                  Immunization)
# Everything hanging off a patient, moved over as a whole when two records are merged.
CHILD_TABLES = (PatientIdentifier, PatientNote, Encounter, Condition, Observation, Procedure, Immunization,
                IdentityCheck, BreakGlassGrant, SupervisorAlert)
CLINICAL_COUNTS: dict[str, type[Any]] = {"encounters": Encounter, "conditions": Condition, "observations": Observation,
                   "procedures": Procedure, "immunizations": Immunization}


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def get(session: Session, patient_id: UUID) -> Patient | None:
    return session.get(Patient, patient_id)


def by_source(session: Session, model: type[Sourced], source_id: str) -> Sourced | None:
    return session.scalars(select(model).where(model.source_id == source_id)).first()


_IN_LIST = 500  # values per IN (...) list


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _IN_LIST):
        yield ordered[start:start + _IN_LIST]


def rows_by_source(session: Session, model: type[Any], source_ids: Iterable[str]) -> list[Any]:
    return [row for chunk in _chunks(source_ids)
            for row in session.scalars(select(model).where(model.source_id.in_(chunk)))]


def ids_by_source(session: Session, model: type[Any], source_ids: Iterable[str]) -> dict[str, UUID]:
    """Row ids by source id. A merged patient answers with the patient it was merged into."""
    found: dict[str, UUID] = {}
    for chunk in _chunks(source_ids):
        columns = [model.source_id, model.id] + ([model.merged_into_id] if model is Patient else [])
        for row in session.execute(select(*columns).where(model.source_id.in_(chunk))):
            found[row[0]] = row[2] if model is Patient and row[2] else row[1]
    return found


def practitioner_source_ids_by_npi(session: Session, npis: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(npis):
        rows = session.execute(select(Practitioner.npi, Practitioner.source_id)
                               .where(Practitioner.npi.in_(chunk), Practitioner.source_id.is_not(None))
                               .order_by(Practitioner.source_id.desc()))
        found |= {npi: source_id for npi, source_id in rows if npi and source_id}
    return found


def by_mrn(session: Session, mrn: str) -> Patient | None:
    return session.scalars(select(Patient).where(Patient.mrn == mrn)).first()


def same_name_and_birth_date(
    session: Session, *, family_key: str, given_key: str, birth_date: date, exclude: UUID | None = None
) -> list[UUID]:
    query = select(Patient.id).where(Patient.family_key == family_key, Patient.given_key == given_key,
                                     Patient.birth_date == birth_date, Patient.status != "merged")
    if exclude:
        query = query.where(Patient.id != exclude)
    return list(session.scalars(query))


def phones_of(session: Session, patient_ids: Sequence[UUID]) -> dict[UUID, list[PatientPhone]]:
    found: dict[UUID, list[PatientPhone]] = {pid: [] for pid in patient_ids}
    rows = session.scalars(select(PatientPhone).where(PatientPhone.patient_id.in_(patient_ids))
                           .order_by(PatientPhone.use))
    for phone in rows:
        found[phone.patient_id].append(phone)
    return found


def some_phone_numbers(session: Session, *, limit: int) -> list[str]:
    """Up to ``limit`` numbers of unmerged patients, in the order of the phones' random ids: a fair sample that
    is the same for the same data."""
    return list(session.scalars(select(PatientPhone.e164).join(Patient, Patient.id == PatientPhone.patient_id)
                                .where(Patient.status != "merged").order_by(PatientPhone.id).limit(limit)))


def replace_phones(session: Session, patient_id: UUID, phones: Iterable[tuple[str, str]]) -> None:
    session.execute(delete(PatientPhone).where(PatientPhone.patient_id == patient_id))
    for e164, use in dict(phones).items():
        session.add(PatientPhone(patient_id=patient_id, e164=e164, use=use))
    session.flush()


def identifiers_of(session: Session, patient_id: UUID) -> list[tuple[str, str, str | None]]:
    rows = session.execute(select(PatientIdentifier.system, PatientIdentifier.value, PatientIdentifier.kind)
                           .where(PatientIdentifier.patient_id == patient_id))
    return [(system, value, kind) for system, value, kind in rows]


def replace_identifiers(session: Session, patient_id: UUID, identifiers: Iterable[tuple[str, str, str | None]]) -> None:
    session.execute(delete(PatientIdentifier).where(PatientIdentifier.patient_id == patient_id))
    for system, value, kind in identifiers:
        session.add(PatientIdentifier(patient_id=patient_id, system=system, value=value, kind=kind))
    session.flush()


_USE_RANK = case({"mobile": 0, "home": 1}, value=PatientPhone.use, else_=2)


# What a search hit or a screen pop shows: columns, not whole ORM objects, because these run on every call.
SUMMARY_COLUMNS = (Patient.id, Patient.given_names, Patient.preferred_name, Patient.family_name, Patient.birth_date,
                   Patient.mrn, Patient.status, Patient.restricted)


# Built once: the screen pop runs it on every call, and building a statement costs more than running it.
_BY_PHONE = (
    select(*SUMMARY_COLUMNS, PatientPhone.use)
    .join(PatientPhone, PatientPhone.patient_id == Patient.id)
    .where(PatientPhone.e164 == bindparam("e164"), Patient.status != "merged")
    .order_by(_USE_RANK, Patient.last_contact_at.is_(None), Patient.last_contact_at.desc(), Patient.family_key)
)


def by_phone(session: Session, e164: str) -> list[Row[Any]]:
    """Patients on a number (summary columns and the phone's use): mobile before home before work, then the
    most recently in contact."""
    return list(session.execute(_BY_PHONE, {"e164": e164}))


def _prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    """A prefix match written as a range, which both engines answer from a B-tree index."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


def name_prefix(tokens: list[str]) -> list[ColumnElement[bool]]:
    """Typed name tokens as prefixes, as alternatives: 'ana' (either name), 'ana rivera' or 'rivera ana' (both).

    Alternatives rather than one OR, so that each can be read in index order and cut off early (see search).
    """
    if len(tokens) == 1:
        return [_prefix(Patient.family_key, tokens[0]), _prefix(Patient.given_key, tokens[0])]
    first, last = tokens[0], tokens[-1]
    return [and_(_prefix(Patient.given_key, first), _prefix(Patient.family_key, last)),
            and_(_prefix(Patient.given_key, last), _prefix(Patient.family_key, first))]


@dataclass(frozen=True)
class Filters:
    """Search criteria other than the name, already normalised."""

    birth_date: date | None = None
    mrn: str | None = None
    phone: str | None = None
    identifier: tuple[str | None, str] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [Patient.status != "merged"]
        if self.birth_date:
            found.append(Patient.birth_date == self.birth_date)
        if self.mrn:
            found.append(Patient.mrn == self.mrn)
        if self.phone:
            found.append(Patient.id.in_(select(PatientPhone.patient_id).where(PatientPhone.e164 == self.phone)))
        if self.identifier:
            found.append(_has_identifier(*self.identifier))
        return found


_ORDER = (Patient.family_key, Patient.given_key, Patient.birth_date, Patient.id)


def search(
    session: Session, filters: Filters, *, names: Sequence[ColumnElement[bool]] = (), offset: int, limit: int,
) -> list[Patient]:
    """Patients matching the filters and any of the name alternatives, by family name, given name, birth date.

    Each alternative is cut off at ``offset + limit`` rows in index order before they are combined, so a short
    prefix among a million patients sorts dozens of rows, not thousands.
    """
    conditions = filters.conditions()
    if len(names) <= 1:
        query = select(Patient).where(*conditions, *names).order_by(*_ORDER)
        return list(session.scalars(query.offset(offset).limit(limit)))
    parts = [select(*_ORDER).where(*conditions, name).order_by(*_ORDER).limit(offset + limit).subquery()
             for name in names]
    combined = union(*(select(part) for part in parts)).subquery()
    ids = list(session.scalars(select(combined.c.id).order_by(*(combined.c[c.key] for c in _ORDER))
                               .offset(offset).limit(limit)))
    found = {patient.id: patient for patient in session.scalars(select(Patient).where(Patient.id.in_(ids)))}
    return [found[patient_id] for patient_id in ids]


def sound_alike(session: Session, filters: Filters, *, family_sound: str, family_start: str,
                given_initial: str | None, limit: int) -> list[Patient]:
    """Candidates for typo tolerance: family names with the same phonetic code and the same first letters
    (typos rarely hit those), and the given name's initial when typed; read in index order."""
    query = select(Patient).where(*filters.conditions(), Patient.family_sound == family_sound,
                                  _prefix(Patient.family_key, family_start))
    if given_initial:
        query = query.where(_prefix(Patient.given_key, given_initial))
    return list(session.scalars(query.order_by(Patient.family_sound, Patient.family_key).limit(limit)))


def _has_identifier(system: str | None, value: str) -> ColumnElement[bool]:
    held = select(PatientIdentifier.patient_id).where(PatientIdentifier.value == value)
    if system:
        return Patient.id.in_(held.where(PatientIdentifier.system == system))
    return or_(Patient.mrn == value, Patient.id.in_(held))


def counts_of(session: Session, patient_id: UUID) -> dict[str, int]:
    """How many records of each clinical kind, in one round trip (the masked screen pop shows them)."""
    counts = [select(func.count()).select_from(model).where(model.patient_id == patient_id).scalar_subquery()
              for model in CLINICAL_COUNTS.values()]
    row = session.execute(select(*counts)).one()
    return {name: int(count or 0) for name, count in zip(CLINICAL_COUNTS, row, strict=True)}


def encounters_of(session: Session, patient_id: UUID, *, limit: int) -> list[tuple[Encounter, str | None]]:
    rows = session.execute(
        select(Encounter, Practitioner.name).outerjoin(Practitioner, Practitioner.id == Encounter.practitioner_id)
        .where(Encounter.patient_id == patient_id).order_by(Encounter.starts_at.desc()).limit(limit))
    return [(encounter, practitioner) for encounter, practitioner in rows]


def recent(session: Session, model: type[Any], column: Any, patient_id: UUID, *, limit: int) -> list[Any]:
    return list(session.scalars(select(model).where(model.patient_id == patient_id)
                                .order_by(column.is_(None), column.desc()).limit(limit)))


def active_conditions(session: Session, patient_id: UUID) -> list[Condition]:
    return list(session.scalars(
        select(Condition).where(Condition.patient_id == patient_id, Condition.abatement.is_(None),
                                or_(Condition.clinical_status.is_(None), Condition.clinical_status == "active"))
        .order_by(Condition.onset.desc())))


def latest_observations(session: Session, patient_id: UUID, codes: Sequence[str]) -> list[Observation]:
    latest = []
    for code in codes:
        row = session.scalars(select(Observation).where(Observation.patient_id == patient_id,
                                                        Observation.code == code)
                              .order_by(Observation.effective_at.desc()).limit(1)).first()
        if row:
            latest.append(row)
    return latest


def practitioner_names(session: Session, practitioner_ids: set[UUID]) -> dict[UUID, str]:
    if not practitioner_ids:
        return {}
    query = select(Practitioner.id, Practitioner.name).where(Practitioner.id.in_(practitioner_ids))
    return {row.id: row.name for row in session.execute(query)}


def current_check(session: Session, *, user_id: UUID, patient_id: UUID, now: datetime) -> IdentityCheck | None:
    return session.scalars(
        select(IdentityCheck).where(IdentityCheck.user_id == user_id, IdentityCheck.patient_id == patient_id,
                                    IdentityCheck.expires_at > now)
        .order_by(IdentityCheck.started_at.desc()).limit(1)).first()


def end_checks_of(session: Session, *, user_id: UUID, now: datetime) -> None:
    session.execute(update(IdentityCheck).where(IdentityCheck.user_id == user_id, IdentityCheck.expires_at > now)
                    .values(expires_at=now).execution_options(synchronize_session=False))


def active_grant(session: Session, *, user_id: UUID, patient_id: UUID, now: datetime) -> BreakGlassGrant | None:
    return session.scalars(
        select(BreakGlassGrant).where(BreakGlassGrant.user_id == user_id, BreakGlassGrant.patient_id == patient_id,
                                      BreakGlassGrant.expires_at > now).limit(1)).first()


def open_alerts(session: Session, *, limit: int) -> list[SupervisorAlert]:
    return list(session.scalars(select(SupervisorAlert).where(SupervisorAlert.acknowledged_at.is_(None))
                                .order_by(SupervisorAlert.created_at.desc()).limit(limit)))


def get_alert(session: Session, alert_id: UUID) -> SupervisorAlert | None:
    return session.get(SupervisorAlert, alert_id)


def move_children(session: Session, *, from_id: UUID, to_id: UUID) -> None:
    """Re-home every row of the duplicate on the survivor; phones the survivor already has are dropped."""
    kept = select(PatientPhone.e164).where(PatientPhone.patient_id == to_id)
    session.execute(delete(PatientPhone).where(PatientPhone.patient_id == from_id, PatientPhone.e164.in_(kept)))
    session.execute(update(PatientPhone).where(PatientPhone.patient_id == from_id).values(patient_id=to_id))
    for model in CHILD_TABLES:
        session.execute(update(model).where(model.patient_id == from_id).values(patient_id=to_id))
    session.flush()
