"""The configuration push between two apps on one PostgreSQL (in one process, each with its own
runtimes): a change made through A is installed in B by the LISTEN/NOTIFY push, with the
version check slowed so far that only the push can bring it, and its propagation lag is kept."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.app import create_app
from edge.settings import Settings
from edge.sites.propagation import PropagationLag
from tests.apps import app_client, create_site, make_settings, services_of
from tests.targeting.factories import doc
from tests.waiting import wait_until_async

pytestmark = pytest.mark.postgres


@contextlib.asynccontextmanager
async def two_apps(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with app_client(create_app(settings)) as a, app_client(create_app(settings)) as b:
        push = services_of(b).runtimes.push
        assert push is not None
        await wait_until_async(lambda: _true(push.listening.is_set()), what="B to listen")
        yield a, b


async def _true(value: bool) -> bool:
    return value


@pytest.fixture
def settings(tmp_path: Path, postgres_overrides: dict[str, Any]) -> Settings:
    return make_settings(tmp_path, config_poll_interval_s=3600.0, **postgres_overrides)


async def test_a_change_is_pushed_to_the_other_app_and_its_lag_measured(settings: Settings) -> None:
    async with two_apps(settings) as (a, b):
        runtimes_b = services_of(b).runtimes
        site = await create_site(a, settings)
        await wait_until_async(
            lambda: _true(runtimes_b.cached(site["public_key"]) is not None), what="the site"
        )
        lags_before = runtimes_b.lag.count
        seen: list[float] = []
        runtimes_b.lag.observers.append(seen.append)

        key = {"Authorization": f"Bearer {site['api_key']}"}
        created = await a.post(f"/v1/sites/{site['id']}/experiences", json=doc("hero"), headers=key)
        assert created.status_code == 201, created.text

        async def b_has_it() -> bool:
            runtime = runtimes_b.cached(site["public_key"])
            return runtime is not None and "hero" in runtime.experiences

        await wait_until_async(b_has_it, timeout=5, what="the pushed change in B")
        assert runtimes_b.lag.count == lags_before + 1
        assert runtimes_b.lag.last_s is not None and runtimes_b.lag.last_s >= 0
        assert seen == [runtimes_b.lag.last_s]


async def test_without_the_push_nothing_arrives_before_the_poll(settings: Settings) -> None:
    quiet = replace(settings, config_push=False)
    async with app_client(create_app(quiet)) as a, app_client(create_app(quiet)) as b:
        assert services_of(b).runtimes.push is None
        site = await create_site(a, quiet)
        runtime = await services_of(b).runtimes.by_public_key(site["public_key"])
        assert runtime is not None and runtime.experiences == {}
        key = {"Authorization": f"Bearer {site['api_key']}"}
        assert (
            await a.post(f"/v1/sites/{site['id']}/experiences", json=doc("hero"), headers=key)
        ).status_code == 201
        # B learns of it only when it checks the versions (the poll, here called by hand).
        assert _experiences(b, site) == set()
        assert await services_of(b).runtimes.refresh_changed() == [site["id"]]
        assert _experiences(b, site) == {"hero"}


def _experiences(client: httpx.AsyncClient, site: dict[str, Any]) -> set[str]:
    runtime = services_of(client).runtimes.cached(site["public_key"])
    assert runtime is not None
    return set(runtime.experiences)


def test_the_lag_keeps_last_recent_count_and_sum_and_clamps_skew() -> None:
    lag = PropagationLag(keep=2)
    told: list[float] = []
    lag.observers.append(told.append)
    for value in (0.2, 0.4, -0.1):
        lag.observe(value)
    assert lag.last_s == 0.0  # a clock behind the database's: never a negative lag
    assert list(lag.recent_s) == [0.4, 0.0]
    assert lag.count == 3 and lag.sum_s == pytest.approx(0.6)
    assert told == [0.2, 0.4, 0.0]
