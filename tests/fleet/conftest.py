"""The shared stores of a test's fleet: its own PostgreSQL schema and Redis key prefix, on one
Redis or on the local Redis Cluster."""

from __future__ import annotations

import pytest

from tests.cluster import RedisServer
from tests.fleet.nodes import FleetSettings


@pytest.fixture
def fleet_settings(postgres_schema_url: str, redis_server: RedisServer, redis_prefix: str) -> FleetSettings:
    return FleetSettings(postgres_schema_url, redis_server.environ(), redis_prefix)
