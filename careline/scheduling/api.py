"""The scheduling REST API: slot search, appointments, and the catalogue an integrator sets up."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from careline.scheduling.schemas import (
    AppointmentRead,
    AppointmentStatus,
    BookingIn,
    CalendarDate,
    CalendarEntry,
    CancelIn,
    ExceptionIn,
    GenerationReport,
    OrderIn,
    OrderRead,
    ProviderIn,
    ProviderRead,
    RescheduleIn,
    ResourceIn,
    ResourceRead,
    ScheduleIn,
    ScheduleRead,
    SearchDateTime,
    SiteIn,
    SiteRead,
    SlotOption,
    SlotSearch,
    StatusIn,
    TemplateIn,
    TemplateRead,
    VisitTypeIn,
    VisitTypeRead,
    WaitlistIn,
    WaitlistRead,
)
from careline.scheduling.service import booking, calendar, catalog, orders, slots, waitlist
from careline.web.deps import AdminOnly, PatientClients, RecordReaders, Uow

router = APIRouter(prefix="/api", tags=["scheduling"])


class Created(BaseModel):
    id: UUID


class GenerateIn(BaseModel):
    first_day: CalendarDate | None = Field(default=None, description="Default: today.")
    days: int = Field(default=slots.HORIZON_DAYS, ge=1, le=366)
    schedule_ids: list[UUID] | None = Field(default=None, description="Default: every schedule.")


# --- search and appointments -------------------------------------------------------------------------


@router.get("/slots")
def search_slots(actor: PatientClients, uow: Uow, search: Annotated[SlotSearch, Query()],
                 new_patient: bool = False) -> list[SlotOption]:
    """The earliest free slots for a visit type, after the filters; times also in the patient's zone when
    ``patient_id`` is given (else ``time_zone``, else each site's). ``new_patient`` keeps to providers
    accepting new patients."""
    return slots.search_for(uow, actor, search, new_patient=new_patient)


@router.post("/appointments", status_code=201)
def book(actor: PatientClients, uow: Uow, body: BookingIn) -> AppointmentRead:
    """Book a free slot. 409 with ``next_options`` when someone else took it first; 422 when the visit
    cannot be booked there, or a test has no order on file (send ``order_override`` with a reason)."""
    return booking.book(uow, actor, body)


@router.get("/appointments")
def search_appointments(
    actor: PatientClients, uow: Uow, patient_id: UUID | None = None, schedule_id: UUID | None = None,
    start: SearchDateTime | None = None, end: SearchDateTime | None = None, status: AppointmentStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AppointmentRead]:
    """A patient's or a schedule's appointments starting in [start, end); audited per patient returned."""
    return booking.search_appointments(uow, actor, patient_id=patient_id, schedule_id=schedule_id, start=start,
                                       end=end, status=status, limit=limit, offset=offset)


@router.get("/appointments/{appointment_id}")
def read_appointment(actor: PatientClients, uow: Uow, appointment_id: UUID) -> AppointmentRead:
    """One appointment (an audited read)."""
    return booking.get_appointment(uow, actor, appointment_id)


@router.post("/appointments/{appointment_id}/reschedule")
def reschedule(actor: PatientClients, uow: Uow, appointment_id: UUID, body: RescheduleIn) -> AppointmentRead:
    """Move to another slot in one transaction: the new slot is taken and the old one freed, or neither."""
    return booking.reschedule(uow, actor, appointment_id, body)


@router.post("/appointments/{appointment_id}/cancel")
def cancel(actor: PatientClients, uow: Uow, appointment_id: UUID, body: CancelIn) -> AppointmentRead:
    """Cancel with a reason; the slot is free again at once."""
    return booking.cancel(uow, actor, appointment_id, body)


@router.post("/appointments/{appointment_id}/status")
def set_status(actor: PatientClients, uow: Uow, appointment_id: UUID, body: StatusIn) -> AppointmentRead:
    """Arrived, fulfilled, no-show, or back to booked; 409 for a move the status does not allow."""
    return booking.set_status(uow, actor, appointment_id, body.status)


# --- orders and waitlist -----------------------------------------------------------------------------


@router.post("/orders", status_code=201)
def add_order(actor: PatientClients, uow: Uow, body: OrderIn) -> OrderRead:
    """Put an order or referral on file, so that the test it is for can be booked."""
    return orders.add_order(uow, actor, body)


@router.get("/patients/{patient_id}/orders")
def list_orders(actor: PatientClients, uow: Uow, patient_id: UUID) -> list[OrderRead]:
    """The patient's orders on file, newest first (an audited read)."""
    return orders.list_orders(uow, actor, patient_id)


@router.post("/waitlist", status_code=201)
def join_waitlist(actor: PatientClients, uow: Uow, body: WaitlistIn) -> WaitlistRead:
    """Put a patient on the waitlist for an earlier slot."""
    return waitlist.join(uow, actor, body)


@router.get("/slots/{slot_id}/waitlist")
def slot_waitlist(actor: RecordReaders, uow: Uow, slot_id: UUID) -> list[WaitlistRead]:
    """Who is waiting for a slot like this free one, first come first served (audited per patient)."""
    return waitlist.waiting_for_slot(uow, actor, slot_id)


# --- catalogue ---------------------------------------------------------------------------------------


@router.get("/sites")
def list_sites(_actor: PatientClients, uow: Uow) -> list[SiteRead]:
    return catalog.list_sites(uow)


@router.post("/sites", status_code=201)
def create_site(actor: AdminOnly, uow: Uow, body: SiteIn) -> SiteRead:
    return catalog.create_site(uow, actor, body)


@router.get("/providers")
def list_providers(_actor: PatientClients, uow: Uow) -> list[ProviderRead]:
    return catalog.list_providers(uow)


@router.post("/providers", status_code=201)
def create_provider(actor: AdminOnly, uow: Uow, body: ProviderIn) -> ProviderRead:
    return catalog.create_provider(uow, actor, body)


@router.post("/resources", status_code=201)
def create_resource(actor: AdminOnly, uow: Uow, body: ResourceIn) -> ResourceRead:
    """Equipment or a room a test needs; give it a schedule to make it bookable."""
    return catalog.create_resource(uow, actor, body)


@router.get("/visit-types")
def list_visit_types(_actor: PatientClients, uow: Uow) -> list[VisitTypeRead]:
    return catalog.list_visit_types(uow)


@router.post("/visit-types", status_code=201)
def create_visit_type(actor: AdminOnly, uow: Uow, body: VisitTypeIn) -> VisitTypeRead:
    return catalog.create_visit_type(uow, actor, body)


@router.get("/schedules")
def list_schedules(_actor: PatientClients, uow: Uow) -> list[ScheduleRead]:
    return catalog.list_schedules(uow)


@router.post("/schedules", status_code=201)
def create_schedule(actor: AdminOnly, uow: Uow, body: ScheduleIn) -> ScheduleRead:
    """The bookable time of one provider or one resource at one site."""
    return catalog.create_schedule(uow, actor, body)


@router.post("/schedules/generate")
def generate_slots(actor: AdminOnly, uow: Uow, body: GenerateIn) -> GenerationReport:
    """Make the slots of the coming days match the templates and days off; bookings are always kept."""
    return slots.regenerate(uow, actor, first_day=body.first_day, days=body.days, schedule_ids=body.schedule_ids)


@router.get("/schedules/{schedule_id}/templates")
def list_templates(_actor: PatientClients, uow: Uow, schedule_id: UUID) -> list[TemplateRead]:
    return catalog.templates(uow, schedule_id)


@router.post("/schedules/{schedule_id}/templates", status_code=201)
def add_template(actor: AdminOnly, uow: Uow, schedule_id: UUID, body: TemplateIn) -> TemplateRead:
    """Add a weekly block (422 if it overlaps another); its slots appear at the next generation."""
    return catalog.add_template(uow, actor, schedule_id, body)


@router.delete("/templates/{template_id}", status_code=204)
def remove_template(actor: AdminOnly, uow: Uow, template_id: UUID) -> Response:
    """Remove a block: its free slots go, its booked ones stay with their appointments."""
    catalog.remove_template(uow, actor, template_id)
    return Response(status_code=204)


@router.post("/availability-exceptions", status_code=201)
def add_exception(actor: AdminOnly, uow: Uow, body: ExceptionIn) -> Created:
    """A holiday, vacation, training or closure; free slots on those days go at the next generation."""
    return Created(id=catalog.add_exception(uow, actor, body))


@router.get("/schedules/{schedule_id}/calendar")
def schedule_calendar(_actor: PatientClients, uow: Uow, schedule_id: UUID, start: CalendarDate,
                      days: Annotated[int, Query(ge=1, le=7)] = 1) -> list[CalendarEntry]:
    """A day or a week of one schedule, slot by slot: free, or booked for which visit. No patient, not even
    by id, so any client may read it."""
    return calendar.calendar_of(uow, schedule_id, start, days)
