"""Careline's shapes written as FHIR R4 resources (Patient, Bundle, CapabilityStatement, OperationOutcome)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from careline import __version__
from careline.patients.schemas import PatientRead

FHIR_JSON = "application/fhir+json"
MRN_SYSTEM = "urn:careline:mrn"
SEARCH_PARAMS = {
    "name": "string",
    "phone": "token",
    "birthdate": "date",
    "identifier": "token",
}

# Scheduling (careline.fhir.scheduling_api): a Slot search names its schedule, an Appointment search its patient.
SCHEDULING_SEARCH_PARAMS = {
    "Schedule": {"actor": "reference", "_count": "number"},
    "Slot": {"schedule": "reference", "start": "date", "status": "token", "_count": "number"},
    "Appointment": {"patient": "reference", "date": "date", "status": "token", "_count": "number"},
}


def patient_resource(patient: PatientRead) -> dict[str, Any]:
    names: list[dict[str, Any]] = [{"use": "official", "family": patient.family_name,
                                    "given": patient.given_names.split()}]
    if patient.preferred_name:
        names.append({"use": "usual", "family": patient.family_name, "given": [patient.preferred_name]})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.id),
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                              "code": "MR"}]}, "system": MRN_SYSTEM, "value": patient.mrn}],
        "active": patient.status == "active",
        "name": names,
        "telecom": [{"system": "phone", "value": phone.e164, "use": phone.use} for phone in patient.phones]
        + ([{"system": "email", "value": patient.email}] if patient.email else []),
        "gender": patient.sex,
        "birthDate": patient.birth_date.isoformat(),
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.language}]},
                           "preferred": True}],
    }
    if patient.status == "deceased":
        resource["deceasedDateTime" if patient.deceased_at else "deceasedBoolean"] = (
            patient.deceased_at.isoformat() if patient.deceased_at else True)
    address: dict[str, Any] = {key: value for key, value in (("city", patient.city), ("state", patient.state),
                                              ("postalCode", patient.postal_code), ("country", patient.country))
               if value}
    if patient.address_line:
        address["line"] = [patient.address_line]
    if address:
        resource["address"] = [address]
    if patient.merged_into_id:
        resource["link"] = [{"other": {"reference": f"Patient/{patient.merged_into_id}"}, "type": "replaced-by"}]
    return resource


def searchset(base: str, found: list[dict[str, Any]], *, self_url: str, next_url: str | None) -> dict[str, Any]:
    """A searchset Bundle of any resource type (each entry's full URL from its own type)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "link": links,
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in found],
    }


def capability_statement() -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-26",
        "kind": "instance",
        "software": {"name": "Careline", "version": __version__},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "Bearer token issued by `careline users token`."},
            "resource": [{
                "type": "Patient",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": name, "type": kind} for name, kind in SEARCH_PARAMS.items()]
                + [{"name": "_count", "type": "number"}],
            }] + [_scheduling_capability(kind, params) for kind, params in SCHEDULING_SEARCH_PARAMS.items()],
        }],
    }


def _scheduling_capability(kind: str, params: dict[str, str]) -> dict[str, Any]:
    interactions = ["read", "search-type", *(["create"] if kind == "Appointment" else [])]
    return {"type": kind, "interaction": [{"code": code} for code in interactions],
            "searchParam": [{"name": name, "type": value} for name, value in params.items()]}


def operation_outcome(severity: str, code: str, diagnostics: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}
