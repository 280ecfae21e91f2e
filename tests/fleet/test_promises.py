"""What holds on one machine holds across two nodes (separate processes and data directories,
one PostgreSQL, one Redis or Redis Cluster), under load and with one node killed mid-load: one
Klaviyo resolution per `_kx` at a time across the fleet, and the surviving node keeps serving.

The sandbox Klaviyo counts every call it answers; the site is connected through node A's OAuth
flow, exactly as a merchant connects it, so both nodes resolve with the tokens in PostgreSQL
(tests/fleet/shop.py). The other promises: test_events.py (every event sent once) and
test_background.py (one segment syncer per account, one token refresher per connection).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox.sample_data import DEMO_PEOPLE, demo_segment_id
from tests.fleet.nodes import FleetSettings, Node
from tests.fleet.shop import Fleet, klaviyo_fleet
from tests.targeting.factories import doc
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]
PROFILES = "/api/profiles"  # the first call of every resolution: the profile by `_kx`
VIP = doc(
    "vip-banner",
    type="personalization",
    rules={"any": [{"attribute": "klaviyo_segment", "operator": "equals", "value": demo_segment_id("VIP")}]},
    variation_ids=("none", "banner"),
)


@pytest.fixture
def fleet(fleet_settings: FleetSettings, tmp_path: Path) -> Iterator[Fleet]:
    env = {
        "KX_EDGE_SEGMENT_SYNC_ENABLED": "false",  # every visitor resolved through Klaviyo
        "KX_EDGE_RESOLVE_DEADLINE_MS": "2000",
    }
    with klaviyo_fleet(
        fleet_settings, tmp_path, env=env, experiences=(VIP,), ready=lambda f: _targets_vip(f.b, f.site)
    ) as opened:
        yield opened


def _targets_vip(node: Node, site: dict[str, str]) -> bool:
    status, body = node.call(f"/v1/assign?site={site['public_key']}", "POST", {"visitor_id": "w" * 22})
    return status == 200 and [e["id"] for e in body["experiences"]] == ["vip-banner"]


def _assign(node: Node, site: dict[str, str], kx: str, visitor: int) -> int:
    try:
        status, _ = node.call(
            f"/v1/assign?site={site['public_key']}", "POST", {"kx": kx, "visitor_id": f"v{visitor:021d}"}
        )
    except OSError:  # the node was killed under this request
        return 0
    return status


def _resolved_everywhere(fleet: Fleet, kxs: list[str]) -> bool:
    """Every `_kx` answers from the caches now: one more round makes no Klaviyo call."""
    before = fleet.sandbox.calls.count(PROFILES)
    for node in (fleet.a, fleet.b):
        for kx in kxs:
            _assign(node, fleet.site, kx, 1)
    return fleet.sandbox.calls.count(PROFILES) == before


def test_one_resolution_per_kx_across_two_nodes_under_load(fleet: Fleet) -> None:
    kxs = [person.kx for person in DEMO_PEOPLE] + [f"NOBODY{n:010d}==.x" for n in range(8)]
    fleet.sandbox.calls.reset()
    requests = [(node, kx) for kx, node, _ in itertools.product(kxs, (fleet.a, fleet.b), range(8))]
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda job: _assign(job[0], fleet.site, job[1], 7), requests))
    assert statuses == [200] * len(requests)
    wait_until(lambda: _resolved_everywhere(fleet, kxs), timeout=20, what="every _kx to be resolved")
    # Hundreds of concurrent visits on two nodes, and Klaviyo asked once for each visitor.
    assert fleet.sandbox.calls.count(PROFILES) == len(kxs)


def test_the_other_node_keeps_serving_when_one_is_killed_mid_load(fleet: Fleet) -> None:
    kxs = [f"LATER{n:011d}==.x" for n in range(30)]
    requests = [(node, kx) for kx, node, _ in itertools.product(kxs, (fleet.a, fleet.b), range(4))]
    on_b: list[int] = []
    with ThreadPoolExecutor(max_workers=32) as pool:
        futures = [(node, pool.submit(_assign, node, fleet.site, kx, 3)) for node, kx in requests]
        wait_until(lambda: sum(f.done() for _, f in futures) >= len(futures) // 4, timeout=30, what="load")
        fleet.a.kill()
        on_b = [f.result(timeout=30) for node, f in futures if node is fleet.b]
    assert on_b == [200] * len(on_b)  # B answered every request, before and after A died
    fleet.sandbox.calls.reset()
    # B finishes what A had started (A's resolution locks expire): every visitor resolved on B,
    # each still at most once more after the kill.
    wait_until(lambda: _resolved_on_b(fleet, kxs), timeout=30, what="B to resolve every _kx")
    assert fleet.sandbox.calls.count(PROFILES) <= len(kxs)


def _resolved_on_b(fleet: Fleet, kxs: list[str]) -> bool:
    before = fleet.sandbox.calls.count(PROFILES)
    statuses = [_assign(fleet.b, fleet.site, kx, 1) for kx in kxs]
    assert statuses == [200] * len(kxs)
    return fleet.sandbox.calls.count(PROFILES) == before
