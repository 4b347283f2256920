"""A schedule's day or week as a grid of slots: free, or booked for which visit.

No patient names here: a calendar is read by many people in passing. Each booked slot links to the
appointment and its patient, whose record opens through the usual verification and audit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from careline.db import UnitOfWork
from careline.scheduling import repository
from careline.scheduling.schemas import CalendarEntry
from careline.scheduling.service import catalog


def calendar_of(uow: UnitOfWork, schedule_id: UUID, first_day: date, days: int) -> list[CalendarEntry]:
    info = catalog.schedule_info(uow, schedule_id)
    zone = ZoneInfo(info.time_zone)
    start = datetime.combine(first_day, time(), zone).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=days), time(), zone).astimezone(UTC)
    return [CalendarEntry(slot_id=row[0], starts_at=row[1], ends_at=row[2], local_start=row[1].astimezone(zone),
                          status=row[3], appointment_id=row[4], appointment_status=row[5], patient_id=row[6],
                          visit_name=row[7])
            for row in repository.slot_rows_for_calendar(uow.session, schedule_id, start, end)]
