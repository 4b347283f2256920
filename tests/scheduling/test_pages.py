"""Scheduling pages: the booking panel on the 360 view, reschedule, cancel and the provider calendar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from careline.actor import Actor, Role
from careline.db import UnitOfWork, utcnow
from careline.patients.models import Patient
from careline.scheduling.models import Appointment
from careline.scheduling.schemas import BookingIn, ProviderIn, ScheduleIn, SlotSearch, TemplateIn, VisitTypeIn
from careline.scheduling.service import booking, catalog, history, slots
from careline.web.csrf import SESSION_COOKIE
from tests.conftest import csrf_from
from tests.factories.auth import make_session, make_user
from tests.factories.patients import make_patient
from tests.factories.scheduling import ADMIN, WEEKDAYS, Clinic, make_clinic

SLOT_BUTTON = re.compile(r'name="slot_id" value="([0-9a-f-]{36})"')
HTMX = {"HX-Request": "true"}


@dataclass
class Desk:
    client: TestClient
    clinic: Clinic
    patient: Patient
    actor: Actor
    token: str = ""

    def verify(self) -> None:
        page = self.client.get(f"/patients/{self.patient.id}")
        self.token = csrf_from(page.text)
        response = self.client.post(f"/patients/{self.patient.id}/verify", follow_redirects=False, data={
            "name": "Ana Rivera", "birth_date": "1961-02-03", "csrf_token": self.token})
        assert response.status_code == 303

    def options(self, visit_type_id: object, **params: str) -> list[str]:
        response = self.client.get(f"/patients/{self.patient.id}/book/slots",
                                   params={"visit_type_id": str(visit_type_id), **params})
        assert response.status_code == 200
        return SLOT_BUTTON.findall(response.text)

    def book(self, **data: object) -> object:
        return self.client.post(f"/patients/{self.patient.id}/appointments", follow_redirects=False,
                                data={"csrf_token": self.token, **{k: str(v) for k, v in data.items()}})


@pytest.fixture
def desk(client: TestClient, uow: UnitOfWork) -> Desk:
    user = make_user(uow, role=Role.agent, username="alex")
    client.cookies.set(SESSION_COOKIE, make_session(uow, user))
    clinic = make_clinic(uow)
    patient = make_patient(uow)
    uow.commit()
    actor = Actor(username=user.username, role=Role.agent, user_id=user.id, ip="127.0.0.1", route="test")
    return Desk(client=client, clinic=clinic, patient=patient, actor=actor)


@pytest.fixture
def verified(desk: Desk) -> Desk:
    desk.verify()
    return desk


class TestBookingPanel:
    def test_the_360_page_offers_the_book_button_and_lists_nothing_yet(self, verified: Desk) -> None:
        html = verified.client.get(f"/patients/{verified.patient.id}").text
        assert f'href="/patients/{verified.patient.id}/book"' in html
        assert "Book appointment" in html
        assert "No upcoming appointments." in html
        assert "Scheduling is not connected yet" not in html

    def test_an_unverified_caller_cannot_be_booked_for(self, desk: Desk) -> None:
        response = desk.client.get(f"/patients/{desk.patient.id}/book")
        assert response.status_code == 428
        assert "Verify the caller" in response.text

    def test_step_one_is_a_fragment_for_htmx_and_a_page_otherwise(self, verified: Desk) -> None:
        fragment = verified.client.get(f"/patients/{verified.patient.id}/book", headers=HTMX)
        assert fragment.status_code == 200
        assert "<html" not in fragment.text
        assert 'id="book-visit"' in fragment.text
        assert "Screening mammogram (20 min) · needs an order" in fragment.text
        page = verified.client.get(f"/patients/{verified.patient.id}/book")
        assert "<html" in page.text
        assert 'id="book-visit" name="visit_type_id" required autofocus' in page.text

    def test_first_available_lists_ten_times_in_the_patient_zone(self, verified: Desk) -> None:
        response = verified.client.get(f"/patients/{verified.patient.id}/book/slots", headers=HTMX,
                                       params={"visit_type_id": str(verified.clinic.annual_id), "site_id": ""})
        assert response.status_code == 200
        assert len(SLOT_BUTTON.findall(response.text)) == 10
        assert "the patient&#39;s time zone (America/New_York)" in response.text
        assert re.search(r'class="slot-when">\w{3} \d{1,2} \w{3} 8:00 AM<', response.text)

    def test_the_time_of_day_is_said_to_be_the_sites(self, verified: Desk) -> None:
        html = verified.client.get(f"/patients/{verified.patient.id}/book", headers=HTMX).text
        assert "Time of day (at the site)" in html  # the times listed are in the patient's zone

    def test_filters_narrow_the_list(self, verified: Desk) -> None:
        assert verified.options(verified.clinic.annual_id, day_part="afternoon") == []
        assert verified.options(verified.clinic.annual_id, provider_gender="male") == []
        assert len(verified.options(verified.clinic.annual_id, language="es", day_part="morning")) == 10

    def test_no_visit_type_is_asked_for_again(self, verified: Desk) -> None:
        response = verified.client.get(f"/patients/{verified.patient.id}/book/slots", params={"visit_type_id": ""})
        assert response.status_code == 422
        assert "Choose a visit type first." in response.text

    def test_confirm_shows_preparation_and_asks_for_an_override_without_an_order(self, verified: Desk) -> None:
        slot_id = verified.options(verified.clinic.mammogram_id)[0]
        response = verified.client.get(f"/patients/{verified.patient.id}/book/confirm", headers=HTMX, params={
            "visit_type_id": str(verified.clinic.mammogram_id), "slot_id": slot_id})
        assert response.status_code == 200
        assert "No deodorant or powder on the day." in response.text
        assert "needs an order or referral on file" in response.text
        assert 'name="order_override"' in response.text

    def test_confirm_of_a_taken_slot_offers_the_next_times(self, verified: Desk, uow: UnitOfWork) -> None:
        first, second = verified.options(verified.clinic.annual_id)[:2]
        _book_directly(uow, verified, first)
        response = verified.client.get(f"/patients/{verified.patient.id}/book/confirm", params={
            "visit_type_id": str(verified.clinic.annual_id), "slot_id": first})
        assert response.status_code == 409
        assert "That slot was just taken" in response.text
        assert first not in SLOT_BUTTON.findall(response.text)
        assert second in SLOT_BUTTON.findall(response.text)


def _book_directly(uow: UnitOfWork, desk: Desk, slot_id: str) -> None:
    """Another agent wins the slot (a supervisor needs no verification of this caller)."""
    other = make_patient(uow, given="Bea", family="Other")
    supervisor = make_user(uow, role=Role.supervisor)
    actor = Actor(username=supervisor.username, role=Role.supervisor, user_id=supervisor.id, ip=None, route="t")
    booking.book(uow, actor, BookingIn(patient_id=other.id, slot_id=slot_id, visit_type_id=desk.clinic.annual_id))
    uow.commit()


def _add_afternoon_colleague(uow: UnitOfWork, clinic: Clinic) -> None:
    """A male, English-only family physician at the same site, afternoons: what the agent's filters leave out."""
    provider = catalog.create_provider(uow, ADMIN, ProviderIn(
        name="Lee Okafor", credentials="MD", specialty="family_medicine", gender="male", languages=["en"]))
    schedule = catalog.create_schedule(uow, ADMIN, ScheduleIn(site_id=clinic.site_id, provider_id=provider.id))
    catalog.add_template(uow, ADMIN, schedule.id, TemplateIn(
        weekdays=WEEKDAYS, start_time=time(13), end_time=time(17), slot_minutes=30, visit_type_ids=[clinic.annual_id]))
    slots.generate(uow, first_day=utcnow().date() + timedelta(days=1), days=14, schedule_ids=[schedule.id])
    uow.commit()


