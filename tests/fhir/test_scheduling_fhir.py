"""The FHIR R4 scheduling API: Schedule, Slot and Appointment read and search, and booking by create.

Every resource and Bundle served is validated with ``fhir.resources.R4B``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.schedule import Schedule as FhirSchedule
from fhir.resources.R4B.slot import Slot as FhirSlot
from sqlalchemy import event, func, select

from careline import audit
from careline.actor import Actor, Role
from careline.audit.models import AuditEntry
from careline.db import UnitOfWork
from careline.fhir.scheduling_api import BadSearch, date_bounds
from careline.scheduling.errors import NotFound, SlotTaken
from careline.scheduling.models import Appointment, Slot
from careline.scheduling.schemas import BookingIn
from careline.scheduling.service import booking, catalog
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.scheduling import Clinic, make_clinic

FHIR_JSON = "application/fhir+json"
VISIT_TYPE_SYSTEM = "urn:careline:visit-type"


@pytest.fixture
def clinic(uow: UnitOfWork) -> Clinic:
    made = make_clinic(uow, code="east")
    uow.commit()
    return made


@pytest.fixture
def headers(uow: UnitOfWork) -> dict[str, str]:
    token = make_api_token(uow, make_user(uow, role=Role.admin, username="ehr-sync"))
    uow.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def patient_id(uow: UnitOfWork) -> UUID:
    patient = make_patient(uow, given="Rosa", family="Delgado")
    uow.commit()
    return patient.id


def free_slots(uow: UnitOfWork, schedule_id: UUID) -> list[Slot]:
    uow.session.expire_all()
    return list(uow.session.scalars(select(Slot).where(Slot.schedule_id == schedule_id, Slot.status == "free")
                                    .order_by(Slot.starts_at)))


def count(uow: UnitOfWork, model: type[Any]) -> int:
    uow.session.expire_all()
    return uow.session.scalar(select(func.count()).select_from(model)) or 0


def appointment_body(slot_id: UUID | None, patient_id: UUID, code: str = "annual-east") -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "status": "booked",
        "appointmentType": {"coding": [{"system": VISIT_TYPE_SYSTEM, "code": code}]},
        "reasonCode": [{"text": "yearly check"}],
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
    }
    if slot_id:
        body["slot"] = [{"reference": f"Slot/{slot_id}"}]
    return body


def create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.post("/fhir/Appointment", headers=headers | {"Content-Type": FHIR_JSON}, json=body)


def outcome(response: Any) -> OperationOutcome:
    assert response.headers["content-type"] == FHIR_JSON
    return OperationOutcome.model_validate(response.json())


def test_capability_statement_lists_the_scheduling_resources(client: TestClient) -> None:
    statement = CapabilityStatement.model_validate(client.get("/fhir/metadata").json())
    served = {r.type: r for r in statement.rest[0].resource}
    assert {"Patient", "Schedule", "Slot", "Appointment"} <= set(served)
    assert "create" in {i.code for i in served["Appointment"].interaction}
    assert {p.name for p in served["Slot"].searchParam} >= {"schedule", "start", "status"}


class TestSchedule:
    def test_search_by_actor_and_read(self, client: TestClient, clinic: Clinic, headers: dict[str, str]) -> None:
        response = client.get("/fhir/Schedule", headers=headers, params={"actor": f"Practitioner/{clinic.provider_id}"})
        assert response.headers["content-type"] == FHIR_JSON
        bundle = Bundle.model_validate(response.json())
        assert [e.resource.id for e in bundle.entry or []] == [str(clinic.schedule_id)]
        everything = Bundle.model_validate(client.get("/fhir/Schedule", headers=headers).json())
        assert len(everything.entry or []) == 2
        schedule = FhirSchedule.model_validate(
            client.get(f"/fhir/Schedule/{clinic.imaging_schedule_id}", headers=headers).json())
        assert [a.reference.split("/")[0] for a in schedule.actor] == ["Device", "Location"]

    def test_an_unknown_schedule_is_a_404_outcome(self, client: TestClient, headers: dict[str, str]) -> None:
        response = client.get(f"/fhir/Schedule/{uuid4()}", headers=headers)
        assert response.status_code == 404
        assert outcome(response).issue[0].code == "not-found"
        assert client.get("/fhir/Schedule/not-an-id", headers=headers).status_code == 404


class TestSlot:
    def test_search_by_schedule_start_and_status(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID
    ) -> None:
        slots = free_slots(uow, clinic.schedule_id)
        day = slots[0].starts_at.date()
        assert create(client, headers, appointment_body(slots[1].id, patient_id)).status_code == 201
        params = {"schedule": f"Schedule/{clinic.schedule_id}", "start": [f"ge{day}", f"lt{day + timedelta(days=1)}"]}
        free = Bundle.model_validate(client.get("/fhir/Slot", headers=headers,
                                                params=params | {"status": "free"}).json())
        free_ids = [e.resource.id for e in free.entry or []]
        assert free_ids == [str(s.id) for s in slots if s.starts_at.date() == day and s.id != slots[1].id]
        assert all(e.resource.start.date() == day for e in free.entry or [])
        busy = Bundle.model_validate(client.get("/fhir/Slot", headers=headers,
                                                params=params | {"status": "busy"}).json())
        assert [e.resource.id for e in busy.entry or []] == [str(slots[1].id)]

    def test_pages_follow_the_next_link(self, client: TestClient, clinic: Clinic, headers: dict[str, str]) -> None:
        first = client.get("/fhir/Slot", headers=headers, params={"schedule": str(clinic.schedule_id), "_count": 3})
        bundle = Bundle.model_validate(first.json())
        next_url = next(link.url for link in bundle.link if link.relation == "next")
        second = Bundle.model_validate(client.get(next_url, headers=headers).json())
        first_ids = [e.resource.id for e in bundle.entry or []]
        second_ids = [e.resource.id for e in second.entry or []]
        assert len(first_ids) == len(second_ids) == 3
        assert not set(first_ids) & set(second_ids)
        assert second.entry[0].resource.start > bundle.entry[-1].resource.start

    def test_read_and_refusals(self, client: TestClient, uow: UnitOfWork, clinic: Clinic,
                               headers: dict[str, str]) -> None:
        slot_id = free_slots(uow, clinic.imaging_schedule_id)[0].id
        slot = FhirSlot.model_validate(client.get(f"/fhir/Slot/{slot_id}", headers=headers).json())
        assert (slot.status, slot.schedule.reference) == ("free", f"Schedule/{clinic.imaging_schedule_id}")
        no_schedule = client.get("/fhir/Slot", headers=headers)
        assert no_schedule.status_code == 400
        assert outcome(no_schedule).issue[0].code == "too-costly"
        bad_date = client.get("/fhir/Slot", headers=headers, params={"schedule": str(clinic.schedule_id),
                                                                     "start": "ge2026-13-45"})
        assert bad_date.status_code == 400
        assert outcome(bad_date).issue[0].code == "invalid"


class TestAppointment:
    def test_create_books_the_slot(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = create(client, headers, appointment_body(slot.id, patient_id))
        assert response.status_code == 201, response.text
        resource = FhirAppointment.model_validate(response.json())
        assert response.headers["location"].endswith(f"/fhir/Appointment/{resource.id}")
        assert (resource.status, resource.slot[0].reference) == ("booked", f"Slot/{slot.id}")
        assert resource.appointmentType.coding[0].code == "annual-east"
        assert {p.actor.reference for p in resource.participant} == {
            f"Patient/{patient_id}", f"Practitioner/{clinic.provider_id}", f"Location/{clinic.site_id}"}
        stored = uow.session.get_one(Appointment, UUID(resource.id))
        assert (stored.channel, stored.reason) == ("fhir", "yearly check")
        assert free_slots(uow, clinic.schedule_id)[0].id != slot.id

    def test_create_without_a_slot_is_422_and_writes_nothing(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID
    ) -> None:
        audits = count(uow, AuditEntry)
        response = create(client, headers, appointment_body(None, patient_id))
        assert response.status_code == 422
        assert "slot" in (outcome(response).issue[0].diagnostics or "")
        assert (count(uow, Appointment), count(uow, AuditEntry)) == (0, audits)

    @pytest.mark.parametrize("change", [
        {"appointmentType": {"coding": [{"system": "http://example.org", "code": "annual-east"}]}},
        {"appointmentType": {"coding": [{"system": VISIT_TYPE_SYSTEM, "code": "no-such-visit"}]}},
        {"participant": [{"actor": {"reference": "Practitioner/1"}, "status": "accepted"}]},
        {"status": "fulfilled"},
        {"status": ["booked"]},
        {"resourceType": "Patient"},
    ], ids=["foreign-code", "unknown-code", "no-patient", "status", "status-not-text", "not-an-appointment"])
    def test_create_refuses_what_it_cannot_book(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID,
        change: dict[str, Any]
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = create(client, headers, appointment_body(slot.id, patient_id) | change)
        assert response.status_code == 422
        assert outcome(response).issue[0].severity == "error"
        assert count(uow, Appointment) == 0

    def test_a_taken_slot_is_a_409_and_rolls_back(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID
    ) -> None:
        other = make_patient(uow, given="Tomas", family="Berg")
        uow.commit()
        slot = free_slots(uow, clinic.schedule_id)[0]
        assert create(client, headers, appointment_body(slot.id, patient_id)).status_code == 201
        response = create(client, headers, appointment_body(slot.id, other.id))
        assert response.status_code == 409
        assert outcome(response).issue[0].code == "conflict"
        assert count(uow, Appointment) == 1

    def test_an_outcome_after_a_write_still_rolls_the_write_back(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID,
        monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def book_then_lose(uow: UnitOfWork, actor: Actor, _data: BookingIn) -> None:
            audit.record(uow, actor, "appointment.booked")  # a write the refusal must undo
            raise SlotTaken([])

        monkeypatch.setattr(booking, "book", book_then_lose)
        audits = count(uow, AuditEntry)
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = create(client, headers, appointment_body(slot.id, patient_id))
        assert response.status_code == 409
        assert outcome(response).issue[0].code == "conflict"
        assert count(uow, AuditEntry) == audits

    def test_a_restricted_record_is_refused_and_the_refusal_audited(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str]
    ) -> None:
        restricted = make_patient(uow, given="Vera", family="Stone", restricted="employee")
        uow.commit()
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = create(client, headers, appointment_body(slot.id, restricted.id))
        assert response.status_code == 403
        assert outcome(response).issue[0].code == "forbidden"
        refusals = uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "patient.restricted_refused", AuditEntry.patient_id == str(restricted.id)))
        assert (refusals, count(uow, Appointment)) == (1, 0)

    def test_a_test_without_an_order_is_a_422(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.imaging_schedule_id)[0]
        response = create(client, headers, appointment_body(slot.id, patient_id, code="mammo-east"))
        assert response.status_code == 422
        issue = outcome(response).issue[0]
        assert (issue.code, "order" in (issue.diagnostics or "")) == ("business-rule", True)

    def test_search_by_patient_and_date_then_read(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, headers: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        created = create(client, headers, appointment_body(slot.id, patient_id)).json()
        day = slot.starts_at.date()
        params: dict[str, Any] = {"patient": f"Patient/{patient_id}", "date": [f"ge{day}", f"le{day}"]}
        found = Bundle.model_validate(client.get("/fhir/Appointment", headers=headers, params=params).json())
        assert [e.resource.id for e in found.entry or []] == [created["id"]]
        assert found.entry[0].fullUrl.endswith(f"/fhir/Appointment/{created['id']}")
        later = Bundle.model_validate(client.get("/fhir/Appointment", headers=headers, params={
            "patient": str(patient_id), "date": f"gt{day}"}).json())
        assert later.entry is None or later.entry == []
        read = FhirAppointment.model_validate(client.get(f"/fhir/Appointment/{created['id']}", headers=headers).json())
        assert read.start == datetime.fromisoformat(created["start"])
        viewed = uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "appointment.viewed", AuditEntry.patient_id == str(patient_id)))
        assert viewed == 2  # the search that found it and the read; the empty search showed no one

    @pytest.mark.parametrize(("resource", "param", "value"), [
        ("Appointment", "date", "le9999-12-31"),
        ("Appointment", "date", "ge0001-01-01T00:00:00+01:00"),
        ("Slot", "start", "ge0001-01-01"),
        ("Slot", "start", "lt2101-01-01"),
    ])
    def test_a_date_far_out_is_a_400_outcome(
        self, client: TestClient, clinic: Clinic, headers: dict[str, str], patient_id: UUID, resource: str,
        param: str, value: str
    ) -> None:
        scope = {"patient": f"Patient/{patient_id}"} if resource == "Appointment" \
            else {"schedule": f"Schedule/{clinic.schedule_id}"}
        response = client.get(f"/fhir/{resource}", headers=headers, params=scope | {param: value})
        assert response.status_code == 400
        assert outcome(response).issue[0].code == "invalid"

    def test_search_needs_a_patient(self, client: TestClient, headers: dict[str, str]) -> None:
        response = client.get("/fhir/Appointment", headers=headers)
        assert response.status_code == 400
        assert outcome(response).issue[0].code == "too-costly"
        unknown = client.get("/fhir/Appointment", headers=headers, params={"patient": str(uuid4())})
        assert unknown.status_code == 404
        assert outcome(unknown).issue[0].code == "not-found"


def test_date_bounds_read_fhir_prefixes() -> None:
    start, end = date_bounds(["ge2026-12-01", "lt2026-12-03"])
    assert (start, end) == (datetime.fromisoformat("2026-12-01T00:00:00+00:00"),
                            datetime.fromisoformat("2026-12-03T00:00:00+00:00"))
    start, end = date_bounds(["2026-12-01"])
    assert end - start == timedelta(days=1)
    start, _ = date_bounds(["gt2026-12-01T10:00:00-05:00"])
    assert start == datetime.fromisoformat("2026-12-01T15:00:00.000001+00:00")


def test_date_bounds_keep_to_the_years_2000_to_2100() -> None:
    assert date_bounds(["le2100-12-31"])[1] == datetime.fromisoformat("2101-01-01T00:00:00+00:00")
    for far_out in ("le9999-12-31", "ge1999-12-31", "2101-01-01", "gt0001-01-01T00:00:00+01:00"):
        with pytest.raises(BadSearch):
            date_bounds([far_out])


def test_visit_types_are_read_in_one_query(uow: UnitOfWork, clinic: Clinic) -> None:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    connection = uow.session.connection()
    event.listen(connection, "before_cursor_execute", seen)
    found = catalog.visit_types_by_id(uow, {clinic.annual_id, clinic.mammogram_id, clinic.new_patient_id})
    assert set(found) == {clinic.annual_id, clinic.mammogram_id, clinic.new_patient_id}
    assert catalog.visit_type_by_code(uow, "annual-east").id == clinic.annual_id
    event.remove(connection, "before_cursor_execute", seen)
    assert len(statements) == 2  # one for the three ids, one for the code
    with pytest.raises(NotFound):
        catalog.visit_type_by_code(uow, "no-such-visit")
