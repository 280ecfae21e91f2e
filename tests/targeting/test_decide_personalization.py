"""decide() for personalizations: matching visitors see a non-control variation, re-evaluated each visit."""

from __future__ import annotations

from collections import Counter

from growthbook.core import chooseVariation, gbhash, getBucketRanges

from targeting import (
    PENDING,
    UNIDENTIFIED,
    DecisionStatus,
    Identity,
    Reason,
    StickyEntry,
    decide,
)
from tests.targeting.factories import doc, seg, site

VIP = Identity.identified({"vip"})
NOBODY = Identity.identified(())
VISITORS = [f"visitor-{i}" for i in range(4000)]
VIP_BANNER = doc(
    "banner", type="personalization", rules=seg("vip"), variation_ids=("plain", "gold", "silver")
)


def test_matching_visitors_see_a_non_control_variation() -> None:
    compiled = site(VIP_BANNER)
    for visitor in VISITORS[:300]:
        decision = decide(compiled, visitor, VIP, {}).decisions[0]
        assert decision.entered and not decision.is_control
        assert decision.variation_id in ("gold", "silver") and decision.reason is Reason.RULES_MATCHED
        assert decision.first_assignment


def test_others_see_the_control_without_entering() -> None:
    for identity, reason in ((NOBODY, Reason.RULES_NOT_MATCHED), (UNIDENTIFIED, Reason.UNIDENTIFIED)):
        decision = decide(site(VIP_BANNER), "v", identity, {}).decisions[0]
        assert (decision.entered, decision.variation_id, decision.is_control) == (False, "plain", True)
        assert decision.reason is reason and not decision.first_assignment


def test_nothing_sticks_and_each_visit_is_re_evaluated() -> None:
    compiled = site(VIP_BANNER)
    first = decide(compiled, "v", VIP, {})
    # Only the counted mark (for results): the variation seen when first counted.
    shown = first.decisions[0].variation_id
    assert shown is not None and first.sticky == {"banner": StickyEntry.counted(shown)}
    assert first.counted == ("banner",)
    later = decide(compiled, "v", NOBODY, first.sticky)
    assert later.decisions[0].entered is False
    assert later.sticky == first.sticky and later.counted == ()


def test_unmatched_and_pending_visitors_are_not_counted() -> None:
    for identity in (NOBODY, PENDING):
        result = decide(site(VIP_BANNER), "v", identity, {})
        assert result.sticky == {} and result.counted == ()


def test_a_sticky_entry_for_a_personalization_is_ignored_and_dropped() -> None:
    result = decide(site(VIP_BANNER), "v", NOBODY, {"banner": StickyEntry.entered("gold")})
    assert result.decisions[0].entered is False and result.sticky == {}


def test_pending_identity_shows_the_control_with_status_pending() -> None:
    decision = decide(site(VIP_BANNER), "v", PENDING, {}).decisions[0]
    assert decision.status is DecisionStatus.PENDING
    assert (decision.entered, decision.variation_id, decision.reason) == (False, "plain", Reason.PENDING)


def test_status_is_decided_when_targeting_needs_no_identity() -> None:
    everyone = doc("banner", type="personalization", variation_ids=("plain", "gold"))
    decision = decide(site(everyone), "v", PENDING, {}).decisions[0]
    assert decision.status is DecisionStatus.DECIDED and decision.entered
    assert (decision.variation_id, decision.reason) == ("gold", Reason.EVERYONE)


def test_non_control_variations_split_by_weight_with_growthbook_ranges() -> None:
    compiled = site(
        doc("banner", type="personalization", variation_ids=("plain", "gold", "silver"), weights=(5, 1, 3))
    )
    ranges = getBucketRanges(2, 1, [0.25, 0.75])
    counts: Counter[str | None] = Counter()
    for visitor in VISITORS:
        decision = decide(compiled, visitor, VIP, {}).decisions[0]
        counts[decision.variation_id] += 1
        n = gbhash("banner", visitor, 2)
        assert n is not None
        assert decision.variation_id == ["gold", "silver"][chooseVariation(n, ranges)]
    assert 880 < counts["gold"] < 1120 and counts["plain"] == 0


def test_traffic_percent_leaves_a_holdout_that_sees_the_control() -> None:
    compiled = site(doc("banner", type="personalization", rules=seg("vip"), traffic_percent=25))
    reasons = Counter(decide(compiled, v, VIP, {}).decisions[0].reason for v in VISITORS)
    assert 850 < reasons[Reason.RULES_MATCHED] < 1150
    assert reasons[Reason.HOLDOUT] == 4000 - reasons[Reason.RULES_MATCHED]
    holdout = next(
        d for v in VISITORS if (d := decide(compiled, v, VIP, {}).decisions[0]).reason is Reason.HOLDOUT
    )
    assert (holdout.entered, holdout.variation_id, holdout.is_control) == (False, "control", True)
