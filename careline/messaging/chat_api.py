"""The web chat widget's public API: start a chat, talk, say who you are, ask for the transcript."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
