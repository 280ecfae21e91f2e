"""Sticky tokens: signed, bound to site and visitor, small, and ignored (never raising) when bad."""

from __future__ import annotations

import base64
import hmac
import re

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targeting import (
    DEFAULT_CONTROL,
    EXCLUDED,
    StickyEntry,
    StickyOutcome,
    StickySigner,
    decode_sticky,
    encode_sticky,
    pack_entries,
)
from targeting.sticky import MAX_ENTRIES, MAX_TOKEN_CHARS, TAG_BYTES

NOW = 1_760_000_000
DAY = 86_400
TODAY = NOW // 86_400
ENTRIES = {"hero": StickyEntry.entered("b", TODAY), "cart": DEFAULT_CONTROL, "vip-only": EXCLUDED}


def token(
    secret: bytes,
    entries: dict[str, StickyEntry] = ENTRIES,
    *,
    site_id: str = "site-1",
    visitor_id: str = "visitor-1",
    now: int = NOW,
) -> str:
    return encode_sticky(secret, site_id, visitor_id, entries, now)


def decode(secret: bytes, text: str | None, *, now: int = NOW + 60) -> dict[str, StickyEntry]:
    return decode_sticky(secret, "site-1", "visitor-1", text, now)


def test_round_trip(secret: bytes) -> None:
    assert decode(secret, token(secret)) == ENTRIES


def test_empty_entries_round_trip(secret: bytes) -> None:
    assert decode(secret, token(secret, {})) == {}
    assert len(token(secret, {})) < 40


def test_token_uses_only_cookie_safe_characters(secret: bytes) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token(secret))


def test_token_for_ten_entries_is_small(secret: bytes) -> None:
    ten = {f"exp-{i:02d}": StickyEntry.entered(f"var-{i}", TODAY) for i in range(10)}
    text = token(secret, ten)
    assert len(text) <= 300  # about 26 characters per entry (ids, day) plus 30 of header and tag
    assert decode(secret, text) == ten


def test_tag_is_a_truncated_hmac_sha256_of_at_least_128_bits(secret: bytes) -> None:
    text = token(secret)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    binding = msgspec.msgpack.encode(("site-1", "visitor-1"))
    full = hmac.new(secret, binding + raw[:-TAG_BYTES], "sha256").digest()
    assert TAG_BYTES >= 16
    assert raw[-TAG_BYTES:] == full[:TAG_BYTES]


def test_verification_is_constant_time(secret: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert decode(secret, token(secret)) == ENTRIES
    assert len(calls) == 1


def _flip(text: str, index: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    swapped = alphabet[(alphabet.index(text[index]) + 1) % 64]
    return text[:index] + swapped + text[index + 1 :]


def test_every_single_character_change_is_ignored(secret: bytes) -> None:
    text = token(secret)
    for index in range(len(text) - 1):  # the last character may carry unused padding bits
        assert decode(secret, _flip(text, index)) == {}, index


def test_a_truncated_token_is_ignored(secret: bytes) -> None:
    text = token(secret)
    for cut in range(len(text)):
        assert decode(secret, text[:cut]) == {}


def test_an_extended_token_is_ignored(secret: bytes) -> None:
    assert decode(secret, token(secret) + "AAAA") == {}


def test_a_token_of_another_site_is_ignored(secret: bytes) -> None:
    assert decode(secret, token(secret, site_id="site-2")) == {}


def test_a_token_of_another_visitor_is_ignored(secret: bytes) -> None:
    assert decode(secret, token(secret, visitor_id="someone-else")) == {}


def test_a_token_signed_with_another_secret_is_ignored(secret: bytes) -> None:
    assert decode(secret, token(b"another secret of 32 bytes long!")) == {}


def test_an_expired_token_is_ignored(secret: bytes) -> None:
    text = token(secret)
    assert decode(secret, text, now=NOW + 400 * DAY) == ENTRIES
    assert decode(secret, text, now=NOW + 400 * DAY + 1) == {}
    assert decode_sticky(secret, "site-1", "visitor-1", text, NOW + 31 * DAY, max_age_s=30 * DAY) == {}


def test_a_token_from_the_future_is_ignored_beyond_clock_skew(secret: bytes) -> None:
    text = token(secret, now=NOW + 10_000)
    assert decode(secret, text, now=NOW) == {}
    assert decode(secret, token(secret, now=NOW + 200), now=NOW) == ENTRIES


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "!",
        "a",
        "ab",
        "not a token",
        "====",
        "a" * (MAX_TOKEN_CHARS + 1),
        "\u00e9" * 30,
        "AAAA" * 20,
    ],
)
def test_garbage_is_ignored(secret: bytes, garbage: str | None) -> None:
    assert decode(secret, garbage) == {}