class TestBook:
    def test_booking_returns_to_the_360_page_with_the_appointment_and_its_timeline_line(self, verified: Desk) -> None:
        slot_id = verified.options(verified.clinic.annual_id)[0]
        response = verified.book(slot_id=slot_id, visit_type_id=verified.clinic.annual_id, reason="yearly check")
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/patients/{verified.patient.id}?booked=")
        assert "#" not in response.headers["location"]  # the page opens at its top, on the confirmation
        html = verified.client.get(response.headers["location"]).text
        assert "Booked: Annual exam on" in html
        assert 'role="status" id="scheduling-done" tabindex="-1" data-focus-on-load' in html
        appointment_id = response.headers["location"].split("booked=")[1]
        assert f'<li class="appointment is-new" id="appointment-{appointment_id}">' in html
        assert "Just booked" in html
        assert 'id="appointments-heading">Upcoming appointments' in html
        assert re.search(r"Booked Annual exam for \w{3} \d{1,2} \w{3} 8:00 AM", html)
        assert "Dana Whitfield (main)" in html
        assert 'aria-label="Reschedule Annual exam on' in html

    def test_a_slot_just_taken_is_a_409_with_the_next_times_and_the_choices_kept(
        self, verified: Desk, uow: UnitOfWork
    ) -> None:
        first = verified.options(verified.clinic.annual_id, language="es")[0]
        _book_directly(uow, verified, first)
        response = verified.book(slot_id=first, visit_type_id=verified.clinic.annual_id, language="es",
                                 reason="knee pain")
        assert response.status_code == 409
        assert "That slot was just taken. Pick one of the next available times." in response.text
        options = SLOT_BUTTON.findall(response.text)
        assert options
        assert first not in options
        assert f'<option value="{verified.clinic.annual_id}" selected>' in response.text
        assert '<option value="es" selected>' in response.text
        assert 'name="reason" value="knee pain"' in response.text  # Enter on a next time books it as typed
        again = verified.book(slot_id=options[0], visit_type_id=verified.clinic.annual_id, reason="knee pain")
        assert again.status_code == 303

    def test_the_next_times_after_a_slot_taken_keep_the_agents_filters(
        self, verified: Desk, uow: UnitOfWork
    ) -> None:
        _add_afternoon_colleague(uow, verified.clinic)
        assert "Lee Okafor" in verified.client.get(f"/patients/{verified.patient.id}/book/slots", params={
            "visit_type_id": str(verified.clinic.annual_id)}).text  # the site's list would offer him
        first = verified.options(verified.clinic.annual_id, provider_gender="female")[0]
        _book_directly(uow, verified, first)
        response = verified.book(slot_id=first, visit_type_id=verified.clinic.annual_id, provider_gender="female")
        assert response.status_code == 409
        options = SLOT_BUTTON.findall(response.text)
        assert len(options) == 10
        assert first not in options
        assert "Lee Okafor" not in response.text
        assert options == verified.options(verified.clinic.annual_id, provider_gender="female")

    def test_visit_types_are_listed_regardless_of_case(self, verified: Desk, uow: UnitOfWork) -> None:
        catalog.create_visit_type(uow, ADMIN, VisitTypeIn(
            code="ct", name="CT scan", duration_minutes=20, resource_kind="ct"))
        catalog.create_visit_type(uow, ADMIN, VisitTypeIn(
            code="cardio", name="Cardiology consult", duration_minutes=40, specialties=["cardiology"]))
        uow.commit()
        html = verified.client.get(f"/patients/{verified.patient.id}/book", headers=HTMX).text
        assert html.index("Annual exam") < html.index("Cardiology consult") < html.index("CT scan")

    def test_a_test_without_an_order_needs_an_override_reason(self, verified: Desk) -> None:
        slot_id = verified.options(verified.clinic.mammogram_id)[0]
        refused = verified.book(slot_id=slot_id, visit_type_id=verified.clinic.mammogram_id, order_override="x")
        assert refused.status_code == 422
        assert "Screening mammogram needs an order or referral on file." in refused.text
        assert 'name="order_override"' in refused.text
        booked = verified.book(slot_id=slot_id, visit_type_id=verified.clinic.mammogram_id,
                               order_override="Order faxed, not yet scanned")
        assert booked.status_code == 303
        html = verified.client.get(booked.headers["location"]).text
        assert "preparation:</strong> No deodorant or powder on the day." in html

    def test_nothing_chosen_is_asked_again(self, verified: Desk) -> None:
        response = verified.book(visit_type_id=verified.clinic.annual_id)
        assert response.status_code == 422
        assert "Choose a visit type and a time first." in response.text

    def test_without_the_csrf_token_nothing_is_booked(self, verified: Desk) -> None:
        slot_id = verified.options(verified.clinic.annual_id)[0]
        response = verified.client.post(f"/patients/{verified.patient.id}/appointments",
                                        data={"slot_id": slot_id, "visit_type_id": str(verified.clinic.annual_id)})
        assert response.status_code == 403
        assert "No upcoming appointments." in verified.client.get(f"/patients/{verified.patient.id}").text


