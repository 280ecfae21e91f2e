"""Sticky assignments and the signed token a browser carries them in.

Only tests stick: a `custom` test's default control, an entered variation, an `advanced`
`exclude`. Personalizations are re-evaluated every visit and an `advanced` `defer` never sticks;
a personalization only leaves a `counted` mark (the visitor was counted in its results, with the
variation they saw then), which attributes later orders and is never a decision.

Token: ``base64url(payload || tag)`` without padding, so cookie-safe (``A-Z a-z 0-9 - _``).

- ``payload`` (format 2) = msgpack ``[2, issued_at, {experience_id: value}]``, value one of
  ``1`` (default control), ``2`` (excluded), ``[variation_id, day]`` or
  ``[variation_id, day, audience]`` (entered), ``[variation_id, day, audience, 1]`` (counted);
  ``day`` is the UTC day the visitor entered (days since 1970-01-01), ``audience`` the index of
  the advanced audience that admitted them, ``-1`` (or absent) for custom rules. The cohort
  (day, audience) is what results count a visitor under, so later orders land in the same cell.
- format 1 (still read) = ``[1, issued_at, {experience_id: variation_id | 1 | 2}]``; its entered
  entries read as entered on the token's issue day, through custom rules.
- ``tag`` = the first 16 bytes (128 bits) of HMAC-SHA256 under the site's secret over
  ``msgpack([site_id, visitor_id]) || payload``. Binding the site stops a token from one site
  working on another; binding the visitor id stops a visitor copying someone else's token to
  pick a variation.

An entry made by `decide` has no day yet (``day`` None: "entered now"): `encode_sticky` writes the
day of its `now`, so the prebuilt outcomes need no per-visitor allocation.

`decode_sticky` never raises: a missing, oversized, garbled, truncated, tampered, foreign-site,
other-visitor, wrong-secret, future or expired token decodes to ``{}`` and the visitor is decided
afresh. Every answer re-issues the token, so the maximum age slides with each visit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Final

import msgspec

FORMAT: Final = 2
DAY_S: Final = 86_400
TAG_BYTES: Final = 16
MAX_ENTRIES: Final = 128
# Room for MAX_ENTRIES entries with 64-character ids and a cohort, so every token encode_sticky
# makes decodes.
MAX_TOKEN_CHARS: Final = 25_000
MAX_AUDIENCES: Final = 128  # an audience index in a token is below this
DEFAULT_MAX_AGE_S: Final = 400 * 86400
CLOCK_SKEW_S: Final = 300
_TOKEN_TEXT: Final = re.compile(r"[A-Za-z0-9_-]+")
_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")  # base64 -> base64url
_DEFAULT_CONTROL: Final = 1
_EXCLUDED: Final = 2
_COUNTED_MARK: Final = 1
_CUSTOM: Final = -1


class StickyOutcome(StrEnum):
    ENTERED = "entered"
    DEFAULT_CONTROL = "default_control"
    EXCLUDED = "excluded"
    COUNTED = "counted"  # personalizations: counted in results (not a decision)


class StickyEntry(msgspec.Struct, frozen=True, gc=False):
    """What a visitor carries for one experience: the outcome, the variation when entered (or
    seen when counted), and the cohort: `day` they entered (None: today, until encoded) and the
    `audience` index that admitted them (None: custom rules)."""

    outcome: StickyOutcome
    variation_id: str | None = None
    day: int | None = None
    audience: int | None = None

    def __post_init__(self) -> None:
        with_variation = self.outcome in (StickyOutcome.ENTERED, StickyOutcome.COUNTED)
        if with_variation != (self.variation_id is not None):
            raise ValueError("a variation_id is given exactly when the outcome is entered or counted")
        if not with_variation and (self.day is not None or self.audience is not None):
            raise ValueError("only entered and counted entries have a cohort")
        if self.audience is not None and not 0 <= self.audience < MAX_AUDIENCES:
            raise ValueError(f"an audience index is 0-{MAX_AUDIENCES - 1}")

    @classmethod
    def entered(cls, variation_id: str, day: int | None = None, audience: int | None = None) -> StickyEntry:
        return cls(StickyOutcome.ENTERED, variation_id, day, audience)

    @classmethod
    def counted(cls, variation_id: str, day: int | None = None, audience: int | None = None) -> StickyEntry:
        return cls(StickyOutcome.COUNTED, variation_id, day, audience)

    @property
    def attributes(self) -> bool:
        """Whether orders are attributed to this entry's variation (entered or counted)."""
        return self.variation_id is not None


DEFAULT_CONTROL: Final = StickyEntry(StickyOutcome.DEFAULT_CONTROL)
EXCLUDED: Final = StickyEntry(StickyOutcome.EXCLUDED)

