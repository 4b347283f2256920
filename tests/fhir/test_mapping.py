"""Pure mappings from FHIR R4 (fhir.resources R4B models) to the patient CRM's Upsert shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference

from careline.fhir.mapping import (
    MappingError,
    ParsedReference,
    map_condition,
    map_encounter,
    map_immunization,
    map_location,
    map_observation,
    map_organization,
    map_patient,
    map_practitioner,
    map_procedure,
    parse_reference,
    resource_class,
    to_utc,
)
from careline.patients.schemas import Sex

SSN = "http://hl7.org/fhir/sid/us-ssn"
NPI = "http://hl7.org/fhir/sid/us-npi"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def literal(reference: Reference | None, expected: str) -> str | None:
    """A resolver for literal references only, as in a Bundle whose fullUrls are urn:uuid:<id>."""
    if reference is None or not reference.reference:
        return None
    parsed = parse_reference(reference.reference)
    if parsed is None or parsed.resource_type not in (None, expected):
        return None
    return parsed.resource_id


def typed(kind: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": V2, "code": code}], "text": kind}


def patient(**fields: Any) -> Patient:
    data: dict[str, Any] = {
        "resourceType": "Patient", "id": "p1", "birthDate": "1980-10-28", "gender": "female",
        "name": [{"use": "official", "family": "Wyman", "given": ["Alfreda", "Jo"], "prefix": ["Mrs."]},
                 {"use": "maiden", "family": "Deckow", "given": ["Alfreda"]}],
        "identifier": [
            {"system": "https://github.com/synthetichealth/synthea", "value": "syn-1"},
            {"type": typed("Medical Record Number", "MR"), "system": "http://hospital.example", "value": "MRN-7"},
            {"type": typed("Social Security Number", "SS"), "system": SSN, "value": "999-98-7415"},
            {"type": typed("Driver's License", "DL"), "system": "urn:oid:2.16.840.1.113883.4.3.25", "value": "S99"},
        ],
        "telecom": [{"system": "phone", "value": "555-397-1190", "use": "home"},
                    {"system": "phone", "value": "555-397-1191", "use": "mobile"},
                    {"system": "phone", "value": "555-397-1192", "use": "work"},
                    {"system": "phone", "value": "555-397-1193"},
                    {"system": "phone", "value": "555-397-1194", "use": "old"},
                    {"system": "email", "value": "a.wyman@example.com"}],
        "address": [{"line": ["924 Osinski Meadow", "Apt 2"], "city": "Wilmington", "state": "Massachusetts",
                     "postalCode": "01887", "country": "US"},
                    {"line": ["1 Other St"], "city": "Boston", "state": "MA"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es-MX"}]}}],
    }
    return Patient.model_validate(data | fields)


class TestReferences:
    @pytest.mark.parametrize(("text", "expected"), [
        ("urn:uuid:6d23a95e", ParsedReference(None, resource_id="6d23a95e", full_url="urn:uuid:6d23a95e")),
        ("Patient/abc-1", ParsedReference("Patient", resource_id="abc-1", full_url="Patient/abc-1")),
        ("https://ehr.example/fhir/Patient/abc/_history/2",
         ParsedReference("Patient", resource_id="abc", full_url="https://ehr.example/fhir/Patient/abc/_history/2")),
        (f"Practitioner?identifier={NPI}|999", ParsedReference("Practitioner", identifier=(NPI, "999"))),
        ("Location?identifier=https://github.com/synthetichealth/synthea|3b23",
         ParsedReference("Location", identifier=("https://github.com/synthetichealth/synthea", "3b23"))),
        ("Organization?identifier=42", ParsedReference("Organization", identifier=("", "42"))),
    ])
    def test_forms(self, text: str, expected: ParsedReference) -> None:
        assert parse_reference(text) == expected

    @pytest.mark.parametrize("text", ["#contained-1", "Practitioner?name=Smith", "not a reference", ""])
    def test_unreadable_forms_are_none(self, text: str) -> None:
        assert parse_reference(text) is None


class TestPatient:
    def test_names_birth_date_sex_language(self) -> None:
        mapped = map_patient(patient(), literal)
        assert (mapped.source_id, mapped.given_names, mapped.family_name) == ("p1", "Alfreda Jo", "Wyman")
        assert mapped.preferred_name is None
        assert mapped.birth_date == date(1980, 10, 28)
        assert mapped.sex is Sex.female
        assert mapped.language == "es"

    @pytest.mark.parametrize("use", ["usual", "nickname"])
    def test_preferred_name_from_usual_or_nickname(self, use: str) -> None:
        names = [{"use": "official", "family": "Wyman", "given": ["Alfreda"]},
                 {"use": use, "given": ["Freddie"]}]
        assert map_patient(patient(name=names), literal).preferred_name == "Freddie"

    def test_name_without_use_counts_as_legal_but_maiden_never(self) -> None:
        names = [{"use": "maiden", "family": "Deckow", "given": ["Alfreda"]}, {"family": "Wyman", "given": ["Al"]}]
        mapped = map_patient(patient(name=names), literal)
        assert (mapped.given_names, mapped.family_name) == ("Al", "Wyman")
        with pytest.raises(MappingError, match="no usable name"):
            map_patient(patient(name=[{"use": "maiden", "family": "Deckow"}]), literal)

    def test_a_name_given_only_as_text(self) -> None:
        mapped = map_patient(patient(name=[{"use": "official", "text": "Ana María Rivera"}]), literal)
        assert (mapped.given_names, mapped.family_name) == ("Ana María", "Rivera")

    def test_phones_by_use_old_numbers_dropped_and_email(self) -> None:
        mapped = map_patient(patient(), literal)
        assert [(p.number, p.use) for p in mapped.phones] == [
            ("555-397-1190", "home"), ("555-397-1191", "mobile"), ("555-397-1192", "work"), ("555-397-1193", "home")]
        assert mapped.email == "a.wyman@example.com"

    def test_first_address(self) -> None:
        mapped = map_patient(patient(), literal)
        assert (mapped.address_line, mapped.city, mapped.state, mapped.postal_code, mapped.country) == (
            "924 Osinski Meadow, Apt 2", "Wilmington", "Massachusetts", "01887", "US")

    def test_ssn_is_dropped_by_system_and_by_type(self) -> None:
        identifiers = [{"type": typed("SSN", "SS"), "system": "urn:other", "value": "111-22-3333"},
                       {"system": SSN, "value": "999-98-7415"},
                       {"type": typed("MR", "MR"), "system": "http://hospital.example", "value": "MRN-7"}]
        mapped = map_patient(patient(identifier=identifiers), literal)
        assert [(i.system, i.value, i.kind) for i in mapped.identifiers] == [("http://hospital.example", "MRN-7", "MR")]
        assert "111-22-3333" not in mapped.model_dump_json()
        assert "999-98-7415" not in mapped.model_dump_json()

    def test_identifiers_keep_system_value_and_type(self) -> None:
        mapped = map_patient(patient(), literal)
        assert [(i.system, i.value, i.kind) for i in mapped.identifiers] == [
            ("https://github.com/synthetichealth/synthea", "syn-1", None),
            ("http://hospital.example", "MRN-7", "MR"),
            ("urn:oid:2.16.840.1.113883.4.3.25", "S99", "DL")]

    def test_mrn_is_the_mr_identifier_else_the_first_else_the_id(self) -> None:
        assert map_patient(patient(), literal).mrn == "MRN-7"
        ssn_first = [{"system": SSN, "value": "999-98-7415"}, {"system": "urn:a", "value": "A-1"}]
        assert map_patient(patient(identifier=ssn_first), literal).mrn == "A-1"
        assert map_patient(patient(identifier=[{"system": SSN, "value": "999-98-7415"}]), literal).mrn == "p1"
        assert map_patient(patient(identifier=[]), literal).mrn == "p1"

    def test_deceased_date_time(self) -> None:
        mapped = map_patient(patient(deceasedDateTime="2020-01-02T03:04:05-05:00"), literal)
        assert mapped.deceased_at == datetime(2020, 1, 2, 8, 4, 5, tzinfo=UTC)
        assert mapped.deceased

    def test_deceased_without_a_date_is_still_deceased(self) -> None:
        mapped = map_patient(patient(deceasedBoolean=True), literal)
        assert (mapped.deceased, mapped.deceased_at) == (True, None)
        assert not map_patient(patient(deceasedBoolean=False), literal).deceased

    def test_general_practitioner(self) -> None:
        mapped = map_patient(patient(generalPractitioner=[{"reference": "Organization/o1"},
                                                          {"reference": "Practitioner/dr-1"}]), literal)
        assert mapped.pcp_source_id == "dr-1"

    @pytest.mark.parametrize(("fields", "message"), [
        ({"birthDate": "1980"}, "not a full date"),
        ({"birthDate": None}, "no birthDate"),
        ({"id": None}, "no id"),
    ])
    def test_what_cannot_be_stored_is_refused_without_values(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(MappingError, match=message) as raised:
            map_patient(patient(**fields), literal)
        assert "Wyman" not in str(raised.value)

    def test_language_defaults_to_english_and_sex_to_unknown(self) -> None:
        mapped = map_patient(patient(communication=None, gender=None), literal)
        assert (mapped.language, mapped.sex) == ("en", Sex.unknown)


class TestDirectory:
    def test_practitioner(self) -> None:
        mapped = map_practitioner(Practitioner.model_validate({
            "resourceType": "Practitioner", "id": "dr-1", "gender": "female",
            "identifier": [{"system": NPI, "value": "9999908392"}],
            "name": [{"family": "Kassulke", "given": ["June"], "prefix": ["Dr."]}]}))
        assert (mapped.source_id, mapped.name, mapped.npi, mapped.gender) == (
            "dr-1", "Dr. June Kassulke", "9999908392", "female")

    def test_organization(self) -> None:
        mapped = map_organization(Organization.model_validate({
            "resourceType": "Organization", "id": "o1", "name": "LAHEY HOSPITAL",
            "telecom": [{"system": "phone", "value": "7817445100"}],
            "address": [{"line": ["41 MALL ROAD"], "city": "BURLINGTON", "state": "MA", "postalCode": "01803"}]}))
        assert (mapped.name, mapped.phone, mapped.address) == (
            "LAHEY HOSPITAL", "7817445100", "41 MALL ROAD, BURLINGTON, MA 01803")

    def test_location(self) -> None:
        mapped = map_location(Location.model_validate({
            "resourceType": "Location", "id": "l1", "name": "CLINIC",
            "address": {"line": ["601 CROSS ST"], "city": "BURLINGTON", "state": "KS", "country": "US"}}))
        assert (mapped.name, mapped.state, mapped.country) == ("CLINIC", "KS", "US")


class TestEncounter:
    def test_all_fields(self) -> None:
        mapped = map_encounter(Encounter.model_validate({
            "resourceType": "Encounter", "id": "e1", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003",
                                  "display": "Encounter for check up (procedure)"}]}],
            "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "46177005",
                                        "display": "End-stage renal disease (disorder)"}]}],
            "subject": {"reference": "urn:uuid:p1"},
            "participant": [{"type": [{"text": "primary performer"}]},
                            {"individual": {"reference": "Practitioner/dr-1"}}],
            "period": {"start": "1999-02-16T20:43:11+00:00", "end": "1999-02-16T20:58:11+00:00"},
            "serviceProvider": {"reference": "Organization/o1"},
            "location": [{"location": {"reference": "Location/l1"}}]}), literal)
        assert mapped.model_dump() == {
            "source_id": "e1", "patient_source_id": "p1",
            "starts_at": datetime(1999, 2, 16, 20, 43, 11, tzinfo=UTC),
            "ends_at": datetime(1999, 2, 16, 20, 58, 11, tzinfo=UTC), "class_code": "AMB",
            "type_code": "185349003", "type_display": "Encounter for check up (procedure)",
            "reason_display": "End-stage renal disease (disorder)", "practitioner_source_id": "dr-1",
            "organization_source_id": "o1", "location_source_id": "l1"}

    def test_needs_a_start_and_a_patient(self) -> None:
        base = {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}}
        with pytest.raises(MappingError, match=r"period\.start"):
            map_encounter(Encounter.model_validate(base | {"subject": {"reference": "Patient/p1"}}), literal)
        with pytest.raises(MappingError, match="Patient"):
            map_encounter(Encounter.model_validate(base | {"period": {"start": "2020-01-01"},
                                                           "subject": {"reference": "Group/g1"}}), literal)


def observation(**fields: Any) -> Observation:
    data = {"resourceType": "Observation", "id": "o1", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4",
                                 "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2012-03-06T20:43:11+00:00"}
    return Observation.model_validate(data | fields)


class TestObservation:
    def test_quantity(self) -> None:
        mapped = map_observation(observation(valueQuantity={"value": 6.1, "unit": "%", "code": "%"}), literal)
        assert (mapped.code_system, mapped.code, mapped.category) == ("http://loinc.org", "4548-4", "laboratory")
        assert (mapped.value, mapped.unit, mapped.value_text) == (6.1, "%", None)
        assert mapped.effective_at == datetime(2012, 3, 6, 20, 43, 11, tzinfo=UTC)

    def test_coded_and_string_values(self) -> None:
        coded = observation(valueCodeableConcept={"coding": [{"code": "449868002", "display": "Smokes daily"}]})
        assert map_observation(coded, literal).value_text == "Smokes daily"
        assert map_observation(observation(valueString="positive"), literal).value_text == "positive"

    def test_components(self) -> None:
        blood_pressure = observation(code={"coding": [{"system": "http://loinc.org", "code": "55284-4"}]}, component=[
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic"}]},
             "valueQuantity": {"value": 82, "unit": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}]},
             "valueQuantity": {"value": 131.5, "code": "mm[Hg]"}}])
        mapped = map_observation(blood_pressure, literal)
        assert mapped.value is None
        assert mapped.components == [
            {"code": "8462-4", "display": "Diastolic", "value": 82.0, "unit": "mm[Hg]"},
            {"code": "8480-6", "display": "Systolic", "value": 131.5, "unit": "mm[Hg]"}]

    def test_a_code_too_long_to_keep_exactly_is_refused(self) -> None:
        with pytest.raises(MappingError, match="longer than 40"):
            map_observation(observation(code={"coding": [{"code": "x" * 41}]}), literal)


class TestClinical:
    def test_condition(self) -> None:
        mapped = map_condition(Condition.model_validate({
            "resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"code": "resolved"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]},
            "onsetDateTime": "1999-02-16", "abatementDateTime": "2001"}), literal)
        assert (mapped.code_system, mapped.code, mapped.display, mapped.clinical_status) == (
            "http://snomed.info/sct", "38341003", "Hypertension", "resolved")
        assert (mapped.onset, mapped.abatement) == (datetime(1999, 2, 16, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC))

    def test_condition_without_a_code_is_refused(self) -> None:
        with pytest.raises(MappingError, match="no coding"):
            map_condition(Condition.model_validate({"resourceType": "Condition", "id": "c1",
                                                    "subject": {"reference": "Patient/p1"},
                                                    "code": {"text": "something"}}), literal)

    @pytest.mark.parametrize(("performed", "expected"), [
        ({"performedDateTime": "2012-11-20T20:43:11+00:00"}, datetime(2012, 11, 20, 20, 43, 11, tzinfo=UTC)),
        ({"performedPeriod": {"start": "2012-11-20T20:43:11+02:00", "end": "2012-11-20T21:00:00+02:00"}},
         datetime(2012, 11, 20, 18, 43, 11, tzinfo=UTC)),
    ])
    def test_procedure(self, performed: dict[str, Any], expected: datetime) -> None:
        mapped = map_procedure(Procedure.model_validate({
            "resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "73761001",
                                 "display": "Colonoscopy"}]}} | performed), literal)
        assert (mapped.code, mapped.performed_at) == ("73761001", expected)

    def test_immunization(self) -> None:
        mapped = map_immunization(Immunization.model_validate({
            "resourceType": "Immunization", "id": "i1", "status": "completed", "patient": {"reference": "Patient/p1"},
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140",
                                        "display": "Influenza, seasonal"}]},
            "occurrenceDateTime": "2012-03-06T20:43:11+00:00"}), literal)
        assert (mapped.patient_source_id, mapped.code_system, mapped.code, mapped.status) == (
            "p1", "http://hl7.org/fhir/sid/cvx", "140", "completed")
        assert mapped.occurred_at == datetime(2012, 3, 6, 20, 43, 11, tzinfo=UTC)


class TestDatesAndTypes:
    @pytest.mark.parametrize(("value", "expected"), [
        ("2019", datetime(2019, 1, 1, tzinfo=UTC)),
        ("2019-03", datetime(2019, 3, 1, tzinfo=UTC)),
        (date(2019, 3, 4), datetime(2019, 3, 4, tzinfo=UTC)),
        (datetime(2019, 3, 4, 5, 6), datetime(2019, 3, 4, 5, 6, tzinfo=UTC)),
        (None, None),
    ])
    def test_to_utc(self, value: object, expected: datetime | None) -> None:
        assert to_utc(value) == expected

    def test_resource_types(self) -> None:
        assert resource_class("Claim") is not None
        assert resource_class("Patinet") is None
        assert resource_class("HumanName") is None  # a data type, not a resource
