"""Booking, rescheduling, cancelling and the day-of statuses, with what each one writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from careline.actor import Actor, Role
from careline.audit.models import AuditEntry
from careline.db import UnitOfWork, utcnow
from careline.patients.errors import IdentityNotVerified, InvalidPatientInput
from careline.patients.models import Patient
from careline.scheduling.errors import InvalidSchedulingInput, OrderRequired, SlotTaken, WrongStatus
from careline.scheduling.models import Appointment, AppointmentEvent, Provider, Slot, WaitlistEntry
from careline.scheduling.schemas import (
    AppointmentStatus,
    BookingIn,
    CancelIn,
    OrderIn,
    RescheduleIn,
    SlotOption,
    SlotSearch,
    VisitTypeIn,
    WaitlistIn,
)
from careline.scheduling.service import booking, catalog, orders, slots, waitlist
from tests.factories.auth import make_api_token, make_user
from tests.factories.patients import make_patient
from tests.factories.scheduling import ADMIN, Clinic, make_clinic


def _options(uow: UnitOfWork, visit_type_id: UUID, limit: int = 5) -> list[SlotOption]:
    return slots.first_available(uow, SlotSearch(visit_type_id=visit_type_id, limit=limit), zone=None)


def _book(uow: UnitOfWork, actor: Actor, patient: Patient, clinic: Clinic, slot_id: UUID, **extra: object):  # type: ignore[no-untyped-def]
    return booking.book(uow, actor, BookingIn(patient_id=patient.id, slot_id=slot_id,
                                              visit_type_id=extra.pop("visit_type_id", clinic.annual_id), **extra))  # type: ignore[arg-type]


def _appointments(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(Appointment)) or 0)


def _events(uow: UnitOfWork, patient: Patient) -> list[tuple[str, str, str]]:
    rows = uow.session.execute(select(AppointmentEvent.kind, AppointmentEvent.by, AppointmentEvent.channel)
                               .where(AppointmentEvent.patient_id == patient.id).order_by(AppointmentEvent.at))
    return [(kind, by, channel) for kind, by, channel in rows]


def _audit_actions(uow: UnitOfWork) -> list[str]:
    return list(uow.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_booking_takes_the_slot_and_writes_the_timeline_and_audit(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    option = _options(uow, clinic.annual_id)[0]
    appointment = _book(uow, supervisor, patient, clinic, option.slot_id, reason="yearly check")
    assert appointment.status == "booked"
    assert appointment.visit_name == "Annual exam"
    assert appointment.booked_by == "sam"
    assert uow.session.get(Slot, option.slot_id).status == "busy"  # type: ignore[union-attr]
    assert _events(uow, patient) == [("booked", "sam", "agent")]
    assert "appointment.booked" in _audit_actions(uow)
    assert [a.id for a in booking.upcoming_for(uow, patient.id, patient.time_zone)] == [appointment.id]


def test_the_same_slot_twice_is_refused_with_the_next_options(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    option = _options(uow, clinic.annual_id)[0]
    _book(uow, supervisor, patient, clinic, option.slot_id)
    other = make_patient(uow, given="Marta", family="Quist")
    with pytest.raises(SlotTaken) as taken:
        _book(uow, supervisor, other, clinic, option.slot_id)
    assert len(taken.value.next_options) == 5
    assert option.slot_id not in {o.slot_id for o in taken.value.next_options}
    assert _appointments(uow) == 1


def test_the_database_refuses_a_second_live_appointment_for_a_slot(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    """Even code that skipped the service could not double-book: the partial unique index stops it."""
    booked = _book(uow, supervisor, patient, clinic, _options(uow, clinic.annual_id)[0].slot_id)
    twin = Appointment(patient_id=patient.id, slot_id=booked.slot_id, schedule_id=booked.schedule_id,
                       visit_type_id=booked.visit_type_id, starts_at=booked.starts_at, ends_at=booked.ends_at,
                       status="booked", channel="import", booked_by="someone")
    uow.session.add(twin)
    with pytest.raises(IntegrityError), uow.session.begin_nested():
        uow.session.flush()


def test_a_refusal_by_the_index_leaves_nothing_half_written(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    """A slot marked free by mistake while booked: the index refuses, and the slot update is undone too."""
    booked = _book(uow, supervisor, patient, clinic, _options(uow, clinic.annual_id)[0].slot_id)
    slot = uow.session.get(Slot, booked.slot_id)
    assert slot is not None
    slot.status = "free"
    uow.flush()
    with pytest.raises(SlotTaken):
        _book(uow, supervisor, make_patient(uow, given="Pia", family="Lund"), clinic, booked.slot_id)
    uow.session.refresh(slot)
    assert slot.status == "free"
    assert _appointments(uow) == 1


def test_an_agent_books_only_for_a_verified_caller(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, agent: Actor) -> None:
    with pytest.raises(IdentityNotVerified):
        _book(uow, agent, patient, clinic, _options(uow, clinic.annual_id)[0].slot_id)
    assert _appointments(uow) == 0


def test_a_slot_in_the_past_is_refused(uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    slot = uow.session.get(Slot, _options(uow, clinic.annual_id)[0].slot_id)
    assert slot is not None
    slot.starts_at, slot.ends_at = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
    uow.flush()
    with pytest.raises(InvalidSchedulingInput, match="already passed"):
        _book(uow, supervisor, patient, clinic, slot.id)
    assert slot.status == "free"
    assert _appointments(uow) == 0


def test_a_visit_the_slot_cannot_take_is_refused(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    with pytest.raises(InvalidSchedulingInput, match="cannot be booked in that slot"):
        _book(uow, supervisor, patient, clinic, _options(uow, clinic.annual_id)[0].slot_id,
              visit_type_id=clinic.mammogram_id)
    assert _appointments(uow) == 0


def test_a_test_needs_an_order_on_file_or_an_override_with_a_reason(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    first, second = _options(uow, clinic.mammogram_id, limit=2)
    with pytest.raises(OrderRequired, match="needs an order"):
        _book(uow, supervisor, patient, clinic, first.slot_id, visit_type_id=clinic.mammogram_id)
    with pytest.raises(OrderRequired):
        _book(uow, supervisor, patient, clinic, first.slot_id, visit_type_id=clinic.mammogram_id,
              order_override="urgent")  # too short to be a reason
    overridden = _book(uow, supervisor, patient, clinic, first.slot_id, visit_type_id=clinic.mammogram_id,
                       order_override="Paper order faxed by Dr. Lee, being scanned")
    assert overridden.order_id is None
    assert overridden.order_override == "Paper order faxed by Dr. Lee, being scanned"
    order = orders.add_order(uow, supervisor, OrderIn(patient_id=patient.id, visit_type_id=clinic.mammogram_id,
                                                      reference="ORD-1"))
    with_order = _book(uow, supervisor, patient, clinic, second.slot_id, visit_type_id=clinic.mammogram_id,
                       order_override="not needed, the order is on file")
    assert with_order.order_id == order.id
    assert with_order.order_override is None
    assert with_order.preparation == "No deodorant or powder on the day."


def test_new_patient_visits_are_for_new_patients(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    first, second = _options(uow, clinic.annual_id, limit=2)
    seen = _book(uow, supervisor, patient, clinic, first.slot_id)
    row = uow.session.get(Appointment, seen.id)
    assert row is not None
    row.status, row.starts_at = "fulfilled", datetime(2026, 1, 5, 15, tzinfo=UTC)
    uow.flush()
    with pytest.raises(InvalidSchedulingInput, match="for new patients only"):
        _book(uow, supervisor, patient, clinic, second.slot_id, visit_type_id=clinic.new_patient_id)
    newcomer = make_patient(uow, given="Ivo", family="Brandt")
    welcomed = _book(uow, supervisor, newcomer, clinic, second.slot_id, visit_type_id=clinic.new_patient_id)
    assert welcomed.status == "booked"


def test_rescheduling_moves_the_booking_in_one_step(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    first, later = _options(uow, clinic.annual_id)[0], _options(uow, clinic.annual_id)[3]
    appointment = _book(uow, supervisor, patient, clinic, first.slot_id)
    moved = booking.reschedule(uow, supervisor, appointment.id, RescheduleIn(slot_id=later.slot_id, reason="work"))
    assert (moved.id, moved.slot_id, moved.starts_at) == (appointment.id, later.slot_id, later.starts_at)
    assert uow.session.get(Slot, first.slot_id).status == "free"  # type: ignore[union-attr]
    assert uow.session.get(Slot, later.slot_id).status == "busy"  # type: ignore[union-attr]
    assert [kind for kind, _by, _channel in _events(uow, patient)] == ["booked", "rescheduled"]


def test_rescheduling_into_a_taken_slot_changes_nothing(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    first, taken = _options(uow, clinic.annual_id, limit=2)
    appointment = _book(uow, supervisor, patient, clinic, first.slot_id)
    _book(uow, supervisor, make_patient(uow, given="Ruth", family="Adeyemi"), clinic, taken.slot_id)
    with pytest.raises(SlotTaken):
        booking.reschedule(uow, supervisor, appointment.id, RescheduleIn(slot_id=taken.slot_id))
    row = uow.session.get(Appointment, appointment.id)
    assert row is not None
    assert row.slot_id == first.slot_id
    assert uow.session.get(Slot, first.slot_id).status == "busy"  # type: ignore[union-attr]


def test_cancelling_frees_the_slot_for_someone_else(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    option = _options(uow, clinic.annual_id)[0]
    appointment = _book(uow, supervisor, patient, clinic, option.slot_id)
    cancelled = booking.cancel(uow, supervisor, appointment.id, CancelIn(reason="feeling better"))
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "feeling better")
    assert uow.session.get(Slot, option.slot_id).status == "free"  # type: ignore[union-attr]
    rebooked = _book(uow, supervisor, make_patient(uow, given="Noor", family="Haddad"), clinic, option.slot_id)
    assert rebooked.slot_id == option.slot_id
    with pytest.raises(WrongStatus):
        booking.cancel(uow, supervisor, appointment.id, CancelIn(reason="again"))


def test_day_of_statuses_follow_the_visit(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    appointment = _book(uow, supervisor, patient, clinic, _options(uow, clinic.annual_id)[0].slot_id)
    with pytest.raises(InvalidSchedulingInput, match="later day"):
        booking.set_status(uow, supervisor, appointment.id, AppointmentStatus.arrived)
    row = uow.session.get(Appointment, appointment.id)
    assert row is not None
    row.starts_at = utcnow() - timedelta(minutes=5)  # the visit is now
    uow.flush()
    assert booking.set_status(uow, supervisor, appointment.id, AppointmentStatus.arrived).status == "arrived"
    with pytest.raises(WrongStatus):
        booking.set_status(uow, supervisor, appointment.id, AppointmentStatus.noshow)
    assert booking.set_status(uow, supervisor, appointment.id, AppointmentStatus.fulfilled).status == "fulfilled"
    kinds = list(uow.session.scalars(select(AppointmentEvent.kind).order_by(AppointmentEvent.at)))
    assert kinds == ["booked", "arrived", "fulfilled"]


def test_the_waitlist_is_found_first_come_first_served_when_a_slot_frees(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    option = _options(uow, clinic.annual_id)[0]
    appointment = _book(uow, supervisor, patient, clinic, option.slot_id)
    early, late, too_soon = (make_patient(uow, given=name, family="Waits") for name in ("Ada", "Bea", "Cy"))
    horizon = utcnow() + timedelta(days=60)
    for person, before in ((early, horizon), (late, horizon), (too_soon, option.starts_at)):
        waitlist.join(uow, supervisor, WaitlistIn(patient_id=person.id, visit_type_id=clinic.annual_id,
                                                  wanted_before=before))
    assert waitlist.candidates_for_slot(uow, option.slot_id) == []  # still booked
    booking.cancel(uow, supervisor, appointment.id, CancelIn(reason="moved away"))
    found = waitlist.candidates_for_slot(uow, option.slot_id)
    assert [entry.patient_id for entry in found] == [early.id, late.id]
    _book(uow, supervisor, early, clinic, option.slot_id)
    waits = uow.session.scalars(select(WaitlistEntry.status).where(WaitlistEntry.patient_id == early.id)).all()
    assert list(waits) == ["booked"]


def test_merging_two_records_moves_the_duplicates_appointments(
        uow: UnitOfWork, client: TestClient, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    duplicate = make_patient(uow, given="Lena", family="Okafor", mrn="DUP-1")
    appointment = _book(uow, supervisor, duplicate, clinic, _options(uow, clinic.annual_id)[0].slot_id)
    admin = make_user(uow, role=Role.admin, username="dana")
    token = make_api_token(uow, admin)
    uow.commit()
    response = client.post(f"/api/patients/{patient.id}/merge", json={"duplicate_id": str(duplicate.id)},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [a.id for a in booking.upcoming_for(uow, patient.id, None)] == [appointment.id]
    assert [kind for kind, _by, _channel in _events(uow, patient)] == ["booked"]


def test_a_deceased_patients_visits_can_be_cancelled_but_no_new_one_booked(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    first, second = _options(uow, clinic.annual_id, limit=2)
    appointment = _book(uow, supervisor, patient, clinic, first.slot_id)
    patient.status = "deceased"
    uow.flush()
    with pytest.raises(InvalidPatientInput, match="deceased"):
        _book(uow, supervisor, patient, clinic, second.slot_id)
    assert booking.cancel(uow, supervisor, appointment.id, CancelIn(reason="patient died")).status == "cancelled"


def test_check_in_counts_days_at_the_site(
        uow: UnitOfWork, patient: Patient, supervisor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    west = make_clinic(uow, code="west", time_zone="America/Los_Angeles")
    appointment = _book(uow, supervisor, patient, west, _options(uow, west.annual_id)[0].slot_id,
                        visit_type_id=west.annual_id)
    row = uow.session.get(Appointment, appointment.id)
    assert row is not None
    row.starts_at = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 16:00 on 30 November in Los Angeles
    uow.flush()
    monkeypatch.setattr(booking, "utcnow", lambda: datetime(2026, 11, 30, 23, 50, tzinfo=UTC))  # 15:50 there
    assert booking.set_status(uow, supervisor, appointment.id, AppointmentStatus.arrived).status == "arrived"


def test_booking_rechecks_what_the_search_checked(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    option = _options(uow, clinic.annual_id)[0]
    other = catalog.create_visit_type(uow, ADMIN, VisitTypeIn(
        code="sick", name="Sick visit", duration_minutes=15, specialties=["family_medicine"]))
    with pytest.raises(InvalidSchedulingInput, match="Sick visit cannot be booked"):  # no block takes it
        _book(uow, supervisor, patient, clinic, option.slot_id, visit_type_id=other.id)
    provider = uow.session.get(Provider, clinic.provider_id)
    assert provider is not None
    provider.accepting_new = False
    uow.flush()
    with pytest.raises(InvalidSchedulingInput, match="not taking new patients"):
        _book(uow, supervisor, patient, clinic, option.slot_id)
    for template in catalog.templates(uow, clinic.schedule_id):
        catalog.remove_template(uow, ADMIN, template.id)
    assert uow.session.get(Slot, option.slot_id) is None  # the block's free slots went with it
    assert _appointments(uow) == 0


def test_a_patient_cannot_be_booked_twice_at_the_same_time(
        uow: UnitOfWork, clinic: Clinic, patient: Patient, supervisor: Actor) -> None:
    mammogram = _options(uow, clinic.mammogram_id)[0]  # 09:00 to 09:20
    exam = next(o for o in _options(uow, clinic.annual_id, limit=8) if o.starts_at == mammogram.starts_at)
    _book(uow, supervisor, patient, clinic, exam.slot_id)
    with pytest.raises(InvalidSchedulingInput, match="already has an appointment at that time"):
        _book(uow, supervisor, patient, clinic, mammogram.slot_id, visit_type_id=clinic.mammogram_id,
              order_override="Order faxed by the gynaecologist today")
    assert _appointments(uow) == 1