def test_a_non_canonical_spelling_is_ignored(secret: bytes) -> None:
    text = token(secret)
    candidates = (token(secret, {"hero": StickyEntry.entered("b" * n)}) for n in range(1, 5))
    text = text if len(text) % 4 else next(t for t in candidates if len(t) % 4)
    assert len(text) % 4 in (2, 3)
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(text[-1])
    sibling = text[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]
    assert decode(secret, text) != {}
    assert decode(secret, sibling) == {}


def _signed(secret: bytes, payload: object) -> str:
    body = msgspec.msgpack.encode(payload)
    binding = msgspec.msgpack.encode(("site-1", "visitor-1"))
    tag = hmac.new(secret, binding + body, "sha256").digest()[:TAG_BYTES]
    return base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "payload",
    [
        (3, NOW, {}),  # unknown format
        (2, NOW, {"hero": "b"}),  # format 2 has no bare variation
        (1, NOW, {"hero": ["b", 1]}),  # format 1 has no cohort
        (2, NOW, {"hero": ["b"]}),  # no day
        (2, NOW, {"hero": ["b", -1]}),  # negative day
        (2, NOW, {"hero": [1, 1]}),  # the variation is not a string
        (2, NOW, {"hero": ["b", 1, 128]}),  # audience out of range
        (2, NOW, {"hero": ["b", 1, "x"]}),  # audience not a number
        (2, NOW, {"hero": ["b", 1, 0, 2]}),  # unknown mark
        (2, NOW, {"hero": ["b", 1, 0, 1, 1]}),  # too long
        (2, NOW, {"hero": ["b c", 1]}),  # unsafe variation id
        (1, NOW, {"hero": 3}),  # unknown outcome code
        (1, NOW, {"hero": ""}),  # empty variation id
        (1, NOW, {"bad id": "b"}),  # unsafe experience id
        (1, NOW, {"hero": True}),  # wrong type
        (1, "now", {}),  # wrong type
        [1, NOW],  # wrong shape
        (1, NOW, {f"e{i}": 1 for i in range(MAX_ENTRIES + 1)}),  # too many entries
    ],
)
def test_a_correctly_signed_but_malformed_payload_is_ignored(secret: bytes, payload: object) -> None:
    assert decode(secret, _signed(secret, payload)) == {}


def test_a_correctly_signed_well_formed_payload_is_accepted(secret: bytes) -> None:
    assert decode(
        secret, _signed(secret, (2, NOW, {"hero": ["b", 7, 3], "cart": 1, "p": ["x", 9, -1, 1]}))
    ) == {
        "hero": StickyEntry.entered("b", 7, 3),
        "cart": DEFAULT_CONTROL,
        "p": StickyEntry.counted("x", 9),
    }


