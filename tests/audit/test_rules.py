from datetime import UTC, datetime

from careline.audit import rules


def _entry(seq: int, prev: str) -> dict[str, object]:
    fields: dict[str, object] = dict.fromkeys(rules.CHAINED_FIELDS)
    fields |= {"seq": seq, "occurred_at": datetime(2026, 1, 1, tzinfo=UTC), "actor_username": "ana",
               "action": "user.viewed", "outcome": "success", "details": {"b": 1, "a": 2}, "prev_hash": prev}
    fields["hash"] = rules.entry_hash(fields)
    return fields


def test_hash_covers_every_chained_field() -> None:
    base = _entry(1, rules.GENESIS_HASH)
    for name in rules.CHAINED_FIELDS:
        changed = dict(base) | {name: "tampered"}
        assert rules.entry_hash(changed) != base["hash"], name


def test_hash_is_independent_of_key_order_in_details() -> None:
    first = _entry(1, rules.GENESIS_HASH)
    reordered = dict(first) | {"details": {"a": 2, "b": 1}}
    assert rules.entry_hash(reordered) == first["hash"]


def test_intact_link_has_no_break() -> None:
    first = _entry(1, rules.GENESIS_HASH)
    second = _entry(2, str(first["hash"]))
    assert rules.chain_break(second, expected_seq=2, expected_prev=str(first["hash"])) is None


def test_gap_is_reported_as_missing_entry() -> None:
    third = _entry(3, "x" * 64)
    assert rules.chain_break(third, expected_seq=2, expected_prev="y" * 64) == "entry 2 is missing (next entry is 3)"


def test_edit_is_reported_as_altered() -> None:
    entry = _entry(1, rules.GENESIS_HASH) | {"actor_username": "mallory"}
    assert rules.chain_break(entry, expected_seq=1, expected_prev=rules.GENESIS_HASH) == (
        "entry 1 was altered after it was written")
