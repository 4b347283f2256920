"""The agent desktop and the wallboard pages: who may open them, their fragments, forms and refusals; the
contacts on the patient's 360 timeline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from careline.actor import Role
from careline.auth.models import User
from careline.db import UnitOfWork, utcnow
from careline.patients.models import Patient
from careline.routing.models import Interaction
from careline.routing.schemas import InteractionRead
from careline.routing.service import desktop, engine, history, interactions
from careline.web.csrf import SESSION_COOKIE
from tests.conftest import csrf_from
from tests.factories.auth import make_session, make_user
from tests.factories.patients import make_patient
from tests.factories.routing import INTEGRATION, Staff, make_agent, make_contact, make_queue

HTMX = {"HX-Request": "true"}
CALLER = "+16175550123"


@dataclass
class Desk:
    """A signed-in agent with a profile, available since a minute ago, at their desktop."""

    client: TestClient
    uow: UnitOfWork
    staff: Staff
    token: str

    def post(self, path: str, *, htmx: bool = True, **data: str) -> Any:  # the test client's response
        return self.client.post(path, data={"csrf_token": self.token, **data}, headers=HTMX if htmx else {},
                                follow_redirects=False)

    def call(self, **fields: object) -> InteractionRead:
        """A call comes in and the engine offers it (to this agent, the only one available)."""
        contact = make_contact(self.uow, now=utcnow(), reason="appointment", **fields)
        engine.run_pass(self.uow)
        self.uow.commit()
        return contact

    def offer_id(self) -> UUID:
        return desktop.my_work(self.uow, self.staff.actor).offers[0].assignment_id

    def answer(self, **fields: object) -> InteractionRead:
        contact = self.call(**fields)
        assert self.post(f"/desktop/offers/{self.offer_id()}/accept").status_code == 200
        return contact


def _sign_in(client: TestClient, uow: UnitOfWork, user_id: UUID | None) -> str:
    user = uow.session.get(User, user_id)
    assert user is not None
    client.cookies.set(SESSION_COOKIE, make_session(uow, user))
    uow.commit()
    return csrf_from(client.get("/account").text)


@pytest.fixture
def desk(client: TestClient, uow: UnitOfWork) -> Desk:
    make_queue(uow)
    make_queue(uow, "billing")
    staff = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1), skills={"scheduling": 2})
    return Desk(client, uow, staff, _sign_in(client, uow, staff.actor.user_id))


@pytest.fixture
def ana(uow: UnitOfWork) -> Patient:
    return make_patient(uow, given="Ana María", family="Rivera", phones=((CALLER, "mobile"),))


def _status(contact: InteractionRead, uow: UnitOfWork) -> str:
    found = uow.session.get(Interaction, contact.id, populate_existing=True)
    assert found is not None
    return found.status


class TestDesktopPage:
    def test_shows_the_state_the_shortcuts_and_the_live_scripts(self, desk: Desk) -> None:
        html = desk.client.get("/desktop").text
        assert re.search(r'<span class="state-pill state-available">Available</span>', html)
        for key, state in enumerate(("available", "break", "lunch", "training", "meeting", "offline"), start=1):
            assert f'value="{state}" id="state-{state}"' in html
            assert f'aria-keyshortcuts="Alt+{key}" data-state-key="{key}"' in html
        assert 'aria-keyshortcuts="Alt+A">Accept <kbd>Alt+A</kbd>' in html
        assert 'aria-keyshortcuts="Alt+R">Reject <kbd>Alt+R</kbd>' in html
        assert '<script src="/static/desktop.js' in html
        assert "No contact right now" in html
        assert '"nurse_advice": "Nurse advice"' in html  # the banner's words, as data (CSP forbids inline scripts)

    def test_a_user_without_an_agent_profile_is_told_what_to_do(self, client: TestClient, uow: UnitOfWork) -> None:
        user = make_user(uow, role=Role.supervisor, username="sam")
        _sign_in(client, uow, user.id)
        response = client.get("/desktop")
        assert response.status_code == 200
        assert "You have no agent profile yet" in response.text
        assert "desktop.js" not in response.text

    @pytest.mark.parametrize("role", [Role.admin, Role.auditor])
    def test_roles_that_take_no_contacts_are_refused(self, client: TestClient, uow: UnitOfWork, role: Role) -> None:
        _sign_in(client, uow, make_user(uow, role=role).id)
        assert client.get("/desktop").status_code == 403

    def test_choosing_a_state_answers_with_the_state_bar(self, desk: Desk) -> None:
        response = desk.post("/desktop/state", state="lunch")
        assert response.status_code == 200
        html = response.text
        assert "<html" not in html
        assert '<span class="state-pill state-lunch">Lunch</span>' in html
        assert re.search(r'value="lunch" id="state-lunch"\s+class="state-choice state-lunch" aria-pressed="true"', html)
        assert desk.staff.row(desk.uow).state == "lunch"

    def test_a_plain_form_post_goes_back_to_the_page(self, desk: Desk) -> None:
        response = desk.post("/desktop/state", htmx=False, state="break")
        assert response.status_code == 303
        assert response.headers["location"] == "/desktop"

    @pytest.mark.parametrize("state", ["busy", "asleep"])
    def test_a_state_nobody_chooses_is_refused_with_a_message(self, desk: Desk, state: str) -> None:
        response = desk.post("/desktop/state", state=state)
        assert response.status_code == 422
        assert 'role="alert"' in response.text
        assert desk.staff.row(desk.uow).state == "available"


class TestOffers:
    def test_accepting_connects_the_contact_and_opens_its_record(self, desk: Desk, ana: Patient) -> None:
        contact = desk.call(address=CALLER)
        response = desk.post(f"/desktop/offers/{desk.offer_id()}/accept")
        assert response.status_code == 200
        html = response.text
        assert f'data-record-url="/desktop/contacts/{contact.id}/record" data-open-record' in html
        assert "Connected: Call from the scheduling queue." in html
        assert '<option value="booked" data-resolves="true">Appointment booked</option>' in html
        assert 'aria-keyshortcuts="Alt+W">End and wrap up <kbd>Alt+W</kbd>' in html
        assert _status(contact, desk.uow) == "connected"

    def test_an_offer_that_went_away_is_refused_with_the_reason(self, desk: Desk) -> None:
        contact = desk.call()
        offer = desk.offer_id()
        interactions.end(desk.uow, INTEGRATION, contact.id)  # the caller hung up in line
        desk.uow.commit()
        response = desk.post(f"/desktop/offers/{offer}/accept")
        assert response.status_code == 409
        assert "This offer is no longer open" in response.text

    def test_rejecting_sends_the_contact_back_in_line(self, desk: Desk) -> None:
        contact = desk.call()
        response = desk.post(f"/desktop/offers/{desk.offer_id()}/reject")
        assert "Declined: the contact goes to the next agent." in response.text
        assert _status(contact, desk.uow) == "queued"

    def test_someone_elses_offer_is_not_yours(self, desk: Desk, client: TestClient) -> None:
        desk.call()
        offer = desk.offer_id()
        other = make_agent(desk.uow, "jordan", available_at=utcnow())
        token = _sign_in(client, desk.uow, other.actor.user_id)
        response = client.post(f"/desktop/offers/{offer}/accept", data={"csrf_token": token}, headers=HTMX)
        assert response.status_code == 403
        assert "This contact is not with you." in response.text


class TestContact:
    def test_hold_and_resume(self, desk: Desk) -> None:
        contact = desk.answer()
        held = desk.post(f"/desktop/contacts/{contact.id}/hold").text
        assert "The caller is on hold." in held
        assert '<strong class="held">On hold</strong>' in held
        assert f'id="resume-{contact.id}">Resume</button>' in held
        back = desk.post(f"/desktop/contacts/{contact.id}/hold", on="false").text
        assert "Back with the caller." in back
        assert f'id="hold-{contact.id}">Hold</button>' in back

    def test_ending_starts_the_wrap_up_with_its_countdown(self, desk: Desk) -> None:
        contact = desk.answer()
        html = desk.post(f"/desktop/contacts/{contact.id}/end").text
        assert "Ended. Wrap up before the time runs out." in html
        assert re.search(r'closes by itself in\s+<strong class="countdown" data-until="[^"]+">[01]:\d\d</strong>', html)
        assert f'id="wrap-up-{contact.id}" data-wrap-up aria-keyshortcuts="Alt+W">Wrap up' in html
        assert desk.staff.row(desk.uow).state == "wrap_up"

    def test_transfer_to_another_queue(self, desk: Desk) -> None:
        contact = desk.answer()
        html = desk.post(f"/desktop/contacts/{contact.id}/transfer", queue="billing").text
        assert "Transferred to the billing queue." in html
        assert "No contact right now" in html
        assert _status(contact, desk.uow) == "queued"

    def test_notes_are_kept(self, desk: Desk) -> None:
        contact = desk.answer()
        html = desk.post(f"/desktop/contacts/{contact.id}/notes", notes="Wants a morning visit").text
        assert "Notes saved." in html
        assert ">Wants a morning visit</textarea>" in html

    def test_wrap_up_with_a_disposition_closes_the_contact(self, desk: Desk) -> None:
        contact = desk.answer()
        response = desk.post(f"/desktop/contacts/{contact.id}/wrap-up", disposition="booked",
                             notes="Annual exam booked", resolved="true")
        assert "Wrapped up: Appointment booked." in response.text
        found = desk.uow.session.get(Interaction, contact.id, populate_existing=True)
        assert found is not None
        assert (found.status, found.disposition, found.resolved, found.notes) == (
            "completed", "booked", True, "Annual exam booked")
        assert desk.staff.row(desk.uow).state == "available"

    def test_an_unticked_resolved_box_records_not_resolved(self, desk: Desk) -> None:
        contact = desk.answer()
        desk.post(f"/desktop/contacts/{contact.id}/wrap-up", disposition="booked")
        found = desk.uow.session.get(Interaction, contact.id, populate_existing=True)
        assert found is not None
        assert found.resolved is False

    @pytest.mark.parametrize(("disposition", "said"), [("", "Choose how the contact ended"),
                                                       ("made_up", "is not a disposition code in use")])
    def test_wrap_up_without_a_known_disposition_changes_nothing(self, desk: Desk, disposition: str,
                                                                  said: str) -> None:
        contact = desk.answer()
        response = desk.post(f"/desktop/contacts/{contact.id}/wrap-up", disposition=disposition, notes="no code")
        assert response.status_code == 422
        assert said in response.text
        assert _status(contact, desk.uow) == "connected"
        assert desk.uow.session.get(Interaction, contact.id, populate_existing=True).notes is None

    def test_a_text_contact_loads_its_thread_and_has_no_phone_buttons(self, desk: Desk) -> None:
        contact = desk.answer(channel="sms")
        html = desk.client.get("/desktop/contacts").text
        assert f'hx-get="/desktop/contacts/{contact.id}/conversation"' in html
        assert "Hang up" not in html
        assert f'id="hold-{contact.id}"' not in html


class TestCaller:
    def test_a_known_caller_opens_their_record(self, desk: Desk, ana: Patient) -> None:
        contact = desk.answer(address=CALLER)
        response = desk.client.get(f"/desktop/contacts/{contact.id}/record", headers=HTMX, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/patients/{ana.id}"

    def test_a_shared_number_lists_names_only_and_links_the_chosen_patient(self, desk: Desk, ana: Patient) -> None:
        son = make_patient(desk.uow, given="Luis", family="Rivera", phones=((CALLER, "home"),))
        contact = desk.answer(address=CALLER)
        html = desk.client.get(f"/desktop/contacts/{contact.id}/record", headers=HTMX).text
        assert "2 patients share this number" in html
        assert "Ana Rivera" in html
        assert "Luis Rivera" in html
        assert "1961" not in html  # identifiers stay hidden until the caller is verified
        assert ana.mrn not in html
        response = desk.post(f"/desktop/contacts/{contact.id}/caller", patient_id=str(son.id))
        assert response.headers["location"] == f"/patients/{son.id}"
        assert interactions.get(desk.uow, contact.id).patient_id == son.id

    def test_only_a_patient_on_the_number_can_be_chosen(self, desk: Desk, ana: Patient) -> None:
        make_patient(desk.uow, given="Luis", family="Rivera", phones=((CALLER, "home"),))
        stranger = make_patient(desk.uow, given="Zoe", family="Park")
        contact = desk.answer(address=CALLER)
        response = desk.post(f"/desktop/contacts/{contact.id}/caller", patient_id=str(stranger.id))
        assert response.status_code == 422
        assert "Choose one of the patients who share the caller" in response.text
        assert interactions.get(desk.uow, contact.id).patient_id is None

    def test_a_new_caller_gets_a_record_and_the_contact(self, desk: Desk) -> None:
        contact = desk.answer(address="+16175550199")
        form = desk.client.get(f"/desktop/contacts/{contact.id}/record", headers=HTMX).text
        assert "New caller: no patient record is on this number." in form
        assert 'name="phone" type="tel" maxlength="40" autocomplete="off" value="+16175550199"' in form
        response = desk.post(f"/desktop/contacts/{contact.id}/new-caller", given_names="Noor", family_name="Haddad",
                             birth_date="1990-04-05", phone="+16175550199")
        assert response.status_code == 303
        patient_id = interactions.get(desk.uow, contact.id).patient_id
        assert patient_id is not None
        assert response.headers["location"] == f"/patients/{patient_id}"

    def test_a_new_caller_form_with_a_bad_date_keeps_what_was_typed(self, desk: Desk) -> None:
        contact = desk.answer()
        response = desk.post(f"/desktop/contacts/{contact.id}/new-caller", given_names="Noor", family_name="Haddad",
                             birth_date="05/04/1990")
        assert response.status_code == 422
        assert "valid date of birth" in response.text
        assert 'value="Noor"' in response.text

    def test_a_duplicate_new_caller_is_refused(self, desk: Desk, ana: Patient) -> None:
        contact = desk.answer()
        response = desk.post(f"/desktop/contacts/{contact.id}/new-caller", given_names="Ana María",
                             family_name="Rivera", birth_date="1961-02-03")
        assert response.status_code == 409
        assert "already exists" in response.text
        assert interactions.get(desk.uow, contact.id).patient_id is None

    def test_without_htmx_the_picker_is_a_whole_page(self, desk: Desk) -> None:
        contact = desk.answer()
        html = desk.client.get(f"/desktop/contacts/{contact.id}/record").text
        assert "<html" in html
        assert "← Back to the desktop" in html


@dataclass
class Wall:
    """A supervisor at the wallboard, in a browser of their own."""

    client: TestClient
    token: str

    def post(self, path: str, **data: str) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **data}, headers=HTMX)


@pytest.fixture
def wall(app: FastAPI, uow: UnitOfWork) -> Iterator[Wall]:
    with TestClient(app, base_url="http://testserver") as client:
        yield Wall(client, _sign_in(client, uow, make_user(uow, role=Role.supervisor, username="sam").id))


class TestWallboard:
    def test_shows_queues_agents_and_live_contacts(self, desk: Desk, wall: Wall) -> None:
        contact = desk.answer()
        desk.call()  # a second call waits: alex is busy
        html = wall.client.get("/wallboard").text
        assert '<script src="/static/wallboard.js' in html
        start = html.index('data-queue="scheduling"')
        queue = html[start:html.index("</article>", start)]
        assert re.search(r'data-figure="waiting">1<', queue)
        assert re.search(r'data-figure="answered">1<', queue)
        assert re.search(r'data-figure="offered">2<', queue)
        assert re.search(r'data-figure="service-level">100%<', queue)
        assert "On target" in queue  # said in words, not by colour alone
        assert '<span class="state-pill state-busy">On a contact</span>' in html
        assert f'action="/wallboard/interactions/{contact.id}/requeue"' in html
        assert f'action="/wallboard/agents/{desk.staff.id}/state"' in html

    def test_admins_watch_but_change_nothing(self, desk: Desk, client: TestClient, uow: UnitOfWork) -> None:
        desk.answer()
        _sign_in(client, uow, make_user(uow, role=Role.admin).id)
        html = client.get("/wallboard/board").text
        assert "<html" not in html
        assert "Alex" in html
        assert "/requeue" not in html
        assert "/state" not in html

    def test_agents_cannot_open_it(self, desk: Desk) -> None:
        assert desk.client.get("/wallboard").status_code == 403

    def test_a_supervisor_sends_an_agent_on_a_break(self, desk: Desk, wall: Wall) -> None:
        response = wall.post(f"/wallboard/agents/{desk.staff.id}/state", state="break")
        assert "Alex is now break." in response.text
        assert desk.staff.row(desk.uow).state == "break"

    def test_a_supervisor_requeues_a_live_contact(self, desk: Desk, wall: Wall) -> None:
        contact = desk.answer()
        response = wall.post(f"/wallboard/interactions/{contact.id}/requeue", queue="billing")
        assert "Back in line in the billing queue." in response.text
        assert _status(contact, desk.uow) == "queued"

    def test_requeueing_a_finished_contact_is_refused(self, desk: Desk, wall: Wall) -> None:
        contact = desk.answer()
        desk.post(f"/desktop/contacts/{contact.id}/wrap-up", disposition="information")
        response = wall.post(f"/wallboard/interactions/{contact.id}/requeue")
        assert response.status_code == 409
        assert "only a waiting or live contact can be put back in line" in response.text


class TestTimeline:
    def test_contacts_read_as_timeline_lines(self, desk: Desk, ana: Patient) -> None:
        answered = desk.answer(address=CALLER)
        desk.post(f"/desktop/contacts/{answered.id}/wrap-up", disposition="booked", notes="Annual exam",
                  resolved="true")
        make_contact(desk.uow, now=utcnow(), channel="sms", address=CALLER)
        lost = make_contact(desk.uow, now=utcnow() - timedelta(minutes=2), channel="sms", address=CALLER)
        interactions.end(desk.uow, INTEGRATION, lost.id)
        lines = {item.title: item.detail for item in history.timeline_for(desk.uow, ana.id)}
        assert lines["Call · Appointment · answered by Alex · 0 s"] == (
            "Appointment booked · resolved · notes: Annual exam")
        assert lines["SMS · abandoned after 2 min"] is None
        assert "SMS · waiting in line" in lines

    def test_the_360_page_shows_them(self, desk: Desk, ana: Patient) -> None:
        desk.answer(address=CALLER)
        desk.post(f"/patients/{ana.id}/verify", htmx=False, name="Ana Rivera", birth_date="1961-02-03")
        html = desk.client.get(f"/patients/{ana.id}").text
        assert ('<span class="kind">contact</span> <span class="what">Call · Appointment · answered by Alex · '
                "in progress") in html


@pytest.mark.parametrize(("seconds", "said"), [(0, "0 s"), (44.6, "45 s"), (61, "1 min"), (3600, "1 h"),
                                                (3900, "1 h 5 min")])
def test_durations_read_as_people_say_them(seconds: float, said: str) -> None:
    assert history.duration(seconds) == said
