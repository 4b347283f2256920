"""Every outbox handler, and the providers they use, in one place: the dispatcher's composition root."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from careline.integrations.twilio.voice import TwilioCallControl
from careline.integrations.voice import CallControl, RecordingCallControl
from careline.settings import Settings
from careline.telephony import tasks as telephony_tasks
from careline.worker.runner import Context, Dispatcher, Handler

HANDLERS: dict[str, Handler] = {**telephony_tasks.HANDLERS}


def providers(settings: Settings, *, simulated_voice: CallControl | None = None) -> dict[str, Any]:
    """The configured providers. The simulated one is always there; Twilio once its credentials are set."""
    voice: dict[str, CallControl] = {"simulated": simulated_voice or RecordingCallControl()}
    if settings.twilio_account_sid and settings.twilio_auth_token:
        voice["twilio"] = TwilioCallControl(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            api_url=settings.twilio_api_url,
        )
    return {telephony_tasks.VOICE_PROVIDERS: voice}


def dispatcher(sessions: sessionmaker[Session], settings: Settings, **overrides: Any) -> Dispatcher:
    return Dispatcher(Context(sessions, settings, providers(settings, **overrides)), HANDLERS)
