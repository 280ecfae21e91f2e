"""Fixtures shared by every test package.

Redis: tests marked `redis` get `redis_url` and a unique `redis_prefix`; every key under that
prefix is deleted afterwards. Without a Redis they skip on a developer's machine and fail in CI
(CI=true), so a missing Redis can never turn the suite green by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("KX_EDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def _redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _redis_answers(REDIS_URL):
        message = f"Redis does not answer at {REDIS_URL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the Redis tests, not skip them)")
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"kxtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
