"""Properties: every decision is reproducible from its inputs, and stickiness is stable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from targeting import (
    DEFAULT_CONTROL,
    EXCLUDED,
    PENDING,
    UNIDENTIFIED,
    DecisionStatus,
    ExperienceType,
    Identity,
    Reason,
    StickyEntry,
    StickyOutcome,
    compile_site,
    decide,
    decode_sticky,
    encode_sticky,
    explain,
    parse_experience,
)
from tests.targeting.factories import doc, not_seg, seg

DOCS = [
    doc("hero", rules={"any": [seg("a"), {"all": [seg("b"), not_seg("c")]}]}, traffic_percent=60),
    doc("cart", traffic_percent=35, variation_ids=("ctl", "x", "y"), weights=(1, 2, 3)),
    doc(
        "adv",
        audiences=[
            {"rules": seg("c"), "action": "exclude"},
            {"rules": seg("a"), "action": "assign", "variation_id": "b"},
            {"rules": seg("b"), "action": "random"},
            {"rules": not_seg("d"), "action": "defer"},
        ],
    ),
    doc("banner", type="personalization", rules=seg("d"), traffic_percent=80, variation_ids=("p", "q", "r")),
    doc("paused", status="paused"),
    doc("ended", status="ended"),
]
SITE = compile_site(parse_experience(d) for d in DOCS)

identities = st.one_of(
    st.just(PENDING),
    st.just(UNIDENTIFIED),
    st.frozensets(st.sampled_from("abcde")).map(Identity.identified),
)
entries = st.dictionaries(
    st.sampled_from(["hero", "cart", "adv", "banner", "paused", "ended", "gone"]),
    st.sampled_from([StickyEntry.entered(v) for v in ("control", "b", "x", "q", "zz")])
    | st.sampled_from([DEFAULT_CONTROL, EXCLUDED]),
)
visitors = st.text(min_size=1, max_size=30)


@settings(max_examples=200)
@given(visitor=visitors, identity=identities, sticky=entries)
def test_every_decision_is_reproducible_from_its_inputs(
    visitor: str, identity: Identity, sticky: dict[str, StickyEntry]
) -> None:
    first = decide(SITE, visitor, identity, dict(sticky))
    recompiled = compile_site(parse_experience(e.experience.to_dict()) for e in SITE.experiences)
    again = decide(recompiled, visitor, identity, dict(sticky))
    assert first.decisions == decide(SITE, visitor, identity, dict(sticky)).decisions == again.decisions
    assert tuple(t.decision for t in explain(SITE, visitor, identity, sticky)) == first.decisions


@settings(max_examples=200)
@given(visitor=visitors, identity=identities, later=identities)
def test_tests_are_stable_once_decided(visitor: str, identity: Identity, later: Identity) -> None:
    first = decide(SITE, visitor, identity, {})
    token = encode_sticky(b"k" * 32, "site", visitor, first.sticky, 1000)
    second = decide(SITE, visitor, later, decode_sticky(b"k" * 32, "site", visitor, token, 1001))
    for before, after in zip(first.decisions, second.decisions, strict=True):
        if before.type is ExperienceType.TEST and before.experience_id in first.sticky:
            assert (after.entered, after.variation_id, after.reason) == (
                before.entered,
                before.variation_id,
                Reason.STICKY,
            )
            assert after.first_assignment is False
    assert second.sticky.items() >= decode_sticky(b"k" * 32, "site", visitor, token, 1001).items()


@settings(max_examples=200)
@given(visitor=visitors, identity=identities, sticky=entries)
def test_decision_invariants(visitor: str, identity: Identity, sticky: dict[str, StickyEntry]) -> None:
    result = decide(SITE, visitor, identity, sticky)
    assert [d.experience_id for d in result.decisions] == ["hero", "cart", "adv", "banner"]
    for decision in result.decisions:
        assert isinstance(decision.reason, Reason)
        assert (decision.variation_id is None) == (decision.reason is Reason.DEFERRED)
        if decision.status is DecisionStatus.PENDING:
            assert decision.type is ExperienceType.PERSONALIZATION and identity is PENDING
        if decision.type is ExperienceType.PERSONALIZATION:
            assert decision.entered is (not decision.is_control)
            # Only a counted mark (results' first exposure) is kept, never a decision.
            if decision.experience_id in result.sticky:
                mark = result.sticky[decision.experience_id]
                assert mark.outcome is StickyOutcome.COUNTED
                assert decision.status is DecisionStatus.DECIDED
    assert "ended" not in result.sticky and "gone" not in result.sticky
    if "paused" in sticky:
        assert result.sticky["paused"] == sticky["paused"]


@settings(max_examples=200)
@given(visitor=visitors, identity=identities, sticky=entries)
def test_first_assignment_marks_exactly_the_new_sticky_test_entries(
    visitor: str, identity: Identity, sticky: dict[str, StickyEntry]
) -> None:
    result = decide(SITE, visitor, identity, sticky)
    for decision in result.decisions:
        if decision.type is ExperienceType.TEST:
            created = decision.experience_id in result.sticky and decision.reason is not Reason.STICKY
            assert decision.first_assignment is created
