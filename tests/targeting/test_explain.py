"""explain(): the whole trace, the same decision as decide(), JSON-serialisable."""

from __future__ import annotations

import msgspec

from targeting import (
    PENDING,
    DeferCause,
    Identity,
    Reason,
    StickyEntry,
    StickyOutcome,
    StickyVerdict,
    TruthValue,
    decide,
    explain,
    hash_v2,
)
from tests.targeting.factories import doc, not_seg, seg, site

VIP = Identity.identified({"vip"})
CUSTOM = doc("hero", rules={"all": [seg("vip"), not_seg("staff")]}, traffic_percent=50)
ADVANCED = doc(
    "adv",
    audiences=[
        {"rules": seg("staff"), "action": "exclude"},
        {"rules": {"any": [seg("vip"), seg("eu")]}, "action": "random"},
    ],
)


def test_custom_trace_lists_conditions_hash_and_range() -> None:
    trace = explain(site(CUSTOM), "visitor-7", VIP, {})[0]
    assert trace.mode == "custom" and trace.rules is not None
    assert trace.rules.result is TruthValue.TRUE
    assert [(c.path, c.result) for c in trace.rules.conditions] == [
        ("targeting.rules.all[0]", TruthValue.TRUE),
        ("targeting.rules.all[1]", TruthValue.TRUE),
    ]
    bucket = trace.bucket
    assert bucket.n == hash_v2("hero", "visitor-7") and bucket.seed == "hero" and bucket.coverage == 0.5
    assert [(r.variation_id, r.low, r.high) for r in bucket.ranges] == [
        ("control", 0, 0.25),
        ("b", 0.5, 0.75),
    ]
    assert bucket.used
    if trace.decision.entered:
        assert bucket.hit is not None and bucket.hit.variation_id == trace.decision.variation_id
        assert bucket.hit.low <= bucket.n < bucket.hit.high
    else:
        assert bucket.hit is None and trace.decision.reason is Reason.NOT_IN_TRAFFIC


def test_hash_is_reported_but_marked_unused_when_rules_do_not_match() -> None:
    trace = explain(site(CUSTOM), "visitor-7", Identity.identified({"staff"}), {})[0]
    assert trace.rules is not None and trace.rules.result is TruthValue.FALSE
    assert trace.bucket.used is False and trace.bucket.n == hash_v2("hero", "visitor-7")


def test_advanced_trace_names_the_deciding_audience() -> None:
    trace = explain(site(ADVANCED), "v", Identity.identified({"eu"}), {})[0]
    assert trace.mode == "advanced" and trace.rules is None
    assert trace.matched_audience == 1
    assert [a.rules.result for a in trace.audiences] == [TruthValue.FALSE, TruthValue.TRUE]
    assert [c.path for c in trace.audiences[1].rules.conditions] == [
        "targeting.audiences[1].rules.any[0]",
        "targeting.audiences[1].rules.any[1]",
    ]


def test_trace_gives_the_cause_of_a_defer() -> None:
    pending = explain(site(ADVANCED), "v", PENDING, {})[0]
    assert pending.defer_cause is DeferCause.PENDING and pending.matched_audience is None
    assert pending.audiences[0].rules.result is TruthValue.UNKNOWN
    nobody = explain(site(ADVANCED), "v", Identity.identified(()), {})[0]
    assert nobody.defer_cause is DeferCause.NO_AUDIENCE_MATCHED


def test_trace_says_how_the_sticky_entry_was_used() -> None:
    compiled = site(CUSTOM, doc("banner", type="personalization"))
    honoured = explain(
        compiled, "v", VIP, {"hero": StickyEntry.entered("b"), "banner": StickyEntry.entered("b")}
    )
    assert honoured[0].sticky_verdict is StickyVerdict.HONOURED
    assert honoured[0].sticky_in == StickyEntry.entered("b") == honoured[0].sticky_out
    assert honoured[1].sticky_verdict is StickyVerdict.NOT_STICKY and honoured[1].sticky_out is None
    removed = explain(compiled, "v", VIP, {"hero": StickyEntry.entered("gone")})[0]
    assert removed.sticky_verdict is StickyVerdict.VARIATION_REMOVED
    assert explain(compiled, "v", VIP, {})[0].sticky_verdict is StickyVerdict.NONE


def test_trace_decisions_are_decide_decisions() -> None:
    compiled = site(CUSTOM, ADVANCED, doc("banner", type="personalization", rules=seg("eu")))
    for identity in (VIP, PENDING, Identity.identified({"staff", "eu"})):
        for visitor in ("a", "b", "c", "d"):
            traces = explain(compiled, visitor, identity, {})
            result = decide(compiled, visitor, identity, {})
            assert tuple(t.decision for t in traces) == result.decisions
            # A personalization's counted mark is kept by `decide` for results, not a trace's outcome.
            kept = {k: v for k, v in result.sticky.items() if v.outcome is not StickyOutcome.COUNTED}
            assert {t.experience_id: t.sticky_out for t in traces if t.sticky_out} == kept


def test_traces_are_json_serialisable() -> None:
    traces = explain(site(CUSTOM, ADVANCED), "v", VIP, {"hero": StickyEntry.entered("b")})
    data = [t.to_dict() for t in traces]
    decoded = msgspec.json.decode(msgspec.json.encode(data))
    assert decoded[0]["decision"]["reason"] == "sticky"
    assert decoded[0]["sticky_in"] == {
        "outcome": "entered",
        "variation_id": "b",
        "day": None,
        "audience": None,
    }
    assert decoded[1]["audiences"][1]["rules"]["conditions"][0]["result"] == "true"
    assert isinstance(decoded[1]["bucket"]["n"], float)
