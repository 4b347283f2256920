from datetime import UTC, datetime, timedelta

import pytest

from careline.auth import rules

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


class TestLockout:
    def test_no_lock_below_threshold(self) -> None:
        assert rules.lockout_until(4, NOW, threshold=5, max_minutes=60) is None

    @pytest.mark.parametrize(("failures", "minutes"), [(5, 1), (6, 2), (7, 4), (10, 32), (11, 60), (500, 60)])
    def test_back_off_doubles_up_to_the_cap(self, failures: int, minutes: int) -> None:
        assert rules.lockout_until(failures, NOW, threshold=5, max_minutes=60) == NOW + timedelta(minutes=minutes)


class TestSessionExpiry:
    def test_idle_session_expires(self) -> None:
        assert rules.session_expired(last_seen_at=NOW - timedelta(minutes=15), expires_at=NOW + timedelta(hours=1),
                                     now=NOW, idle_minutes=15)

    def test_active_session_lives(self) -> None:
        assert not rules.session_expired(last_seen_at=NOW - timedelta(minutes=14), expires_at=NOW + timedelta(hours=1),
                                         now=NOW, idle_minutes=15)

    def test_absolute_expiry_wins_over_activity(self) -> None:
        assert rules.session_expired(last_seen_at=NOW, expires_at=NOW, now=NOW, idle_minutes=15)


class TestPasswordAndUsername:
    def test_short_password_refused(self) -> None:
        assert rules.password_problem("short", username="ana") == "Use at least 12 characters."

    def test_password_containing_username_refused(self) -> None:
        assert rules.password_problem("xx-anarivera-xx", username="anarivera") is not None

    def test_good_password_accepted(self) -> None:
        assert rules.password_problem("a long enough passphrase", username="ana") is None

    @pytest.mark.parametrize("name", ["Ana", "a", "-ana", "ana rivera", "ana@x"])
    def test_bad_usernames(self, name: str) -> None:
        assert rules.username_problem(name) is not None

    def test_normalised_username_is_valid(self) -> None:
        assert rules.username_problem(rules.normalise_username("  Ana.Rivera ")) is None


def test_minutes_left_rounds_up() -> None:
    assert rules.minutes_left(NOW + timedelta(seconds=61), NOW) == 2
