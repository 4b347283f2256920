"""Telephony fixtures: an app that takes Twilio webhooks signed with the test token, and a fake Twilio REST API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careline.app import create_app
from careline.settings import Settings
from tests.factories.telephony import ACCOUNT_SID, AUTH_TOKEN, ORIGIN
from tests.support.fake_twilio import FakeTwilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID) as fake:
        yield fake


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"twilio_auth_token": AUTH_TOKEN, "telephony_provider": "twilio",
                                       "public_url": ORIGIN})


@pytest.fixture
def app(twilio_settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    return create_app(twilio_settings, sessions=sessions)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=ORIGIN) as client:
        yield client
