"""Every Twilio webhook must be signed with the auth token for the public URL it was sent to: signatures are
made with the twilio library's own RequestValidator, and anything wrong gets 403 and records nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from careline.app import create_app
from careline.db import UnitOfWork
from careline.integrations.twilio import signatures
from careline.settings import Settings
from careline.telephony.models import Call
from tests.factories.routing import make_queue
from tests.factories.telephony import AUTH_TOKEN, call_params, make_number, post_signed, sign, twiml
from tests.support import shared_dir

SID = "CA0f3bd7a1c52e4d8e9a6b7c1d2e3f4a5b"
VOICE = "/telephony/twilio/voice"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "cc.example.org"}


@pytest.fixture(autouse=True)
def line(uow: UnitOfWork) -> None:
    make_queue(uow, "scheduling")
    make_queue(uow, "billing")
    make_number(uow)
    uow.commit()


def calls(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Call)) or 0)


def post_with(client: TestClient, params: dict[str, str], signature: str | None, **headers: str) -> Any:
    sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    if signature is not None:
        sent["X-Twilio-Signature"] = signature
    return client.post(VOICE, content=urlencode(params), headers=sent)


@contextmanager
def app_client(settings: Settings, sessions: sessionmaker[Session], *, base_url: str = "http://10.0.0.5:8000",
               peer: str = "127.0.0.1", **changes: Any) -> Iterator[TestClient]:
    """An app behind a different address, settings or network peer than the suite's default client."""
    app = create_app(settings.model_copy(update=changes), sessions=sessions)
    with TestClient(app, base_url=base_url, client=(peer, 41234)) as client:
        yield client


def test_a_validly_signed_call_is_answered_and_recorded(client: TestClient, sessions: sessionmaker[Session]) -> None:
    answer = post_signed(client, VOICE, call_params(SID))
    assert answer.status_code == 200
    assert twiml(answer).find("Gather") is not None
    assert calls(sessions) == 1


def test_a_parameter_changed_after_signing_is_refused_and_nothing_recorded(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    params = call_params(SID)
    signature = sign(VOICE, params)
    tampered = params | {"From": "+16175550199"}
    assert post_with(client, tampered, signature).status_code == 403
    assert post_with(client, params | {"Extra": "1"}, signature).status_code == 403  # an added parameter too
    assert calls(sessions) == 0
    assert post_with(client, params, signature).status_code == 200  # the untouched body passes
    assert calls(sessions) == 1


@pytest.mark.parametrize("signed_url", ["http://attacker.example.org/telephony/twilio/voice",
                                        "http://testserver/telephony/twilio/gather/menu",
                                        "https://testserver/telephony/twilio/voice",
                                        "http://testserver/telephony/twilio/voice?x=1"])
def test_a_signature_for_another_url_is_refused(client: TestClient, sessions: sessionmaker[Session],
                                                 signed_url: str) -> None:
    params = call_params(SID)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url, params)
    assert post_with(client, params, signature).status_code == 403
    assert calls(sessions) == 0


def test_a_missing_or_empty_signature_is_refused(client: TestClient, sessions: sessionmaker[Session]) -> None:
    assert post_with(client, call_params(SID), None).status_code == 403
    assert post_with(client, call_params(SID), "").status_code == 403
    assert calls(sessions) == 0


def test_a_signature_with_another_token_is_refused(client: TestClient, sessions: sessionmaker[Session]) -> None:
    params = call_params(SID)
    assert post_with(client, params, sign(VOICE, params, token="some-other-account-token")).status_code == 403
    assert calls(sessions) == 0


def test_without_an_auth_token_configured_every_request_is_refused(
        twilio_settings: Settings, sessions: sessionmaker[Session]) -> None:
    params = call_params(SID)
    with app_client(twilio_settings, sessions, base_url="http://testserver", twilio_auth_token=None) as client:
        assert post_with(client, params, sign(VOICE, params)).status_code == 403
        # an empty token must not turn into a key anyone can sign with
        assert post_with(client, params, sign(VOICE, params, token="")).status_code == 403
    with app_client(twilio_settings, sessions, base_url="http://testserver", twilio_auth_token="") as client:
        assert post_with(client, params, sign(VOICE, params, token="")).status_code == 403
    assert calls(sessions) == 0


def published_vectors() -> list[tuple[str, str, dict[str, str], str]]:
    """The signing table of WEBHOOKS.md: (auth token, URL, params, expected signature), read as published."""
    text = (shared_dir() / "data" / "twilio" / "WEBHOOKS.md").read_text(encoding="utf-8")
    voice_body = re.search(r"^(AccountSid=ACd0e2490e7a4f16eab9f2e18679a22176&ApiVersion=.*CallStatus=ringing.*)$",
                           text, re.MULTILINE)
    assert voice_body, "the §1 example body is missing from WEBHOOKS.md"
    vectors = []
    for row in re.finditer(r"^\| `([^`]+)`(?: \(ours\))? \| `(https://[^`]+)`[^|]*\| ([^|]+) \| `([^`]+=)`",
                           text, re.MULTILINE):
        token, url, params_cell, expected = row.groups()
        if "§1" in params_cell:
            params = dict(parse_qsl(voice_body.group(1), keep_blank_values=True))
        elif "same" in params_cell:
            params = vectors[-1][2]
        else:
            params = dict(pair.split("=", 1) for pair in re.findall(r"`([^`]+=[^`]*)`", params_cell))
        vectors.append((token, url, params, expected))
    return vectors


