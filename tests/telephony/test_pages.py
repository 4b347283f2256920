"""The admin page of the center's phone numbers: who may open it, saving a number with its IVR and hours, a
refusal that keeps what was typed, deactivating; and the voice buttons on the desktop and the 360 page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careline.actor import Role
from careline.auth.models import User
from careline.db import UnitOfWork, utcnow
from careline.routing.service import desktop, engine, offers
from careline.routing.service.external import OUTBOUND_QUEUE
from careline.telephony.errors import InvalidTelephonyInput
from careline.telephony.models import Call
from careline.telephony.schemas import IvrConfig, MenuOption, NumberIn
from careline.telephony.service import numbers
from careline.web.csrf import SESSION_COOKIE
from tests.conftest import csrf_from
from tests.factories.auth import make_session, make_user
from tests.factories.patients import make_patient
from tests.factories.routing import Staff, make_agent, make_contact, make_queue
from tests.factories.telephony import CENTER, make_number

PAGE = "/admin/phone-numbers"


def _sign_in(client: TestClient, uow: UnitOfWork, role: Role) -> str:
    user = uow.session.get(User, make_user(uow, role=role, username=f"{role.value}-user").id)
    assert user is not None
    client.cookies.set(SESSION_COOKIE, make_session(uow, user))
    uow.commit()
    return csrf_from(client.get("/account").text)


def _form(token: str, **changes: Any) -> dict[str, Any]:
    """The form as an admin fills it in for a new number: weekday hours, both languages, three menu options."""
    form: dict[str, Any] = {
        "csrf_token": token, "number": "+16175550199", "label": "Pediatrics line", "time_zone": "America/Chicago",
        "hours_mon": "08:00-12:00, 13:00-17:00", "hours_tue": "08:00-17:00", "hours_sat": "09:00-13:00",
        "holidays": "2025-12-25, 2026-01-01", "languages": ["en", "es"], "greeting_en": "Welcome to Pediatrics.",
        "greeting_es": "Bienvenidos a Pediatría.", "after_hours": "callback",
        "after_hours_queue": "billing", "digit_appointments": "1", "queue_appointments": "scheduling",
        "digit_billing": "4", "queue_billing": "billing", "digit_operator": "0", "queue_operator": "scheduling"}
    return form | changes


@pytest.fixture
def admin(client: TestClient, uow: UnitOfWork) -> str:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    return _sign_in(client, uow, Role.admin)


def test_the_admin_sees_the_numbers_with_their_languages_hours_and_after_hours(
        client: TestClient, uow: UnitOfWork, admin: str) -> None:
    make_number(uow, languages=["es"], after_hours="callback")
    uow.commit()
    html = client.get(PAGE).text
    row = re.search(rf'<tr data-number="\{CENTER}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    assert cells[:6] == [CENTER, "Main line", "Spanish", "Callback · scheduling queue",
                         "Always open (America/New_York)", "Active"]
    assert '<a href="/admin/phone-numbers" aria-current="page">Phone numbers</a>' in html
    # A new number starts from the usual menu; a default queue the center lacks is left to choose.
    assert re.search(r'name="queue_billing"[^>]*>\s*<option value="billing" selected>', html)
    assert re.search(r'name="queue_nurse"[^>]*>\s*<option value="" selected>Choose a queue…</option>', html)


def test_the_admin_adds_a_number_through_the_form(client: TestClient, uow: UnitOfWork, admin: str) -> None:
    response = client.post(PAGE, data=_form(admin), follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{PAGE}?saved=%2B16175550199"

    saved = next(item for item in numbers.all_numbers(uow) if item.number == "+16175550199")
    assert saved.label == "Pediatrics line"
    assert saved.time_zone == "America/Chicago"
    assert saved.business_hours == {"mon": [("08:00", "12:00"), ("13:00", "17:00")], "tue": [("08:00", "17:00")],
                                    "sat": [("09:00", "13:00")]}
    assert saved.holidays == ["2025-12-25", "2026-01-01"]
    ivr = saved.ivr
    assert ivr.languages == ["en", "es"]
    assert ivr.greeting == {"en": "Welcome to Pediatrics.", "es": "Bienvenidos a Pediatría."}
    assert ivr.identify_by_birth_date is False  # left unticked
    assert (ivr.after_hours, ivr.after_hours_queue) == ("callback", "billing")
    assert [(item.digit, item.option, item.queue) for item in ivr.menu] == [
        ("1", "appointments", "scheduling"), ("4", "billing", "billing"), ("0", "operator", "scheduling")]

    page = client.get(response.headers["location"]).text
    assert "Saved +16175550199." in page
    assert "Mon 08:00-12:00, 13:00-17:00; Tue 08:00-17:00; Sat 09:00-13:00" in page


def test_editing_shows_the_saved_values_and_saving_again_replaces_them(
        client: TestClient, uow: UnitOfWork, admin: str) -> None:
    client.post(PAGE, data=_form(admin), follow_redirects=False)
    html = client.get(PAGE, params={"edit": "+16175550199"}).text
    assert "Edit +16175550199" in html
    assert 'id="hours_mon" name="hours_mon" value="08:00-12:00, 13:00-17:00"' in html
    assert re.search(r'name="digit_billing"[^>]*>.*?<option value="4" selected>', html, re.S)
    assert re.search(r'id="language-es" name="languages"\s+value="es" checked', html)
    assert '<input type="hidden" name="editing" value="true">' in html

    response = client.post(PAGE, data=_form(admin, label="Pediatrics", languages=["en"], editing="true"),
                           follow_redirects=False)
    assert response.status_code == 303
    saved = [item for item in numbers.all_numbers(uow) if item.number == "+16175550199"]
    assert [(item.label, item.ivr.languages) for item in saved] == [("Pediatrics", ["en"])]


def test_adding_a_number_already_there_is_refused_with_a_link_to_edit_it(
        client: TestClient, uow: UnitOfWork, admin: str) -> None:
    client.post(PAGE, data=_form(admin), follow_redirects=False)
    assert 'name="editing"' not in client.get(PAGE).text  # the add form

    response = client.post(PAGE, data=_form(admin, label="Typed over", languages=["es"]), follow_redirects=False)
    assert response.status_code == 422
    html = response.text
    problems = re.search(r'<div class="alert error" role="alert" id="number-problems">(.*?)</div>', html, re.S)
    assert problems is not None
    assert ('<li>+16175550199 is already one of the center\'s numbers: <a href="/admin/phone-numbers?edit='
            '%2B16175550199#number-form-heading">edit it instead</a>.</li>') in problems.group(1).replace("&#39;", "'")
    assert "Add a number" in html  # still the add form, as typed
    assert 'name="editing"' not in html
    assert 'value="Typed over"' in html
    assert re.search(r'id="number" name="number" value="\+16175550199"[^>]*aria-invalid="true"', html, re.S)
    saved = numbers.all_numbers(uow)
    assert [(item.label, item.ivr.languages) for item in saved] == [("Pediatrics line", ["en", "es"])]


def test_the_service_refuses_to_create_a_number_twice_but_save_still_replaces(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    staff = make_agent(uow, "admin-ish")
    data = NumberIn(number="+18005550100", label="Main", ivr=IvrConfig(
        menu=[MenuOption(digit="1", option="appointments", queue="scheduling")], after_hours_queue="scheduling"))
    numbers.create(uow, staff.actor, data)
    with pytest.raises(InvalidTelephonyInput, match=r"\+18005550100 is already one of the center's numbers"):
        numbers.create(uow, staff.actor, data.model_copy(update={"label": "Other"}))
    numbers.save(uow, staff.actor, data.model_copy(update={"label": "Replaced"}))
    assert [item.label for item in numbers.all_numbers(uow)] == ["Replaced"]


@pytest.mark.parametrize(("changes", "said"), [
    ({"number": "617-555-0199"}, "Write the number in international form, like +16175550100."),
    ({"hours_wed": "nine to five"}, "Wednesday: write the hours like 08:00-18:00"),
    ({"hours_wed": "18:00-08:00"}, "Business hours: wed: 18:00-08:00 is not a span like 08:00-18:00."),
    ({"holidays": "Christmas"}, "Write holidays as dates like 2025-12-25, separated by commas."),
    ({"languages": []}, "Choose at least one language."),
    ({"digit_billing": "1"}, "Menu: key 1 is given to Appointments and Billing; each menu digit may lead to one "
                             "option only."),
    ({"queue_billing": "radiology"}, "radiology"),
    ({"time_zone": "Mars/Olympus"}, "Time zone: unknown time zone"),
])
def test_invalid_input_is_shown_again_with_the_values_kept_and_nothing_saved(
        client: TestClient, uow: UnitOfWork, admin: str, changes: dict[str, Any], said: str) -> None:
    response = client.post(PAGE, data=_form(admin, **changes), follow_redirects=False)
    assert response.status_code == 422
    html = response.text
    problems = re.search(r'<div class="alert error" role="alert" id="number-problems">(.*?)</div>', html, re.S)
    assert problems is not None
    assert said in problems.group(1)
    assert 'value="Pediatrics line"' in html  # what was typed is still there
    assert 'id="greeting_es" name="greeting_es" rows="2" maxlength="300">Bienvenidos a Pediatría.</textarea>' in html
    for field, value in changes.items():
        if isinstance(value, str) and field.startswith(("number", "hours", "holidays", "time_zone")):
            assert f'value="{value}"' in html
    assert numbers.all_numbers(uow) == []


def _problems(html: str) -> list[str]:
    box = re.search(r'<div class="alert error" role="alert" id="number-problems">(.*?)</div>', html, re.S)
    assert box is not None
    return [re.sub(r"<[^>]+>", "", item).replace("&#39;", "'") for item in re.findall(r"<li>(.*?)</li>", box.group(1))]


def _invalid(html: str) -> set[str]:
    """The ids of the fields marked aria-invalid."""
    return {match for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html) if 'aria-invalid="true"' in tag
            for match in re.findall(r'\bid="([^"]+)"', tag)}


def test_every_problem_is_said_on_the_first_submit_naming_the_rows_and_marking_the_fields(
        client: TestClient, uow: UnitOfWork, admin: str) -> None:
    # A key given twice (a model check) together with field problems: all are reported at once.
    response = client.post(PAGE, data=_form(admin, digit_billing="1", queue_operator="", digit_nurse="5",
                                            queue_nurse="", label="", hours_wed="nine to five"),
                           follow_redirects=False)
    assert response.status_code == 422
    html = response.text
    assert _problems(html) == [
        "Wednesday: write the hours like 08:00-18:00 (or 08:00-12:00, 13:00-17:00).",
        "Menu: key 1 is given to Appointments and Billing; each menu digit may lead to one option only.",
        "Give the number a label of at most 100 characters, like “Main line”.",
        "Choose a queue for every menu option that has a digit: Nurse line and Operator.",
    ]
    assert _invalid(html) == {"hours_wed", "digit_appointments", "digit_billing", "label", "queue_nurse",
                              "queue_operator"}
    assert numbers.all_numbers(uow) == []


def test_a_queue_that_is_not_active_marks_the_selects_that_chose_it(
        client: TestClient, uow: UnitOfWork, admin: str) -> None:
    response = client.post(PAGE, data=_form(admin, queue_billing="radiology", after_hours_queue="radiology"),
                           follow_redirects=False)
    assert response.status_code == 422
    assert _problems(response.text) == ["There is no active queue named 'radiology'."]
    assert _invalid(response.text) == {"queue_billing", "after_hours_queue"}
    assert 'select[aria-invalid="true"]' in client.get("/static/routing.css").text  # outlined in red


def test_deactivating_a_number(client: TestClient, uow: UnitOfWork, admin: str) -> None:
    make_number(uow)
    uow.commit()
    page = client.get(PAGE).text
    assert 'action="/admin/phone-numbers/%2B16175550100/deactivate"' in page
    response = client.post(f"{PAGE}/%2B16175550100/deactivate", data={"csrf_token": admin}, follow_redirects=False)
    assert response.status_code == 303
    assert [item.active for item in numbers.all_numbers(uow)] == [False]
    assert "Deactivated +16175550100" in client.get(response.headers["location"]).text


@pytest.mark.parametrize("role", [Role.agent, Role.supervisor, Role.auditor])
def test_other_roles_are_refused(client: TestClient, uow: UnitOfWork, role: Role) -> None:
    token = _sign_in(client, uow, role)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data=_form(token), follow_redirects=False).status_code == 403
    assert "Phone numbers" not in client.get("/account").text
    assert numbers.all_numbers(uow) == []


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, uow: UnitOfWork, admin: str) -> None:
    form = _form(admin)
    del form["csrf_token"]
    assert client.post(PAGE, data=form, follow_redirects=False).status_code == 403
    assert numbers.all_numbers(uow) == []


# --- the voice buttons on the desktop and the 360 page -------------------------------------------------------

CALLER = "+16175550123"


@pytest.fixture
def agent(client: TestClient, uow: UnitOfWork) -> tuple[str, Staff]:
    make_queue(uow, "scheduling")
    make_queue(uow, OUTBOUND_QUEUE)
    staff = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
    user = uow.session.get(User, staff.actor.user_id)
    assert user is not None
    client.cookies.set(SESSION_COOKIE, make_session(uow, user))
    uow.commit()
    return csrf_from(client.get("/account").text), staff


def _open_360(client: TestClient, token: str, patient_id: UUID) -> str:
    verified = client.post(f"/patients/{patient_id}/verify", data={
        "csrf_token": token, "name": "Ana Rivera", "birth_date": "1961-02-03"}, follow_redirects=False)
    assert verified.status_code == 303
    return client.get(f"/patients/{patient_id}").text


def test_the_360_page_offers_a_call_to_each_phone_number_and_the_call_shows_on_the_desktop(
        client: TestClient, uow: UnitOfWork, agent: tuple[str, Staff]) -> None:
    token, _staff = agent
    ana = make_patient(uow, phones=((CALLER, "mobile"), ("+16175550188", "home")))
    uow.commit()
    html = _open_360(client, token, ana.id)
    buttons = re.findall(r'<button type="button" class="button secondary small" data-call data-patient="([^"]+)"\s+'
                         r'data-number="([^"]+)" data-call-result="call-result" aria-label="([^"]+)">Call</button>',
                         html)
    assert buttons == [(str(ana.id), CALLER, "Call mobile (617) 555-0123"),
                       (str(ana.id), "+16175550188", "Call home (617) 555-0188")]
    assert '<p class="hint" id="call-result" role="status"></p>' in html
    assert '<script src="/static/softphone.js' in html

    # What the button posts (as softphone.js does, with the CSRF header) places the call, with the caller ID.
    client.app.state.settings = client.app.state.settings.model_copy(update={"caller_id": CENTER})
    placed = client.post("/api/calls", json={"patient_id": str(ana.id), "number": CALLER},
                         headers={"X-CSRF-Token": token})
    assert placed.status_code == 201, placed.text
    contact = placed.json()["interaction_id"]
    desk = client.get("/desktop").text
    card = re.search(rf'<section class="card contact contact-connected" id="contact-{contact}".*?</section>', desk,
                     re.S)
    assert card is not None
    assert 'data-voice="true"' in card.group(0)
    assert re.search(rf'id="call-back-{contact}" data-call data-interaction="{contact}"\s+'
                     rf'data-call-result="call-result-{contact}">Call back</button>', card.group(0))
    assert f'<p class="hint" id="call-result-{contact}" role="status"></p>' in card.group(0)


def test_a_call_without_the_csrf_header_is_refused(client: TestClient, uow: UnitOfWork,
                                                   agent: tuple[str, Staff]) -> None:
    ana = make_patient(uow, phones=((CALLER, "mobile"),))
    uow.commit()
    assert client.post("/api/calls", json={"patient_id": str(ana.id), "number": CALLER}).status_code == 403


def test_an_inbound_call_has_no_call_back_button(client: TestClient, uow: UnitOfWork,
                                                 agent: tuple[str, Staff]) -> None:
    _token, staff = agent
    contact = make_contact(uow, now=utcnow(), reason="appointment")
    engine.run_pass(uow)
    offer = desktop.my_work(uow, staff.actor).offers[0].assignment_id
    offers.accept(uow, staff.actor, offer)
    uow.commit()
    html = client.get("/desktop").text
    assert f'id="contact-{contact.id}"' in html
    assert "Call back" not in html


@pytest.mark.parametrize(("provider", "shown"), [("simulated", False), ("twilio", True)])
def test_the_softphone_panel_is_there_only_with_twilio(client: TestClient, agent: tuple[str, Staff],
                                                       provider: str, shown: bool) -> None:
    client.app.state.settings = client.app.state.settings.model_copy(update={"telephony_provider": provider})
    html = client.get("/desktop").text
    assert ('<section class="softphone" aria-label="Softphone" data-softphone hidden>' in html) is shown
    assert '<script src="/static/softphone.js' in html


# --- a provider's request with a bad signature ----------------------------------------------------------------


def test_a_bad_twilio_signature_says_so_and_records_nothing(client: TestClient, uow: UnitOfWork) -> None:
    response = client.post("/telephony/twilio/voice", data={"CallSid": "CA" + "0" * 32, "From": CALLER},
                           headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    assert response.text == "The request's signature is not valid."
    assert uow.session.scalar(select(func.count()).select_from(Call)) == 0


def test_a_bad_cti_signature_is_a_json_problem(client: TestClient, uow: UnitOfWork) -> None:
    response = client.post("/api/cti/events", content=b'{"type": "call.queued"}',
                           headers={"X-Careline-Timestamp": "0", "X-Careline-Signature": "forged"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The request's signature is not valid."
    assert uow.session.scalar(select(func.count()).select_from(Call)) == 0
