from __future__ import annotations

from edge.storefront.memo import REISSUE_AFTER_S, Decided, StorefrontMemo
from targeting import (
    DEFAULT_CONTROL,
    UNIDENTIFIED,
    Identity,
    SiteDecision,
    StickyEntry,
    decide,
    decode_sticky,
    encode_sticky,
)
from tests.targeting.factories import doc, seg, site

SECRET = b"s" * 32
VISITOR = "v" * 22
ENTRIES = {"exp": StickyEntry.entered("b"), "other": DEFAULT_CONTROL}


def _decided(entries: dict[str, StickyEntry], *, unchanged: bool) -> Decided:
    return Decided(SiteDecision(decisions=(), sticky=entries), b"", sticky_unchanged=unchanged)


def test_an_unchanged_recent_token_is_sent_back_as_it_is() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    first = memo.issue_token(VISITOR, _decided(ENTRIES, unchanged=False), 1000, None)
    read = memo.read_token(VISITOR, first, 1500, 10**8)
    assert read == (ENTRIES, 1000)
    assert memo.issue_token(VISITOR, _decided(ENTRIES, unchanged=True), 1500, (first, 1000)) == first


def test_a_changed_or_aged_token_is_issued_afresh_and_verifies() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    first = memo.issue_token(VISITOR, _decided(ENTRIES, unchanged=False), 1000, None)
    fewer = {"exp": StickyEntry.entered("b")}
    changed = memo.issue_token(VISITOR, _decided(fewer, unchanged=False), 1001, (first, 1000))
    assert changed != first
    assert decode_sticky(SECRET, "site_1", VISITOR, changed, 1001) == fewer
    aged_at = 1000 + REISSUE_AFTER_S
    aged = memo.issue_token(VISITOR, _decided(ENTRIES, unchanged=True), aged_at, (first, 1000))
    assert aged != first
    assert decode_sticky(SECRET, "site_1", VISITOR, aged, aged_at) == ENTRIES


def test_a_remembered_token_still_expires() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    token = memo.issue_token(VISITOR, _decided(ENTRIES, unchanged=False), 1000, None)
    assert memo.read_token(VISITOR, token, 1000 + 50, max_age_s=100) is not None
    assert memo.read_token(VISITOR, token, 1000 + 101, max_age_s=100) is None


def test_remembering_never_lets_a_token_open_another_visitor_or_site() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    token = memo.issue_token(VISITOR, _decided(ENTRIES, unchanged=False), 1000, None)
    assert memo.read_token("w" * 22, token, 1000, 10**8) is None
    foreign = encode_sticky(SECRET, "site_2", VISITOR, ENTRIES, 1000)
    assert memo.read_token(VISITOR, foreign, 1000, 10**8) is None
    assert memo.read_token(VISITOR, token[:-2] + "AA", 1000, 10**8) is None


def test_decisions_are_remembered_by_their_inputs_only() -> None:
    compiled = site(doc("vip", type="personalization", rules={"any": [seg("VIP")]}))
    memo = StorefrontMemo(SECRET, "site_1")
    vip = Identity.identified(frozenset({"VIP"}))
    first = memo.decide(compiled, VISITOR, vip, "", {})
    again = memo.decide(compiled, VISITOR, vip, "", {})
    assert again is first
    assert first.decision == decide(compiled, VISITOR, vip, {})
    anonymous = memo.decide(compiled, VISITOR, UNIDENTIFIED, "", {})
    assert (
        anonymous.decision == decide(compiled, VISITOR, UNIDENTIFIED, {})
        and anonymous.decision != first.decision
    )
    assert b'"variation_id":"b"' in first.experiences and b'"reason":"rules_matched"' in first.experiences


def test_a_decision_knows_whether_the_carried_entries_changed() -> None:
    compiled = site(doc("exp"))
    memo = StorefrontMemo(SECRET, "site_1")
    fresh = memo.decide(compiled, VISITOR, UNIDENTIFIED, "", {})
    assert not fresh.sticky_unchanged  # nothing was carried: a token must be issued
    token = memo.issue_token(VISITOR, fresh, 1000, None)
    carried = fresh.decision.sticky
    assert memo.decide(compiled, VISITOR, UNIDENTIFIED, token, carried).sticky_unchanged
    stale = {**carried, "ended": DEFAULT_CONTROL}  # an experience that is no longer on the site
    assert not memo.decide(compiled, VISITOR, UNIDENTIFIED, "older-token", stale).sticky_unchanged
