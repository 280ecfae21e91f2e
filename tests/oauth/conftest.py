"""Fixtures for the oauth tests: a fake clock, a config pointing at Klaviyo's real URLs (respx
intercepts every call), a cipher, in-memory stores and a token manager."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx

from oauth.client import KlaviyoOAuthClient
from oauth.crypto import TokenCipher
from oauth.memory import MemoryConnectionStore, MemoryFlowStateStore, MemoryLockProvider
from oauth.settings import KlaviyoOAuthConfig
from oauth.tokens import TokenManager
from tests.oauth.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    SECRET_KEY,
    CountingStore,
    FakeClock,
    TokenRig,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> KlaviyoOAuthConfig:
    return KlaviyoOAuthConfig(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI, timeout_s=5
    )


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(SECRET_KEY)


@pytest.fixture
def klaviyo() -> Iterator[respx.MockRouter]:
    """Klaviyo's token and revoke endpoints; every route a test adds must be called."""
    with respx.mock() as router:
        yield router


@pytest.fixture
async def client(
    config: KlaviyoOAuthConfig, clock: FakeClock, klaviyo: respx.MockRouter
) -> AsyncIterator[KlaviyoOAuthClient]:
    async with KlaviyoOAuthClient(config, clock=clock) as client:
        yield client


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def flow_store(clock: FakeClock) -> MemoryFlowStateStore:
    return MemoryFlowStateStore(clock=clock)


@pytest.fixture
def manager(
    store: MemoryConnectionStore,
    cipher: TokenCipher,
    client: KlaviyoOAuthClient,
    clock: FakeClock,
) -> TokenManager:
    return TokenManager(store, cipher, client, MemoryLockProvider(), clock)


@pytest.fixture
def rig(
    manager: TokenManager,
    store: CountingStore,
    cipher: TokenCipher,
    clock: FakeClock,
    klaviyo: respx.MockRouter,
) -> TokenRig:
    return TokenRig(manager, store, cipher, clock, klaviyo)
