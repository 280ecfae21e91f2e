"""Two nodes on one PostgreSQL and one Redis: a change made through node A's API reaches node
B's storefront within 1 s by the push (LISTEN/NOTIFY), and does not without it while the version
check is slowed, so the push, not the poll, is what makes it fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet.nodes import FleetSettings, Node, running_fleet
from tests.targeting.factories import doc
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]
PROPAGATION_BOUND_S = 1.0  # the promise: a change reaches every node within 1 s


def _experiences(node: Node, public_key: str) -> set[str] | None:
    status, body = node.call(f"/v1/assign?site={public_key}", "POST", {})
    if status != 200:
        return None
    return {e["id"] for e in body["experiences"]}


def _a_site_on_both(a: Node, b: Node, operator_token: str) -> tuple[dict[str, str], dict[str, str]]:
    status, site = a.call(
        "/v1/sites",
        "POST",
        {"name": "Shop", "allowed_origins": []},
        {"Authorization": f"Bearer {operator_token}"},
    )
    assert status == 201, site
    # B knows the site (pushed or polled) before the change that must reach it.
    wait_until(
        lambda: _experiences(b, site["public_key"]) == set(), timeout=30, what="node B to know the site"
    )
    return site, {"Authorization": f"Bearer {site['api_key']}"}


def _change_on_a_then_b_sees(a: Node, b: Node, site: dict[str, str], key: dict[str, str]) -> None:
    status, created = a.call(f"/v1/sites/{site['id']}/experiences", "POST", doc("hero", status="live"), key)
    assert status == 201, created
    assert _experiences(a, site["public_key"]) == {"hero"}  # A applied its own change at once
    wait_until(
        lambda: _experiences(b, site["public_key"]) == {"hero"},
        timeout=PROPAGATION_BOUND_S,
        what="node B to serve the new experience",
    )


def _nodes(settings: FleetSettings, *, push: bool) -> dict[str, dict[str, str]]:
    # The safety-net poll slowed far past the bound: only the push can make it in time.
    env = settings.environ(KX_EDGE_CONFIG_PUSH=str(push).lower(), KX_EDGE_CONFIG_POLL_INTERVAL_S="30")
    return {"a": env, "b": env}


def test_a_change_on_one_node_reaches_the_other_within_a_second(
    fleet_settings: FleetSettings, tmp_path: Path
) -> None:
    with running_fleet(tmp_path, _nodes(fleet_settings, push=True)) as nodes:
        a, b = nodes["a"], nodes["b"]
        site, key = _a_site_on_both(a, b, fleet_settings.operator_token)
        _change_on_a_then_b_sees(a, b, site, key)
        # And the other way round: a pause made on B reaches A.
        status, _ = b.call(
            f"/v1/sites/{site['id']}/experiences/hero/pause", "POST", None, {**key, "If-Match": '"1"'}
        )
        assert status == 200
        wait_until(
            lambda: _experiences(a, site["public_key"]) == set(),
            timeout=PROPAGATION_BOUND_S,
            what="the pause",
        )


def test_without_the_push_a_slowed_poll_misses_the_bound(
    fleet_settings: FleetSettings, tmp_path: Path
) -> None:
    with running_fleet(tmp_path, _nodes(fleet_settings, push=False)) as nodes:
        a, b = nodes["a"], nodes["b"]
        # Without the push B learns of the new site by its first visit (a store read).
        site, key = _a_site_on_both(a, b, fleet_settings.operator_token)
        with pytest.raises(AssertionError, match="timed out"):
            _change_on_a_then_b_sees(a, b, site, key)
