"""The Redis that live-notice tests fan out through: skipped where absent, except in CI (CARELINE_REQUIRE_REDIS=1)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

REDIS_URL = os.environ.get("CARELINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("CARELINE_REQUIRE_REDIS") == "1"


def redis_available() -> bool:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1) as client:
            return bool(client.ping())
    except (OSError, redis.RedisError):
        return False


def require_redis() -> str:
    """The test Redis's URL; skips where it is not running, fails instead under CARELINE_REQUIRE_REDIS=1."""
    if redis_available():
        return REDIS_URL
    message = f"Redis is not reachable at {REDIS_URL}"
    if REQUIRE_REDIS:
        pytest.fail(message + " and CARELINE_REQUIRE_REDIS=1", pytrace=False)
    pytest.skip(message)


def unique_prefix() -> str:
    """A channel prefix of one test's own: tests share the Redis, and flush nothing."""
    return f"careline-test-{uuid.uuid4().hex[:12]}:"
