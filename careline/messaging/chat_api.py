"""The web chat widget's public API: start a chat, talk, say who you are, ask for the transcript, end it; and
the widget's own files, with a sample health-system page that embeds it with one script tag.

No cookies and no sign-in: the browser proves the chat is its own with the token it was given, sent in the
``X-Chat-Token`` header. Which websites may call this from their pages is decided by ``careline.web.cors``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel

from careline.messaging.schemas import ChatLine, ChatNews, ChatSay, ChatStart, ChatStarted, ChatTranscript, ChatWho
from careline.messaging.service import chat
from careline.settings import Settings
from careline.web.deps import PatientRules, Public, Uow
from careline.web.templates import render

router = APIRouter(prefix="/chat", tags=["chat"])

WIDGET_DIR = Path(__file__).resolve().parent.parent / "web" / "static" / "chat"
WIDGET_FILES = {"widget.js": "text/javascript; charset=utf-8", "widget.css": "text/css; charset=utf-8"}
WIDGET_CACHE = "public, max-age=86400, stale-while-revalidate=604800"
TOKEN_LIMIT = 100  # ours are 43 characters; anything much longer is not worth a database look-up
THANKS = "Thanks — an agent will confirm who you are in the chat."
TRANSCRIPT_QUEUED = "Thanks — we will e-mail this chat to you shortly."


class Said(BaseModel):
    message: str


# A missing or malformed token is a 422 naming the header; a well-formed one that opens no chat, a 404.
Token = Annotated[str, Header(alias="X-Chat-Token", min_length=20, max_length=TOKEN_LIMIT)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/api/chats", status_code=201)
def start(data: ChatStart, request: Request, uow: Uow, _: Public) -> ChatStarted:
    settings = _settings(request)
    # Behind a proxy the client is the one X-Forwarded-For names when CARELINE_FORWARDED_ALLOW_IPS trusts it.
    visitor = chat.visitor_key(settings, request.client.host) if request.client else None
    token, conversation_id = chat.start(uow, data.language, visitor=visitor,
                                        per_minute=settings.chat_starts_per_minute)
    return ChatStarted(token=token, conversation_id=conversation_id)


@router.post("/api/messages", status_code=201)
def say(data: ChatSay, token: Token, request: Request, uow: Uow, policy: PatientRules, _: Public) -> ChatLine:
    return chat.say(uow, policy, _settings(request), token, data.body, line_id=data.line_id)


@router.get("/api/messages")
def news(token: Token, uow: Uow, _: Public, after: Annotated[int, Query(ge=0, le=2**31)] = 0) -> ChatNews:
    return chat.news(uow, token, after)


@router.post("/api/typing", status_code=204)
def typing(token: Token, uow: Uow, _: Public) -> None:
    chat.typing(uow, token)


@router.post("/api/identify")
def identify(data: ChatWho, token: Token, uow: Uow, policy: PatientRules, _: Public) -> Said:
    chat.identify(uow, policy, token, data)
    return Said(message=THANKS)


@router.post("/api/transcript", status_code=202)
def transcript(data: ChatTranscript, token: Token, request: Request, uow: Uow, _: Public) -> Said:
    chat.transcript(uow, _settings(request), token, data.email)
    return Said(message=TRANSCRIPT_QUEUED)


@router.post("/api/end", status_code=204)
def end(token: Token, uow: Uow, _: Public) -> None:
    chat.end(uow, token)


@cache
def _widget_file(name: str) -> bytes:
    return (WIDGET_DIR / name).read_bytes()


@router.get("/widget.js")
def widget_js(_: Public) -> Response:
    return _widget("widget.js")


@router.get("/widget.css")
def widget_css(_: Public) -> Response:
    return _widget("widget.css")


def _widget(name: str) -> Response:
    return Response(_widget_file(name), media_type=WIDGET_FILES[name], headers={"Cache-Control": WIDGET_CACHE})


@router.get("/demo")
def demo(request: Request, _: Public) -> Response:
    """A sample health system's home page, embedding the widget exactly as a real one would."""
    return render(request, "messaging/chat_demo.html", {"careline": str(request.base_url).rstrip("/")})
