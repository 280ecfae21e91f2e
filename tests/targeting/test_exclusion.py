"""Exclusion groups: at most one live test of a group per visitor, GrowthBook-namespace hashing,
decided before targeting, sticky across tests starting and ending, and explained."""

from __future__ import annotations

import random
import string
from collections import Counter
from typing import Any

import msgspec
import pytest
from growthbook.core import inNamespace

from targeting import (
    EXCLUDED,
    PENDING,
    UNIDENTIFIED,
    Decision,
    DecisionStatus,
    Identity,
    OwnerCause,
    Reason,
    SiteDecision,
    StickyEntry,
    decide,
    explain,
    hash_v1,
)
from tests.targeting.factories import doc, seg, site

VIP = Identity.identified({"vip"})
_rng = random.Random(7)
VISITORS = ["".join(_rng.choices(string.ascii_letters + string.digits, k=22)) for _ in range(10_000)]


def grouped(exp_id: str, weight: float = 1, group: str = "home", **kwargs: Any) -> dict[str, Any]:
    return doc(exp_id, exclusion_group=group, exclusion_weight=weight, **kwargs)


def by_id(result: SiteDecision) -> dict[str, Decision]:
    return {d.experience_id: d for d in result.decisions}


def test_every_visitor_enters_exactly_one_test_of_the_group_in_proportion_to_the_weights() -> None:
    compiled = site(grouped("b-test", 2), grouped("a-test", 1), grouped("c-test", 1), doc("solo"))
    shares: Counter[str] = Counter()
    for visitor in VISITORS:
        decisions = by_id(decide(compiled, visitor, UNIDENTIFIED, {}))
        entered = [i for i in ("a-test", "b-test", "c-test") if decisions[i].entered]
        assert len(entered) == 1
        assert all(
            decisions[i].reason is Reason.EXCLUSION_GROUP
            for i in ("a-test", "b-test", "c-test")
            if i not in entered
        )
        assert decisions["solo"].entered  # a test outside the group is untouched
        shares[entered[0]] += 1
    for test, weight in (("a-test", 0.25), ("b-test", 0.5), ("c-test", 0.25)):
        assert abs(shares[test] / len(VISITORS) - weight) < 0.01, shares


def test_ranges_follow_experience_ids_and_growthbook_namespaces_agree() -> None:
    compiled = site(grouped("zeta", 3), grouped("alpha", 1))
    group = compiled.groups["home"]
    assert [(r.experience_id, r.low, r.high) for r in group.ranges] == [
        ("alpha", 0, 0.25),
        ("zeta", 0.25, 1.0),
    ]
    for visitor in VISITORS[:2000]:
        decisions = by_id(decide(compiled, visitor, VIP, {}))
        for r in group.ranges:
            namespace = ("home", r.low, r.high)
            assert decisions[r.experience_id].entered is inNamespace(visitor, namespace)


def test_the_site_order_does_not_change_who_gets_which_test() -> None:
    one = site(grouped("a"), grouped("b"))
    other = site(grouped("b"), grouped("a"))
    for visitor in VISITORS[:500]:
        assert by_id(decide(one, visitor, VIP, {})) == by_id(decide(other, visitor, VIP, {}))


def test_the_group_is_decided_before_targeting() -> None:
    compiled = site(grouped("a", rules=seg("vip")), grouped("b"))
    outsiders = 0
    for visitor in VISITORS[:400]:
        decisions = by_id(decide(compiled, visitor, UNIDENTIFIED, {}))
        if decisions["b"].reason is Reason.EXCLUSION_GROUP:
            # Given `a`, whose rules do not match: the visitor enters neither test.
            assert decisions["a"].reason is Reason.UNIDENTIFIED and not decisions["a"].entered
            outsiders += 1
    assert outsiders > 100


def test_the_exclusion_shows_the_control_and_sticks_as_excluded() -> None:
    compiled = site(grouped("a"), grouped("b"))
    visitor = next(
        v for v in VISITORS if by_id(decide(compiled, v, VIP, {}))["b"].reason is Reason.EXCLUSION_GROUP
    )
    first = decide(compiled, visitor, VIP, {})
    excluded = by_id(first)["b"]
    assert (excluded.entered, excluded.variation_id, excluded.is_control) == (False, "control", True)
    assert excluded.status is DecisionStatus.DECIDED and excluded.first_assignment
    assert first.sticky["b"] == EXCLUDED and first.sticky["a"].outcome == "entered"
    again = by_id(decide(compiled, visitor, VIP, first.sticky))
    assert again["b"].reason is Reason.STICKY and not again["b"].entered


def _first_visits(compiled: Any) -> dict[str, dict[str, StickyEntry]]:
    return {v: decide(compiled, v, VIP, {}).sticky for v in VISITORS[:3000]}


