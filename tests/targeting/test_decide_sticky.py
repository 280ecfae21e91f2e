"""decide() with sticky assignments: honoured while live and valid, carried while paused, else afresh."""

from __future__ import annotations

from targeting import (
    DEFAULT_CONTROL,
    EXCLUDED,
    Identity,
    Reason,
    StickyEntry,
    decide,
    decode_sticky,
    encode_sticky,
)
from tests.targeting.factories import doc, seg, site

VIP = Identity.identified({"vip"})
NOBODY = Identity.identified(())
SECRET = b"s" * 32
NOW = 1_760_000_000
HERO = doc("hero", rules=seg("vip"), variation_ids=("control", "b", "c"))


def _fresh_variation(visitor: str) -> str | None:
    return decide(site(HERO), visitor, VIP, {}).decisions[0].variation_id


def test_a_valid_entry_is_honoured_even_against_the_hash() -> None:
    other = "c" if _fresh_variation("visitor-1") != "c" else "b"
    result = decide(site(HERO), "visitor-1", VIP, {"hero": StickyEntry.entered(other)})
    decision = result.decisions[0]
    assert (decision.entered, decision.variation_id, decision.reason) == (True, other, Reason.STICKY)
    assert not decision.first_assignment
    assert result.sticky == {"hero": StickyEntry.entered(other)}


def test_an_entered_visitor_stays_when_rules_no_longer_match() -> None:
    decision = decide(site(HERO), "visitor-1", NOBODY, {"hero": StickyEntry.entered("b")}).decisions[0]
    assert (decision.entered, decision.variation_id, decision.reason) == (True, "b", Reason.STICKY)


def test_a_deleted_sticky_variation_is_decided_afresh_and_says_so() -> None:
    without_c = doc("hero", rules=seg("vip"), variation_ids=("control", "b"))
    result = decide(site(without_c), "visitor-1", VIP, {"hero": StickyEntry.entered("c")})
    decision = result.decisions[0]
    assert decision.reason is Reason.STICKY_VARIATION_REMOVED
    assert decision.entered and decision.variation_id in ("control", "b") and decision.first_assignment
    assert result.sticky == {"hero": StickyEntry.entered(decision.variation_id or "")}


def test_a_deleted_sticky_variation_for_a_non_matching_visitor_falls_back_to_the_default() -> None:
    result = decide(site(HERO), "visitor-1", NOBODY, {"hero": StickyEntry.entered("gone")})
    assert (result.decisions[0].variation_id, result.decisions[0].reason) == (
        "control",
        Reason.STICKY_VARIATION_REMOVED,
    )
    assert result.sticky == {"hero": DEFAULT_CONTROL}


def test_a_deleted_sticky_variation_under_a_deferring_audience_reports_deferred() -> None:
    adv = doc("hero", audiences=[{"rules": seg("vip"), "action": "defer"}])
    result = decide(site(adv), "v", VIP, {"hero": StickyEntry.entered("gone")})
    assert (result.decisions[0].variation_id, result.decisions[0].reason) == (None, Reason.DEFERRED)
    assert result.sticky == {}


def test_paused_experiences_are_not_decided_but_their_entries_are_carried_forward() -> None:
    entries = {"hero": StickyEntry.entered("c"), "cart": EXCLUDED}
    paused = site(doc("hero", status="paused", variation_ids=("control", "b", "c")), doc("cart"))
    result = decide(paused, "visitor-1", VIP, entries)
    assert [d.experience_id for d in result.decisions] == ["cart"]
    assert result.sticky["hero"] == StickyEntry.entered("c")
    # Resumed: the visitor is where they were.
    resumed = decide(site(HERO, doc("cart")), "visitor-1", NOBODY, result.sticky).decisions[0]
    assert (resumed.variation_id, resumed.reason) == ("c", Reason.STICKY)


def test_draft_experiences_entries_are_carried_forward_too() -> None:
    drafted = site(doc("hero", status="draft"))
    assert decide(drafted, "v", VIP, {"hero": DEFAULT_CONTROL}).sticky == {"hero": DEFAULT_CONTROL}


def test_entries_of_ended_and_unknown_experiences_are_dropped() -> None:
    compiled = site(doc("hero", status="ended"), doc("cart"))
    result = decide(compiled, "v", VIP, {"hero": StickyEntry.entered("b"), "deleted": DEFAULT_CONTROL})
    assert set(result.sticky) == {"cart"}


def test_an_ended_experience_resumed_live_decides_afresh_without_its_old_entry() -> None:
    ended = decide(site(doc("hero", status="ended")), "v", VIP, {"hero": StickyEntry.entered("b")})
    assert ended.sticky == {}


def _round_trip(visitor: str, token_visitor: str, site_id: str, tamper: bool) -> Reason:
    first = decide(site(HERO), token_visitor, VIP, {"hero": StickyEntry.entered("c")})
    token = encode_sticky(SECRET, site_id, token_visitor, first.sticky, NOW)
    if tamper:
        token = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    entries = decode_sticky(SECRET, "site-1", visitor, token, NOW + 10)
    return decide(site(HERO), visitor, VIP, entries).decisions[0].reason


def test_a_valid_token_round_trip_is_honoured() -> None:
    assert _round_trip("visitor-1", "visitor-1", "site-1", tamper=False) is Reason.STICKY


def test_a_tampered_token_is_ignored_and_the_visitor_decided_afresh() -> None:
    assert _round_trip("visitor-1", "visitor-1", "site-1", tamper=True) is Reason.RULES_MATCHED


def test_a_foreign_site_token_is_ignored() -> None:
    assert _round_trip("visitor-1", "visitor-1", "site-2", tamper=False) is Reason.RULES_MATCHED


def test_a_visitor_cannot_pick_a_variation_with_someone_elses_token() -> None:
    assert _round_trip("visitor-2", "visitor-1", "site-1", tamper=False) is Reason.RULES_MATCHED


def test_an_expired_token_is_ignored() -> None:
    token = encode_sticky(SECRET, "site-1", "v", {"hero": StickyEntry.entered("c")}, NOW)
    assert decode_sticky(SECRET, "site-1", "v", token, NOW + 401 * 86400) == {}
