"""Scheduling pages: the booking panel on the 360 view and the provider calendar."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
