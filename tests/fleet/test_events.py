"""Every event sent once, across two nodes: with the entered_test trigger on, visits load both
nodes, node A is SIGKILLed mid-load (its claimed batch in flight, its lease unreleased), the
visits A could not answer go to B as a load balancer's retry would, and every event either node
acknowledged reaches the sandbox Klaviyo, each unique_id recorded once.

"Acknowledged" is an answer: the nodes run with `events_durable_wait_s` long enough that no answer
leaves before its visit's events are in the shared outbox. What A had claimed but not settled is
taken over by B once A's lease (`events_lease_s`, shortened here) runs out, so B may send some of
them a second time; Klaviyo, like the sandbox, keeps one event per profile, metric and unique_id,
and the unique_id is derived from the visit (site, visitor, experience, trigger, day), the same
on every node. That dedupe is part of the claim: exactly once as Klaviyo counts it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from edge.events.plan import unique_id, utc_day
from edge.events.triggers import METRIC_NAMES, Trigger
from sandbox.sample_data import DEMO_PEOPLE
from tests.apps import BROWSER_UA
from tests.fleet.nodes import FleetSettings, Node
from tests.fleet.shop import Fleet, klaviyo_fleet
from tests.targeting.factories import doc
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]
LEASE_S = 3.0  # how long a dead node's claimed events wait before another node sends them
VISITS = 400
WARM_UP = 10_000  # visitors of the warm-up visits (one a node), outside the load's
CHECKOUT = doc("checkout", variation_ids=("control", "one-page"), weights=(1, 1))  # everyone enters
ENTERED = METRIC_NAMES[Trigger.ENTERED_TEST]
SHOPPER = {"User-Agent": BROWSER_UA}  # not a crawler: a crawler enters no test


@pytest.fixture
def fleet(fleet_settings: FleetSettings, tmp_path: Path) -> Iterator[Fleet]:
    env = {
        "KX_EDGE_SEGMENT_SYNC_ENABLED": "false",
        "KX_EDGE_RESOLVE_DEADLINE_MS": "2000",
        "KX_EDGE_EVENTS_LEASE_S": str(LEASE_S),
        "KX_EDGE_EVENTS_DURABLE_WAIT_S": "30",  # an answer means: its events are in the outbox
    }
    with klaviyo_fleet(
        fleet_settings,
        tmp_path,
        env=env,
        triggers={"entered_test": {"enabled": True}},
        experiences=(CHECKOUT,),
        ready=lambda f: all(_sends(node, f, WARM_UP + i) for i, node in enumerate(f.nodes())),
    ) as opened:
        yield opened


def _sends(node: Node, fleet: Fleet, warm_up: int) -> bool:
    """A visit on `node` reaches Klaviyo as an event: the node has the site, its connection and
    the trigger switched on (switches reach other nodes by their poll, within about a second)."""
    if not _visit(node, fleet, warm_up):
        return False
    uid = _uid(fleet, warm_up)
    return any(e.unique_id == uid for e in fleet.sandbox.events(metric_name=ENTERED))


def _uid(fleet: Fleet, n: int) -> str:
    return unique_id(fleet.site["id"], _visitor(n), "checkout", Trigger.ENTERED_TEST, utc_day(time.time()))


def _visitor(n: int) -> str:
    return f"fleetvisitor{n:010d}"


def _visit(node: Node, fleet: Fleet, n: int) -> bool:
    """One page view; True when the node answered it (acknowledged its events)."""
    body = {"visitor_id": _visitor(n), "kx": DEMO_PEOPLE[n % len(DEMO_PEOPLE)].kx}
    try:
        status, answer = node.call(f"/v1/assign?site={fleet.site['public_key']}", "POST", body, SHOPPER)
    except OSError:  # killed under this request, or already dead
        return False
    assert status == 200, answer
    assert [(e["id"], e["entered"]) for e in answer["experiences"]] == [("checkout", True)], answer
    return True


def _pending(node: Node, fleet: Fleet) -> int:
    status, body = node.call(f"/v1/sites/{fleet.site['id']}/klaviyo/triggers/status", headers=fleet.key)
    assert status == 200, body
    return int(body["outbox"]["pending"])


def test_every_acknowledged_event_reaches_klaviyo_once_when_a_node_dies_mid_load(fleet: Fleet) -> None:
    jobs = [(fleet.a if n % 2 else fleet.b, n) for n in range(VISITS)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        futures: list[tuple[Node, int, Future[bool]]] = [
            (node, n, pool.submit(_visit, node, fleet, n)) for node, n in jobs
        ]
        wait_until(
            lambda: (
                sum(f.done() for _, _, f in futures) >= VISITS // 3
                and any(e.metric_name == ENTERED for e in fleet.sandbox.events())
            ),
            timeout=60,
            what="a third of the load, and the first events at Klaviyo",
        )
        fleet.a.kill()  # SIGKILL: no flush, no release of what its sender had claimed
        answered = {n for _, n, f in futures if f.result(timeout=60)}
    on_a = {n for node, n, _ in futures if node is fleet.a and n in answered}
    unanswered = sorted(set(range(VISITS)) - answered)
    assert on_a and unanswered  # A answered some visits before it died, and left some unanswered
    assert all(node is fleet.a for node, n, _ in futures if n in unanswered)  # B answered all its own
    # The visitors A left without an answer try again, and the load balancer sends them to B.
    assert all(_visit(fleet.b, fleet, n) for n in unanswered)
    acknowledged = {_uid(fleet, n) for n in range(VISITS)}
    warm_ups = {_uid(fleet, WARM_UP), _uid(fleet, WARM_UP + 1)}

    def delivered() -> bool:
        return {e.unique_id for e in fleet.sandbox.events(metric_name=ENTERED)} >= acknowledged

    # B takes over what A had claimed once A's lease runs out: a bounded wait, not 30 s.
    wait_until(delivered, timeout=10 * LEASE_S, what="every acknowledged event at Klaviyo")
    wait_until(lambda: _pending(fleet.b, fleet) == 0, timeout=10 * LEASE_S, what="the outbox to empty")
    received = Counter(e.unique_id for e in fleet.sandbox.events(metric_name=ENTERED))
    for uid in warm_ups:
        assert received.pop(uid) == 1
    assert set(received) == acknowledged  # nothing lost, nothing that no visit produced
    assert set(received.values()) == {1}  # each once, however often it was sent
