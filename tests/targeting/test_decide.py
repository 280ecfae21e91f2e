"""decide() for tests with custom targeting, and what holds for every decision (DESIGN "Decision")."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from growthbook.core import chooseVariation, gbhash, getBucketRanges

from targeting import (
    ATTRIBUTES,
    DEFAULT_CONTROL,
    PENDING,
    UNIDENTIFIED,
    Attribute,
    Decision,
    DecisionStatus,
    Identity,
    Reason,
    StickyEntry,
    Visit,
    compile_site,
    decide,
    parse_experience,
)
from targeting.identity import Predicate
from tests.targeting.factories import doc, not_seg, seg, site

VIP = Identity.identified({"vip"})
NOBODY = Identity.identified(())
VISITORS = [f"visitor-{i}" for i in range(4000)]


def one(data: dict[str, Any], visitor: str = "visitor-1", identity: Identity = VIP) -> Decision:
    decisions = decide(site(data), visitor, identity, {}).decisions
    assert len(decisions) == 1
    return decisions[0]


VIP_TEST = doc("hero", rules=seg("vip"))


def test_matching_visitor_enters_and_the_assignment_sticks() -> None:
    result = decide(site(VIP_TEST), "visitor-1", VIP, {})
    decision = result.decisions[0]
    assert decision.entered and decision.reason is Reason.RULES_MATCHED
    assert decision.status is DecisionStatus.DECIDED and decision.first_assignment
    assert result.sticky == {"hero": StickyEntry.entered(decision.variation_id or "")}


def test_non_matching_identified_visitor_gets_the_control_and_it_sticks() -> None:
    result = decide(site(VIP_TEST), "visitor-1", NOBODY, {})
    decision = result.decisions[0]
    assert (decision.entered, decision.variation_id, decision.is_control) == (False, "control", True)
    assert decision.reason is Reason.RULES_NOT_MATCHED
    assert result.sticky == {"hero": DEFAULT_CONTROL}


def test_unidentified_visitor_gets_the_control_and_it_sticks() -> None:
    result = decide(site(VIP_TEST), "visitor-1", UNIDENTIFIED, {})
    decision = result.decisions[0]
    assert (decision.entered, decision.variation_id, decision.reason) == (
        False,
        "control",
        Reason.UNIDENTIFIED,
    )
    assert result.sticky == {"hero": DEFAULT_CONTROL}


def test_not_equals_never_lets_an_unidentified_visitor_in() -> None:
    outsiders = doc("hero", rules=not_seg("vip"))
    assert one(outsiders, identity=UNIDENTIFIED).entered is False
    assert one(outsiders, identity=NOBODY).entered is True


def test_custom_test_gives_the_control_at_once_while_pending_and_it_sticks() -> None:
    first = decide(site(VIP_TEST), "visitor-1", PENDING, {})
    decision = first.decisions[0]
    assert (decision.status, decision.entered, decision.variation_id) == (
        DecisionStatus.DECIDED,
        False,
        "control",
    )
    assert decision.reason is Reason.PENDING and decision.first_assignment
    later = decide(site(VIP_TEST), "visitor-1", VIP, first.sticky).decisions[0]
    assert (later.entered, later.variation_id, later.reason) == (False, "control", Reason.STICKY)
    assert later.first_assignment is False


def test_unidentified_visitor_never_switches_when_identified_later() -> None:
    first = decide(site(VIP_TEST), "visitor-1", UNIDENTIFIED, {})
    later = decide(site(VIP_TEST), "visitor-1", VIP, first.sticky).decisions[0]
    assert (later.entered, later.variation_id, later.reason) == (False, "control", Reason.STICKY)


@pytest.mark.parametrize("rules", [None, {}, {"all": []}])
@pytest.mark.parametrize("identity", [VIP, UNIDENTIFIED, PENDING])
def test_empty_rules_match_everyone(rules: object, identity: Identity) -> None:
    decision = one(doc("hero", rules=rules), identity=identity)
    assert decision.entered and decision.reason is Reason.EVERYONE
    assert decision.status is DecisionStatus.DECIDED


@pytest.mark.parametrize("identity", [VIP, UNIDENTIFIED, PENDING])
def test_any_empty_matches_no_one(identity: Identity) -> None:
    decision = one(doc("hero", rules={"any": []}), identity=identity)
    assert (decision.entered, decision.variation_id) == (False, "control")
    assert decision.reason is Reason.RULES_NOT_MATCHED


def test_and_or_trees_select_the_audience() -> None:
    rules = {"any": [{"all": [seg("vip"), seg("eu")]}, seg("staff")]}
    assert one(doc("hero", rules=rules), identity=Identity.identified({"vip", "eu"})).entered
    assert one(doc("hero", rules=rules), identity=Identity.identified({"staff"})).entered
    assert not one(doc("hero", rules=rules), identity=Identity.identified({"vip"})).entered


def test_traffic_percent_of_matching_visitors_enter() -> None:
    compiled = site(doc("hero", traffic_percent=30))
    outcomes = Counter(decide(compiled, v, VIP, {}).decisions[0].reason for v in VISITORS)
    assert 1050 < outcomes[Reason.EVERYONE] < 1350
    assert outcomes[Reason.NOT_IN_TRAFFIC] == 4000 - outcomes[Reason.EVERYONE]


def test_a_visitor_outside_traffic_sees_the_control_and_does_not_stick() -> None:
    compiled = site(doc("hero", traffic_percent=30))
    for visitor in VISITORS[:50]:
        result = decide(compiled, visitor, VIP, {})
        decision = result.decisions[0]
        if decision.reason is Reason.NOT_IN_TRAFFIC:
            assert (decision.entered, decision.variation_id, decision.first_assignment) == (
                False,
                "control",
                False,
            )
            assert result.sticky == {}
            return
    pytest.fail("no visitor fell outside traffic")


def test_zero_traffic_lets_no_one_in() -> None:
    compiled = site(doc("hero", traffic_percent=0))
    assert not any(decide(compiled, v, VIP, {}).decisions[0].entered for v in VISITORS[:500])


def test_entered_visitors_are_split_by_weight() -> None:
    compiled = site(doc("hero", variation_ids=("control", "b", "c"), weights=(1, 1, 2)))
    counts = Counter(decide(compiled, v, VIP, {}).decisions[0].variation_id for v in VISITORS)
    assert 900 < counts["control"] < 1100 and 900 < counts["b"] < 1100 and 1850 < counts["c"] < 2150


def test_an_entered_visitor_can_be_in_the_control() -> None:
    compiled = site(doc("hero"))
    decisions = [decide(compiled, v, VIP, {}).decisions[0] for v in VISITORS[:100]]
    in_control = [d for d in decisions if d.is_control]
    assert in_control and all(d.entered and d.variation_id == "control" for d in in_control)


@pytest.mark.parametrize("seed", [None, "custom-seed"])
def test_any_growthbook_sdk_recomputes_the_assignment(seed: str | None) -> None:
    extra: dict[str, Any] = {"seed": seed} if seed else {}
    compiled = site(
        doc("hero", variation_ids=("a", "b", "c"), weights=(2, 3, 5), traffic_percent=70, **extra)
    )
    ranges = getBucketRanges(3, 0.7, [0.2, 0.3, 0.5])
    for visitor in VISITORS[:1000]:
        decision = decide(compiled, visitor, VIP, {}).decisions[0]
        n = gbhash(seed or "hero", visitor, 2)
        assert n is not None
        index = chooseVariation(n, ranges)
        assert decision.variation_id == (["a", "b", "c"][index] if index >= 0 else "a")
        assert decision.entered is (index >= 0)


def test_the_seed_defaults_to_the_experience_id() -> None:
    explicit = site(doc("hero", seed="hero"))
    default = site(doc("hero"))
    other = site(doc("hero", seed="other"))
    a = [decide(default, v, VIP, {}).decisions[0] for v in VISITORS[:200]]
    assert a == [decide(explicit, v, VIP, {}).decisions[0] for v in VISITORS[:200]]
    assert a != [decide(other, v, VIP, {}).decisions[0] for v in VISITORS[:200]]


@pytest.mark.parametrize(("wide", "narrow"), [(100, 40), (80, 10), (55, 54)])
def test_changing_traffic_never_moves_a_visitor_between_variations(wide: int, narrow: int) -> None:
    variations = ("control", "b", "c")
    big = site(doc("hero", traffic_percent=wide, variation_ids=variations))
    small = site(doc("hero", traffic_percent=narrow, variation_ids=variations))
    moved_in = 0
    for visitor in VISITORS:
        before = decide(small, visitor, VIP, {}).decisions[0]
        after = decide(big, visitor, VIP, {}).decisions[0]
        if before.entered:
            assert after.entered and after.variation_id == before.variation_id
        moved_in += after.entered and not before.entered
    assert moved_in > 0  # growing traffic admits new visitors, it just never moves anyone


def test_a_visitor_without_a_token_is_decided_afresh_deterministically() -> None:
    compiled = site(VIP_TEST, doc("cart", traffic_percent=50))
    for visitor in VISITORS[:200]:
        assert decide(compiled, visitor, VIP, {}) == decide(compiled, visitor, VIP, {})


def test_decisions_come_in_site_order_one_per_live_experience() -> None:
    compiled = site(doc("b-exp"), doc("paused", status="paused"), doc("a-exp"), doc("draft", status="draft"))
    assert [d.experience_id for d in decide(compiled, "v", VIP, {}).decisions] == ["b-exp", "a-exp"]


def test_storefront_json_shape() -> None:
    decision = one(VIP_TEST, identity=NOBODY)
    assert decision.to_dict() == {
        "id": "hero",
        "type": "test",
        "status": "decided",
        "entered": False,
        "variation_id": "control",
        "is_control": True,
        "reason": "rules_not_matched",
    }


def test_the_visit_reaches_rules_of_registered_attributes() -> None:
    def compile_device(operator: str, value: str) -> Predicate:
        return lambda ctx: ctx.visit.device == value

    device = Attribute("form_factor", frozenset({"equals"}), False, lambda v: None, compile_device)
    registry = {**ATTRIBUTES, "form_factor": device}
    rules = {"attribute": "form_factor", "operator": "equals", "value": "mobile"}
    compiled = compile_site(
        [parse_experience(doc("hero", rules=rules), attributes=registry)], attributes=registry
    )
    on_mobile = Visit.from_request_fields(device="mobile")
    on_desktop = Visit.from_request_fields(device="desktop")
    mobile = decide(compiled, "v", UNIDENTIFIED, {}, visit=on_mobile).decisions[0]
    desktop = decide(compiled, "v", UNIDENTIFIED, {}, visit=on_desktop).decisions[0]
    assert (mobile.entered, mobile.reason) == (True, Reason.RULES_MATCHED)
    assert (desktop.entered, desktop.reason) == (False, Reason.RULES_NOT_MATCHED)
    assert compiled.needs_identity is False


def test_visitors_whose_hashes_pick_the_same_rows_get_the_same_decision() -> None:
    from targeting import draw_plan
    from targeting.bucketing import code_units

    compiled = site(
        doc("a", traffic_percent=60, variation_ids=("control", "b", "c")),
        doc("p", type="personalization", rules={"any": [seg("vip")]}, traffic_percent=50),
        doc("v", rules={"any": [seg("vip")]}),
        doc("adv", audiences=[{"rules": {"any": [seg("vip")]}, "action": "random"}]),
    )
    for identity in (VIP, UNIDENTIFIED, PENDING):
        plan = draw_plan(compiled, identity)
        by_picks: dict[tuple[int, ...], Any] = {}
        for n in range(400):
            visitor = f"visitor-{n}"
            decision = decide(compiled, visitor, identity, {}, targeted=plan.steps)
            assert decision == decide(compiled, visitor, identity, {})
            assert by_picks.setdefault(plan.picks(code_units(visitor)), decision) == decision
        for visitor in (
            *(f"visitor-{n}" for n in range(400)),
            "",
            "x",
            "é-visitor",
            "訪問者-1",
            "\U0001f600" * 3,
            "v" * 128,
        ):
            units = code_units(visitor)
            assert plan.picks(units) == _picks_by_hash(plan.steps, units)
        assert len(by_picks) > 1 or identity is not VIP


# Exclusion groups: the group's hash picks the test a visitor without entries is given, and
# the picks of the group's draws depend on it. Mixed weights, traffic under 100, targeting that
# matches and targeting that does not, a personalization and a test outside the groups.
GROUPED_SITE = site(
    doc(
        "a", exclusion_group="x", exclusion_weight=1, traffic_percent=70, variation_ids=("control", "b", "c")
    ),
    doc("b", exclusion_group="x", exclusion_weight=3, rules={"any": [seg("vip")]}, traffic_percent=40),
    doc("c", exclusion_group="x", exclusion_weight=2, rules={"any": [seg("wholesale")]}),
    doc(
        "d",
        exclusion_group="y",
        exclusion_weight=5,
        audiences=[{"rules": {"any": [seg("vip")]}, "action": "random"}],
        traffic_percent=80,
    ),
    doc("e", exclusion_group="y", exclusion_weight=2, traffic_percent=30),
    doc("f", exclusion_group="z", exclusion_weight=1, status="paused"),  # a group with no live test
    doc("solo", traffic_percent=50),
    doc("p", type="personalization", rules={"any": [seg("vip")]}, traffic_percent=60),
)


def _random_visitors(count: int, seed: int) -> list[str]:
    import random
    import string

    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_é訪\U0001f600"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(count)] + [
        f"{rng.getrandbits(64):022d}" for _ in range(count)
    ]


def test_with_exclusion_groups_visitors_with_the_same_picks_get_the_same_decision() -> None:
    from targeting import draw_plan
    from targeting.bucketing import code_units

    vip_wholesale = Identity.identified({"vip", "wholesale"})
    for identity in (VIP, vip_wholesale, UNIDENTIFIED, PENDING):
        plan = draw_plan(GROUPED_SITE, identity)
        by_picks: dict[tuple[int, ...], Any] = {}
        for visitor in _random_visitors(2500, seed=7):
            units = code_units(visitor)
            decision = decide(GROUPED_SITE, visitor, identity, {})
            assert decide(GROUPED_SITE, visitor, identity, {}, targeted=plan.steps) == decision
            picks = plan.picks(units)
            assert picks == _grouped_picks(plan.steps, units)
            assert by_picks.setdefault(picks, decision) == decision
        # Shared by visitors who pick alike, and every test of each group given to someone.
        assert 1 < len(by_picks) < 1000
        owners = {picks[:2] for picks in by_picks}
        assert {x for x, _ in owners} == {0, 1, 2} and {y for _, y in owners} == {0, 1}


def _grouped_picks(steps: tuple[Any, ...], units: Any) -> tuple[int, ...]:
    """What `DrawPlan.picks` must give on GROUPED_SITE, from `group_owner` and `hash_from_state`."""
    from targeting.bucketing import hash_from_state
    from targeting.exclusion import group_owner
    from targeting.outcomes import Draw

    groups = [GROUPED_SITE.groups["x"], GROUPED_SITE.groups["y"]]  # in site order, live tests only
    owners = [group_owner(group, units, {}) for group in groups]
    found = [
        next(i for i, r in enumerate(g.ranges) if r.experience_id == o.experience_id)
        for g, o in zip(groups, owners, strict=True)
    ]
    for cx, step in zip(GROUPED_SITE.experiences, steps, strict=True):
        if not isinstance(step, Draw):
            continue
        if cx.group is not None and owners[groups.index(cx.group)].experience_id != cx.id:
            found.append(-2)
            continue
        n = hash_from_state(step.state, units)
        found.append(next((i for i, row in enumerate(step.rows) if row[0] <= n < row[1]), -1))
    return tuple(found)


def _picks_by_hash(steps: tuple[Any, ...], units: Any) -> tuple[int, ...]:
    """What `DrawPlan.picks` must give, from `hash_from_state` and each draw's rows."""
    from targeting.bucketing import hash_from_state
    from targeting.outcomes import Draw

    found = []
    for step in steps:
        if isinstance(step, Draw):
            n = hash_from_state(step.state, units)
            found.append(next((i for i, row in enumerate(step.rows) if row[0] <= n < row[1]), -1))
    return tuple(found)
