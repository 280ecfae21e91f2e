"""The fleet's background work, shown on two `kx-edge serve` nodes: one segment syncer per Klaviyo
account and one token refresher per connection, and each taken over by the other node when
its node is killed (SIGKILL).

Who does the work is read from each node's `/metrics` (its own counters: the sync's pages and
full syncs, its Klaviyo calls by tier and status); how often it was done, from the sandbox
Klaviyo's call log.
"""

from __future__ import annotations

import itertools
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox import DEMO_ACCOUNT_ID
from sandbox.sample_data import demo_segment_id
from tests.fleet.nodes import FleetSettings, Node
from tests.fleet.shop import Fleet, klaviyo_fleet
from tests.targeting.factories import doc
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]
MEMBERS = "/api/segments/{id}/relationships/profiles"  # the sync's reads (no visitor asks here)
TOKEN = "/oauth/token"
VIP = doc(
    "vip-banner",
    type="personalization",
    rules={"any": [{"attribute": "klaviyo_segment", "operator": "equals", "value": demo_segment_id("VIP")}]},
    variation_ids=("none", "banner"),
)
SYNC_LEASE_S = 15  # edge.sync.config.SyncConfig.lease_ttl_s: how long a dead holder's lease lives


def _counter(node: Node, fleet: Fleet, name: str, **labels: str) -> float:
    """One counter of the node's `/metrics` (0 while the series does not exist)."""
    request = urllib.request.Request(node.url + "/metrics", headers=fleet.operator)
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _pages(node: Node, fleet: Fleet) -> float:
    return _counter(node, fleet, "kx_edge_segment_sync_events_total", event="pages")


def _pulls(fleet: Fleet) -> int:
    return fleet.sandbox.calls.count(MEMBERS, account_id=DEMO_ACCOUNT_ID, status=200)


@pytest.fixture
def sync_fleet(fleet_settings: FleetSettings, tmp_path: Path) -> Iterator[Fleet]:
    # A full sync of the targeted VIP segment every 2 s: the holder keeps pulling its members.
    env = {"KX_EDGE_SEGMENT_SYNC_INTERVAL_S": "2"}
    with klaviyo_fleet(fleet_settings, tmp_path, env=env, experiences=(VIP,)) as opened:
        yield opened


def test_one_node_syncs_an_account_and_the_other_takes_over_when_it_dies(sync_fleet: Fleet) -> None:
    fleet = sync_fleet
    # Several full syncs while both nodes run: every page Klaviyo served was read by one node.
    wait_until(
        lambda: _pulls(fleet) >= 3 and _pages(fleet.a, fleet) + _pages(fleet.b, fleet) == _pulls(fleet),
        timeout=30,
        what="several syncs, every page counted by the node that read it",
    )
    pages = {node.name: _pages(node, fleet) for node in fleet.nodes()}
    holder, other = (fleet.a, fleet.b) if pages["a"] else (fleet.b, fleet.a)
    assert pages[other.name] == 0, pages  # one syncer for the account, not two
    holder.kill()
    pulls_at_kill = _pulls(fleet)
    # The other node takes the lease once the dead holder's expires, and syncs from then on.
    wait_until(
        lambda: _pulls(fleet) >= pulls_at_kill + 2 and _pages(other, fleet) >= 2,
        timeout=3 * SYNC_LEASE_S,
        what="the other node to take the account over",
    )
    assert _pages(other, fleet) + pages[holder.name] >= _pulls(fleet) - 1  # nobody else read pages


@contextmanager
def _steady_load(fleet: Fleet) -> Iterator[None]:
    """Visits with new `_kx` values on both nodes (each one a Klaviyo profile lookup, so each
    node keeps using the connection's access token) until the block ends; a dead node is
    skipped."""
    stop = threading.Event()
    numbers = itertools.count()

    def visit(node: Node) -> None:
        while not stop.is_set():
            if node.process.poll() is not None:
                return
            body = {"kx": f"LOAD{next(numbers):012d}==.x", "visitor_id": "v" * 22}
            try:
                node.call(f"/v1/assign?site={fleet.site['public_key']}", "POST", body)
            except OSError:  # killed under this request
                return

    with ThreadPoolExecutor(max_workers=4) as pool:
        workers = [pool.submit(visit, node) for node in (fleet.a, fleet.b, fleet.a, fleet.b)]
        try:
            yield
        finally:
            stop.set()
            for worker in workers:
                worker.result(timeout=30)


def _lookups(node: Node, fleet: Fleet) -> float:
    """Profile lookups the node made that Klaviyo answered (its own count)."""
    return _counter(node, fleet, "kx_edge_klaviyo_calls_total", tier="profiles", status="200")


@pytest.fixture
def token_fleet(fleet_settings: FleetSettings, tmp_path: Path) -> Iterator[Fleet]:
    env = {"KX_EDGE_SEGMENT_SYNC_ENABLED": "false", "KX_EDGE_RESOLVE_DEADLINE_MS": "2000"}
    with klaviyo_fleet(fleet_settings, tmp_path, env=env, experiences=(VIP,)) as opened:
        yield opened


def _expire_and_wait_for_work(fleet: Fleet, nodes: tuple[Node, ...]) -> int:
    """Expire every access token at Klaviyo (each node's next call is refused with a 401), wait
    until every node of `nodes` made new successful lookups, and return how many refreshes
    Klaviyo answered meanwhile."""
    before = {node.name: _lookups(node, fleet) for node in nodes}
    refreshes = fleet.sandbox.calls.count(TOKEN, method="POST")
    fleet.sandbox.expire_access_tokens()
    wait_until(
        lambda: all(_lookups(node, fleet) >= before[node.name] + 3 for node in nodes),
        timeout=30,
        what="every node to work with a refreshed token",
    )
    return fleet.sandbox.calls.count(TOKEN, method="POST") - refreshes


def test_one_refresh_per_expired_token_across_the_fleet_and_after_a_node_dies(token_fleet: Fleet) -> None:
    fleet = token_fleet
    fleet.sandbox.calls.reset()
    with _steady_load(fleet):
        # Both nodes are refused at once and both need a new token: one of them refreshes, the
        # other uses what it stored. Klaviyo rotates refresh tokens, so a second refresh with
        # the same refresh token would be refused (400) and break the connection.
        for _ in range(3):
            assert _expire_and_wait_for_work(fleet, fleet.nodes()) == 1
        fleet.a.kill()
        assert _expire_and_wait_for_work(fleet, (fleet.b,)) == 1  # B refreshes alone now
    assert fleet.sandbox.calls.count(TOKEN, method="POST", status=200) == 4
    assert fleet.sandbox.calls.count(TOKEN, method="POST") == 4  # no refusal, no second refresher
    status, body = fleet.b.call(f"/v1/sites/{fleet.site['id']}/klaviyo", headers=fleet.key)
    assert status == 200 and body["status"] == "active", body
