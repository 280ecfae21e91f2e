from __future__ import annotations

from edge.storefront.memo import REISSUE_AFTER_S, StorefrontMemo
from targeting import (
    DEFAULT_CONTROL,
    UNIDENTIFIED,
    Identity,
    decide,
    decode_sticky,
    encode_sticky,
)
from tests.targeting.factories import doc, seg, site

SECRET = b"s" * 32
VISITOR = "v" * 22
YEAR = 365 * 86_400
SITE = site(doc("exp"), doc("vip", type="personalization", rules={"any": [seg("VIP")]}))
VIP = Identity.identified(frozenset({"VIP"}))


def _memo() -> StorefrontMemo:
    return StorefrontMemo(SECRET, "site_1")


def test_a_returning_visitor_gets_the_same_answer_and_token_back() -> None:
    memo = _memo()
    first = memo.answer(SITE, VISITOR, VIP, None, 1000, YEAR)
    assert not first.sticky_ignored
    assert decode_sticky(SECRET, "site_1", VISITOR, first.sticky, 1000) == first.decision.sticky
    again = memo.answer(SITE, VISITOR, VIP, first.sticky, 1500, YEAR)
    assert again.sticky == first.sticky
    assert again.decision == decide(SITE, VISITOR, VIP, first.decision.sticky)
    assert memo.answer(SITE, VISITOR, VIP, first.sticky, 1600, YEAR) is again  # remembered


def test_a_token_is_sent_back_for_a_day_then_signed_afresh() -> None:
    memo = _memo()
    token = memo.answer(SITE, VISITOR, VIP, None, 1000, YEAR).sticky
    assert memo.answer(SITE, VISITOR, VIP, token, 1000 + REISSUE_AFTER_S - 1, YEAR).sticky == token
    aged_at = 1000 + REISSUE_AFTER_S
    aged = memo.answer(SITE, VISITOR, VIP, token, aged_at, YEAR).sticky
    assert aged != token
    assert decode_sticky(SECRET, "site_1", VISITOR, aged, aged_at) == decode_sticky(
        SECRET, "site_1", VISITOR, token, 1000
    )


def test_changed_entries_get_a_fresh_token() -> None:
    memo = _memo()
    carried = {**decide(SITE, VISITOR, VIP, {}).sticky, "ended": DEFAULT_CONTROL}  # no longer on the site
    old = encode_sticky(SECRET, "site_1", VISITOR, carried, 1000)
    answer = memo.answer(SITE, VISITOR, VIP, old, 1001, YEAR)
    assert answer.sticky != old and not answer.sticky_ignored
    assert "ended" not in decode_sticky(SECRET, "site_1", VISITOR, answer.sticky, 1001)


def test_a_token_that_is_not_valid_is_ignored_and_replaced() -> None:
    memo = _memo()
    token = memo.answer(SITE, VISITOR, VIP, None, 1000, YEAR).sticky
    for bad in (token[:-2] + "AA", encode_sticky(SECRET, "site_2", VISITOR, {}, 1000), "garbage"):
        answer = memo.answer(SITE, VISITOR, VIP, bad, 1000, YEAR)
        assert answer.sticky_ignored and answer.sticky != bad
    assert memo.answer(SITE, "w" * 22, VIP, token, 1000, YEAR).sticky_ignored  # another visitor's


def test_a_remembered_answer_never_outlives_the_token_it_was_read_from() -> None:
    memo = _memo()
    token = memo.answer(SITE, VISITOR, VIP, None, 1000, 100).sticky
    assert memo.answer(SITE, VISITOR, VIP, token, 1050, 100).sticky == token
    expired = memo.answer(SITE, VISITOR, VIP, token, 1101, 100)
    assert expired.sticky_ignored and expired.sticky != token
    assert memo.read_token(VISITOR, token, 1101, max_age_s=100) is None


def test_answers_are_remembered_by_their_inputs_only() -> None:
    memo = _memo()
    vip = memo.answer(SITE, VISITOR, VIP, None, 1000, YEAR)
    anonymous = memo.answer(SITE, VISITOR, UNIDENTIFIED, None, 1000, YEAR)
    assert vip.decision == decide(SITE, VISITOR, VIP, {})
    assert anonymous.decision == decide(SITE, VISITOR, UNIDENTIFIED, {})
    assert anonymous.decision != vip.decision
    assert b'"variation_id":"b"' in vip.experiences and b'"reason":"rules_matched"' in vip.experiences


def test_visitors_with_the_same_decisions_share_one_encoded_list() -> None:
    memo = _memo()
    answers = [memo.answer(SITE, f"{n:022d}", UNIDENTIFIED, None, 1000, YEAR) for n in range(40)]
    by_decisions = {a.decision.decisions: a.experiences for a in answers}
    assert 1 < len(by_decisions) < len(answers)  # some visitors share decisions, not all
    for a in answers:
        assert a.experiences is by_decisions[a.decision.decisions]
