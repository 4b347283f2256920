"""Public routes refuse a huge body before reading it, and a body whose length is not declared."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient


def test_a_webhook_body_over_the_limit_is_refused_unread(client: TestClient) -> None:
    answer = client.post("/telephony/twilio/sms", content=b"Body=" + b"x" * 70_000,
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert (answer.status_code, answer.text) == (413, "The request body is larger than 64 KB.")


def test_a_chat_body_over_the_limit_is_refused_with_a_problem(client: TestClient) -> None:
    answer = client.post("/chat/api/messages", content=b"{" + b" " * 20_000 + b"}",
                         headers={"content-type": "application/json", "x-chat-token": "t"})
    assert answer.status_code == 413
    assert answer.json()["detail"] == "The request body is larger than 16 KB."


def test_a_body_without_a_declared_length_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # a generator: sent chunked, with no Content-Length
        yield b"Body=hi"

    answer = client.post("/telephony/twilio/sms", content=chunks(),
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 411


def test_a_small_body_goes_through_to_the_route(client: TestClient) -> None:
    answer = client.post("/telephony/twilio/sms", content=b"Body=hi",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 403  # on to the signature check, which it fails
