"""The scheduling REST API over HTTP with bearer tokens: search, booking and its refusals, the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from careline.actor import Role
from careline.audit.models import AuditEntry
from careline.db import UnitOfWork, utcnow
from careline.patients.models import IdentityCheck
from careline.scheduling.models import (
    Appointment,
    AppointmentEvent,
    AvailabilityException,
    AvailabilityTemplate,
    Order,
    Slot,
    WaitlistEntry,
)
from careline.scheduling.schemas import SlotSearch
from careline.scheduling.service import slots
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.scheduling import Clinic, make_clinic

OVERRIDE = "Order faxed by the referring office, filed on arrival."


@pytest.fixture
def clinic(uow: UnitOfWork) -> Clinic:
    made = make_clinic(uow, time_zone="America/Los_Angeles")
    uow.commit()
    return made


@pytest.fixture
def admin(uow: UnitOfWork) -> dict[str, str]:
    token = make_api_token(uow, make_user(uow, role=Role.admin))
    uow.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def supervisor(uow: UnitOfWork) -> dict[str, str]:
    token = make_api_token(uow, make_user(uow, role=Role.supervisor))
    uow.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def patient_id(uow: UnitOfWork) -> UUID:
    patient = make_patient(uow, given="Maya", family="Okafor")  # lives in America/New_York
    uow.commit()
    return patient.id


def free_slots(uow: UnitOfWork, schedule_id: UUID) -> list[Slot]:
    return list(uow.session.scalars(select(Slot).where(Slot.schedule_id == schedule_id, Slot.status == "free")
                                    .order_by(Slot.starts_at)))


def count(uow: UnitOfWork, model: type[Any]) -> int:
    uow.session.expire_all()
    return uow.session.scalar(select(func.count()).select_from(model)) or 0


def slot_status(uow: UnitOfWork, slot_id: UUID | str) -> str:
    uow.session.expire_all()
    return uow.session.get_one(Slot, UUID(str(slot_id))).status


def book(client: TestClient, headers: dict[str, str], patient_id: UUID, slot_id: UUID, visit_type_id: UUID,
         **extra: Any) -> Any:
    return client.post("/api/appointments", headers=headers, json={
        "patient_id": str(patient_id), "slot_id": str(slot_id), "visit_type_id": str(visit_type_id), **extra})


class TestSlotSearch:
    def test_earliest_options_in_the_patients_zone(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        response = client.get("/api/slots", headers=supervisor, params={
            "visit_type_id": str(clinic.annual_id), "patient_id": str(patient_id), "limit": 3})
        assert response.status_code == 200, response.text
        options = response.json()
        expected = [s.id for s in free_slots(uow, clinic.schedule_id)[:3]]
        assert [UUID(o["slot_id"]) for o in options] == expected
        new_york = ZoneInfo("America/New_York")
        for option in options:
            starts_at = datetime.fromisoformat(option["starts_at"])
            local = datetime.fromisoformat(option["local_start"])
            assert local == starts_at
            assert local.utcoffset() == starts_at.astimezone(new_york).utcoffset()

    def test_without_a_patient_times_are_in_the_sites_zone(
        self, client: TestClient, clinic: Clinic, supervisor: dict[str, str]
    ) -> None:
        options = client.get("/api/slots", headers=supervisor, params={
            "visit_type_id": str(clinic.annual_id), "limit": 1}).json()
        local = datetime.fromisoformat(options[0]["local_start"])
        assert local.utcoffset() == local.astimezone(ZoneInfo("America/Los_Angeles")).utcoffset()
        assert (local.hour, local.minute) == (8, 0)  # the template's first slot, site time

    def test_an_unknown_zone_is_a_clear_422(self, client: TestClient, clinic: Clinic,
                                            supervisor: dict[str, str]) -> None:
        response = client.get("/api/slots", headers=supervisor, params={
            "visit_type_id": str(clinic.annual_id), "time_zone": "Mars/Olympus"})
        assert response.status_code == 422
        assert response.json()["field"] == "time_zone"


class TestBooking:
    def test_book_is_201_and_takes_the_slot(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = book(client, supervisor, patient_id, slot.id, clinic.annual_id, reason="yearly check")
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["status"], body["channel"], body["visit_name"]) == ("booked", "agent", "Annual exam")
        assert datetime.fromisoformat(body["local_start"]).utcoffset() == \
            slot.starts_at.astimezone(ZoneInfo("America/New_York")).utcoffset()
        assert slot_status(uow, slot.id) == "busy"

    def test_double_booking_is_409_with_next_options(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        other = make_patient(uow, given="Lena", family="Park")
        uow.commit()
        slot = free_slots(uow, clinic.schedule_id)[0]
        assert book(client, supervisor, patient_id, slot.id, clinic.annual_id).status_code == 201
        response = book(client, supervisor, other.id, slot.id, clinic.annual_id)
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        next_ids = [option["slot_id"] for option in response.json()["next_options"]]
        assert next_ids
        assert str(slot.id) not in next_ids
        assert count(uow, Appointment) == 1

    def test_a_past_slot_is_refused_and_nothing_written(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        yesterday = utcnow() - timedelta(days=1)
        uow.session.execute(update(Slot).where(Slot.id == slot.id).values(
            starts_at=yesterday, ends_at=yesterday + timedelta(minutes=30)))
        uow.commit()
        events, audits = count(uow, AppointmentEvent), count(uow, AuditEntry)
        response = book(client, supervisor, patient_id, slot.id, clinic.annual_id)
        assert response.status_code == 422
        assert response.json()["field"] == "slot_id"
        assert (count(uow, Appointment), count(uow, AppointmentEvent), count(uow, AuditEntry)) == (0, events, audits)
        assert slot_status(uow, slot.id) == "free"

    def test_a_visit_type_the_provider_does_not_do_is_refused(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = book(client, supervisor, patient_id, slot.id, clinic.mammogram_id)
        assert response.status_code == 422
        assert response.json()["field"] == "visit_type_id"
        assert count(uow, Appointment) == 0
        assert slot_status(uow, slot.id) == "free"

    def test_a_test_without_an_order_is_refused_then_booked_with_an_override(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.imaging_schedule_id)[0]
        refused = book(client, supervisor, patient_id, slot.id, clinic.mammogram_id)
        assert refused.status_code == 422
        assert refused.json()["field"] == "order_override"
        assert count(uow, Appointment) == 0
        booked = book(client, supervisor, patient_id, slot.id, clinic.mammogram_id, order_override=OVERRIDE)
        assert booked.status_code == 201, booked.text
        assert (booked.json()["order_override"], booked.json()["order_id"]) == (OVERRIDE, None)

    def test_an_order_on_file_lets_the_test_be_booked(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        order = client.post("/api/orders", headers=supervisor, json={
            "patient_id": str(patient_id), "visit_type_id": str(clinic.mammogram_id), "reference": "RX-1"})
        assert order.status_code == 201, order.text
        slot = free_slots(uow, clinic.imaging_schedule_id)[0]
        booked = book(client, supervisor, patient_id, slot.id, clinic.mammogram_id)
        assert booked.status_code == 201, booked.text
        assert booked.json()["order_id"] == order.json()["id"]
        listed = client.get(f"/api/patients/{patient_id}/orders", headers=supervisor).json()
        assert [o["reference"] for o in listed] == ["RX-1"]

    def test_an_agent_must_verify_the_caller_first(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, patient_id: UUID
    ) -> None:
        agent = make_user(uow, role=Role.agent)
        headers = {"Authorization": f"Bearer {make_api_token(uow, agent)}"}
        uow.commit()
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = book(client, headers, patient_id, slot.id, clinic.annual_id)
        assert response.status_code == 428
        assert count(uow, Appointment) == 0
        now = utcnow()
        uow.session.add(IdentityCheck(patient_id=patient_id, user_id=agent.id, expires_at=now + timedelta(hours=1),
                                      verified_at=now))
        uow.commit()
        assert book(client, headers, patient_id, slot.id, clinic.annual_id).status_code == 201


class TestChanges:
    @pytest.fixture
    def booked(self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str],
               patient_id: UUID) -> dict[str, Any]:
        slot = free_slots(uow, clinic.schedule_id)[0]
        response = book(client, supervisor, patient_id, slot.id, clinic.annual_id)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def test_reschedule_frees_the_old_slot_and_takes_the_new(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str],
        booked: dict[str, Any]
    ) -> None:
        new_slot = free_slots(uow, clinic.schedule_id)[2]
        response = client.post(f"/api/appointments/{booked['id']}/reschedule", headers=supervisor,
                               json={"slot_id": str(new_slot.id), "reason": "caller asked"})
        assert response.status_code == 200, response.text
        assert response.json()["slot_id"] == str(new_slot.id)
        assert (slot_status(uow, booked["slot_id"]), slot_status(uow, new_slot.id)) == ("free", "busy")

    def test_reschedule_to_a_taken_slot_changes_nothing(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str],
        booked: dict[str, Any]
    ) -> None:
        other = make_patient(uow, given="Lena", family="Park")
        uow.commit()
        taken = free_slots(uow, clinic.schedule_id)[0]
        assert book(client, supervisor, other.id, taken.id, clinic.annual_id).status_code == 201
        response = client.post(f"/api/appointments/{booked['id']}/reschedule", headers=supervisor,
                               json={"slot_id": str(taken.id)})
        assert response.status_code == 409
        after = client.get(f"/api/appointments/{booked['id']}", headers=supervisor).json()
        assert after["slot_id"] == booked["slot_id"]
        assert slot_status(uow, booked["slot_id"]) == "busy"

    def test_cancel_needs_a_real_reason(
        self, client: TestClient, uow: UnitOfWork, supervisor: dict[str, str], booked: dict[str, Any]
    ) -> None:
        events = count(uow, AppointmentEvent)
        short = client.post(f"/api/appointments/{booked['id']}/cancel", headers=supervisor, json={"reason": "no"})
        assert short.status_code == 422
        assert count(uow, AppointmentEvent) == events
        assert slot_status(uow, booked["slot_id"]) == "busy"
        done = client.post(f"/api/appointments/{booked['id']}/cancel", headers=supervisor,
                           json={"reason": "feeling better"})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["cancel_reason"]) == ("cancelled", "feeling better")
        assert slot_status(uow, booked["slot_id"]) == "free"
        again = client.post(f"/api/appointments/{booked['id']}/cancel", headers=supervisor,
                            json={"reason": "twice over"})
        assert again.status_code == 409

    def test_day_of_statuses(
        self, client: TestClient, uow: UnitOfWork, supervisor: dict[str, str], booked: dict[str, Any]
    ) -> None:
        path = f"/api/appointments/{booked['id']}/status"
        early = client.post(path, headers=supervisor, json={"status": "arrived"})
        assert early.status_code == 422  # the visit is on a later day
        uow.session.execute(update(Appointment).where(Appointment.id == UUID(booked["id"])).values(
            starts_at=utcnow(), ends_at=utcnow() + timedelta(minutes=30)))
        uow.commit()
        assert client.post(path, headers=supervisor, json={"status": "arrived"}).json()["status"] == "arrived"
        assert client.post(path, headers=supervisor, json={"status": "fulfilled"}).json()["status"] == "fulfilled"
        assert client.post(path, headers=supervisor, json={"status": "booked"}).status_code == 409
        assert client.post(path, headers=supervisor, json={"status": "cancelled"}).status_code == 422
        assert client.post(path, headers=supervisor, json={"status": "lost"}).status_code == 422

    def test_search_is_audited_per_patient(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str],
        booked: dict[str, Any], patient_id: UUID
    ) -> None:
        found = client.get("/api/appointments", headers=supervisor, params={"patient_id": str(patient_id)})
        assert [a["id"] for a in found.json()] == [booked["id"]]
        by_schedule = client.get("/api/appointments", headers=supervisor, params={
            "schedule_id": str(clinic.schedule_id), "status": "booked"})
        assert [a["id"] for a in by_schedule.json()] == [booked["id"]]
        viewed = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "appointment.viewed",
                                                              AuditEntry.patient_id == str(patient_id))).all()
        assert len(viewed) == 2
        later = (datetime.fromisoformat(booked["starts_at"]) + timedelta(minutes=1)).isoformat()
        empty = client.get("/api/appointments", headers=supervisor, params={"patient_id": str(patient_id),
                                                                            "start": later})
        assert empty.json() == []
        assert client.get("/api/appointments", headers=supervisor).status_code == 422

    def test_an_agent_searches_by_patient_only(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, booked: dict[str, Any]
    ) -> None:
        headers = {"Authorization": f"Bearer {make_api_token(uow, make_user(uow, role=Role.agent))}"}
        uow.commit()
        response = client.get("/api/appointments", headers=headers, params={"schedule_id": str(clinic.schedule_id)})
        assert response.status_code == 422
        assert response.json()["field"] == "patient_id"

    def test_the_waitlist_is_offered_a_freed_slot(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str],
        booked: dict[str, Any]
    ) -> None:
        waiting = make_patient(uow, given="Ines", family="Duarte")
        uow.commit()
        joined = client.post("/api/waitlist", headers=supervisor, json={
            "patient_id": str(waiting.id), "visit_type_id": str(clinic.annual_id),
            "wanted_before": (utcnow() + timedelta(days=60)).isoformat()})
        assert joined.status_code == 201, joined.text
        path = f"/api/slots/{booked['slot_id']}/waitlist"
        assert client.get(path, headers=supervisor).json() == []  # the slot is still booked
        client.post(f"/api/appointments/{booked['id']}/cancel", headers=supervisor, json={"reason": "moved away"})
        assert [e["patient_id"] for e in client.get(path, headers=supervisor).json()] == [str(waiting.id)]


class TestCatalogue:
    def test_an_admin_sets_up_a_bookable_schedule(
        self, client: TestClient, uow: UnitOfWork, admin: dict[str, str]
    ) -> None:
        def post(path: str, body: dict[str, Any]) -> Any:
            response = client.post(path, headers=admin, json=body)
            assert response.status_code in (200, 201), f"{path}: {response.text}"
            return response.json()

        site = post("/api/sites", {"code": "north", "name": "North Clinic", "time_zone": "America/Chicago"})
        provider = post("/api/providers", {"name": "Omar Haddad", "specialty": "cardiology", "gender": "male"})
        visit = post("/api/visit-types", {"code": "echo", "name": "Echo follow-up", "duration_minutes": 40,
                                          "specialties": ["cardiology"]})
        schedule = post("/api/schedules", {"site_id": site["id"], "provider_id": provider["id"]})
        template = post(f"/api/schedules/{schedule['id']}/templates", {
            "weekdays": [0, 1, 2, 3, 4, 5, 6], "start_time": "13:00", "end_time": "15:00", "slot_minutes": 40,
            "visit_type_ids": [visit["id"]]})
        overlapping = client.post(f"/api/schedules/{schedule['id']}/templates", headers=admin, json={
            "weekdays": [2], "start_time": "14:00", "end_time": "16:00", "slot_minutes": 40,
            "visit_type_ids": [visit["id"]]})
        assert overlapping.status_code == 422
        report = post("/api/schedules/generate", {"days": 7, "schedule_ids": [schedule["id"]]})
        assert report["schedules"] == 1
        assert 18 <= report["created"] <= 21  # three 40-minute slots a day; today's may have passed
        options = client.get("/api/slots", headers=admin, params={"visit_type_id": visit["id"]}).json()
        assert {o["schedule_id"] for o in options} == {schedule["id"]}
        first = datetime.fromisoformat(options[0]["local_start"])
        calendar = client.get(f"/api/schedules/{schedule['id']}/calendar", headers=admin,
                              params={"start": first.date().isoformat()}).json()
        assert [entry["slot_id"] for entry in calendar][:1] == [options[0]["slot_id"]]
        assert [t["id"] for t in client.get(f"/api/schedules/{schedule['id']}/templates", headers=admin).json()] \
            == [template["id"]]
        assert client.delete(f"/api/templates/{template['id']}", headers=admin).status_code == 204
        assert client.get(f"/api/schedules/{schedule['id']}/templates", headers=admin).json() == []
        assert client.get(f"/api/schedules/{uuid4()}/templates", headers=admin).status_code == 404

    def test_lists_and_days_off(self, client: TestClient, clinic: Clinic, admin: dict[str, str]) -> None:
        assert [s["id"] for s in client.get("/api/sites", headers=admin).json()] == [str(clinic.site_id)]
        assert [p["id"] for p in client.get("/api/providers", headers=admin).json()] == [str(clinic.provider_id)]
        assert len(client.get("/api/visit-types", headers=admin).json()) == 3
        assert len(client.get("/api/schedules", headers=admin).json()) == 2
        resource = client.post("/api/resources", headers=admin, json={
            "site_id": str(clinic.site_id), "name": "Ultrasound 2", "kind": "ultrasound"})
        assert resource.status_code == 201
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        day_off = client.post("/api/availability-exceptions", headers=admin, json={
            "schedule_id": str(clinic.schedule_id), "first_day": tomorrow, "last_day": tomorrow, "kind": "vacation"})
        assert day_off.status_code == 201
        assert UUID(day_off.json()["id"])
        backwards = client.post("/api/availability-exceptions", headers=admin, json={
            "first_day": tomorrow, "last_day": "2020-01-01", "kind": "holiday"})
        assert backwards.status_code == 422

    def test_generation_keeps_bookings(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, admin: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        assert book(client, admin, patient_id, slot.id, clinic.annual_id).status_code == 201
        report = client.post("/api/schedules/generate", headers=admin, json={"days": 14}).json()
        assert report["kept_booked"] == 1
        assert slot_status(uow, slot.id) == "busy"
        search = SlotSearch(visit_type_id=clinic.annual_id, limit=1)
        assert slots.first_available(uow, search, zone=None)[0].slot_id != slot.id


def _far_out(clinic: Clinic) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Requests naming a date far outside 2000 to 2100, which datetime arithmetic would overflow on."""
    visit = str(clinic.annual_id)
    return {
        "slots end": ("GET", "/api/slots", {"params": {"visit_type_id": visit, "end": "9999-12-31"}}),
        "slots start in Tokyo": ("GET", "/api/slots", {"params": {
            "visit_type_id": visit, "start": "0001-01-01", "time_zone": "Asia/Tokyo"}}),
        "calendar": ("GET", f"/api/schedules/{clinic.schedule_id}/calendar", {"params": {"start": "9999-12-31"}}),
        "appointments": ("GET", "/api/appointments", {"params": {
            "schedule_id": str(clinic.schedule_id), "start": "0001-01-01T00:00:00+05:00"}}),
        "generate": ("POST", "/api/schedules/generate", {"json": {"first_day": "9999-12-01", "days": 90}}),
        "day off": ("POST", "/api/availability-exceptions", {"json": {
            "schedule_id": str(clinic.schedule_id), "first_day": "2026-12-01", "last_day": "9999-12-31",
            "kind": "vacation"}}),
        "template": ("POST", f"/api/schedules/{clinic.schedule_id}/templates", {"json": {
            "weekdays": [5], "start_time": "13:00", "end_time": "15:00", "slot_minutes": 30,
            "visit_type_ids": [visit], "valid_from": "0001-01-01"}}),
    }


