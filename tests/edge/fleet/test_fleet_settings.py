"""The fleet's settings: the cluster flag, the push and the poll interval, read and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from edge.fleet.redis_client import connect_redis
from edge.settings import Settings, SettingsError, load_settings


def _load(tmp_path: Path, **environ: str) -> Settings:
    return load_settings(
        config_path=None, environ={"KX_EDGE_CONFIG": str(_empty(tmp_path)), **environ}
    ).settings


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "kx-edge.toml"
    path.write_text('name = "kx-edge"\n')
    return path


def test_the_defaults_push_and_poll_twice_a_second(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert (settings.redis_cluster, settings.config_push, settings.config_poll_interval_s) == (
        False,
        True,
        0.5,
    )


def test_the_environment_sets_them(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        KX_EDGE_REDIS_URL="redis://127.0.0.1:7101/0",
        KX_EDGE_REDIS_CLUSTER="true",
        KX_EDGE_CONFIG_PUSH="false",
        KX_EDGE_CONFIG_POLL_INTERVAL_S="30",
    )
    assert (settings.redis_cluster, settings.config_push, settings.config_poll_interval_s) == (
        True,
        False,
        30.0,
    )


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"KX_EDGE_REDIS_CLUSTER": "true"}, "redis_cluster"),
        ({"KX_EDGE_REDIS_CLUSTER": "true", "KX_EDGE_REDIS_URL": "unix:///tmp/redis.sock"}, "redis_cluster"),
        ({"KX_EDGE_CONFIG_POLL_INTERVAL_S": "0"}, "config_poll_interval_s"),
        ({"KX_EDGE_CONFIG_PUSH": "maybe"}, "config_push"),
    ],
)
def test_wrong_values_are_refused_naming_the_setting(
    tmp_path: Path, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, **environ)
    assert any(problem.startswith(named) for problem in caught.value.problems), caught.value.problems


async def test_the_cluster_flag_picks_the_cluster_client() -> None:
    client = connect_redis(Settings(redis_url="redis://127.0.0.1:7101/0", redis_cluster=True))
    assert isinstance(client, RedisCluster)
    await client.aclose()
    single = connect_redis(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert single is not None and not isinstance(single, RedisCluster)
    await single.aclose()
