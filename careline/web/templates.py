"""Jinja2 environment over every domain's ``templates/`` folder, and the one render helper."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response

from careline import __version__
from careline.patients.rules import language_name
from careline.web import nav
from careline.web.csrf import csrf_token

_PACKAGE = Path(__file__).resolve().parent.parent


def replace_page(params: Mapping[str, str], page: int) -> str:
    """The current query string with another page number, for pagers."""
    return urlencode({**params, "page": page})


def count_of(count: int, noun: str) -> str:
    """'1 visit', '3 visits'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


# Codes whose words are not simply the code's own, written out (e.g. specialties: "obgyn" is "OB/GYN").
_CODE_LABELS = {"obgyn": "OB/GYN", "ent": "ENT"}


def code_label(code: str) -> str:
    """A stored code as people say it: 'family_medicine' is 'Family medicine', 'obgyn' is 'OB/GYN'."""
    return _CODE_LABELS.get(code) or code.replace("_", " ").capitalize()


def _environment() -> Environment:
    folders = sorted(str(path) for path in _PACKAGE.glob("*/templates") if path.is_dir())
    env = Environment(loader=FileSystemLoader(folders), autoescape=select_autoescape(), auto_reload=False)
    env.globals["version"] = __version__
    env.filters["replace_page"] = replace_page
    env.filters["count_of"] = count_of
    env.filters["code_label"] = code_label
    env.filters["language_name"] = language_name
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    actor = getattr(request.state, "actor", None)
    base = {
        "actor": actor,
        "nav": nav.items_for(actor),
        "csrf_token": csrf_token(request),
        "idle_minutes": request.app.state.policy.idle_minutes,
        "current_path": request.url.path,
    }
    return templates.TemplateResponse(request, name, base | (context or {}), status_code=status_code)
