"""A birth date keyed into the IVR counts as one verified identifier for the agent who takes the call:
the masked view asks only for the rest, and says which one the keypad proved. Never both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from careline.actor import Role
from careline.db import UnitOfWork, utcnow
from careline.patients.models import Patient
from careline.patients.schemas import MaskedPatient
from careline.patients.service import access
from careline.routing.models import Assignment, Interaction
from careline.routing.service import desktop, engine
from careline.telephony.service import calls
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.routing import POLICY, Staff, make_agent, make_queue
from tests.factories.telephony import make_number

CALLER = "+16175550142"


@dataclass(frozen=True)
class Line:
    """A number with its IVR, Ana Rivera (born 1961-02-03) on the caller's phone, and Alex available."""

    patient: Patient
    alex: Staff


@pytest.fixture
def line(uow: UnitOfWork) -> Line:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    patient = make_patient(uow, birth_date=date(1961, 2, 3), phones=((CALLER, "mobile"),))
    return Line(patient, make_agent(uow, "alex", available_at=utcnow() - timedelta(minutes=1)))


def _offered_to_alex(uow: UnitOfWork, line: Line, sid: str, dob_digits: str) -> Assignment:
    """The caller keys ``dob_digits`` at the birth-date step and the engine offers the call to Alex."""
    _call_in_line(uow, sid, dob_digits)
    engine.run_pass(uow)
    return uow.session.query(Assignment).filter_by(agent_id=line.alex.id).one()


def _call_in_line(uow: UnitOfWork, sid: str, dob_digits: str) -> None:
    calls.incoming(uow, POLICY, calls.Arrival("twilio", sid, CALLER, "+16175550100"))
    calls.answer(uow, POLICY, "twilio", sid, "language", "1")
    calls.answer(uow, POLICY, "twilio", sid, "menu", "1")
    calls.answer(uow, POLICY, "twilio", sid, "identify", dob_digits)


def test_a_matching_birth_date_leaves_only_the_name_to_ask(uow: UnitOfWork, line: Line) -> None:
    offer = _offered_to_alex(uow, line, "CA" + "1" * 32, "02031961")

    pop = desktop.screen_pop(uow, line.alex.actor, POLICY, offer.id)

    assert isinstance(pop.patient, MaskedPatient)
    assert pop.patient.id == line.patient.id
    assert pop.patient.preverified == ["birth_date"]
    assert pop.patient.identifiers == ["name"]
    result = access.verify_identity(uow, line.alex.actor, POLICY, line.patient.id, {"name": "Ana Rivera"})
    assert result.verified


def test_a_wrong_birth_date_proves_nothing(uow: UnitOfWork, line: Line) -> None:
    offer = _offered_to_alex(uow, line, "CA" + "2" * 32, "03021961")

    pop = desktop.screen_pop(uow, line.alex.actor, POLICY, offer.id)

    assert isinstance(pop.patient, MaskedPatient)
    assert pop.patient.preverified == []
    assert sorted(pop.patient.identifiers) == ["birth_date", "name"]
    assert not access.verify_identity(uow, line.alex.actor, POLICY, line.patient.id, {"name": "Ana Rivera"}).verified


def test_the_keypad_never_proves_every_identifier(uow: UnitOfWork) -> None:
    patient = make_patient(uow, phones=((CALLER, "mobile"),))
    alex = make_agent(uow, "alex")
    access.preverify(uow, alex.actor, POLICY, patient.id, ["birth_date", "name"])

    view = access.open_360(uow, alex.actor, POLICY, patient.id)

    assert isinstance(view, MaskedPatient)
    assert len(view.identifiers) == 1


def test_a_callback_does_not_carry_what_the_keypad_proved(uow: UnitOfWork, line: Line) -> None:
    sid = "CA" + "3" * 32
    _call_in_line(uow, sid, "02031961")
    assert uow.session.query(Interaction).one().preverified == ["birth_date"]  # proved while on the line

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


def test_a_caller_who_hangs_up_leaves_nothing_proved_behind(uow: UnitOfWork, line: Line) -> None:
    sid = "CA" + "4" * 32
    offer = _offered_to_alex(uow, line, sid, "02031961")
    desktop.screen_pop(uow, line.alex.actor, POLICY, offer.id)  # the pop counted the keypad for Alex

    calls.status_changed(uow, "twilio", sid, "completed")  # the caller gives up before Alex answers

    view = access.open_360(uow, line.alex.actor, POLICY, line.patient.id)
    assert isinstance(view, MaskedPatient)
    assert view.preverified == []
