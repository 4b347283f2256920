"""The FHIR R4 scheduling resources: Schedule, Slot and Appointment (read, search, and booking by create)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/fhir", tags=["fhir"])
