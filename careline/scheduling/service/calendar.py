"""A schedule's day or week as a grid of slots: free, or booked for which visit.

No patient here, not even an id or a link to the record: a calendar is read by many people in passing,
without a caller verified or an audited read. A booked slot shows its visit and status; who it is for is
found from the patient's side (the 360 view), which verifies and audits as usual.
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
                          status=row[3], appointment_id=row[4], appointment_status=row[5], visit_name=row[6])
            for row in repository.slot_rows_for_calendar(uow.session, schedule_id, start, end)]
