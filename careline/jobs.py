"""Every outbox task, and the providers they use, in one place: the dispatcher's composition root."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from careline.integrations.messages import MessageProvider
from careline.integrations.sink import LocalSink
from careline.integrations.smtp import SmtpSender
from careline.integrations.twilio.messages import TwilioMessages
from careline.integrations.twilio.voice import TwilioCallControl
from careline.integrations.voice import CallControl, RecordingCallControl
from careline.messaging import tasks as messaging_tasks
from careline.settings import Settings
from careline.telephony import tasks as telephony_tasks
from careline.worker.runner import Context, Dispatcher, Task

TASKS: dict[str, Task] = {**telephony_tasks.TASKS, **messaging_tasks.TASKS}


def providers(sessions: sessionmaker[Session], settings: Settings, *,
              simulated_voice: CallControl | None = None) -> dict[str, Any]:
    """The configured providers. The simulated line and the local sink are always there; Twilio once its
    credentials are set, SMTP once it is chosen."""
    voice: dict[str, CallControl] = {"simulated": simulated_voice or RecordingCallControl()}
    messages: dict[str, MessageProvider] = {"sink": LocalSink(sessions, settings.effective_sink_file)}
    if settings.twilio_account_sid and settings.twilio_auth_token:
        voice["twilio"] = TwilioCallControl(account_sid=settings.twilio_account_sid,
                                            auth_token=settings.twilio_auth_token, api_url=settings.twilio_api_url)
        messages["twilio"] = TwilioMessages(account_sid=settings.twilio_account_sid,
                                            auth_token=settings.twilio_auth_token,
                                            messaging_service_sid=settings.twilio_messaging_service_sid,
                                            api_url=settings.twilio_api_url)
    if settings.email_provider == "smtp":
        messages["smtp"] = SmtpSender(host=settings.smtp_host, port=settings.smtp_port,
                                      username=settings.smtp_username, password=settings.smtp_password,
                                      security=settings.smtp_security, sender=settings.email_from)
    return {telephony_tasks.VOICE_PROVIDERS: voice, messaging_tasks.MESSAGE_PROVIDERS: messages}


def dispatcher(sessions: sessionmaker[Session], settings: Settings, **overrides: Any) -> Dispatcher:
    return Dispatcher(Context(sessions, settings, providers(sessions, settings, **overrides)), TASKS,
                      batch=settings.outbox_batch, lease=timedelta(seconds=settings.outbox_lease_seconds))
