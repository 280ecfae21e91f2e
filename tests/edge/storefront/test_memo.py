from __future__ import annotations

import secrets

from edge.storefront.memo import REISSUE_AFTER_S, MemoTables, StorefrontMemo
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


def _memo(tables: MemoTables | None = None) -> StorefrontMemo:
    return StorefrontMemo(SITE, SECRET, "site_1", tables or MemoTables())


def test_a_returning_visitor_gets_the_same_answer_and_token_back() -> None:
    memo = _memo()
    first, ignored = memo.answer(VISITOR, VIP, None, 1000, YEAR)
    assert not ignored
    assert decode_sticky(SECRET, "site_1", VISITOR, first.sticky, 1000) == first.decision.sticky
    again, ignored = memo.answer(VISITOR, VIP, first.sticky, 1500, YEAR)
    assert again.sticky == first.sticky and not ignored
    assert again.decision == decide(SITE, VISITOR, VIP, first.decision.sticky)
    assert memo.answer(VISITOR, VIP, first.sticky, 1600, YEAR)[0] is again  # remembered


def test_a_token_is_sent_back_for_a_day_then_signed_afresh() -> None:
    memo = _memo()
    token = memo.answer(VISITOR, VIP, None, 1000, YEAR)[0].sticky
    assert memo.answer(VISITOR, VIP, token, 1000 + REISSUE_AFTER_S - 1, YEAR)[0].sticky == token
    aged_at = 1000 + REISSUE_AFTER_S
    aged = memo.answer(VISITOR, VIP, token, aged_at, YEAR)[0].sticky
    assert aged != token
    assert decode_sticky(SECRET, "site_1", VISITOR, aged, aged_at) == decode_sticky(
        SECRET, "site_1", VISITOR, token, 1000
    )


def test_changed_entries_get_a_fresh_token() -> None:
    memo = _memo()
    carried = {**decide(SITE, VISITOR, VIP, {}).sticky, "ended": DEFAULT_CONTROL}  # no longer on the site
    old = encode_sticky(SECRET, "site_1", VISITOR, carried, 1000)
    answer, ignored = memo.answer(VISITOR, VIP, old, 1001, YEAR)
    assert answer.sticky != old and not ignored
    assert "ended" not in decode_sticky(SECRET, "site_1", VISITOR, answer.sticky, 1001)


def test_a_token_that_is_not_valid_is_ignored_and_replaced() -> None:
    memo = _memo()
    token = memo.answer(VISITOR, VIP, None, 1000, YEAR)[0].sticky
    for bad in (token[:-2] + "AA", encode_sticky(SECRET, "site_2", VISITOR, {}, 1000), "garbage"):
        answer, ignored = memo.answer(VISITOR, VIP, bad, 1000, YEAR)
        assert ignored and answer.sticky != bad
        assert answer.decision == decide(SITE, VISITOR, VIP, {})  # decided afresh
    assert memo.answer("w" * 22, VIP, token, 1000, YEAR)[1]  # another visitor's


def test_tokens_that_do_not_verify_are_never_remembered() -> None:
    tables = MemoTables()
    memo = _memo(tables)
    for _ in range(200):
        junk = secrets.token_urlsafe(600)  # distinct each time, as a hostile client sends them
        assert memo.answer(VISITOR, UNIDENTIFIED, junk, 1000, YEAR)[1]
    assert len(tables.answers) == 0


def test_a_first_visit_leaves_nothing_behind() -> None:
    tables = MemoTables()
    memo = _memo(tables)
    for n in range(100):
        memo.answer(f"first-{n}", UNIDENTIFIED, None, 1000, YEAR)
    assert len(tables.answers) == 0


def test_every_sites_memo_shares_the_process_bound() -> None:
    tables = MemoTables(max_answers=50)
    memos = [StorefrontMemo(SITE, SECRET, f"site_{n}", tables) for n in range(10)]
    for memo in memos:
        for v in range(20):
            token = memo.answer(f"visitor-{v}", UNIDENTIFIED, None, 1000, YEAR)[0].sticky
            memo.answer(f"visitor-{v}", UNIDENTIFIED, token, 1001, YEAR)
    assert len(tables.answers) <= 50
    assert tables.answers.evicted >= 10 * 20 - 50


def test_a_replaced_memo_never_answers_for_the_new_one() -> None:
    tables = MemoTables()
    old = _memo(tables)
    token = old.answer(VISITOR, VIP, None, 1000, YEAR)[0].sticky
    remembered = old.answer(VISITOR, VIP, token, 1001, YEAR)[0]
    new_site = site(doc("exp"))  # the personalization was removed
    new = StorefrontMemo(new_site, SECRET, "site_1", tables)
    answer = new.answer(VISITOR, VIP, token, 1002, YEAR)[0]
    assert answer is not remembered
    assert answer.decision == decide(
        new_site, VISITOR, VIP, decode_sticky(SECRET, "site_1", VISITOR, token, 1002)
    )


def test_a_remembered_answer_never_outlives_the_token_it_was_read_from() -> None:
    memo = _memo()
    token = memo.answer(VISITOR, VIP, None, 1000, 100)[0].sticky
    assert memo.answer(VISITOR, VIP, token, 1050, 100)[0].sticky == token
    expired, ignored = memo.answer(VISITOR, VIP, token, 1101, 100)
    assert ignored and expired.sticky != token
    assert memo.read_token(VISITOR, token, 1101, max_age_s=100) is None


def test_answers_are_remembered_by_their_inputs_only() -> None:
    memo = _memo()
    vip = memo.answer(VISITOR, VIP, None, 1000, YEAR)[0]
    anonymous = memo.answer(VISITOR, UNIDENTIFIED, None, 1000, YEAR)[0]
    assert vip.decision == decide(SITE, VISITOR, VIP, {})
    assert anonymous.decision == decide(SITE, VISITOR, UNIDENTIFIED, {})
    assert anonymous.decision != vip.decision
    assert b'"variation_id":"b"' in vip.experiences and b'"reason":"rules_matched"' in vip.experiences


def test_visitors_with_the_same_decisions_share_one_encoded_list() -> None:
    memo = _memo()
    answers = [memo.answer(f"{n:022d}", UNIDENTIFIED, None, 1000, YEAR)[0] for n in range(40)]
    by_decisions = {a.decision.decisions: a.experiences for a in answers}
    assert 1 < len(by_decisions) < len(answers)  # some visitors share decisions, not all
    for a in answers:
        assert a.experiences is by_decisions[a.decision.decisions]
