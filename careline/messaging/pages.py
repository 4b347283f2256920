"""Messaging's pages: message templates, sent messages (the local sink), and the outbox's given-up rows."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