_Codes = Annotated[int, msgspec.Meta(ge=_DEFAULT_CONTROL, le=_EXCLUDED)]
_Cohort = Annotated[list[str | int], msgspec.Meta(min_length=2, max_length=4)]
_Payload = tuple[int, int, Annotated[dict[str, str | _Codes | _Cohort], msgspec.Meta(max_length=MAX_ENTRIES)]]
_decoder: Final = msgspec.msgpack.Decoder(_Payload)
# The MAC already vouches for the ids; checking them anyway (SAFE_ID) is depth, kept cheap.
_ID_TEXT: Final = re.compile(r"[A-Za-z0-9_.:-]+")


_HMAC_BLOCK: Final = 64  # SHA-256's block size
_IPAD: Final = bytes.maketrans(bytes(range(256)), bytes(b ^ 0x36 for b in range(256)))
_OPAD: Final = bytes.maketrans(bytes(range(256)), bytes(b ^ 0x5C for b in range(256)))
_MAX_KEYED: Final = 1024
_keyed: dict[bytes, tuple[hashlib._Hash, hashlib._Hash]] = {}


def _keyed_hashes(secret: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after HMAC's inner and outer padded keys (RFC 2104), kept per secret.

    `hmac.digest` derives both pads and hashes them on every call; continuing copies of the two
    states gives the same bytes for well under half the CPU. At most `_MAX_KEYED` secrets are
    kept (a process serves that many sites at a time, or pays the derivation again)."""
    keyed = _keyed.get(secret)
    if keyed is None:
        key = hashlib.sha256(secret).digest() if len(secret) > _HMAC_BLOCK else secret
        key = key.ljust(_HMAC_BLOCK, b"\0")
        if len(_keyed) >= _MAX_KEYED:
            _keyed.clear()
        keyed = _keyed[secret] = (
            hashlib.sha256(key.translate(_IPAD)),
            hashlib.sha256(key.translate(_OPAD)),
        )
    return keyed


def hmac_sha256(secret: bytes, message: bytes) -> bytes:
    """`hmac.digest(secret, message, "sha256")`, from the secret's kept pad states."""
    inner, outer = _keyed_hashes(secret)
    first = inner.copy()
    first.update(message)
    second = outer.copy()
    second.update(first.digest())
    return second.digest()


def _tag(secret: bytes, site_id: str, visitor_id: str, payload: bytes) -> bytes:
    binding = msgspec.msgpack.encode((site_id, visitor_id))
    return hmac_sha256(secret, binding + payload)[:TAG_BYTES]


def _safe_ids(ids: list[str]) -> bool:
    """Every id is 1-64 characters of SAFE_ID's alphabet (one regex call for all of them)."""
    if not ids:
        return True
    return all(0 < len(i) <= 64 for i in ids) and _ID_TEXT.fullmatch("".join(ids)) is not None


def encode_sticky(
    secret: bytes, site_id: str, visitor_id: str, entries: Mapping[str, StickyEntry], now: int
) -> str:
    """Sign `entries` for this site and visitor, issued at `now` (unix seconds)."""
    if not secret:
        raise ValueError("a sticky token needs a non-empty secret")
    payload = _PAYLOAD_HEAD + msgspec.msgpack.encode(now) + pack_entries(entries, now // DAY_S)
    raw = payload + _tag(secret, site_id, visitor_id, payload)
    return _b64url(raw)


# `msgpack([FORMAT, now, packed])` is this head, then `now`, then `packed`, each encoded alone.
_PAYLOAD_HEAD: Final = b"\x93" + msgspec.msgpack.encode(FORMAT)


def pack_entries(entries: Mapping[str, StickyEntry], today: int) -> bytes:
    """The token payload's entry map (msgpack), as `encode_sticky` writes it on day `today`
    (days since 1970-01-01): the same entries on the same day pack to the same bytes."""
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"a sticky token carries at most {MAX_ENTRIES} entries")
    packed: dict[str, int | list[str | int]] = {}
    for experience_id in sorted(entries):
        entry = entries[experience_id]
        if entry.variation_id is not None:
            cohort: list[str | int] = [entry.variation_id, today if entry.day is None else entry.day]
            if entry.outcome is StickyOutcome.COUNTED:
                cohort += [_CUSTOM if entry.audience is None else entry.audience, _COUNTED_MARK]
            elif entry.audience is not None:
                cohort.append(entry.audience)
            packed[experience_id] = cohort
        else:
            packed[experience_id] = _EXCLUDED if entry.outcome is StickyOutcome.EXCLUDED else _DEFAULT_CONTROL
    return msgspec.msgpack.encode(packed)


class StickySigner:
    """`encode_sticky` for one site, from entries packed beforehand (`pack_entries`).

    `sign(visitor_id, pack_entries(entries, now // DAY_S), now)` is exactly
    `encode_sticky(secret, site_id, visitor_id, entries, now)`. The HMAC's inner state is kept
    past the padded key and the site's part of the binding, so a token costs the visitor id,
    the payload and the two digests: with the packed entries kept too (the storefront's first
    visits share a few entry maps), measured at 1.2 µs a token against encode_sticky's 2.6 µs
    (bench.assign's site, 6 entries)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes, site_id: str) -> None:
        if not secret:
            raise ValueError("a sticky token needs a non-empty secret")
        inner, outer = _keyed_hashes(secret)
        self._inner = inner.copy()
        # The binding is msgpack([site_id, visitor_id]): a 2-array head, then each string.
        self._inner.update(b"\x92" + msgspec.msgpack.encode(site_id))
        self._outer = outer.copy()

    def sign(self, visitor_id: str, packed: bytes, now: int) -> str:
        payload = _PAYLOAD_HEAD + msgspec.msgpack.encode(now) + packed
        first = self._inner.copy()
        first.update(msgspec.msgpack.encode(visitor_id) + payload)
        second = self._outer.copy()
        second.update(first.digest())
        return _b64url(payload + second.digest()[:TAG_BYTES])


def _b64url(raw: bytes) -> str:
    """base64url without padding (`base64.urlsafe_b64encode(raw).rstrip(b"=")`, as text)."""
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def decode_sticky(
    secret: bytes,
    site_id: str,
    visitor_id: str,
    token: str | None,
    now: int,
    max_age_s: int = DEFAULT_MAX_AGE_S,
) -> dict[str, StickyEntry]:
    """The entries of a valid token, or `{}` for any problem at all (never raises)."""
    read = read_sticky(secret, site_id, visitor_id, token, now, max_age_s)
    return {} if read is None else read[0]


def token_is_current(issued_at: int, now: int, max_age_s: int = DEFAULT_MAX_AGE_S) -> bool:
    """Whether a token issued at `issued_at` is neither expired nor from the future at `now`."""
    return now - max_age_s <= issued_at <= now + CLOCK_SKEW_S


def read_sticky(
    secret: bytes,
    site_id: str,
    visitor_id: str,
    token: str | None,
    now: int,
    max_age_s: int = DEFAULT_MAX_AGE_S,
) -> tuple[dict[str, StickyEntry], int] | None:
    """`decode_sticky` with the token's issue time: `(entries, issued_at)`, or None for any
    problem at all (never raises). Callers that cache verified tokens need the issue time to
    expire them, and to re-issue a token only once it has aged."""
    if not secret or not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        return None
    if not _TOKEN_TEXT.fullmatch(token) or len(token) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if _b64url(raw) != token:
        return None  # non-canonical trailing bits: one token, one spelling
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if len(raw) <= TAG_BYTES or not hmac.compare_digest(tag, _tag(secret, site_id, visitor_id, payload)):
        return None
    try:
        version, issued_at, packed = _decoder.decode(payload)
    except msgspec.DecodeError:
        return None
    if version not in (1, FORMAT) or not token_is_current(issued_at, now, max_age_s):
        return None
    entries: dict[str, StickyEntry] = {}
    variations: list[str] = []
    for experience_id, value in packed.items():
        if isinstance(value, int):
            entries[experience_id] = DEFAULT_CONTROL if value == _DEFAULT_CONTROL else EXCLUDED
            continue
        if version == 1:
            entry = StickyEntry.entered(value, issued_at // DAY_S) if isinstance(value, str) else None
        else:
            entry = None if isinstance(value, str) else _cohort_entry(value)
        if entry is None:
            return None
        assert entry.variation_id is not None
        variations.append(entry.variation_id)
        entries[experience_id] = entry
    if not _safe_ids([*packed, *variations]):
        return None
    return entries, issued_at


def _cohort_entry(value: list[str | int]) -> StickyEntry | None:
    """A format-2 entered or counted entry, or None when the list is not one."""
    variation_id, day, *rest = value
    if not isinstance(variation_id, str) or not isinstance(day, int) or isinstance(day, bool) or day < 0:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in rest):
        return None
    audience = rest[0] if rest else _CUSTOM
    if not _CUSTOM <= int(audience) < MAX_AUDIENCES:
        return None
    index = None if audience == _CUSTOM else int(audience)
    if len(rest) == 2:
        return StickyEntry.counted(variation_id, day, index) if rest[1] == _COUNTED_MARK else None
    return StickyEntry.entered(variation_id, day, index)
