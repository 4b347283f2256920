"""A birth date keyed into the IVR counts as one verified identifier for the agent who takes the call:
the masked view asks only for the rest, and says which one the keypad proved. Never both."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient

from careline.actor import Role
from careline.db import UnitOfWork, utcnow
from careline.patients.schemas import MaskedPatient
from careline.patients.service import access
from careline.routing.models import Assignment, Interaction
from careline.routing.service import desktop, engine
from careline.telephony.service import calls
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, make_agent, make_queue
from tests.factories.telephony import make_number

CALLER = "+16175550142"


def _call_in_line(uow: UnitOfWork, sid: str, dob_digits: str) -> None:
    calls.incoming(uow, POLICY, calls.Arrival("twilio", sid, CALLER, "+16175550100"))
    calls.answer(uow, POLICY, "twilio", sid, "language", "1")
    calls.answer(uow, POLICY, "twilio", sid, "menu", "1")
    calls.answer(uow, POLICY, "twilio", sid, "identify", dob_digits)


def test_a_matching_birth_date_leaves_only_the_name_to_ask(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    patient = make_patient(uow, birth_date=date(1961, 2, 3), phones=((CALLER, "mobile"),))
    alex = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
    _call_in_line(uow, "CA" + "1" * 32, "02031961")
    engine.run_pass(uow)
    offer = uow.session.query(Assignment).filter_by(agent_id=alex.id).one()

    pop = desktop.screen_pop(uow, alex.actor, POLICY, offer.id)

    assert isinstance(pop.patient, MaskedPatient)
    assert pop.patient.id == patient.id
    assert pop.patient.preverified == ["birth_date"]
    assert pop.patient.identifiers == ["name"]
    result = access.verify_identity(uow, alex.actor, POLICY, patient.id, {"name": "Ana Rivera"})
    assert result.verified


def test_a_wrong_birth_date_proves_nothing(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    patient = make_patient(uow, birth_date=date(1961, 2, 3), phones=((CALLER, "mobile"),))
    alex = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
    _call_in_line(uow, "CA" + "2" * 32, "03021961")
    engine.run_pass(uow)
    offer = uow.session.query(Assignment).filter_by(agent_id=alex.id).one()

    pop = desktop.screen_pop(uow, alex.actor, POLICY, offer.id)

    assert isinstance(pop.patient, MaskedPatient)
    assert pop.patient.preverified == []
    assert sorted(pop.patient.identifiers) == ["birth_date", "name"]
    assert not access.verify_identity(uow, alex.actor, POLICY, patient.id, {"name": "Ana Rivera"}).verified


def test_the_keypad_never_proves_every_identifier(uow: UnitOfWork) -> None:
    patient = make_patient(uow, phones=((CALLER, "mobile"),))
    alex = make_agent(uow, "alex")
    access.preverify(uow, alex.actor, POLICY, patient.id, ["birth_date", "name"])

    view = access.open_360(uow, alex.actor, POLICY, patient.id)

    assert isinstance(view, MaskedPatient)
    assert len(view.identifiers) == 1


def test_a_callback_does_not_carry_what_the_keypad_proved(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    make_patient(uow, birth_date=date(1961, 2, 3), phones=((CALLER, "mobile"),))
    sid = "CA" + "3" * 32
    _call_in_line(uow, sid, "02031961")
    assert calls.call_by_sid(uow, "twilio", sid).interaction_id is not None

    calls.answer(uow, POLICY, "twilio", sid, "waiting", "1")  # "call me back instead"

    contact = uow.session.query(Interaction).one()
    assert contact.channel == "callback"
    assert contact.preverified == []


def test_the_public_api_cannot_claim_a_keypad_check(client: TestClient, uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    admin = make_user(uow, role=Role.admin, username="integration")
    token = make_api_token(uow, admin)
    uow.commit()

    response = client.post("/api/interactions", headers={"Authorization": f"Bearer {token}"},
                           json={"channel": "voice", "queue": "scheduling", "preverified": ["birth_date"]})

    assert response.status_code == 422


def test_a_caller_who_hangs_up_leaves_nothing_proved_behind(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    patient = make_patient(uow, birth_date=date(1961, 2, 3), phones=((CALLER, "mobile"),))
    alex = make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1))
    sid = "CA" + "4" * 32
    _call_in_line(uow, sid, "02031961")
    engine.run_pass(uow)
    offer = uow.session.query(Assignment).filter_by(agent_id=alex.id).one()
    desktop.screen_pop(uow, alex.actor, POLICY, offer.id)  # the pop counted the keypad for Alex

    calls.status_changed(uow, "twilio", sid, "completed")  # the caller gives up before Alex answers

    view = access.open_360(uow, alex.actor, POLICY, patient.id)
    assert isinstance(view, MaskedPatient)
    assert view.preverified == []
