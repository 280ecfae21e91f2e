"""Sticky assignments and the signed token a browser carries them in.

Only tests stick: a `custom` test's default control, an entered variation, an `advanced`
`exclude`. Personalizations are re-evaluated every visit and an `advanced` `defer` never sticks.

Token: ``base64url(payload || tag)`` without padding, so cookie-safe (``A-Z a-z 0-9 - _``).

- ``payload`` = msgpack ``[1, issued_at, {experience_id: variation_id | 1 | 2}]``
  (1 = default control, 2 = excluded);
- ``tag`` = the first 16 bytes (128 bits) of HMAC-SHA256 under the site's secret over
  ``msgpack([site_id, visitor_id]) || payload``. Binding the site stops a token from one site
  working on another; binding the visitor id stops a visitor copying someone else's token to
  pick a variation.

`decode_sticky` never raises: a missing, oversized, garbled, truncated, tampered, foreign-site,
other-visitor, wrong-secret, future or expired token decodes to ``{}`` and the visitor is decided
afresh. Every answer re-issues the token, so the maximum age slides with each visit.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Final

import msgspec

FORMAT: Final = 1
TAG_BYTES: Final = 16
MAX_ENTRIES: Final = 128
# Room for MAX_ENTRIES entries with 64-character ids, so every token encode_sticky makes decodes.
MAX_TOKEN_CHARS: Final = 24_000
DEFAULT_MAX_AGE_S: Final = 400 * 86400
CLOCK_SKEW_S: Final = 300
_TOKEN_TEXT: Final = re.compile(r"[A-Za-z0-9_-]+")
_DEFAULT_CONTROL: Final = 1
_EXCLUDED: Final = 2


class StickyOutcome(StrEnum):
    ENTERED = "entered"
    DEFAULT_CONTROL = "default_control"
    EXCLUDED = "excluded"


class StickyEntry(msgspec.Struct, frozen=True, gc=False):
    """What a visitor carries for one test: the outcome, and the variation when entered."""

    outcome: StickyOutcome
    variation_id: str | None = None

    def __post_init__(self) -> None:
        if (self.outcome is StickyOutcome.ENTERED) != (self.variation_id is not None):
            raise ValueError("a variation_id is given exactly when the outcome is entered")

    @classmethod
    def entered(cls, variation_id: str) -> StickyEntry:
        return cls(StickyOutcome.ENTERED, variation_id)


DEFAULT_CONTROL: Final = StickyEntry(StickyOutcome.DEFAULT_CONTROL)
EXCLUDED: Final = StickyEntry(StickyOutcome.EXCLUDED)

_Codes = Annotated[int, msgspec.Meta(ge=_DEFAULT_CONTROL, le=_EXCLUDED)]
_Payload = tuple[int, int, Annotated[dict[str, str | _Codes], msgspec.Meta(max_length=MAX_ENTRIES)]]
_decoder: Final = msgspec.msgpack.Decoder(_Payload)
# The MAC already vouches for the ids; checking them anyway (SAFE_ID) is depth, kept cheap.
_ID_TEXT: Final = re.compile(r"[A-Za-z0-9_.:-]+")


def _tag(secret: bytes, site_id: str, visitor_id: str, payload: bytes) -> bytes:
    binding = msgspec.msgpack.encode((site_id, visitor_id))
    return hmac.digest(secret, binding + payload, "sha256")[:TAG_BYTES]


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
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"a sticky token carries at most {MAX_ENTRIES} entries")
    packed: dict[str, str | int] = {}
    for experience_id in sorted(entries):
        entry = entries[experience_id]
        if entry.outcome is StickyOutcome.ENTERED:
            assert entry.variation_id is not None
            packed[experience_id] = entry.variation_id
        else:
            packed[experience_id] = _EXCLUDED if entry.outcome is StickyOutcome.EXCLUDED else _DEFAULT_CONTROL
    payload = msgspec.msgpack.encode((FORMAT, now, packed))
    raw = payload + _tag(secret, site_id, visitor_id, payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


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
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        return None  # non-canonical trailing bits: one token, one spelling
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if len(raw) <= TAG_BYTES or not hmac.compare_digest(tag, _tag(secret, site_id, visitor_id, payload)):
        return None
    try:
        version, issued_at, packed = _decoder.decode(payload)
    except msgspec.DecodeError:
        return None
    if version != FORMAT or not token_is_current(issued_at, now, max_age_s):
        return None
    if not _safe_ids([*packed, *(value for value in packed.values() if isinstance(value, str))]):
        return None
    entered = StickyOutcome.ENTERED
    entries = {
        experience_id: StickyEntry(entered, value)
        if isinstance(value, str)
        else (DEFAULT_CONTROL if value == _DEFAULT_CONTROL else EXCLUDED)
        for experience_id, value in packed.items()
    }
    return entries, issued_at
