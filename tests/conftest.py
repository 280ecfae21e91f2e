"""Fixtures shared by every test package.

Redis: tests marked `redis` get `redis_url` and a unique `redis_prefix`; every key under that
prefix is deleted afterwards. Without a Redis they skip on a developer's machine and fail in CI
(CI=true), so a missing Redis can never turn the suite green by skipping.

`redis_server` runs a test on each kind of Redis in turn: one server, and the local Redis Cluster
`.ci/redis-cluster` starts (tests/cluster.py), with the same skip-locally, fail-in-CI rule.

Store backends (tests/databases.py): `store_overrides` gives the settings that select each
backend in turn, `database` an opened, migrated database of each. PostgreSQL follows the Redis
pattern: skipped without a server on a developer's machine, failed in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from edge.store import Database
from tests.apps import make_settings
from tests.cluster import CLUSTER_URL, RedisServer, cluster_answers
from tests.databases import (
    BACKENDS,
    admin_connect,
    database_url,
    opened,
    postgres_answers,
    sqlite_overrides,
    unique_name,
    with_schema,
)

REDIS_URL = os.environ.get("KX_EDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
POSTGRES_URL = os.environ.get("KX_EDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    if not cluster_answers(CLUSTER_URL):
        message = f"no Redis Cluster answers at {CLUSTER_URL} (start one with .ci/redis-cluster)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the Redis Cluster tests, not skip them)")
        pytest.skip(message)
    return CLUSTER_URL


@pytest.fixture(params=["single", "cluster"])
def redis_server(request: pytest.FixtureRequest, redis_prefix: str) -> Iterator[RedisServer]:
    """Each kind of Redis in turn (the test's keys under `redis_prefix` are deleted afterwards)."""
    if request.param == "single":
        yield RedisServer(request.getfixturevalue("redis_url"), cluster=False)
        return
    server = RedisServer(request.getfixturevalue("redis_cluster_url"), cluster=True)
    yield server
    server.delete_prefix(redis_prefix)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test session (unique name), dropped at the end."""
    if not postgres_answers(POSTGRES_URL):
        message = "PostgreSQL does not answer at 127.0.0.1:5432 (KX_EDGE_TEST_POSTGRES_URL)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must run the PostgreSQL tests, not skip them)")
        pytest.skip(message)
    name = unique_name("kxtest")
    with admin_connect(POSTGRES_URL) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(POSTGRES_URL, name)
    finally:
        with admin_connect(POSTGRES_URL) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """The session's database with a fresh schema for this test (its URL sets search_path)."""
    schema = unique_name("t")
    with admin_connect(postgres_url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield with_schema(postgres_url, schema)
    with admin_connect(postgres_url) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_overrides(postgres_schema_url: str) -> dict[str, Any]:
    return {"database_url": postgres_schema_url, "database_timeout_s": 5.0}


@pytest.fixture(params=BACKENDS)
def store_overrides(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings overrides that select one store backend (every backend in turn)."""
    if request.param == "sqlite":
        return sqlite_overrides(tmp_path)
    overrides: dict[str, Any] = request.getfixturevalue("postgres_overrides")
    return overrides


@pytest.fixture
async def database(store_overrides: dict[str, Any], tmp_path: Path) -> AsyncIterator[Database]:
    db = await opened(make_settings(tmp_path, **store_overrides))
    yield db
    await db.close()
