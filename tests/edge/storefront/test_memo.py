from __future__ import annotations

from edge.storefront.memo import REISSUE_AFTER_S, StorefrontMemo
from targeting import DEFAULT_CONTROL, StickyEntry, decode_sticky, encode_sticky

SECRET = b"s" * 32
VISITOR = "v" * 22
ENTRIES = {"exp": StickyEntry.entered("b"), "other": DEFAULT_CONTROL}


def test_an_unchanged_recent_token_is_sent_back_as_it_is() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    first = memo.issue_token(VISITOR, ENTRIES, 1000, None)
    read = memo.read_token(VISITOR, first, 1500, 10**8)
    assert read == (ENTRIES, 1000)
    assert memo.issue_token(VISITOR, ENTRIES, 1500, (first, *read)) == first


def test_a_changed_or_aged_token_is_issued_afresh_and_verifies() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    first = memo.issue_token(VISITOR, ENTRIES, 1000, None)
    changed = memo.issue_token(VISITOR, {"exp": StickyEntry.entered("b")}, 1001, (first, ENTRIES, 1000))
    assert changed != first
    aged_at = 1000 + REISSUE_AFTER_S
    aged = memo.issue_token(VISITOR, ENTRIES, aged_at, (first, ENTRIES, 1000))
    assert aged != first
    assert decode_sticky(SECRET, "site_1", VISITOR, aged, aged_at) == ENTRIES


def test_a_remembered_token_still_expires() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    token = memo.issue_token(VISITOR, ENTRIES, 1000, None)
    assert memo.read_token(VISITOR, token, 1000 + 50, max_age_s=100) is not None
    assert memo.read_token(VISITOR, token, 1000 + 101, max_age_s=100) is None


def test_remembering_never_lets_a_token_open_another_visitor_or_site() -> None:
    memo = StorefrontMemo(SECRET, "site_1")
    token = memo.issue_token(VISITOR, ENTRIES, 1000, None)
    assert memo.read_token("w" * 22, token, 1000, 10**8) is None
    foreign = encode_sticky(SECRET, "site_2", VISITOR, ENTRIES, 1000)
    assert memo.read_token(VISITOR, foreign, 1000, 10**8) is None
    assert memo.read_token(VISITOR, token[:-2] + "AA", 1000, 10**8) is None


def test_decisions_are_remembered_by_their_inputs_only() -> None:
    from targeting import UNIDENTIFIED, Identity, compile_site, decide, parse_experience
    from tests.targeting.factories import doc, seg

    site = compile_site([parse_experience(doc("vip", type="personalization", rules={"any": [seg("VIP")]}))])
    memo = StorefrontMemo(SECRET, "site_1")
    vip = Identity.identified(frozenset({"VIP"}))
    first, encoded = memo.decide(site, VISITOR, vip, "", {})
    again, encoded_again = memo.decide(site, VISITOR, vip, "", {})
    assert again is first and encoded_again is encoded
    assert first == decide(site, VISITOR, vip, {})
    anonymous, _ = memo.decide(site, VISITOR, UNIDENTIFIED, "", {})
    assert anonymous == decide(site, VISITOR, UNIDENTIFIED, {}) and anonymous != first
    assert b'"variation_id":"b"' in encoded and b'"reason":"rules_matched"' in encoded
