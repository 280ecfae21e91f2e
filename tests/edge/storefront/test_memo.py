from __future__ import annotations

import secrets
from collections.abc import Callable

from msgspec.structs import replace

from edge.storefront.memo import REISSUE_AFTER_S, MemoTables, StorefrontMemo
from targeting import (
    DEFAULT_CONTROL,
    PENDING,
    UNIDENTIFIED,
    CompiledSite,
    Identity,
    SiteDecision,
    Visit,
    decide,
    decode_sticky,
    encode_sticky,
)
from tests.targeting.conditions import cond
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
    carried = decode_sticky(SECRET, "site_1", VISITOR, first.sticky, 1000)
    # The token writes the day of issue into entered (and counted) entries: results' cohort.
    assert carried == {
        k: replace(v, day=0) if v.variation_id else v for k, v in first.decision.sticky.items()
    }
    again, ignored = memo.answer(VISITOR, VIP, first.sticky, 1500, YEAR)
    assert again.sticky == first.sticky and not ignored
    assert again.decision == decide(SITE, VISITOR, VIP, carried)
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


# First visits share one answer per (identity's DrawPlan, the rows the visitor's hashes pick):
# each must be exactly what deciding afresh and signing gives that visitor.
DRAWS_SITE = site(
    doc("half", traffic_percent=50, variation_ids=("control", "b", "c")),
    doc("vip", type="personalization", rules={"any": [seg("VIP")]}, traffic_percent=70),
    doc("wholesale", rules={"all": [seg("Wholesale")]}, variation_ids=("control", "bulk")),
    doc(
        "advanced",
        audiences=[
            {"rules": {"any": [seg("VIP")]}, "action": "random"},
            {"rules": {"any": [seg("Wholesale")]}, "action": "exclude"},
        ],
    ),
    doc("weekly", type="personalization", mode="temporary", evaluate_every_days=7, traffic_percent=60),
)
GROUPS_SITE = site(
    doc("g1", exclusion_group="checkout", exclusion_weight=1),
    doc("g2", exclusion_group="checkout", exclusion_weight=1),
    doc("free", type="personalization", rules={"any": [seg("VIP")]}),
)
IDENTITIES = (UNIDENTIFIED, VIP, Identity.identified(frozenset({"Wholesale"})), PENDING)


def _fresh(compiled: CompiledSite, visitor: str, identity: Identity, now: int) -> tuple[SiteDecision, str]:
    decision = decide(compiled, visitor, identity, {}, now=now)
    return decision, encode_sticky(SECRET, "site_1", visitor, decision.sticky, now)


def test_first_visits_answer_what_deciding_afresh_gives() -> None:
    for compiled in (DRAWS_SITE, GROUPS_SITE):
        tables = MemoTables()
        memo = StorefrontMemo(compiled, SECRET, "site_1", tables)
        for now in (1000, 1000 + 7 * 86_400, 1000 + 30 * 86_400):  # other days, other weekly periods
            for identity in IDENTITIES:
                for n in range(150):
                    visitor = f"visitor-{n}"
                    answer, ignored = memo.answer(visitor, identity, None, now, YEAR)
                    decision, token = _fresh(compiled, visitor, identity, now)
                    assert not ignored
                    assert answer.decision == decision
                    assert answer.sticky == token
                    assert answer.experiences == b",".join(memo.fragment(d) for d in decision.decisions)
                    assert answer.good_until == now + REISSUE_AFTER_S
        assert len(tables.answers) == 0  # still nothing remembered per visitor
        assert 0 < len(tables.firsts) < 4 * 3 * 150  # shared by visitors who pick alike


# An exclusion-group site whose first visits go through the shared answers: mixed weights,
# traffic under 100, targeting that matches (segments and a visit condition), a second group,
# a personalization and a test outside the groups.
MIXED_GROUPS_SITE = site(
    doc(
        "ga",
        exclusion_group="home",
        exclusion_weight=1,
        traffic_percent=70,
        variation_ids=("control", "b", "c"),
    ),
    doc("gb", exclusion_group="home", exclusion_weight=3, rules={"any": [seg("VIP")]}, traffic_percent=40),
    doc(
        "gc",
        exclusion_group="home",
        exclusion_weight=2,
        rules={"all": [cond("url", "contains", "sale")]},
        traffic_percent=90,
    ),
    doc(
        "gd",
        exclusion_group="cart",
        exclusion_weight=5,
        audiences=[
            {"rules": {"any": [seg("VIP")]}, "action": "random"},
            {"rules": {"any": [seg("Wholesale")]}, "action": "exclude"},
        ],
        traffic_percent=80,
    ),
    doc("ge", exclusion_group="cart", exclusion_weight=2, traffic_percent=30),
    doc("solo", traffic_percent=50),
    doc("vip", type="personalization", rules={"any": [seg("VIP")]}, traffic_percent=60),
    doc("weekly", type="personalization", mode="temporary", evaluate_every_days=7, traffic_percent=60),
)


