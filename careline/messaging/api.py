"""Agents answer threads, admins keep templates and the outbox: messaging's JSON API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
