"""Messaging's pure rules: reply keywords, quiet hours, the order of delivery statuses, templates and PHI.

No database and no web: everything here is decided from its arguments, so it is tested on its own.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Channel(enum.StrEnum):
    sms = "sms"
    email = "email"
    chat = "chat"


class Purpose(enum.StrEnum):
    """Why a message is sent, which decides the consent it needs and whether quiet hours apply."""

    reply = "reply"  # answering the patient's own message: they wrote first
    care = "care"  # about their care: reminders, results ready, follow-up
    outreach = "outreach"  # campaigns: due for a screening, annual visit


class Keyword(enum.StrEnum):
    opt_out = "opt_out"
    opt_in = "opt_in"
    help = "help"


# Carrier and CTIA keywords; the whole message must be the keyword (any case, stray punctuation ignored).
KEYWORDS: Mapping[str, Keyword] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), Keyword.opt_out),
    **dict.fromkeys(("START", "UNSTOP", "YES"), Keyword.opt_in),
    **dict.fromkeys(("HELP", "INFO"), Keyword.help),
}
CARRIER_OPTED_OUT = "21610"  # Twilio: the recipient replied STOP to this sender


def keyword_of(body: str) -> tuple[Keyword, str] | None:
    """The keyword a whole message is, and the word as matched; None for anything else ("stop by at 3")."""
    word = re.sub(r"[^\w]", "", unicodedata.normalize("NFKC", body)).upper()
    found = KEYWORDS.get(word)
    return (found, word) if found else None


# Outreach texts only from 08:00 to 21:00 in the patient's own time zone.
QUIET_ENDS, QUIET_BEGINS = time(8), time(21)


def next_allowed(now: datetime, zone: str) -> datetime | None:
    """None when an outreach message may go now; otherwise the moment (UTC) the patient's window opens.

    Computed on the local wall clock, so the window is 08:00-21:00 on both sides of a DST change.
    """
    local = now.astimezone(ZoneInfo(zone))
    if QUIET_ENDS <= local.time() < QUIET_BEGINS:
        return None
    day = local.date() if local.time() < QUIET_ENDS else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_ENDS, tzinfo=ZoneInfo(zone)).astimezone(now.tzinfo)


class Status(enum.StrEnum):
    queued = "queued"
    held = "held"  # waiting for quiet hours to end or a rate limit
    sending = "sending"  # handed to a provider that cannot take an idempotency key; outcome not yet known
    sent = "sent"
    delivered = "delivered"
    undelivered = "undelivered"
    failed = "failed"
    blocked = "blocked"  # never sent: opted out, no consent
    received = "received"


# Provider status callbacks arrive in any order; one only applies if it is further along than the last.
RANKS: Mapping[str, int] = {"accepted": 1, "scheduled": 1, "queued": 1, "sending": 2, "sent": 3, "delivered": 4,
                            "read": 5, "undelivered": 4, "failed": 4, "canceled": 4}
# Taken by the provider counts as sent (handed over); the callbacks then say delivered or not.
OUTBOUND_STATUS = {"accepted": Status.sent, "scheduled": Status.sent, "queued": Status.sent,
                   "sending": Status.sent, "sent": Status.sent, "delivered": Status.delivered, "read": Status.delivered,
                   "undelivered": Status.undelivered, "failed": Status.failed, "canceled": Status.failed}


def moves_forward(current_rank: int, provider_status: str) -> bool:
    return RANKS.get(provider_status, 0) > current_rank


# Template variables that are PHI beyond a first name and a time: flagged in SMS templates, where the rule is
# "no diagnosis, no visit reason" unless the patient opted in.
PHI_FIELDS = frozenset({"birth_date", "mrn", "diagnosis", "condition", "reason", "visit_reason", "visit_type",
                        "provider", "practitioner", "medication", "result", "results", "last_name", "family_name",
                        "full_name", "address", "insurance", "notes"})
SAMPLE_VALUES: Mapping[str, Any] = {
    "first_name": "Alex", "center_name": "Careline Health", "center_phone": "+1 800 555 0100",
    "when": "Tue 3 Mar at 9:30", "location": "Main Street Clinic", "transcript": "Patient: Hello\nAgent: Hi!",
    "help_line": "+1 800 555 0100", "link": "https://example.org/r/abc",
}
_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_HTML_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


class TemplateProblem(ValueError):
    """A template that does not parse, uses a field it may not, or renders to nothing."""


def variables_of(source: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(_ENVIRONMENT.parse(source)))
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Line {error.lineno}: {error.message}") from error


def phi_in(channel: str, sources: Iterable[str]) -> list[str]:
    """The PHI fields an SMS template uses (sorted); e-mail and chat may carry more, so nothing is flagged."""
    if channel != Channel.sms:
        return []
    return sorted(set().union(*(variables_of(source) for source in sources)) & PHI_FIELDS)


def render(source: str, values: Mapping[str, Any], *, html: bool = False) -> str:
    """Render in the sandbox: a template cannot reach attributes or call methods it was not given."""
    environment = _HTML_ENVIRONMENT if html else _ENVIRONMENT
    try:
        return environment.from_string(source).render(**values).strip()
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Line {error.lineno}: {error.message}") from error
    except UndefinedError as error:
        raise TemplateProblem(f"{error.message}; the fields you can use are {', '.join(sorted(values))}") from error
    except SecurityError as error:
        raise TemplateProblem(f"Not allowed in a template: {error}") from error


SMS_SEGMENT = 160
SMS_LIMIT = 1600  # Twilio refuses a longer body


def normalise_email(address: str) -> str:
    return address.strip().lower()