def test_a_format_1_token_still_reads_entered_on_its_issue_day_through_custom_rules(secret: bytes) -> None:
    issued = NOW - 3 * DAY
    old = _signed(secret, (1, issued, {"hero": "b", "cart": 1, "gone": 2}))
    assert decode(secret, old) == {
        "hero": StickyEntry.entered("b", issued // DAY, None),
        "cart": DEFAULT_CONTROL,
        "gone": EXCLUDED,
    }


def test_an_entry_without_a_day_is_written_with_the_day_of_issue(secret: bytes) -> None:
    entries = {"t": StickyEntry.entered("b", None, 4), "p": StickyEntry.counted("c")}
    assert decode(secret, token(secret, entries)) == {
        "t": StickyEntry.entered("b", TODAY, 4),
        "p": StickyEntry.counted("c", TODAY, None),
    }


def test_a_cohort_costs_a_few_bytes_per_entry(secret: bytes) -> None:
    bare = _signed(secret, (1, NOW, {f"exp-{i:02d}": f"var-{i}" for i in range(10)}))
    cohorts = {f"exp-{i:02d}": StickyEntry.entered(f"var-{i}", TODAY, i % 3 or None) for i in range(10)}
    assert len(token(secret, cohorts)) - len(bare) <= 10 * 8  # day (3 bytes), list, audience


def test_an_empty_secret_never_verifies_and_cannot_sign(secret: bytes) -> None:
    assert decode(b"", token(secret)) == {}
    with pytest.raises(ValueError):
        encode_sticky(b"", "site-1", "visitor-1", ENTRIES, NOW)


def test_the_largest_token_encode_makes_still_decodes(secret: bytes) -> None:
    entries = {
        f"{i:03d}".ljust(64, "e"): StickyEntry.counted("v" * 64, 2**31, 127) for i in range(MAX_ENTRIES)
    }
    assert decode(secret, token(secret, entries)) == entries
    with pytest.raises(ValueError):
        token(secret, {**entries, "one-more": DEFAULT_CONTROL})


def test_entry_invariants() -> None:
    assert StickyEntry.entered("b").outcome is StickyOutcome.ENTERED
    with pytest.raises(ValueError):
        StickyEntry(StickyOutcome.ENTERED)
    with pytest.raises(ValueError):
        StickyEntry(StickyOutcome.EXCLUDED, "b")
    with pytest.raises(ValueError):
        StickyEntry(StickyOutcome.DEFAULT_CONTROL, None, 3)
    with pytest.raises(ValueError):
        StickyEntry.entered("b", 3, 128)


@settings(max_examples=300)
@given(text=st.one_of(st.none(), st.text(max_size=200), st.text("AQZaqz09-_", max_size=120)))
def test_decode_never_raises(text: str | None) -> None:
    assert decode_sticky(b"k" * 32, "site-1", "visitor-1", text, NOW) == {}


ids = st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True)
days = st.integers(0, 2**32)
audiences = st.one_of(st.none(), st.integers(0, 127))
entries = st.dictionaries(
    ids,
    st.one_of(
        st.just(DEFAULT_CONTROL),
        st.just(EXCLUDED),
        st.builds(StickyEntry.entered, ids, days, audiences),
        st.builds(StickyEntry.counted, ids, days, audiences),
    ),
    max_size=12,
)


@settings(max_examples=150)
@given(entries=entries, visitor=st.text(max_size=40), now=st.integers(0, 2**40))
def test_round_trip_property(entries: dict[str, StickyEntry], visitor: str, now: int) -> None:
    text = encode_sticky(b"k" * 32, "site-1", visitor, entries, now)
    assert decode_sticky(b"k" * 32, "site-1", visitor, text, now) == entries


@settings(max_examples=150)
@given(
    entries=entries,
    visitor=st.text(max_size=40),
    site_id=st.text(max_size=40),
    secret=st.binary(min_size=1, max_size=100),
    now=st.integers(0, 2**40),
)
def test_a_signer_signs_what_encode_sticky_makes(
    entries: dict[str, StickyEntry], visitor: str, site_id: str, secret: bytes, now: int
) -> None:
    signer = StickySigner(secret, site_id)  # the storefront's: the entries packed once, shared
    packed = pack_entries(entries, now // DAY)
    assert signer.sign(visitor, packed, now) == encode_sticky(secret, site_id, visitor, entries, now)
    assert signer.sign(visitor, packed, now) == signer.sign(visitor, packed, now)  # states not consumed


def test_a_signer_needs_a_secret_and_packing_keeps_the_entry_bound() -> None:
    with pytest.raises(ValueError, match="secret"):
        StickySigner(b"", "site-1")
    too_many = {f"e{i}": DEFAULT_CONTROL for i in range(MAX_ENTRIES + 1)}
    with pytest.raises(ValueError, match="at most"):
        pack_entries(too_many, TODAY)