class TestRefusedInput:
    """Input that once ended as a 500 is a clear 4xx, and nothing is written."""

    def test_a_waitlist_date_without_a_time_zone_is_a_422(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        for wanted_before in ("2030-01-01T10:00:00", "9999-12-31T00:00:00Z"):
            response = client.post("/api/waitlist", headers=supervisor, json={
                "patient_id": str(patient_id), "visit_type_id": str(clinic.annual_id), "wanted_before": wanted_before})
            assert response.status_code == 422, wanted_before
            assert response.json()["errors"][0]["loc"] == ["body", "wanted_before"]
        assert count(uow, WaitlistEntry) == 0

    @pytest.mark.parametrize("field", ["site_id", "provider_id"])
    def test_a_waitlist_for_an_unknown_site_or_provider_is_a_404(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID,
        field: str
    ) -> None:
        response = client.post("/api/waitlist", headers=supervisor, json={
            "patient_id": str(patient_id), "visit_type_id": str(clinic.annual_id),
            "wanted_before": (utcnow() + timedelta(days=30)).isoformat(), field: str(uuid4())})
        assert response.status_code == 404
        assert field.removesuffix("_id") in response.text
        assert count(uow, WaitlistEntry) == 0

    @pytest.mark.parametrize("case", ["slots end", "slots start in Tokyo", "calendar", "appointments", "generate",
                                      "day off", "template"])
    def test_a_date_far_out_is_a_422_and_writes_nothing(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, admin: dict[str, str], case: str
    ) -> None:
        method, path, request = _far_out(clinic)[case]
        before = (count(uow, Slot), count(uow, AvailabilityException), count(uow, AvailabilityTemplate))
        response = client.request(method, path, headers=admin, **request)
        assert response.status_code == 422, response.text
        assert (count(uow, Slot), count(uow, AvailabilityException), count(uow, AvailabilityTemplate)) == before

    def test_an_order_expiring_far_out_is_a_422(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        response = client.post("/api/orders", headers=supervisor, json={
            "patient_id": str(patient_id), "visit_type_id": str(clinic.mammogram_id), "expires_on": "9999-12-31"})
        assert response.status_code == 422
        assert count(uow, Order) == 0

    def test_a_block_starting_and_ending_at_once_is_refused(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, admin: dict[str, str]
    ) -> None:
        response = client.post(f"/api/schedules/{clinic.schedule_id}/templates", headers=admin, json={
            "weekdays": [5], "start_time": "09:00", "end_time": "09:00", "slot_minutes": 30,
            "visit_type_ids": [str(clinic.annual_id)]})
        assert response.status_code == 422
        assert "start and end are the same time" in response.text
        assert count(uow, AvailabilityTemplate) == 2  # the clinic's own two blocks


class TestCalendar:
    def test_the_calendar_names_no_patient(
        self, client: TestClient, uow: UnitOfWork, clinic: Clinic, supervisor: dict[str, str], patient_id: UUID
    ) -> None:
        slot = free_slots(uow, clinic.schedule_id)[0]
        assert book(client, supervisor, patient_id, slot.id, clinic.annual_id).status_code == 201
        day = slot.starts_at.astimezone(ZoneInfo(clinic.time_zone)).date()
        response = client.get(f"/api/schedules/{clinic.schedule_id}/calendar", headers=supervisor,
                              params={"start": day.isoformat()})
        assert response.status_code == 200
        booked = [entry for entry in response.json() if entry["appointment_id"]]
        assert [(e["slot_id"], e["visit_name"], e["appointment_status"]) for e in booked] \
            == [(str(slot.id), "Annual exam", "booked")]
        assert all("patient_id" not in entry for entry in response.json())
        assert str(patient_id) not in response.text