@pytest.fixture
def booked(verified: Desk) -> tuple[Desk, str]:
    slot_id = verified.options(verified.clinic.annual_id)[0]
    location = verified.book(slot_id=slot_id, visit_type_id=verified.clinic.annual_id).headers["location"]
    return verified, location.split("booked=")[1].split("#")[0]


class TestReschedule:
    def test_the_same_first_available_list_moves_the_appointment(self, booked: tuple[Desk, str]) -> None:
        desk, appointment_id = booked
        form = desk.client.get(f"/appointments/{appointment_id}/reschedule", headers=HTMX)
        assert form.status_code == 200
        assert "Reschedule Annual exam" in form.text
        options = SLOT_BUTTON.findall(form.text)
        assert len(options) == 10
        response = desk.client.post(f"/appointments/{appointment_id}/reschedule", follow_redirects=False,
                                    data={"csrf_token": desk.token, "slot_id": options[3], "reason": "work shift"})
        assert response.status_code == 303
        html = desk.client.get(response.headers["location"]).text
        assert "Rescheduled: Annual exam on" in html
        assert re.search(r"Rescheduled Annual exam from \w{3} \d{1,2} \w{3} 8:00 AM to ", html)
        assert "reason: work shift" in html

    def test_a_time_just_taken_offers_the_next_with_the_agents_filters(
        self, booked: tuple[Desk, str], uow: UnitOfWork
    ) -> None:
        desk, appointment_id = booked
        _add_afternoon_colleague(uow, desk.clinic)
        form = desk.client.get(f"/appointments/{appointment_id}/reschedule", params={"provider_gender": "female"})
        wanted = SLOT_BUTTON.findall(form.text)[0]
        _book_directly(uow, desk, wanted)
        response = desk.client.post(f"/appointments/{appointment_id}/reschedule", data={
            "csrf_token": desk.token, "slot_id": wanted, "provider_gender": "female"})
        assert response.status_code == 409
        options = SLOT_BUTTON.findall(response.text)
        assert options
        assert wanted not in options
        assert "Lee Okafor" not in response.text

    def test_moving_returns_to_the_confirmation_and_marks_the_appointment(self, booked: tuple[Desk, str]) -> None:
        desk, appointment_id = booked
        wanted = SLOT_BUTTON.findall(desk.client.get(f"/appointments/{appointment_id}/reschedule").text)[0]
        response = desk.client.post(f"/appointments/{appointment_id}/reschedule", follow_redirects=False,
                                    data={"csrf_token": desk.token, "slot_id": wanted})
        assert response.headers["location"] == f"/patients/{desk.patient.id}?rescheduled={appointment_id}"
        html = desk.client.get(response.headers["location"]).text
        assert 'tabindex="-1" data-focus-on-load' in html
        assert f'class="appointment is-new" id="appointment-{appointment_id}"' in html
        assert "Just moved here" in html

    def test_no_time_chosen_is_a_422(self, booked: tuple[Desk, str]) -> None:
        desk, appointment_id = booked
        response = desk.client.post(f"/appointments/{appointment_id}/reschedule", data={"csrf_token": desk.token})
        assert response.status_code == 422
        assert "Choose one of the times." in response.text

    def test_an_unknown_appointment_is_a_404(self, verified: Desk) -> None:
        response = verified.client.get("/appointments/00000000-0000-0000-0000-000000000000/reschedule")
        assert response.status_code == 404


