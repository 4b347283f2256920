"""The JSON and FHIR APIs for patients, over HTTP with a bearer token."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.patient import Patient as FhirPatient
from sqlalchemy import select

from careline.actor import Role
from careline.audit.models import AuditEntry
from careline.db import UnitOfWork
from careline.patients.models import Practitioner
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient


@pytest.fixture
def headers(uow: UnitOfWork) -> dict[str, str]:
    token = make_api_token(uow, make_user(uow, role=Role.admin, username="ehr-sync"))
    uow.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ana(uow: UnitOfWork) -> str:
    patient = make_patient(uow, given="Ana", family="Rivera", phones=(("+16175550123", "mobile"),), mrn="MRN-77")
    make_patient(uow, given="Ana", family="Rivera", birth_date=date(1990, 1, 1), mrn="MRN-78")
    uow.commit()
    return str(patient.id)


class TestJsonApi:
    def test_search_by_phone_in_any_typed_form(self, client: TestClient, headers: dict[str, str], ana: str) -> None:
        body = client.get("/api/patients", params={"phone": "(617) 555-0123"}, headers=headers).json()
        assert [hit["id"] for hit in body["results"]] == [ana]

    def test_lookup_rejects_a_non_number_clearly(self, client: TestClient, headers: dict[str, str]) -> None:
        response = client.get("/api/patients/lookup", params={"phone": "12"}, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"] == "That phone number has the wrong number of digits."

    def test_create_read_update(self, client: TestClient, headers: dict[str, str], uow: UnitOfWork) -> None:
        created = client.post("/api/patients", headers=headers, json={
            "given_names": "Luis", "family_name": "Muñoz", "birth_date": "1975-04-05", "state": "MA",
            "phones": [{"number": "617 555 0188", "use": "home"}], "consents": {"sms_care": True}})
        assert created.status_code == 201, created.text
        patient_id = created.json()["id"]
        read = client.get(f"/api/patients/{patient_id}", headers=headers).json()
        assert read["phones"][0]["e164"] == "+16175550188"
        assert read["time_zone"] == "America/New_York"
        patched = client.patch(f"/api/patients/{patient_id}", headers=headers, json={"preferred_name": "Lucho"})
        assert patched.json()["preferred_name"] == "Lucho"
        reads = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "patient.viewed",
                                                             AuditEntry.patient_id == patient_id)).all()
        assert len(reads) == 1

    def test_duplicate_is_a_409_with_candidates(self, client: TestClient, headers: dict[str, str], ana: str) -> None:
        response = client.post("/api/patients", headers=headers, json={
            "given_names": "ana", "family_name": "RIVERA", "birth_date": "1961-02-03"})
        assert response.status_code == 409
        assert response.json()["candidates"] == [ana]

    def test_bad_body_is_a_422_without_echoing_it(self, client: TestClient, headers: dict[str, str]) -> None:
        response = client.post("/api/patients", headers=headers, json={
            "given_names": "Zed", "family_name": "Q", "birth_date": "1961-02-31", "email": "zed-at-example"})
        assert response.status_code == 422
        assert "zed-at-example" not in response.text

    def test_read_names_the_primary_care_provider(
        self, client: TestClient, headers: dict[str, str], uow: UnitOfWork
    ) -> None:
        doctor = Practitioner(name="Dr. Grace Okoye")
        uow.session.add(doctor)
        uow.flush()
        patient = make_patient(uow, mrn="P1")
        patient.pcp_id = doctor.id
        uow.commit()
        assert client.get(f"/api/patients/{patient.id}", headers=headers).json()["pcp_name"] == "Dr. Grace Okoye"

    def test_merge(self, client: TestClient, headers: dict[str, str], uow: UnitOfWork) -> None:
        keep, dup = make_patient(uow, mrn="K1"), make_patient(uow, mrn="K2")
        uow.commit()
        response = client.post(f"/api/patients/{keep.id}/merge", headers=headers, json={"duplicate_id": str(dup.id)})
        assert response.status_code == 200
        assert client.get(f"/api/patients/{dup.id}", headers=headers).json()["merged_into_id"] == str(keep.id)


class TestFhirApi:
    def test_metadata_is_a_capability_statement(self, client: TestClient) -> None:
        response = client.get("/fhir/metadata")
        assert response.headers["content-type"] == "application/fhir+json"
        statement = CapabilityStatement.model_validate(response.json())
        assert statement.fhirVersion == "4.0.1"

    def test_read_returns_a_valid_patient(self, client: TestClient, headers: dict[str, str], ana: str) -> None:
        response = client.get(f"/fhir/Patient/{ana}", headers=headers)
        patient = FhirPatient.model_validate(response.json())
        assert patient.name[0].family == "Rivera"
        assert patient.telecom[0].value == "+16175550123"
        assert str(patient.birthDate) == "1961-02-03"

    @pytest.mark.parametrize("params", [{"phone": "617-555-0123"}, {"name": "rivera", "birthdate": "1961-02-03"},
                                        {"identifier": "MRN-77"}, {"identifier": "urn:careline:mrn|MRN-77"},
                                        {"birthdate": "eq1961-02-03"}])
    def test_search_returns_a_searchset_a_client_can_read(
        self, client: TestClient, headers: dict[str, str], ana: str, params: dict[str, str]
    ) -> None:
        bundle = Bundle.model_validate(client.get("/fhir/Patient", params=params, headers=headers).json())
        assert bundle.type == "searchset"
        assert [entry.resource.id for entry in bundle.entry] == [ana]

    def test_count_and_next_link(self, client: TestClient, headers: dict[str, str], ana: str) -> None:
        body = client.get("/fhir/Patient", params={"name": "ana", "_count": 1}, headers=headers).json()
        assert len(body["entry"]) == 1
        assert [link["relation"] for link in body["link"]] == ["self", "next"]
        following = client.get(body["link"][1]["url"].replace("http://testserver", ""), headers=headers).json()
        assert following["entry"][0]["resource"]["id"] != body["entry"][0]["resource"]["id"]

    @pytest.mark.parametrize(("params", "status"), [({}, 400), ({"birthdate": "gt1961-01-01"}, 400),
                                                    ({"birthdate": "yesterday"}, 400), ({"phone": "12"}, 400)])
    def test_bad_searches_get_an_operation_outcome(
        self, client: TestClient, headers: dict[str, str], params: dict[str, str], status: int
    ) -> None:
        response = client.get("/fhir/Patient", params=params, headers=headers)
        assert response.status_code == status
        assert response.json()["resourceType"] == "OperationOutcome"

    def test_unknown_patient_is_a_404_outcome(self, client: TestClient, headers: dict[str, str]) -> None:
        response = client.get("/fhir/Patient/not-a-uuid", headers=headers)
        assert response.status_code == 404
        assert response.json()["resourceType"] == "OperationOutcome"

    def test_without_a_token_is_401(self, client: TestClient, ana: str) -> None:
        assert client.get(f"/fhir/Patient/{ana}").status_code == 401
