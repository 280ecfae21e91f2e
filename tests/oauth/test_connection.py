"""The connection record, its public status view, and the in-memory stores' semantics."""

from __future__ import annotations

import dataclasses
import json

from oauth.connection import Connection, ConnectionStatus, connection_status
from oauth.crypto import TokenCipher
from oauth.memory import MemoryConnectionStore, MemoryFlowStateStore
from oauth.scopes import required_scopes
from oauth.storage import FlowState
from tests.oauth.support import SITE, T0, FakeClock, Tokens, connect


async def test_status_view_has_no_secrets_and_lists_missing_scopes(
    store: MemoryConnectionStore, cipher: TokenCipher, clock: FakeClock
) -> None:
    connection = await connect(store, cipher, clock)
    view = connection.to_status_dict(required_scopes(events=True))
    assert view == {
        "status": "active",
        "account_id": "acct_A",
        "account_name": "Acme Outdoors",
        "scopes": ["accounts:read", "profiles:read", "segments:read"],
        "missing_scopes": ["events:write"],
        "connected_at": T0,
        "last_refresh_at": None,
        "last_error": None,
        "generation": 1,
    }
    text = json.dumps(view)
    assert connection.access_token_enc is not None
    assert connection.access_token_enc not in text
    assert Tokens().access not in text


def test_a_site_that_never_connected_is_disconnected_at_generation_zero() -> None:
    view = connection_status(None, required_scopes(events=True))
    assert view["status"] == "disconnected"
    assert view["generation"] == 0
    assert view["missing_scopes"] == []
    assert view["account_id"] is None


async def test_records_round_trip_and_repr_hides_ciphertext(
    store: MemoryConnectionStore, cipher: TokenCipher, clock: FakeClock
) -> None:
    connection = await connect(store, cipher, clock)
    record = json.loads(json.dumps(connection.to_record()))
    assert Connection.from_record(record) == connection
    assert connection.access_token_enc is not None
    assert connection.refresh_token_enc is not None
    assert connection.access_token_enc not in repr(connection)
    assert connection.refresh_token_enc not in repr(connection)


async def test_save_bumps_the_generation_and_replaces_the_whole_record(
    store: MemoryConnectionStore, cipher: TokenCipher, clock: FakeClock
) -> None:
    first = await connect(store, cipher, clock)
    second = await connect(store, cipher, clock, Tokens(access="other"), account_id="acct_B")
    assert (first.generation, second.generation) == (1, 2)
    assert await store.get(SITE) == second


async def test_update_only_writes_the_same_generation(
    store: MemoryConnectionStore, cipher: TokenCipher, clock: FakeClock
) -> None:
    first = await connect(store, cipher, clock)
    await connect(store, cipher, clock, account_id="acct_B")
    assert not await store.update(dataclasses.replace(first, last_error="late"))
    current = await store.get(SITE)
    assert current is not None
    assert current.account_id == "acct_B"
    assert await store.update(dataclasses.replace(current, last_error="now"))
    assert not await store.update(dataclasses.replace(current, site_id="unknown"))


async def test_disconnect_forgets_everything_but_the_generation(
    store: MemoryConnectionStore, cipher: TokenCipher, clock: FakeClock
) -> None:
    assert await store.disconnect(SITE) is None
    assert await store.get(SITE) is None
    saved = await connect(store, cipher, clock)
    assert await store.disconnect(SITE) == saved
    assert await store.get(SITE) == Connection(
        site_id=SITE, status=ConnectionStatus.DISCONNECTED, generation=2
    )
    reconnected = await connect(store, cipher, clock)
    assert reconnected.generation == 3


def _flow(state: str, expires_at: int) -> FlowState:
    return FlowState(
        state=state,
        site_id=SITE,
        code_verifier="v" * 64,
        scopes=("accounts:read",),
        created_at=expires_at - 600,
        expires_at=expires_at,
    )


async def test_flow_states_are_taken_once_and_old_ones_are_dropped(clock: FakeClock) -> None:
    flows = MemoryFlowStateStore(clock=clock, grace_s=3600)
    old = _flow("old", int(clock()) + 600)
    await flows.put(old)
    assert FlowState.from_record(json.loads(json.dumps(old.to_record()))) == old
    assert "v" * 64 not in repr(old)
    assert await flows.take("old") == old
    assert await flows.take("old") is None
    await flows.put(old)
    clock.advance(600 + 3601)
    await flows.put(_flow("new", int(clock()) + 600))
    assert len(flows) == 1
    assert await flows.take("old") is None


def test_a_flow_record_keeps_its_binding_and_use_and_old_records_still_read() -> None:
    bound = dataclasses.replace(_flow("s", T0 + 600), browser="ab" * 32, is_link=True, used_at=T0)
    assert FlowState.from_record(json.loads(json.dumps(bound.to_record()))) == bound
    assert "ab" * 32 not in repr(bound)
    written_before_binding = {k: v for k, v in _flow("s", T0).to_record().items()
                              if k not in ("browser", "is_link", "used_at")}  # fmt: skip
    assert FlowState.from_record(written_before_binding) == _flow("s", T0)
