"""Disconnect: revoke at Klaviyo best effort, always forget local tokens, bump the generation."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from oauth.client import KlaviyoOAuthClient
from oauth.connection import Connection, ConnectionStatus
from oauth.crypto import TokenCipher
from oauth.disconnect import DisconnectResult, disconnect
from oauth.memory import MemoryConnectionStore
from tests.oauth.support import BASIC, REVOKE_URL, SITE, FakeClock, connect


async def test_disconnect_revokes_and_forgets(
    store: MemoryConnectionStore,
    cipher: TokenCipher,
    client: KlaviyoOAuthClient,
    clock: FakeClock,
    klaviyo: respx.MockRouter,
) -> None:
    before = await connect(store, cipher, clock)
    route = klaviyo.post(REVOKE_URL).respond(200)
    result = await disconnect(SITE, store=store, cipher=cipher, client=client)
    assert result == DisconnectResult(was_connected=True, revoked=True)
    request = route.calls.last.request
    assert request.headers["authorization"] == BASIC
    assert sorted(parse_qsl(request.content.decode())) == [
        ("token", "refresh-SECRET-1"),
        ("token_type_hint", "refresh_token"),
    ]
    assert await store.get(SITE) == Connection(
        site_id=SITE, status=ConnectionStatus.DISCONNECTED, generation=before.generation + 1
    )


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ConnectError("refused"), id="network"),
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
        pytest.param(httpx.Response(503), id="503"),
        pytest.param(httpx.Response(400, json={"error": "invalid_grant"}), id="invalid_grant"),
        pytest.param(httpx.Response(401, json={"error": "invalid_client"}), id="invalid_client"),
    ],
)
async def test_a_failed_revoke_is_logged_and_the_tokens_are_still_forgotten(
    store: MemoryConnectionStore,
    cipher: TokenCipher,
    client: KlaviyoOAuthClient,
    clock: FakeClock,
    klaviyo: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    failure: Exception | httpx.Response,
) -> None:
    before = await connect(store, cipher, clock)
    klaviyo.post(REVOKE_URL).mock(side_effect=[failure])
    with caplog.at_level(logging.WARNING, logger="oauth.disconnect"):
        result = await disconnect(SITE, store=store, cipher=cipher, client=client)
    assert result == DisconnectResult(was_connected=True, revoked=False)
    after = await store.get(SITE)
    assert after is not None
    assert after.status is ConnectionStatus.DISCONNECTED
    assert not after.has_tokens
    assert after.account_id is None
    assert after.generation == before.generation + 1
    assert "revoking" in caplog.text
    assert "SECRET" not in caplog.text


async def test_disconnecting_a_site_without_tokens_calls_nobody(
    store: MemoryConnectionStore, cipher: TokenCipher, client: KlaviyoOAuthClient
) -> None:
    result = await disconnect(SITE, store=store, cipher=cipher, client=client)
    assert result == DisconnectResult(was_connected=False, revoked=False)
    assert await store.get(SITE) is None


async def test_undecryptable_tokens_are_forgotten_without_a_revoke(
    store: MemoryConnectionStore, client: KlaviyoOAuthClient, clock: FakeClock
) -> None:
    await connect(store, TokenCipher("a-lost-key"), clock)
    result = await disconnect(SITE, store=store, cipher=TokenCipher("current"), client=client)
    assert result == DisconnectResult(was_connected=True, revoked=False)
    after = await store.get(SITE)
    assert after is not None and not after.has_tokens
