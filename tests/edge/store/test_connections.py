"""Klaviyo connections and pending OAuth flows, on each backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.store import Database, SiteRecord, SqlSiteStore
from edge.store.connections import SqlConnectionStore, SqlFlowStateStore
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.storage import FlowState
from tests.databases import dump


@pytest.fixture
async def store(database: Database) -> SqlSiteStore:
    store = SqlSiteStore(database)
    await store.create_site(SiteRecord("site_1", "Shop", "pk_1", "h1", "enc", (), 1, 1, 1))
    return store


def _active(account: str = "acct_A") -> Connection:
    return Connection(
        site_id="site_1",
        status=ConnectionStatus.ACTIVE,
        account_id=account,
        account_name="Sandbox",
        scopes=("accounts:read",),
        access_token_enc="ciphertext-access",
        refresh_token_enc="ciphertext-refresh",
        expires_at=100,
    )


async def _version(store: SqlSiteStore) -> int:
    site = await store.get_site("site_1")
    assert site is not None
    return site.config_version


async def test_each_save_is_a_new_generation_and_reloads_the_site(store: SqlSiteStore) -> None:
    connections = SqlConnectionStore(store.db)
    first = await connections.save(_active())
    second = await connections.save(_active("acct_B"))
    assert (first.generation, second.generation) == (1, 2)
    assert await connections.get("site_1") == second
    assert await _version(store) == 3


async def test_update_only_applies_to_the_same_generation(store: SqlSiteStore) -> None:
    connections = SqlConnectionStore(store.db)
    saved = await connections.save(_active())
    refreshed = replace(saved, expires_at=200)
    assert await connections.update(refreshed)
    version = await _version(store)
    stale = replace(refreshed, generation=0)
    assert not await connections.update(stale)
    assert (await connections.get("site_1")) == refreshed
    assert await _version(store) == version  # a token refresh does not reload the storefront


async def test_a_status_change_reloads_the_site(store: SqlSiteStore) -> None:
    connections = SqlConnectionStore(store.db)
    saved = await connections.save(_active())
    version = await _version(store)
    marked = replace(saved, status=ConnectionStatus.NEEDS_REAUTH)
    assert await connections.update(marked)
    assert await _version(store) == version + 1


async def test_disconnect_forgets_tokens_and_bumps_the_generation(store: SqlSiteStore) -> None:
    connections = SqlConnectionStore(store.db)
    assert await connections.disconnect("site_1") is None
    saved = await connections.save(_active())
    previous = await connections.disconnect("site_1")
    assert previous == saved
    now = await connections.get("site_1")
    assert now is not None
    assert now.status is ConnectionStatus.DISCONNECTED
    assert now.generation == saved.generation + 1
    assert not now.has_tokens
    assert "ciphertext-refresh" not in await dump(store.db)


async def test_a_flow_state_is_taken_once_and_never_stored_in_clear(store: SqlSiteStore) -> None:
    flows = SqlFlowStateStore(store.db, TokenCipher("k" * 40), clock=lambda: 1000.0)
    record = FlowState(
        state="the-state-value-123", site_id="site_1", code_verifier="v" * 64,
        scopes=("accounts:read",), created_at=1000, expires_at=1600,
    )  # fmt: skip
    await flows.put(record)
    stored = await dump(store.db)
    assert "the-state-value-123" not in stored
    assert "v" * 64 not in stored
    assert await flows.take("another-state") is None
    assert await flows.take("the-state-value-123") == record
    assert await flows.take("the-state-value-123") is None
