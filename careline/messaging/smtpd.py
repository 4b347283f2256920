"""``careline smtpd``: patients' e-mail received over SMTP (aiosmtpd), each message into its thread.

Each accepted message is kept in its own unit of work before the server says 250, so a message is either kept
or refused, never half-kept. Bounces say why in words the sender's mail program shows them:
- the whole message over ``CARELINE_EMAIL_MAX_BYTES``: 552, from aiosmtpd while the data arrives;
- an attachment over ``CARELINE_ATTACHMENT_MAX_BYTES``: ``552 5.3.4 Attachment "<name>" is larger than N MB``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from careline.db import UnitOfWork
from careline.messaging import mail
from careline.messaging.errors import InvalidMessage, TooLarge
from careline.messaging.service import threads
from careline.patients.policy import PatientPolicy
from careline.settings import Settings

log = structlog.get_logger(__name__)
ACCEPTED = "250 2.0.0 Message accepted"
TRY_LATER = "451 4.3.0 The message could not be stored just now; please try again later"


class InboundMail:
    """The aiosmtpd handler: parse, then keep the message in a unit of work of its own, off the event loop."""

    def __init__(self, sessions: sessionmaker[DbSession], settings: Settings, policy: PatientPolicy) -> None:
        self._sessions, self._settings, self._policy = sessions, settings, policy

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else (raw or "").encode()
        return await asyncio.get_running_loop().run_in_executor(None, self.take, data)

    def take(self, raw: bytes) -> str:
        """The SMTP reply for one message; the message is kept only when it is 250."""
        try:
            inbound = mail.parse(raw, attachment_max_bytes=self._settings.attachment_max_bytes)
        except TooLarge as error:
            log.info("messaging.email_bounced", reason="attachment_too_large")
            return f"552 5.3.4 {error}"
        except InvalidMessage as error:
            log.info("messaging.email_bounced", reason=error.field)
            return f"550 5.6.0 {error}"
        try:
            with UnitOfWork(self._sessions) as uow:
                message = threads.receive(uow, self._policy, self._settings, inbound)
                uow.commit()
        except Exception as error:  # the database away, say: the sender's server retries, nothing is lost
            log.error("messaging.email_not_stored", error_type=type(error).__name__)
            return TRY_LATER
        log.info("messaging.email_received", message_id=str(message.id))
        return ACCEPTED


@contextmanager
def listening(sessions: sessionmaker[DbSession], settings: Settings, policy: PatientPolicy, *,
              host: str | None = None, port: int | None = None) -> Iterator[Controller]:
    """An SMTP server on ``host:port`` (the settings' by default) in a thread of its own, until the block ends."""
    controller = Controller(InboundMail(sessions, settings, policy), hostname=host or settings.smtpd_host,
                            port=port or settings.smtpd_port, data_size_limit=settings.email_max_bytes,
                            enable_SMTPUTF8=True)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
