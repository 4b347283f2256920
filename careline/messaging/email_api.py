"""Inbound e-mail from a provider's webhook: ``POST /api/messaging/email/inbound`` with the raw message as the body.

Signed like the CTI API (``careline.web.hmac_signing``) with ``CARELINE_EMAIL_WEBHOOK_SECRET``. Answers 403 when
unsigned or badly signed, 409 while no secret is configured, 413 for a message or attachment over the limits,
202 with the message's id once it is in its thread (the same id again for a message delivered twice).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from careline.messaging import mail
from careline.messaging.errors import NotConfigured, TooLarge
from careline.messaging.schemas import EmailTaken
from careline.messaging.service import threads
from careline.settings import Settings
from careline.web import hmac_signing
from careline.web.deps import PatientRules, Public, Uow
from careline.web.exceptions import BadSignature

router = APIRouter(prefix="/api/messaging/email", tags=["messaging"])
CONTENT_TYPES = ("message/rfc822", "text/plain")


async def signed_mail(request: Request) -> bytes:
    """The raw message, once its size and signature are checked; a large body is never read past the limit."""
    settings: Settings = request.app.state.settings
    if not hmac_signing.carries_signature(request):
        raise BadSignature()
    if not settings.email_webhook_secret:
        raise NotConfigured("Inbound e-mail by webhook is not set up here: set CARELINE_EMAIL_WEBHOOK_SECRET.")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() not in CONTENT_TYPES:
        raise HTTPException(415, "Send the raw e-mail as the body, with Content-Type message/rfc822.")
    raw = await _read_at_most(request, settings.email_max_bytes)
    hmac_signing.check(request, settings.email_webhook_secret, raw, event="messaging.email_bad_signature")
    return raw


async def _read_at_most(request: Request, limit: int) -> bytes:
    too_large = TooLarge(f"The e-mail is larger than {mail.describe_size(limit)}.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


SignedMail = Annotated[bytes, Depends(signed_mail)]


@router.post("/inbound", status_code=202)
def receive_email(raw: SignedMail, request: Request, uow: Uow, policy: PatientRules, _: Public) -> EmailTaken:
    """Keep one inbound e-mail in its thread and route it to an agent, like one the SMTP listener took."""
    settings: Settings = request.app.state.settings
    inbound = mail.parse(raw, attachment_max_bytes=settings.attachment_max_bytes)
    return EmailTaken(message_id=threads.receive(uow, policy, settings, inbound).id)