class TestCancel:
    def test_a_reason_is_required(self, booked: tuple[Desk, str]) -> None:
        desk, appointment_id = booked
        form = desk.client.get(f"/appointments/{appointment_id}/cancel", headers=HTMX)
        assert "Cancel Annual exam on" in form.text
        response = desk.client.post(f"/appointments/{appointment_id}/cancel",
                                    data={"csrf_token": desk.token, "reason": " x "})
        assert response.status_code == 422
        assert "at least 3 characters" in response.text
        assert "Cancel appointment" not in desk.client.get(f"/patients/{desk.patient.id}").text

    def test_cancelling_frees_the_time_and_shows_on_the_timeline(self, booked: tuple[Desk, str]) -> None:
        desk, appointment_id = booked
        response = desk.client.post(f"/appointments/{appointment_id}/cancel", follow_redirects=False,
                                    data={"csrf_token": desk.token, "reason": "feeling better"})
        assert response.status_code == 303
        html = desk.client.get(response.headers["location"]).text
        assert "Appointment cancelled." in html
        assert "No upcoming appointments." in html
        assert re.search(r"Cancelled Annual exam for \w{3} \d{1,2} \w{3} 8:00 AM", html)
        again = desk.client.post(f"/appointments/{appointment_id}/cancel",
                                 data={"csrf_token": desk.token, "reason": "feeling better"})
        assert again.status_code == 409

    def test_a_deceased_patients_appointment_can_still_be_cancelled(
        self, booked: tuple[Desk, str], uow: UnitOfWork
    ) -> None:
        desk, appointment_id = booked
        uow.session.get_one(Patient, desk.patient.id).status = "deceased"
        uow.commit()
        assert desk.client.get(f"/appointments/{appointment_id}/reschedule").status_code == 422  # nothing new
        form = desk.client.get(f"/appointments/{appointment_id}/cancel", headers=HTMX)
        assert form.status_code == 200
        assert "Cancel Annual exam on" in form.text
        response = desk.client.post(f"/appointments/{appointment_id}/cancel", follow_redirects=False,
                                    data={"csrf_token": desk.token, "reason": "patient died"})
        assert response.status_code == 303
        uow.session.expire_all()
        assert uow.session.get_one(Appointment, UUID(appointment_id)).status == "cancelled"


