"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent: the far end of ``SmtpSender`` in tests.

Recipients in ``refused`` get a permanent ``550``; ``SmtpServer.messages`` holds each message taken, parsed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Taken:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Capture:
    refused: set[str] = field(default_factory=set)
    messages: list[Taken] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.messages.append(Taken(str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        return "250 2.0.0 Taken"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    capture: Capture

    @property
    def messages(self) -> list[Taken]:
        return self.capture.messages


@contextmanager
def smtp_server(*, refused: set[str] | None = None) -> Iterator[SmtpServer]:
    """A capturing SMTP server on a free port of 127.0.0.1 for the ``with`` block."""
    capture = Capture(refused=refused or set())
    port = free_port()
    controller = Controller(capture, hostname=HOST, port=port)
    controller.start()
    try:
        yield SmtpServer(HOST, port, capture)
    finally:
        controller.stop()
