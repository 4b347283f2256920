"""The chat widget's public API over HTTP: tokens in a header, clear 4xx answers, CORS only for listed websites,
the widget's files and the sample page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careline.app import create_app
from careline.db import UnitOfWork
from careline.messaging.models import Conversation
from careline.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories.patients import make_patient
from tests.factories.routing import make_queue

SITE = "https://www.riverside-health.example"
OTHER = "https://evil.example"


@pytest.fixture
def starts_per_minute() -> int:
    return 20


@pytest.fixture
def web(sessions: sessionmaker[Session], tmp_path: Path, starts_per_minute: int) -> Iterator[TestClient]:
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, log_format="console", log_level="WARNING",
                        chat_origins=f"{SITE}/, https://clinic.example", chat_starts_per_minute=starts_per_minute)
    with UnitOfWork(sessions) as uow:
        make_queue(uow, "scheduling")
        make_patient(uow)
        uow.commit()
    with TestClient(create_app(settings, sessions=sessions), base_url="http://testserver") as client:
        yield client


def _start(web: TestClient) -> dict[str, str]:
    started = web.post("/chat/api/chats", json={"language": "en"}, headers={"Origin": SITE})
    assert started.status_code == 201, started.text
    return {"X-Chat-Token": started.json()["token"], "Origin": SITE}


def _chats(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Conversation)
                                  .where(Conversation.channel == "chat")) or 0)


def test_a_patient_chats_from_a_listed_website(web: TestClient) -> None:
    token = _start(web)
    said = web.post("/chat/api/messages", json={"body": "  Hello, I need a refill  "}, headers=token)
    assert said.status_code == 201
    assert said.headers["access-control-allow-origin"] == SITE
    assert "Origin" in said.headers["vary"]
    assert said.json()["body"] == "Hello, I need a refill"
    news = web.get("/chat/api/messages", params={"after": 0}, headers=token)
    assert news.status_code == 200
    assert news.headers["cache-control"] == "no-store"
    assert [(line["seq"], line["from_patient"]) for line in news.json()["lines"]] == [(1, True)]
    assert web.get("/chat/api/messages", params={"after": 1}, headers=token).json()["lines"] == []
    assert web.post("/chat/api/typing", headers=token).status_code == 204


def test_the_preflight_is_answered_for_listed_websites_only(web: TestClient,
                                                           sessions: sessionmaker[Session]) -> None:
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-chat-token"}
    allowed = web.options("/chat/api/messages", headers={"Origin": "https://clinic.example", **asked})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://clinic.example"
    assert "X-Chat-Token" in allowed.headers["access-control-allow-headers"]
    assert "POST" in allowed.headers["access-control-allow-methods"]

    refused = web.options("/chat/api/messages", headers={"Origin": OTHER, **asked})
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    # A "simple" request from an unlisted site, which a browser sends without asking first, changes nothing.
    before = _chats(sessions)
    forged = web.post("/chat/api/chats", content='{"language": "en"}', headers={"Origin": OTHER,
                                                                                 "Content-Type": "text/plain"})
    assert forged.status_code == 403
    assert "not allowed to use the chat" in forged.json()["detail"]
    assert _chats(sessions) == before


def test_the_apps_own_pages_are_same_origin(web: TestClient) -> None:
    started = web.post("/chat/api/chats", json={}, headers={"Origin": "http://testserver"})
    assert started.status_code == 201


def test_a_missing_or_wrong_token_is_a_clear_4xx(web: TestClient) -> None:
    missing = web.get("/chat/api/messages", headers={"Origin": SITE})
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["access-control-allow-origin"] == SITE  # the widget can read why
    unknown = web.post("/chat/api/messages", json={"body": "hi"},
                       headers={"X-Chat-Token": "x" * 43, "Origin": SITE})
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "No such chat."
    assert web.get("/chat/api/messages", headers={"X-Chat-Token": "y" * 500}).status_code == 422


def test_bad_input_is_refused_and_nothing_is_written(web: TestClient, sessions: sessionmaker[Session]) -> None:
    token = _start(web)
    assert web.post("/chat/api/messages", json={"body": "x" * 2001}, headers=token).status_code == 422
    assert web.post("/chat/api/messages", json={"body": ""}, headers=token).status_code == 422
    blank = web.post("/chat/api/messages", json={"body": "   "}, headers=token)
    assert (blank.status_code, blank.json()["field"]) == (422, "body")
    assert web.post("/chat/api/chats", json={"language": "fr"}).status_code == 422
    assert web.post("/chat/api/transcript", json={"email": "not an address"}, headers=token).status_code == 422
    assert web.post("/chat/api/identify", json={"name": "Ana Rivera", "birth_date": "1961-13-40"},
                    headers=token).status_code == 422
    news = web.get("/chat/api/messages", headers=token).json()
    assert news["lines"] == []


def test_a_line_retried_with_its_id_is_one_line(web: TestClient) -> None:
    token = _start(web)
    line = {"body": "Do you take walk-ins?", "line_id": "a1b2c3d4e5f60718"}
    first, again = (web.post("/chat/api/messages", json=line, headers=token) for _ in range(2))
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert len(web.get("/chat/api/messages", headers=token).json()["lines"]) == 1
    bad = web.post("/chat/api/messages", json={"body": "Hi", "line_id": "no spaces!"}, headers=token)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "line_id"]


@pytest.mark.parametrize("starts_per_minute", [2])
def test_too_many_chats_from_one_address_are_refused_and_nothing_is_written(
        web: TestClient, sessions: sessionmaker[Session]) -> None:
    _start(web)
    _start(web)
    refused = web.post("/chat/api/chats", json={"language": "en"}, headers={"Origin": SITE})
    assert refused.status_code == 429
    assert "try again in a minute" in refused.json()["detail"]
    assert refused.headers["access-control-allow-origin"] == SITE  # the widget can read why
    assert _chats(sessions) == 2


def test_identify_says_the_same_whether_or_not_a_record_matched(web: TestClient) -> None:
    token = _start(web)
    match = web.post("/chat/api/identify", json={"name": "Ana Rivera", "birth_date": "1961-02-03"}, headers=token)
    other = _start(web)
    miss = web.post("/chat/api/identify", json={"name": "Nobody Here", "birth_date": "1961-02-03"}, headers=other)
    assert (match.status_code, miss.status_code) == (200, 200)
    assert match.json() == miss.json() == {"message": "Thanks — an agent will confirm who you are in the chat."}
    for _ in range(2):
        web.post("/chat/api/identify", json={"name": "Nobody Here", "birth_date": "1961-02-03"}, headers=other)
    too_many = web.post("/chat/api/identify", json={"name": "Ana Rivera", "birth_date": "1961-02-03"}, headers=other)
    assert too_many.status_code == 429
    assert "Too many tries" in too_many.json()["detail"]


def test_a_transcript_before_an_agent_answered_is_refused_and_an_ended_chat_is_gone(web: TestClient) -> None:
    token = _start(web)
    web.post("/chat/api/messages", json={"body": "Please e-mail me this"}, headers=token)
    mailed = web.post("/chat/api/transcript", json={"email": "ana@example.org"}, headers=token)
    assert mailed.status_code == 409
    assert mailed.json()["detail"] == "The chat can be e-mailed once an agent has answered."
    assert web.post("/chat/api/end", headers=token).status_code == 204
    assert web.get("/chat/api/messages", headers=token).json()["ended"] is True
    closed = web.post("/chat/api/messages", json={"body": "one more thing"}, headers=token)
    assert closed.status_code == 410
    assert closed.json()["detail"] == "This chat has ended. Start a new one to keep talking."


def test_the_widget_files_are_served_for_long_caching_and_the_demo_embeds_them_with_one_tag(web: TestClient) -> None:
    script = web.get("/chat/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "max-age=86400" in script.headers["cache-control"]
    assert "X-Chat-Token" in script.text
    style = web.get("/chat/widget.css")
    assert style.headers["content-type"].startswith("text/css")
    assert ".careline-chat-launcher" in style.text
    page = web.get("/chat/demo")
    assert page.status_code == 200
    assert page.text.count("<script") == 1
    assert ('<script src="http://testserver/chat/widget.js" data-careline="http://testserver" data-language="en" '
            'defer></script>') in page.text
