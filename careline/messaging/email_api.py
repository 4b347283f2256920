"""Inbound e-mail from a provider's webhook (the raw message, signed)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