def test_a_test_ending_moves_no_one_into_the_tests_that_excluded_them() -> None:
    before = site(grouped("a"), grouped("b", traffic_percent=50))
    after = site(grouped("a", status="ended"), grouped("b", traffic_percent=50))
    hash_would_move = 0
    for visitor, sticky in _first_visits(before).items():
        now = by_id(decide(after, visitor, VIP, sticky))["b"]
        entry = sticky.get("b")
        if entry == EXCLUDED:
            assert (now.reason, now.entered) == (Reason.STICKY, False)
            hash_would_move += 1  # b now owns the whole range: only the sticky entry keeps them out
        elif entry is not None:
            assert entry.outcome == "entered" and now.reason is Reason.STICKY and now.entered
    assert hash_would_move > 1000


def test_a_test_starting_takes_no_one_who_entered_another_test_of_the_group() -> None:
    before = site(grouped("a"), grouped("b"))
    after = site(grouped("a"), grouped("b"), grouped("c", weight=2))
    new_range = after.groups["home"].ranges[2]
    assert new_range.experience_id == "c"
    in_new_range = 0
    for visitor, sticky in _first_visits(before).items():
        traces = {t.experience_id: t for t in explain(after, visitor, VIP, sticky)}
        c = traces["c"]
        assert c.decision.reason is Reason.EXCLUSION_GROUP
        assert c.exclusion is not None and c.exclusion.cause is OwnerCause.STICKY_ENTRY
        in_new_range += new_range.low <= c.exclusion.n < new_range.high
    assert in_new_range > 1000  # by the hash alone they would now be given c


def test_a_paused_test_keeps_its_entered_visitors_out_of_the_group() -> None:
    compiled = site(grouped("a", status="paused"), grouped("b"))
    result = decide(compiled, "visitor-1", VIP, {"a": StickyEntry.entered("b")})
    assert by_id(result)["b"].reason is Reason.EXCLUSION_GROUP
    assert result.sticky["a"] == StickyEntry.entered("b")  # carried forward for when a resumes


def test_an_advanced_test_given_while_pending_defers_and_the_others_are_excluded() -> None:
    audiences = [{"rules": seg("vip"), "action": "random"}]
    compiled = site(grouped("a", audiences=audiences), grouped("b"))
    for visitor in VISITORS[:200]:
        decisions = by_id(decide(compiled, visitor, PENDING, {}))
        given = "a" if decisions["b"].reason is Reason.EXCLUSION_GROUP else "b"
        if given == "a":
            assert decisions["a"].reason is Reason.DEFERRED
        else:
            assert decisions["a"].reason is Reason.EXCLUSION_GROUP and decisions["b"].entered


def test_the_trace_names_the_given_test_with_the_group_hash_and_ranges() -> None:
    compiled = site(grouped("a", 1), grouped("b", 3))
    visitor = VISITORS[0]
    traces = {t.experience_id: t for t in explain(compiled, visitor, VIP, {})}
    a, b = traces["a"].exclusion, traces["b"].exclusion
    assert a is not None and b is not None
    n = hash_v1("__home", visitor)
    assert a.n == b.n == n and a.seed == "__home" and a.group == "home"
    assert [(r.experience_id, r.low, r.high) for r in a.ranges] == [("a", 0, 0.25), ("b", 0.25, 1.0)]
    given = "a" if n < 0.25 else "b"
    assert a.given == b.given == given and a.cause is OwnerCause.HASH
    assert traces[given].exclusion.excluded is False  # type: ignore[union-attr]
    other = "b" if given == "a" else "a"
    assert traces[other].exclusion.excluded is True  # type: ignore[union-attr]
    assert traces[other].decision.reason is Reason.EXCLUSION_GROUP
    data = msgspec.json.decode(msgspec.json.encode([t.to_dict() for t in traces.values()]))
    assert data[0]["exclusion"]["cause"] == "hash" and data[0]["exclusion"]["given"] == given


def test_the_trace_says_when_the_sticky_entry_decided() -> None:
    compiled = site(grouped("a"), grouped("b"))
    trace = {t.experience_id: t for t in explain(compiled, "v", VIP, {"b": StickyEntry.entered("b")})}
    assert trace["a"].exclusion is not None and trace["a"].exclusion.given == "b"
    assert trace["a"].exclusion.cause is OwnerCause.STICKY_ENTRY
    assert explain(site(doc("plain")), "v", VIP, {})[0].exclusion is None


def test_traces_decide_what_decide_decides_in_groups() -> None:
    compiled = site(
        grouped("a", rules=seg("vip")), grouped("b", traffic_percent=40), grouped("c", group="other")
    )
    for visitor in VISITORS[:300]:
        for identity in (VIP, UNIDENTIFIED, PENDING):
            traces = explain(compiled, visitor, identity, {})
            assert tuple(t.decision for t in traces) == decide(compiled, visitor, identity, {}).decisions


@pytest.mark.parametrize("status", ["ended", "draft"])
def test_a_group_without_live_tests_decides_nothing(status: str) -> None:
    compiled = site(grouped("a", status=status), doc("b"))
    assert [d.experience_id for d in decide(compiled, "v", VIP, {}).decisions] == ["b"]
