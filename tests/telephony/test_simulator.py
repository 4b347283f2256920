"""The simulated provider: simulated callers ring the demo line and go through the same call functions as
Twilio's webhooks (IVR, language, menu, birth date, the wait, the hang-up), with no network."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from careline.auth import crypto
from careline.db import UnitOfWork
from careline.patients.policy import PatientPolicy
from careline.routing import demo
from careline.routing.models import Interaction
from careline.routing.rules import Channel
from careline.routing.service import interactions, setup
from careline.routing.simulation import Plan, Simulation
from careline.telephony import demo as telephony_demo
from careline.telephony.ivr import Stage
from careline.telephony.models import Call
from careline.telephony.service import numbers
from careline.telephony.simulator import PROVIDER, Dial, SimulatedLine
from tests.factories.auth import PASSWORD
from tests.factories.patients import make_patient
from tests.factories.routing import ADMIN

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CALLER = "+16175552001"


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = crypto.hash_password(PASSWORD)
    monkeypatch.setattr(crypto, "hash_password", lambda _password: digest)


@pytest.fixture
def line(uow: UnitOfWork) -> SimulatedLine:
    demo.ensure_queues(uow, ADMIN)
    telephony_demo.ensure_number(uow, ADMIN)
    return SimulatedLine(PatientPolicy(), run="test")


def _dial(option: str = "appointments", *, language: str = "en", caller: str | None = CALLER,
          birth_date: bool = False) -> Dial:
    return Dial(caller=caller, called=telephony_demo.DEMO_NUMBER, language=language, option=option,
                gives_birth_date=birth_date)


def _call(uow: UnitOfWork, sid: str) -> Call:
    return uow.session.scalars(select(Call).where(Call.provider_sid == sid)
                               .execution_options(populate_existing=True)).one()


class TestTheDemoLine:
    def test_is_saved_once_with_a_menu_whose_queues_all_exist(self, uow: UnitOfWork) -> None:
        demo.ensure_queues(uow, ADMIN)
        first = telephony_demo.ensure_number(uow, ADMIN)
        again = telephony_demo.ensure_number(uow, ADMIN)
        assert first.id == again.id
        assert [number.number for number in numbers.all_numbers(uow)] == [telephony_demo.DEMO_NUMBER]
        queues = {queue.name for queue in setup.list_queues(uow)}
        assert {item.queue for item in first.ivr.menu} | {first.ivr.after_hours_queue} <= queues
        assert first.ivr.languages == ["en", "es"]
        assert first.business_hours == {}  # always open


class TestARing:
    @pytest.mark.parametrize(("option", "queue", "reason"), [
        ("appointments", "scheduling", "appointment"), ("tests", "scheduling", "test_request"),
        ("prescriptions", "prescriptions", "prescription"), ("billing", "billing", "billing"),
        ("nurse", "nurse", "nurse_advice"), ("operator", "scheduling", "other"),
    ])
    def test_walks_the_ivr_into_the_queue_of_the_menu_option(self, uow: UnitOfWork, line: SimulatedLine,
                                                             option: str, queue: str, reason: str) -> None:
        placed = line.ring(uow, _dial(option), T0)
        assert placed.sid.startswith("SIM")
        call = _call(uow, placed.sid)
        assert (call.provider, call.direction, call.stage, call.option) == (PROVIDER, "inbound", Stage.waiting, option)
        assert call.interaction_id == placed.interaction_id
        contact = interactions.get(uow, placed.interaction_id)  # type: ignore[arg-type]
        assert (contact.channel, contact.queue, contact.reason, contact.status) == (
            Channel.voice, queue, reason, "queued")
        assert contact.address == CALLER

    def test_a_spanish_caller_presses_2_for_spanish(self, uow: UnitOfWork, line: SimulatedLine) -> None:
        placed = line.ring(uow, _dial("billing", language="es"), T0)
        assert _call(uow, placed.sid).language == "es"
        assert interactions.get(uow, placed.interaction_id).language == "es"  # type: ignore[arg-type]

    def test_a_known_caller_who_keys_their_birth_date_is_preverified(self, uow: UnitOfWork,
                                                                     line: SimulatedLine) -> None:
        patient = make_patient(uow, birth_date=date(1970, 5, 17), phones=((CALLER, "mobile"),))
        keyed = line.ring(uow, _dial(birth_date=True), T0)
        skipped = line.ring(uow, _dial(birth_date=False), T0)
        preverified = interactions.get(uow, keyed.interaction_id)  # type: ignore[arg-type]
        assert (preverified.patient_id, preverified.preverified) == (patient.id, ["birth_date"])
        assert _call(uow, keyed.sid).patient_id == patient.id
        plain = interactions.get(uow, skipped.interaction_id)  # type: ignore[arg-type]
        assert plain.patient_id == patient.id  # the screen pop still finds the one patient on the number
        assert plain.preverified == []

    def test_a_hang_up_in_line_is_an_abandon_reported_by_the_provider(self, uow: UnitOfWork,
                                                                      line: SimulatedLine) -> None:
        placed = line.ring(uow, _dial(), T0)
        line.hang_up(uow, placed.sid, T0 + timedelta(seconds=40))
        line.hang_up(uow, placed.sid, T0 + timedelta(seconds=90))  # a repeated callback changes nothing
        call = _call(uow, placed.sid)
        assert (call.stage, call.provider_status, call.ended_at) == (Stage.ended, "completed",
                                                                     T0 + timedelta(seconds=40))
        contact = interactions.get(uow, placed.interaction_id)  # type: ignore[arg-type]
        assert contact.status == "abandoned"
        assert contact.abandoned_at == T0 + timedelta(seconds=40)

    def test_two_lines_never_reuse_a_sid(self, uow: UnitOfWork, line: SimulatedLine) -> None:
        other = SimulatedLine(PatientPolicy(), run="other")
        sids = {line.ring(uow, _dial(), T0).sid, other.ring(uow, _dial(), T0).sid}
        assert len(sids) == 2
        assert len(set(uow.session.scalars(select(Call.interaction_id)))) == 2


class TestTheSimulation:
    def test_phone_callers_come_through_the_provider_and_every_call_ends_with_its_contact(
            self, uow: UnitOfWork) -> None:
        simulation = Simulation(Plan(agents=4, per_second=0.5, patience_seconds=40, handle_seconds=20), seed=12)
        simulation.start(uow, T0)
        now = T0
        for _ in range(120):
            now += timedelta(seconds=1)
            simulation.step(uow, now)
        simulation.arriving = False
        for _ in range(60):
            if simulation.settled:
                break
            now += timedelta(seconds=10)
            simulation.step(uow, now)
        simulation.close(uow, now)

        contacts = list(uow.session.scalars(select(Interaction).execution_options(populate_existing=True)))
        phoned = [contact for contact in contacts  # written contacts are named by their first message
                  if contact.external_ref and not contact.external_ref.startswith("message:")]
        by_ref = {contact.external_ref: contact for contact in phoned}
        calls = list(uow.session.scalars(select(Call).execution_options(populate_existing=True)))
        assert phoned
        assert all(contact.channel in (Channel.voice, Channel.callback) for contact in phoned)
        assert not [contact for contact in contacts if contact.channel == Channel.voice and not contact.external_ref]
        assert len(calls) == len(phoned)
        for call in calls:
            assert call.provider == PROVIDER
            assert by_ref[f"{PROVIDER}:{call.provider_sid}"].id == call.interaction_id
            assert call.ended_at is not None  # the caller hung up: reported as the provider's 'completed'
        statuses = Counter(contact.status for contact in phoned)
        assert statuses["abandoned"] > 0
        assert statuses["completed"] > 0
        for contact in phoned:
            if contact.status == "abandoned":
                assert contact.abandoned_at is not None
