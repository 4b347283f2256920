"""The hash chain, as pure functions: what an entry's hash covers and how a chain is checked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64

CHAINED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_user_id",
    "actor_username",
    "actor_role",
    "action",
    "outcome",
    "subject_type",
    "subject_id",
    "patient_id",
    "route",
    "ip",
    "details",
    "prev_hash",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    return str(value)


def entry_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 over a canonical JSON of every chained field, so any edited column changes it."""
    document = {name: _canonical(fields[name]) for name in CHAINED_FIELDS}
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def chain_break(fields: Mapping[str, Any], *, expected_seq: int, expected_prev: str) -> str | None:
    """Why this entry does not continue the chain, or None when it does."""
    if fields["seq"] != expected_seq:
        return f"entry {expected_seq} is missing (next entry is {fields['seq']})"
    if fields["prev_hash"] != expected_prev:
        return f"entry {expected_seq} does not link to entry {expected_seq - 1}"
    if entry_hash(fields) != fields["hash"]:
        return f"entry {expected_seq} was altered after it was written"
    return None
