"""E-mail out over SMTP: plain text with an HTML alternative, threaded by Message-ID, In-Reply-To, References."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from careline.integrations.messages import Outgoing, ProviderError, Receipt, Refused, Unsure

TIMEOUT_SECONDS = 20
PERMANENT = 500  # SMTP 5xx: the server will never take it


class SmtpSender:
    name = "smtp"
    idempotent = False

    def __init__(self, *, host: str, port: int, username: str | None = None, password: str | None = None,
                 security: str = "starttls", sender: str) -> None:
        self._host, self._port, self._username, self._password = host, port, username, password
        self._security, self.sender = security, sender

    def send(self, messages: Sequence[Outgoing]) -> list[Receipt | ProviderError]:
        if not messages:
            return []
        try:
            server = self._connect()
        except (OSError, smtplib.SMTPException) as error:  # no connection at all: every message waits
            return [_unavailable(error) for _ in messages]
        results: list[Receipt | ProviderError] = []
        try:
            for message in messages:
                results.append(self._send_one(server, message))
        except (OSError, smtplib.SMTPException) as error:
            # Dropped mid-message: that one may have been taken; those sent stay sent; the rest were never tried.
            results.append(Unsure(f"SMTP connection lost mid-message: {type(error).__name__}"))
            results += [_unavailable(error) for _ in messages[len(results):]]
        finally:
            _close(server)
        return results

    def _connect(self) -> smtplib.SMTP:
        if self._security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(self._host, self._port, timeout=TIMEOUT_SECONDS,
                                                    context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(self._host, self._port, timeout=TIMEOUT_SECONDS)
            if self._security == "starttls":
                server.starttls(context=ssl.create_default_context())
        if self._username and self._password:
            server.login(self._username, self._password)
        return server

    def _send_one(self, server: smtplib.SMTP, message: Outgoing) -> Receipt | ProviderError:
        try:
            server.send_message(compose(message, default_sender=self.sender))
        except (ValueError, TypeError) as error:  # a line break in a header: refused before a byte is sent
            return Refused(f"Cannot compose the e-mail: {type(error).__name__}")
        except smtplib.SMTPResponseException as error:
            described = f"SMTP {error.smtp_code}"
            return Refused(described, code=str(error.smtp_code)) if error.smtp_code >= PERMANENT else ProviderError(
                described)
        except smtplib.SMTPRecipientsRefused:
            return Refused("SMTP recipient refused", code="550")
        return Receipt(provider_id=message.message_id)


def _unavailable(error: Exception) -> ProviderError:
    return ProviderError(f"SMTP server unavailable: {type(error).__name__}")


def _close(server: smtplib.SMTP) -> None:
    """Say goodbye; a server that hangs up first changes nothing about what it already took."""
    try:
        server.quit()
    except (OSError, smtplib.SMTPException):
        server.close()


def compose(message: Outgoing, *, default_sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = message.sender or default_sender
    email["To"] = message.to
    email["Subject"] = message.subject or ""
    if message.message_id:
        email["Message-ID"] = message.message_id
    if message.in_reply_to:
        email["In-Reply-To"] = message.in_reply_to
    if message.references:
        email["References"] = " ".join(message.references)
    email.set_content(message.body)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        main, _, sub = attachment.content_type.partition("/")
        email.add_attachment(attachment.data, maintype=main, subtype=sub or "octet-stream",
                             filename=attachment.filename)
    return email
