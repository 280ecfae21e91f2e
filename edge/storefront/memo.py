"""Per-site memory for the assignment hot path: verified sticky tokens and encoded decisions.

Both are pure functions of their inputs, so remembering them changes no answer:
- a token is verified (HMAC, msgpack, id checks) once per (visitor, token); later requests with
  the same token reuse the result until it expires. A returning visitor whose sticky entries did
  not change gets the same token back until it is a day old, instead of a fresh signature.
- decisions are values (the engine builds every outcome at compile time), so each one's JSON
  fragment is encoded once; and `decide` is pure, so a returning visitor with the same identity
  and the same sticky token gets the decision (and its encoded experiences) computed before.
The memo lives on a `SiteRuntime` and is replaced with it when the configuration changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import msgspec

from targeting import (
    CompiledSite,
    Decision,
    Identity,
    SiteDecision,
    StickyEntry,
    decide,
    encode_sticky,
    read_sticky,
    token_is_current,
)

REISSUE_AFTER_S = 86_400
MAX_TOKENS = 20_000
MAX_FRAGMENTS = 10_000
MAX_DECISIONS = 20_000
_encode = msgspec.json.Encoder().encode

Entries = dict[str, StickyEntry]
K = TypeVar("K")
V = TypeVar("V")


class Decided:
    """A remembered decision: the engine's answer, its encoded experiences, and whether the
    visitor's sticky entries came out unchanged (then a recent token can be sent back as is)."""

    __slots__ = ("decision", "experiences", "sticky_unchanged")

    def __init__(self, decision: SiteDecision, experiences: bytes, sticky_unchanged: bool) -> None:
        self.decision = decision
        self.experiences = experiences
        self.sticky_unchanged = sticky_unchanged


class StorefrontMemo:
    __slots__ = ("_decisions", "_fragments", "_secret", "_site_id", "_tokens")

    def __init__(self, secret: bytes, site_id: str) -> None:
        self._secret = secret
        self._site_id = site_id
        self._tokens: dict[tuple[str, str], tuple[Entries, int]] = {}
        self._fragments: dict[Decision, bytes] = {}
        self._decisions: dict[tuple[str, Identity, str], Decided] = {}

    def decide(
        self,
        site: CompiledSite,
        visitor_id: str,
        identity: Identity,
        token: str,
        entries: Mapping[str, StickyEntry],
    ) -> Decided:
        """`targeting.decide` and the encoded experiences, remembered by their inputs.

        `token` stands for `entries` (the verified token they were read from, or "" for none):
        the same token always carries the same entries. `site` is this memo's runtime's.
        """
        key = (visitor_id, identity, token)
        known = self._decisions.get(key)
        if known is not None:
            return known
        decision = decide(site, visitor_id, identity, entries)
        experiences = b",".join([self.fragment(d) for d in decision.decisions])
        result = Decided(decision, experiences, bool(token) and decision.sticky == entries)
        _bounded_put(self._decisions, key, result, MAX_DECISIONS)
        return result

    def read_token(
        self, visitor_id: str, token: str | None, now: int, max_age_s: int
    ) -> tuple[Entries, int] | None:
        """The token's entries and issue time, or None when it is missing or not valid."""
        if not token:
            return None
        key = (visitor_id, token)
        known = self._tokens.get(key)
        if known is not None:
            return known if token_is_current(known[1], now, max_age_s) else None
        read = read_sticky(self._secret, self._site_id, visitor_id, token, now, max_age_s)
        if read is not None:
            self._remember(key, read)
        return read

    def issue_token(
        self,
        visitor_id: str,
        decided: Decided,
        now: int,
        previous: tuple[str, int] | None,
    ) -> str:
        """The token to send back: `previous` (token, issue time) when the entries it carries did
        not change and it is less than a day old; else a freshly signed one."""
        if previous is not None and decided.sticky_unchanged and now - previous[1] < REISSUE_AFTER_S:
            return previous[0]
        entries = decided.decision.sticky
        token = encode_sticky(self._secret, self._site_id, visitor_id, entries, now)
        self._remember((visitor_id, token), (dict(entries), now))
        return token

    def fragment(self, decision: Decision) -> bytes:
        """`decision` as the storefront's JSON element."""
        encoded = self._fragments.get(decision)
        if encoded is None:
            encoded = _encode(decision.to_dict())
            if len(self._fragments) < MAX_FRAGMENTS:
                self._fragments[decision] = encoded
        return encoded

    def _remember(self, key: tuple[str, str], value: tuple[Entries, int]) -> None:
        _bounded_put(self._tokens, key, value, MAX_TOKENS)


def _bounded_put(table: dict[K, V], key: K, value: V, limit: int) -> None:
    if len(table) >= limit:
        # Oldest first (dicts keep insertion order): drop a tenth in one go.
        for stale in list(table)[: limit // 10]:
            del table[stale]
    table[key] = value
