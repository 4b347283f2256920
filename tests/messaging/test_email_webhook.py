"""A provider's inbound-e-mail webhook: the raw message, signed with the shared secret, kept once in its thread."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.app import create_app
from careline.db import UnitOfWork
from careline.messaging.models import Attachment, Conversation, Message
from careline.settings import Settings
from tests.factories.routing import make_queue
from tests.messaging.test_email_in import KB, email

SECRET = "email-webhook-secret-0123456789"
URL = "/api/messaging/email/inbound"


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Computed here from the documented scheme, not with the code under test."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def client_for(settings: Settings, sessions: sessionmaker[Session]) -> TestClient:
    return TestClient(create_app(settings, sessions=sessions), base_url="http://testserver")


@pytest.fixture
def hook(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        uow.commit()
    configured = settings.model_copy(update={"email_webhook_secret": SECRET, "email_max_bytes": 32 * KB,
                                             "attachment_max_bytes": 2 * KB})
    with client_for(configured, sessions) as client:
        yield client


def post(client: TestClient, raw: bytes, *, timestamp: str | None = None, secret: str = SECRET,
         content_type: str = "message/rfc822") -> Response:
    stamp = timestamp or str(int(time.time()))
    return client.post(URL, content=raw, headers={"Content-Type": content_type, "X-Careline-Timestamp": stamp,
                                                  "X-Careline-Signature": sign(raw, stamp, secret)})


def kept(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[return-value]
                     for model in (Conversation, Message, Attachment))


def test_a_signed_message_is_kept_once_and_answered_202_with_its_id(hook: TestClient,
                                                                     sessions: sessionmaker[Session]) -> None:
    raw = email(attachments=(("scan.pdf", b"%PDF small"),)).as_bytes()
    first = post(hook, raw)
    again = post(hook, raw, content_type="text/plain; charset=utf-8")
    assert first.status_code == again.status_code == 202
    assert first.json()["message_id"] == again.json()["message_id"]
    assert kept(sessions) == (1, 1, 1)
    with sessions() as session:
        message = session.scalars(select(Message)).one()
        assert (str(message.id), message.body, message.provider_id) == (first.json()["message_id"],
                                                                        "Can I move my visit?", "<p1@patient.example>")
        assert session.get_one(Conversation, message.conversation_id).interaction_id is not None


@pytest.mark.parametrize("problem", ["unsigned", "wrong secret", "stale", "body changed"])
def test_an_unsigned_or_badly_signed_message_is_refused_403(hook: TestClient, sessions: sessionmaker[Session],
                                                           problem: str) -> None:
    raw = email().as_bytes()
    stamp = str(int(time.time()))
    if problem == "unsigned":
        response = hook.post(URL, content=raw, headers={"Content-Type": "message/rfc822"})
    elif problem == "wrong secret":
        response = post(hook, raw, secret="another-secret-0123456789")
    elif problem == "stale":
        response = post(hook, raw, timestamp=str(int(time.time()) - 301))
    else:
        response = hook.post(URL, content=raw + b"\r\nP.S. forged", headers={
            "Content-Type": "message/rfc822", "X-Careline-Timestamp": stamp, "X-Careline-Signature": sign(raw, stamp)})
    assert response.status_code == 403
    assert response.json()["detail"] == "The request's signature is not valid."
    assert kept(sessions) == (0, 0, 0)


def test_without_a_secret_configured_a_signed_request_is_409(settings: Settings,
                                                             sessions: sessionmaker[Session]) -> None:
    with client_for(settings, sessions) as client:
        response = post(client, email().as_bytes())
        unsigned = client.post(URL, content=email().as_bytes(), headers={"Content-Type": "message/rfc822"})
    assert response.status_code == 409
    assert "CARELINE_EMAIL_WEBHOOK_SECRET" in response.json()["detail"]
    assert unsigned.status_code == 403
    assert kept(sessions) == (0, 0, 0)


def test_too_large_is_413_naming_the_limit(hook: TestClient, sessions: sessionmaker[Session]) -> None:
    whole = post(hook, email("\n".join(["x" * 70] * 600)).as_bytes())
    attached = post(hook, email(attachments=(("big scan.pdf", b"x" * (2 * KB + 1)),)).as_bytes())
    assert (whole.status_code, attached.status_code) == (413, 413)
    assert whole.json()["detail"] == "The e-mail is larger than 32 KB."
    assert attached.json()["detail"] == 'Attachment "big scan.pdf" is larger than 2 KB'
    assert kept(sessions) == (0, 0, 0)


def test_other_bodies_are_refused_clearly(hook: TestClient, sessions: sessionmaker[Session]) -> None:
    as_json = post(hook, b'{"from": "someone"}', content_type="application/json")
    no_sender = post(hook, email(sender="nobody").as_bytes())
    assert as_json.status_code == 415
    assert "message/rfc822" in as_json.json()["detail"]
    assert no_sender.status_code == 422
    assert no_sender.json()["detail"] == "The e-mail has no sender address (From)."
    assert kept(sessions) == (0, 0, 0)