def test_the_published_vectors_validate() -> None:
    vectors = published_vectors()
    tokens = {token for token, *_ in vectors}
    assert {"12345", "test_auth_token_0123456789abcdef"} <= tokens, vectors
    for token, url, params, expected in vectors:
        assert signatures.is_valid(auth_token=token, url=url, params=params, signature=expected), url
        changed = params | {"CallSid": params["CallSid"][:-1] + "0"}
        assert not signatures.is_valid(auth_token=token, url=url, params=changed, signature=expected)
        assert not signatures.is_valid(auth_token=token + "x", url=url, params=params, signature=expected)


def test_the_twilio_example_call_validates_through_the_webhook_behind_its_public_url(
        twilio_settings: Settings, sessions: sessionmaker[Session]) -> None:
    """The §1 example, signed by Twilio for https://cc.example.org/twilio/voice/incoming: our path differs, so
    the same body re-signed for our path over the same public origin is accepted, and the original refused."""
    token, _url, params, expected = next(v for v in published_vectors() if "cc.example.org" in v[1])
    with app_client(twilio_settings, sessions, twilio_auth_token=token, public_url="https://cc.example.org") as client:
        assert post_with(client, params, expected).status_code == 403  # signed for another path
        answer = post_with(client, params, sign(VOICE, params, token=token, origin="https://cc.example.org"))
        assert answer.status_code == 200
        gather = twiml(answer).find("Gather")
        assert gather is not None
        assert gather.get("action") == "https://cc.example.org/telephony/twilio/gather/language"
    assert calls(sessions) == 1


def test_a_trusted_proxys_forwarded_scheme_and_host_name_the_signed_url(
        twilio_settings: Settings, sessions: sessionmaker[Session]) -> None:
    params = call_params(SID)
    public = sign(VOICE, params, origin="https://cc.example.org")
    with app_client(twilio_settings, sessions, public_url=None, forwarded_allow_ips="127.0.0.1") as client:
        assert post_with(client, params, public).status_code == 403  # without the proxy's headers
        answer = post_with(client, params, public, **FORWARDED)
        assert answer.status_code == 200, answer.text
        gather = twiml(answer).find("Gather")
        assert gather is not None
        assert gather.get("action") == "https://cc.example.org/telephony/twilio/gather/language"
    assert calls(sessions) == 1


def test_forwarded_headers_from_an_untrusted_client_do_not_count(
        twilio_settings: Settings, sessions: sessionmaker[Session]) -> None:
    params = call_params(SID)
    with app_client(twilio_settings, sessions, peer="203.0.113.7", public_url=None,
                    forwarded_allow_ips="127.0.0.1") as client:
        forged = post_with(client, params, sign(VOICE, params, origin="https://cc.example.org"), **FORWARDED)
        assert forged.status_code == 403
        assert calls(sessions) == 0
        # the URL it really reached still counts: the headers were ignored, not everything refused
        direct = post_with(client, params, sign(VOICE, params, origin="http://10.0.0.5:8000"), **FORWARDED)
        assert direct.status_code == 200
    assert calls(sessions) == 1


def test_the_configured_public_url_wins_over_forwarded_headers(
        twilio_settings: Settings, sessions: sessionmaker[Session]) -> None:
    params = call_params(SID)
    with app_client(twilio_settings, sessions, public_url="https://voice.example.org",
                    forwarded_allow_ips="127.0.0.1") as client:
        assert post_with(client, params, sign(VOICE, params, origin="https://cc.example.org"),
                         **FORWARDED).status_code == 403
        assert post_with(client, params, sign(VOICE, params, origin="http://10.0.0.5:8000")).status_code == 403
        assert calls(sessions) == 0
        answer = post_with(client, params, sign(VOICE, params, origin="https://voice.example.org"), **FORWARDED)
        assert answer.status_code == 200
    assert calls(sessions) == 1


def test_every_webhook_checks_the_signature(client: TestClient, sessions: sessionmaker[Session]) -> None:
    assert post_signed(client, VOICE, call_params(SID)).status_code == 200
    for path in ("/telephony/twilio/gather/language", "/telephony/twilio/wait", "/telephony/twilio/voice/status",
                 "/telephony/twilio/voicemail", "/telephony/twilio/recording", "/telephony/twilio/left-line",
                 "/telephony/twilio/dial-ended"):
        params = call_params(SID, Digits="1", CallStatus="completed")
        refused = client.post(path, content=urlencode(params), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(VOICE, params)})
        assert refused.status_code == 403, path
    with sessions() as session:
        call = session.scalars(select(Call)).one()
        assert call.stage == "language"
        assert call.ended_at is None
