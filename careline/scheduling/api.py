"""The scheduling REST API: slot search, appointments, and the catalogue an integrator sets up."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["scheduling"])