def _random_visitor_ids(count: int) -> list[str]:
    import random
    import string

    rng = random.Random(20261203)
    alphabet = string.ascii_letters + string.digits + "-_é訪\U0001f600"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def test_first_visits_to_an_exclusion_group_site_share_answers_equal_to_deciding_afresh() -> None:
    tables = MemoTables()
    memo = StorefrontMemo(MIXED_GROUPS_SITE, SECRET, "site_1", tables)
    sale = Visit.from_request_fields(url="https://s.example/sale")
    visitors = _random_visitor_ids(5000)
    cases = [
        (VIP, sale, 1000),
        (VIP, sale, 1000 + 8 * 86_400),
        (UNIDENTIFIED, Visit.from_request_fields(), 1000),
    ]
    for identity, visit, now in cases:
        given: set[str] = set()
        for visitor in visitors:
            answer, ignored = memo.answer(visitor, identity, None, now, YEAR, visit)
            decision = decide(MIXED_GROUPS_SITE, visitor, identity, {}, visit=visit, now=now)
            assert not ignored
            assert answer.decision == decision
            assert answer.sticky == encode_sticky(SECRET, "site_1", visitor, decision.sticky, now)
            assert answer.experiences == b",".join(memo.fragment(d) for d in decision.decisions)
            given.update(d.experience_id for d in decision.decisions if d.entered)
        if identity is VIP:  # every test of each group was entered by someone
            assert {"ga", "gb", "gc", "gd", "ge"} <= given
    assert len(tables.answers) == 0
    # The shared path was taken: one shared answer per (plan, picks), far fewer than visits.
    assert 0 < len(tables.firsts) < len(cases) * len(visitors) // 5


def test_a_shared_first_answer_packs_its_entries_again_on_a_new_day() -> None:
    memo = StorefrontMemo(site(doc("everyone")), SECRET, "site_1", MemoTables())
    visitors = [f"visitor-{n}" for n in range(20)]
    for now in (1000, 1000 + 86_400, 1000 + 3 * 86_400):
        for visitor in visitors:
            token = memo.answer(visitor, UNIDENTIFIED, None, now, YEAR)[0].sticky
            (entry,) = decode_sticky(SECRET, "site_1", visitor, token, now).values()
            assert entry.day == now // 86_400  # the day it was issued, not the day first shared


def test_a_configuration_change_is_seen_by_the_next_first_visit() -> None:
    tables = MemoTables()
    old = StorefrontMemo(DRAWS_SITE, SECRET, "site_1", tables)
    for n in range(50):
        old.answer(f"visitor-{n}", VIP, None, 1000, YEAR)
    changed = site(doc("half", traffic_percent=100, variation_ids=("control", "b", "c")), doc("new"))
    new = StorefrontMemo(changed, SECRET, "site_1", tables)  # what a config change installs
    for n in range(50):
        visitor = f"visitor-{n}"
        answer = new.answer(visitor, VIP, None, 1001, YEAR)[0]
        assert answer.decision == decide(changed, visitor, VIP, {}, now=1001)
        assert [d.experience_id for d in answer.decision.decisions] == ["half", "new"]


def test_a_remembered_visit_is_not_built_again_but_a_changed_one_is() -> None:
    compiled = site(doc("sale", type="personalization", rules={"all": [cond("url", "contains", "sale")]}))
    memo = StorefrontMemo(compiled, SECRET, "site_1", MemoTables())
    built: list[str] = []

    def visit_of(url: str) -> Callable[[], Visit]:
        def build() -> Visit:
            built.append(url)
            return Visit.from_request_fields(url=url)

        return build

    token = memo.answer(VISITOR, VIP, None, 1000, YEAR, visit_of("https://s.example/sale"))[0].sticky
    sale = memo.answer(VISITOR, VIP, token, 1001, YEAR, visit_of("https://s.example/sale"), digest=b"a")[0]
    assert built == ["https://s.example/sale"] * 2
    assert memo.answer(VISITOR, VIP, token, 1002, YEAR, visit_of("unused"), digest=b"a")[0] is sale
    assert built == ["https://s.example/sale"] * 2  # the digest stood for the visit
    other = memo.answer(VISITOR, VIP, token, 1003, YEAR, visit_of("https://s.example/x"), digest=b"b")[0]
    assert other.decision != sale.decision
    assert memo.answer(VISITOR, VIP, token, 1004, YEAR, visit_of("unused"), digest=b"b")[0] is other
    # A token that does not verify is never remembered with its digest.
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    memo.answer(VISITOR, VIP, forged, 1005, YEAR, visit_of("https://s.example/sale"), digest=b"a")
    memo.answer(VISITOR, VIP, forged, 1006, YEAR, visit_of("https://s.example/sale"), digest=b"a")
    assert built[-2:] == ["https://s.example/sale"] * 2
