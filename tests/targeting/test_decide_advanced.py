"""decide() for tests with advanced targeting: ordered audiences, random/assign/exclude/defer."""

from __future__ import annotations

from typing import Any

from targeting import (
    EXCLUDED,
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
STAFF_VIP = Identity.identified({"vip", "staff"})
NOBODY = Identity.identified(())


def advanced(*audiences: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return doc("adv", audiences=list(audiences), variation_ids=("control", "b", "c"), **kw)


RANDOM_VIP = {"rules": seg("vip"), "action": "random"}
ASSIGN_VIP_C = {"rules": seg("vip"), "action": "assign", "variation_id": "c"}
EXCLUDE_STAFF = {"rules": seg("staff"), "action": "exclude"}
DEFER_STAFF = {"rules": seg("staff"), "action": "defer"}


def test_random_audience_enters_split_by_weight_and_sticks() -> None:
    result = decide(site(advanced(RANDOM_VIP)), "visitor-1", VIP, {})
    decision = result.decisions[0]
    assert decision.entered and decision.reason is Reason.RULES_MATCHED and decision.first_assignment
    # The entry names the audience that admitted the visitor (results' cohort): the first.
    assert result.sticky == {"adv": StickyEntry.entered(decision.variation_id or "", None, 0)}


def test_assign_enters_the_fixed_variation_and_sticks() -> None:
    for visitor in ("v1", "v2", "v3", "v4"):
        result = decide(site(advanced(ASSIGN_VIP_C)), visitor, VIP, {})
        decision = result.decisions[0]
        assert (decision.entered, decision.variation_id, decision.reason) == (True, "c", Reason.ASSIGNED)
        assert result.sticky == {"adv": StickyEntry.entered("c", None, 0)}


def test_assign_ignores_traffic_percent() -> None:
    decision = decide(site(advanced(ASSIGN_VIP_C, traffic_percent=0)), "v1", VIP, {}).decisions[0]
    assert (decision.entered, decision.variation_id) == (True, "c")


def test_exclude_never_enters_and_sticks() -> None:
    compiled = site(advanced(EXCLUDE_STAFF, RANDOM_VIP))
    first = decide(compiled, "visitor-1", STAFF_VIP, {})
    decision = first.decisions[0]
    assert (decision.entered, decision.variation_id, decision.reason) == (False, "control", Reason.EXCLUDED)
    assert first.sticky == {"adv": EXCLUDED}
    # No longer staff: the exclusion still holds.
    later = decide(compiled, "visitor-1", VIP, first.sticky).decisions[0]
    assert (later.entered, later.variation_id, later.reason) == (False, "control", Reason.STICKY)


def test_the_first_matching_audience_decides() -> None:
    excluded_first = decide(site(advanced(EXCLUDE_STAFF, ASSIGN_VIP_C)), "v", STAFF_VIP, {}).decisions[0]
    assigned_first = decide(site(advanced(ASSIGN_VIP_C, EXCLUDE_STAFF)), "v", STAFF_VIP, {}).decisions[0]
    assert excluded_first.reason is Reason.EXCLUDED
    assert assigned_first.reason is Reason.ASSIGNED


def test_defer_assigns_nothing_and_is_checked_again_next_request() -> None:
    compiled = site(advanced(DEFER_STAFF, ASSIGN_VIP_C))
    first = decide(compiled, "visitor-1", STAFF_VIP, {})
    decision = first.decisions[0]
    assert decision.status is DecisionStatus.DECIDED
    assert (decision.entered, decision.variation_id, decision.is_control) == (False, None, False)
    assert decision.reason is Reason.DEFERRED and not decision.first_assignment
    assert first.sticky == {}
    later = decide(compiled, "visitor-1", VIP, first.sticky).decisions[0]
    assert (later.entered, later.variation_id) == (True, "c")


def test_no_audience_matching_defers() -> None:
    result = decide(site(advanced(ASSIGN_VIP_C)), "v", NOBODY, {})
    assert result.decisions[0].reason is Reason.DEFERRED and result.sticky == {}


def test_unidentified_visitor_defers_and_is_not_assigned_by_default() -> None:
    result = decide(site(advanced(ASSIGN_VIP_C)), "v", UNIDENTIFIED, {})
    assert (result.decisions[0].variation_id, result.decisions[0].reason) == (None, Reason.DEFERRED)
    assert result.sticky == {}


def test_advanced_defers_while_pending_then_enters_once_known_and_sticks() -> None:
    compiled = site(advanced(RANDOM_VIP))
    pending = decide(compiled, "visitor-1", PENDING, {})
    assert pending.decisions[0].status is DecisionStatus.DECIDED
    assert (pending.decisions[0].entered, pending.decisions[0].reason) == (False, Reason.DEFERRED)
    assert pending.sticky == {}
    known = decide(compiled, "visitor-1", VIP, pending.sticky)
    assert known.decisions[0].entered and known.decisions[0].first_assignment
    # The segment is gone later: the visitor stays where they entered.
    later = decide(compiled, "visitor-1", NOBODY, known.sticky).decisions[0]
    assert (later.entered, later.variation_id) == (True, known.decisions[0].variation_id)
    assert later.reason is Reason.STICKY and not later.first_assignment


def test_a_pending_audience_blocks_later_audiences() -> None:
    everyone = {"action": "assign", "variation_id": "b"}
    decision = decide(site(advanced(EXCLUDE_STAFF, everyone)), "v", PENDING, {}).decisions[0]
    assert decision.reason is Reason.DEFERRED
    no_identity_needed = decide(site(advanced(everyone, EXCLUDE_STAFF)), "v", PENDING, {}).decisions[0]
    assert (no_identity_needed.entered, no_identity_needed.variation_id) == (True, "b")


def test_random_audience_outside_traffic_sees_the_control_without_sticking() -> None:
    compiled = site(advanced({"action": "random"}, traffic_percent=0))
    result = decide(compiled, "v", NOBODY, {})
    decision = result.decisions[0]
    assert (decision.entered, decision.variation_id, decision.reason) == (
        False,
        "control",
        Reason.NOT_IN_TRAFFIC,
    )
    assert result.sticky == {}


def test_random_audience_without_conditions_reports_everyone() -> None:
    decision = decide(site(advanced({"action": "random"})), "v", UNIDENTIFIED, {}).decisions[0]
    assert decision.entered and decision.reason is Reason.EVERYONE