class TestCalendar:
    def test_day_view_shows_free_and_booked_slots_without_patient_names(
        self, booked: tuple[Desk, str], uow: UnitOfWork
    ) -> None:
        desk, _ = booked
        first = slots.first_available(uow, SlotSearch(visit_type_id=desk.clinic.annual_id), zone=None)[0]
        day = first.local_start.date()
        html = desk.client.get("/schedule", params={"schedule_id": str(desk.clinic.schedule_id),
                                                    "day": day.isoformat()}).text
        assert "Schedule: Dana Whitfield (main)" in html
        assert '<span class="slot-booked">Booked</span>' in html
        assert '<span class="slot-visit">Annual exam</span>' in html
        assert 'status-pill status-booked' not in html  # "Booked" says it once
        assert "Rivera" not in html
        assert str(desk.patient.id) not in html  # not even a link to the record
        assert 'href="/patients/' not in html
        assert html.count(">Free<") == 7  # 8:00 to 12:00 in 30 minutes, one of them booked
        assert f"day={(day - timedelta(days=1)).isoformat()}\" rel=\"prev\"" in html

    @pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
    def test_a_day_far_out_is_refused(self, desk: Desk, day: str) -> None:
        response = desk.client.get("/schedule", params={"schedule_id": str(desk.clinic.schedule_id), "day": day})
        assert response.status_code == 400
        assert "day" in response.text

    def test_week_view_has_seven_days(self, desk: Desk) -> None:
        html = desk.client.get("/schedule", params={"schedule_id": str(desk.clinic.imaging_schedule_id),
                                                    "view": "week"}).text
        assert html.count('class="card calendar-day') == 7
        assert "Next week →" in html

    def test_the_calendar_stays_within_its_years(self, desk: Desk) -> None:
        params = {"schedule_id": str(desk.clinic.schedule_id), "view": "week"}
        html = desk.client.get("/schedule", params=params | {"day": "2100-12-31"}).text
        assert 'min="2000-01-01"' in html
        assert 'max="2100-12-31"' in html
        assert "Next week" not in html
        assert "day=2100-12-20\" rel=\"prev\"" in html
        assert ">Mon 27 Dec 2100" in html  # another year than this one says which
        first = desk.client.get("/schedule", params=params | {"day": "2000-01-01"}).text
        assert "Previous week" not in first
        assert "day=2000-01-03\" rel=\"next\"" in first
        second = desk.client.get("/schedule", params=params | {"day": "2000-01-03"}).text
        assert "day=2000-01-01\" rel=\"prev\"" in second  # the week before, from its first day in range
        assert desk.client.get("/schedule", params=params | {"day": "2000-01-01"}).status_code == 200

    def test_the_specialty_is_written_out(self, desk: Desk) -> None:
        html = desk.client.get("/schedule", params={"schedule_id": str(desk.clinic.schedule_id)}).text
        assert "Main Street Clinic · Family medicine ·" in html
        assert "Dana Whitfield (main) (Family medicine)" in html
        assert "family_medicine" not in html

    def test_the_calendar_is_in_the_navigation(self, desk: Desk) -> None:
        assert '<a href="/schedule"' in desk.client.get("/patients").text


class TestTimeline:
    def test_the_360_timeline_reads_only_the_appointments_its_events_name(
        self, booked: tuple[Desk, str], uow: UnitOfWork
    ) -> None:
        desk, appointment_id = booked
        for slot_id in desk.options(desk.clinic.annual_id)[:3]:
            assert desk.book(slot_id=slot_id, visit_type_id=desk.clinic.annual_id).status_code == 303
        uow.session.expunge_all()
        loaded: list[object] = []
        event.listen(uow.session, "loaded_as_persistent", lambda _session, row: loaded.append(row))
        items = history.timeline_for(uow, desk.patient.id, None, limit=1)
        assert len(items) == 1
        assert items[0].title.startswith("Booked Annual exam for ")
        appointments = [row for row in loaded if isinstance(row, Appointment)]
        assert len(appointments) == 1  # of the patient's four: the one the latest event names
        assert str(appointments[0].id) != appointment_id
