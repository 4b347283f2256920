"""Twilio Programmable Messaging webhooks: an incoming SMS or MMS, and delivery status callbacks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
