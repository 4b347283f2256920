"""Pure mappings from FHIR R4 resources (``fhir.resources.R4B`` models) to the patient CRM's *Upsert shapes.

Contract of every ``map_*`` function: it takes a resource that already passed ``fhir.resources`` validation
and returns the shape the patients service writes, keyed on the resource's own ``id``. What the CRM cannot
store (a missing id, a birth date of only a year, a condition without a code) raises ``MappingError``, whose
message names fields, never values, so it is safe to show and log. Codes and code systems are kept exactly
as given; free text longer than its column is shortened; identifiers and codes that do not fit are refused
rather than cut, because a cut code is a different code. Nothing here does I/O.

References to other resources go through a ``Resolve`` callable (see ``importer.ReferenceIndex``): it turns
a ``Reference`` into the source id of the resource it points at, or None when it cannot tell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.address import Address
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import BaseModel

from careline.patients.schemas import (
    ConditionUpsert,
    EncounterUpsert,
    IdentifierIn,
    ImmunizationUpsert,
    LocationUpsert,
    ObservationUpsert,
    OrganizationUpsert,
    PatientUpsert,
    PhoneIn,
    PractitionerUpsert,
    ProcedureUpsert,
    Sex,
)

SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
MEDICAL_RECORD = "MR"
SOCIAL_SECURITY = "SS"

# The order resources must be written in so that references resolve: targets first, then encounters,
# then the facts that hang off a patient (and may name an encounter).
IMPORT_ORDER = ("Organization", "Location", "Practitioner", "Patient", "Encounter",
                "Condition", "Observation", "Procedure", "Immunization")
RANK = {name: rank for rank, name in enumerate(IMPORT_ORDER)}
# Resource types other resources point at by business identifier (conditional references).
REFERENCE_TARGETS = frozenset({"Organization", "Location", "Practitioner", "Patient"})

# Sizes of the patient tables' columns (careline/patients/models.py): checked here so that both engines
# behave alike (SQLite would store an over-long value that PostgreSQL refuses).
CODE, CODE_SYSTEM, DISPLAY, SHORT_TEXT, NAME = 40, 100, 300, 200, 200
SOURCE_ID, MRN, IDENTIFIER_VALUE, IDENTIFIER_SYSTEM, IDENTIFIER_KIND = 64, 40, 100, 200, 20

# (reference, the resource type expected there) -> source id, or None when it cannot be resolved.
Resolve = Callable[[Reference | None, str], str | None]


class MappingError(ValueError):
    """The resource is valid FHIR but the CRM cannot store it. The message names fields, never values."""


# ---- references ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """What a reference string says: a literal ``Type/id`` or ``urn:uuid:…``, or a conditional
    ``Type?identifier=system|value``. ``resource_type`` is None for ``urn:`` references."""

    resource_type: str | None
    resource_id: str | None = None
    identifier: tuple[str, str] | None = None  # (system, value); system "" when the reference gave none
    full_url: str | None = None


_LITERAL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_CONDITIONAL = re.compile(r"^(?:.*/)?([A-Z][A-Za-z]+)\?identifier=([^&]*)$")


def parse_reference(text: str) -> ParsedReference | None:
    """Parse ``urn:uuid:<id>``, ``Patient/<id>``, ``https://host/fhir/Patient/<id>`` or
    ``Practitioner?identifier=<system>|<value>``; None for anything else (e.g. ``#contained``)."""
    text = text.strip()
    if text.startswith(("urn:uuid:", "urn:oid:")):
        return ParsedReference(None, resource_id=text.rsplit(":", 1)[1], full_url=text)
    conditional = _CONDITIONAL.match(text)
    if conditional:
        token = conditional.group(2)
        system, _, value = token.rpartition("|")
        return ParsedReference(conditional.group(1), identifier=(system, value)) if value else None
    literal = _LITERAL.search(text)
    if literal:
        return ParsedReference(literal.group(1), resource_id=literal.group(2), full_url=text)
    return None


# ---- shared pieces ------------------------------------------------------------------------------------


def resource_id(resource: Resource) -> str:
    """The source id every row is keyed on; a resource without one cannot be re-imported idempotently."""
    if not resource.id:
        raise MappingError(f"{resource.get_resource_type()} has no id")
    return str(resource.id)


def _cap(text: str | None, limit: int) -> str | None:
    """Free text shortened to its column; blank becomes None."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _exact(text: str | None, limit: int, what: str) -> str | None:
    """A code or identifier kept exactly, or refused: shortening one would make it another."""
    if text is not None and len(text) > limit:
        raise MappingError(f"{what} is longer than {limit} characters")
    return text


def to_utc(value: object) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware UTC datetime.

    A plain or partial date ('2019', '2019-03', '2019-03-04') becomes the first moment of that period in UTC;
    a time without a zone (which FHIR forbids, but senders produce) is taken as UTC.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = _partial_date(value)
    else:
        raise MappingError("a date has an unexpected type")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _partial_date(text: str) -> datetime:
    parts = text.split("-")
    try:
        if len(parts) <= 2 and len(parts[0]) == 4:
            return datetime(int(parts[0]), int(parts[1]) if len(parts) == 2 else 1, 1)
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise MappingError("a date is not a valid FHIR date") from error


def _start(period: Period | None) -> datetime | None:
    return to_utc(period.start) if period else None


def _end(period: Period | None) -> datetime | None:
    return to_utc(period.end) if period else None


def first_coding(concept: CodeableConcept | None) -> Coding | None:
    """The first coding that carries a code."""
    return next((coding for coding in (concept.coding or []) if coding.code), None) if concept else None


def _concept_text(concept: CodeableConcept | None) -> str | None:
    """What a person reads for a concept: the first coding's display, else the concept's text."""
    if concept is None:
        return None
    coding = first_coding(concept)
    return (coding.display if coding and coding.display else None) or concept.text


@dataclass(frozen=True, slots=True)
class _Code:
    system: str | None
    code: str
    display: str | None


def _required_code(concept: CodeableConcept | None, what: str) -> _Code:
    coding = first_coding(concept)
    if coding is None or coding.code is None:
        raise MappingError(f"{what} has no coding with a code")
    return _Code(system=_exact(coding.system, CODE_SYSTEM, f"{what} system"),
                 code=_exact(coding.code, CODE, what) or "",
                 display=_cap(coding.display or (concept.text if concept else None), DISPLAY))


def _subject(resolve: Resolve, reference: Reference | None, owner: str) -> str:
    found = resolve(reference, "Patient")
    if not found:
        raise MappingError(f"{owner} does not refer to a Patient")
    return found


def _coded_fields(resource: Condition | Observation | Procedure | Immunization, concept: CodeableConcept | None,
                  subject: Reference | None, resolve: Resolve) -> dict[str, Any]:
    kind = resource.get_resource_type()
    code = _required_code(concept, f"{kind} code")
    return {"source_id": resource_id(resource), "patient_source_id": _subject(resolve, subject, kind),
            "code_system": code.system, "code": code.code, "display": code.display}


# ---- Organization, Location, Practitioner -------------------------------------------------------------


def format_address(address: Address | None) -> str | None:
    """One line: '41 Main St, Burlington, MA 01803'."""
    if address is None:
        return None
    region = " ".join(x for x in (address.state, address.postalCode) if x)
    parts = [*(address.line or []), address.city, region]  # may hold None: filtered below
    return _cap(", ".join(p for p in parts if p) or address.text, 300)


def _phone(telecom: Sequence[ContactPoint] | None) -> str | None:
    phone = next((t.value for t in telecom or [] if t.system == "phone" and t.value), None)
    return phone if phone and len(phone) <= 20 else None


def map_organization(resource: Organization) -> OrganizationUpsert:
    source_id = resource_id(resource)
    return OrganizationUpsert(source_id=source_id, name=_cap(resource.name, NAME) or f"Organization {source_id}",
                              phone=_phone(resource.telecom),
                              address=format_address(next(iter(resource.address or []), None)))


def map_location(resource: Location) -> LocationUpsert:
    source_id = resource_id(resource)
    address = resource.address
    return LocationUpsert(source_id=source_id, name=_cap(resource.name, NAME) or f"Location {source_id}",
                          address=format_address(address), state=address.state if address else None,
                          country=address.country if address else None)


def _person_name(name: HumanName) -> str | None:
    words = [*(name.prefix or []), *(name.given or []), name.family, *(name.suffix or [])]
    return " ".join(w for w in words if w) or name.text


def map_practitioner(resource: Practitioner) -> PractitionerUpsert:
    source_id = resource_id(resource)
    npi = identifier_value(resource.identifier, NPI_SYSTEM)
    legal = legal_name(resource.name or [])
    name = _cap(_person_name(legal), NAME) if legal else None
    return PractitionerUpsert(source_id=source_id, name=name or f"Practitioner {npi or source_id}",
                              npi=npi if npi and len(npi) <= 20 else None, gender=resource.gender)


# ---- Patient ------------------------------------------------------------------------------------------

# Which name is the legal one when none says "official": an unlabelled one, then usual, then temporary.
_LEGAL_NAME_PREFERENCE = {"official": 0, None: 1, "usual": 2, "temp": 3}
PHONE_USES = {"mobile": "mobile", "home": "home", "work": "work", "temp": "home", None: "home"}


def legal_name(names: Sequence[HumanName]) -> HumanName | None:
    """The official name; else the best-labelled one. Maiden, old, nickname and anonymous names never count."""
    ranked = sorted((n for n in names if n.use in _LEGAL_NAME_PREFERENCE),
                    key=lambda n: _LEGAL_NAME_PREFERENCE[n.use])
    return ranked[0] if ranked else None


def _preferred_name(names: Sequence[HumanName], legal_given: str) -> str | None:
    """The first given name of a ``usual`` name or a nickname, when it differs from the legal first name."""
    for name in names:
        if name.use in ("usual", "nickname"):
            preferred = next(iter(name.given or []), None) or name.text
            if preferred and preferred != legal_given:
                return _cap(preferred, 100)
    return None


def _name_parts(name: HumanName | None) -> tuple[str, str]:
    if name is None:
        raise MappingError("Patient has no usable name")
    given, family = " ".join(g for g in name.given or [] if g), name.family or ""
    words = (name.text or "").split()
    if not given and not family and words:
        given, family = " ".join(words[:-1]), words[-1]
    if not given and not family:
        raise MappingError("Patient has no usable name")
    if len(given) > 150 or len(family) > 100:
        raise MappingError("Patient name is too long")
    return given, family


def is_ssn(identifier: Identifier) -> bool:
    """A Social Security Number, by system or by type: these are never stored."""
    return identifier.system == SSN_SYSTEM or _identifier_kind(identifier) == SOCIAL_SECURITY


def _identifier_kind(identifier: Identifier) -> str | None:
    coding = first_coding(identifier.type)
    return coding.code if coding else None


def identifier_value(identifiers: Iterable[Identifier] | None, system: str) -> str | None:
    return next((i.value for i in identifiers or [] if i.system == system and i.value), None)


def patient_identifiers(identifiers: Sequence[Identifier]) -> list[IdentifierIn]:
    """Every identifier with a system and a value that fit, once each, except Social Security Numbers."""
    kept: dict[tuple[str, str], IdentifierIn] = {}
    for identifier in identifiers:
        system, value = identifier.system, identifier.value
        if is_ssn(identifier) or not system or not value:
            continue
        if len(system) > IDENTIFIER_SYSTEM or len(value) > IDENTIFIER_VALUE:
            continue
        kind = _identifier_kind(identifier)
        kept.setdefault((system, value), IdentifierIn(
            system=system, value=value, kind=kind if kind and len(kind) <= IDENTIFIER_KIND else None))
    return list(kept.values())


def medical_record_number(identifiers: Sequence[Identifier], source_id: str) -> str:
    """The MR-typed identifier; else the first identifier's value; else the resource id. Never an SSN."""
    usable = [i for i in identifiers if i.value and not is_ssn(i)]
    chosen = next((i for i in usable if _identifier_kind(i) == MEDICAL_RECORD), usable[0] if usable else None)
    mrn = chosen.value if chosen and chosen.value else source_id
    return _exact(mrn, MRN, "Patient MRN") or source_id


def _birth_date(value: object) -> date:
    if value is None:
        raise MappingError("Patient has no birthDate")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise MappingError("Patient birthDate is not a full date (year, month and day)")


def _sex(gender: str | None) -> Sex:
    return Sex(gender) if gender and gender in Sex.__members__ else Sex.unknown


def _language(resource: Patient) -> str:
    """The preferred (else first) communication language, as its first two letters: 'en-US' -> 'en'."""
    communications = resource.communication or []
    chosen = next((c for c in communications if c.preferred), next(iter(communications), None))
    coding = first_coding(chosen.language) if chosen else None
    code = (coding.code or "")[:2].lower() if coding else ""
    return code if len(code) == 2 and code.isalpha() else "en"


def patient_phones(telecom: Sequence[ContactPoint]) -> list[PhoneIn]:
    """Phones with a use the CRM knows (FHIR 'sms' numbers are mobiles); numbers marked 'old' are dropped."""
    phones = []
    for point in telecom:
        if point.system not in ("phone", "sms") or not point.value or point.use == "old":
            continue
        use = "mobile" if point.system == "sms" else PHONE_USES.get(point.use, "home")
        if len(point.value) <= 40:
            phones.append(PhoneIn(number=point.value, use=use))
    return phones


def _email(telecom: Sequence[ContactPoint]) -> str | None:
    return next((t.value for t in telecom if t.system == "email" and t.value and len(t.value) <= 254), None)


_COUNTRY_NAMES = {"USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US"}


def _country(text: str | None) -> str | None:
    if not text:
        return None
    upper = text.strip().upper()
    return upper if len(upper) == 2 and upper.isalpha() else _COUNTRY_NAMES.get(upper)


def _address_fields(addresses: Sequence[Address]) -> dict[str, str | None]:
    current = [a for a in addresses if a.use != "old"]
    address = next(iter(current or addresses), None)
    if address is None:
        return {}
    postal = address.postalCode
    return {"address_line": _cap(", ".join(x for x in address.line or [] if x), 200), "city": _cap(address.city, 100),
            "state": address.state if address.state and len(address.state) <= 40 else None,
            "postal_code": postal if postal and len(postal) <= 12 else None, "country": _country(address.country)}


def _general_practitioner(resource: Patient, resolve: Resolve) -> str | None:
    for reference in resource.generalPractitioner or []:
        found = resolve(reference, "Practitioner")
        if found:
            return found
    return None


def map_patient(resource: Patient, resolve: Resolve) -> PatientUpsert:
    """A patient as the CRM keeps it. Social Security Numbers are dropped here and go no further."""
    source_id = resource_id(resource)
    names = resource.name or []
    given, family = _name_parts(legal_name(names))
    identifiers = resource.identifier or []
    telecom = resource.telecom or []
    deceased_at = to_utc(resource.deceasedDateTime)
    return PatientUpsert(
        source_id=source_id, mrn=medical_record_number(identifiers, source_id), given_names=given,
        family_name=family, preferred_name=_preferred_name(names, given.split(" ")[0]),
        birth_date=_birth_date(resource.birthDate), sex=_sex(resource.gender),
        language=_language(resource), email=_email(telecom), phones=patient_phones(telecom),
        identifiers=patient_identifiers(identifiers), deceased=bool(resource.deceasedBoolean or deceased_at),
        deceased_at=deceased_at,
        pcp_source_id=_general_practitioner(resource, resolve), **_address_fields(resource.address or []),
    )


# ---- Encounter and clinical facts ---------------------------------------------------------------------


def map_encounter(resource: Encounter, resolve: Resolve) -> EncounterUpsert:
    starts_at = _start(resource.period)
    if starts_at is None:
        raise MappingError("Encounter has no period.start")
    type_concept = next(iter(resource.type or []), None)
    kind = first_coding(type_concept)
    practitioner = next((p.individual for p in resource.participant or [] if p.individual), None)
    location = next((entry.location for entry in resource.location or []), None)
    return EncounterUpsert(
        source_id=resource_id(resource), patient_source_id=_subject(resolve, resource.subject, "Encounter"),
        starts_at=starts_at, ends_at=_end(resource.period),
        class_code=_exact(resource.class_fhir.code if resource.class_fhir else None, 20, "Encounter class"),
        type_code=_exact(kind.code if kind else None, CODE, "Encounter type"),
        type_display=_cap(_concept_text(type_concept), SHORT_TEXT),
        reason_display=_cap(_concept_text(next(iter(resource.reasonCode or []), None)), SHORT_TEXT),
        practitioner_source_id=resolve(practitioner, "Practitioner"),
        organization_source_id=resolve(resource.serviceProvider, "Organization"),
        location_source_id=resolve(location, "Location"),
    )


def map_condition(resource: Condition, resolve: Resolve) -> ConditionUpsert:
    status = first_coding(resource.clinicalStatus)
    abatement = to_utc(resource.abatementDateTime) or _end(resource.abatementPeriod) or _start(
        resource.abatementPeriod)
    return ConditionUpsert(
        **_coded_fields(resource, resource.code, resource.subject, resolve),
        clinical_status=_exact(status.code if status else None, 20, "Condition clinicalStatus"),
        onset=to_utc(resource.onsetDateTime) or _start(resource.onsetPeriod), abatement=abatement,
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


def _component(component: ObservationComponent) -> dict[str, Any]:
    coding = first_coding(component.code)
    quantity = component.valueQuantity
    value: float | str | None = _number(quantity.value) if quantity else None
    if value is None:
        value = _concept_text(component.valueCodeableConcept) or component.valueString
    return {"code": coding.code if coding else None,
            "display": (coding.display if coding else None) or component.code.text,
            "value": value, "unit": (quantity.unit or quantity.code) if quantity else None}


def map_observation(resource: Observation, resolve: Resolve) -> ObservationUpsert:
    """valueQuantity becomes value and unit; a coded or string value becomes value_text; components keep
    their own code, display, value and unit."""
    quantity = resource.valueQuantity
    value = _number(quantity.value) if quantity else None
    if value is None and resource.valueInteger is not None:
        value = float(resource.valueInteger)
    category = first_coding(next(iter(resource.category or []), None))
    effective = (to_utc(resource.effectiveDateTime) or to_utc(resource.effectiveInstant)
                 or _start(resource.effectivePeriod))
    return ObservationUpsert(
        **_coded_fields(resource, resource.code, resource.subject, resolve),
        category=_exact(category.code if category else None, CODE, "Observation category"),
        effective_at=effective, value=value,
        value_text=_cap(_concept_text(resource.valueCodeableConcept) or resource.valueString, SHORT_TEXT),
        unit=_cap((quantity.unit or quantity.code) if quantity else None, CODE),
        components=[_component(c) for c in resource.component or []],
    )


def map_procedure(resource: Procedure, resolve: Resolve) -> ProcedureUpsert:
    performed = to_utc(resource.performedDateTime) or _start(resource.performedPeriod)
    return ProcedureUpsert(**_coded_fields(resource, resource.code, resource.subject, resolve),
                           performed_at=performed)


def map_immunization(resource: Immunization, resolve: Resolve) -> ImmunizationUpsert:
    return ImmunizationUpsert(**_coded_fields(resource, resource.vaccineCode, resource.patient, resolve),
                              occurred_at=to_utc(resource.occurrenceDateTime),
                              status=_exact(resource.status, 20, "Immunization status"))


# ---- dispatch -----------------------------------------------------------------------------------------


_MAPPERS: dict[type[Resource], Callable[[Any, Resolve], BaseModel]] = {
    Organization: lambda resource, _: map_organization(resource),
    Location: lambda resource, _: map_location(resource),
    Practitioner: lambda resource, _: map_practitioner(resource),
    Patient: map_patient,
    Encounter: map_encounter,
    Condition: map_condition,
    Observation: map_observation,
    Procedure: map_procedure,
    Immunization: map_immunization,
}


def map_resource(resource: Resource, resolve: Resolve) -> BaseModel:
    """The Upsert shape for any supported resource (see IMPORT_ORDER); raises MappingError otherwise."""
    mapper = _MAPPERS.get(type(resource))
    if mapper is None:
        raise MappingError(f"{resource.get_resource_type()} is not imported")
    return mapper(resource, resolve)


def resource_class(resource_type: str) -> type[Resource] | None:
    """The R4B model for a resource type name; None when the name is not a FHIR R4 resource."""
    try:
        model = get_fhir_model_class(resource_type)
    except ValueError:
        return None
    return model if isinstance(model, type) and issubclass(model, Resource) else None
