"""Per-site memory for the assignment hot path: verified sticky tokens and whole answers.

Everything here is a pure function of its inputs, so remembering it changes no answer:
- a token is verified (HMAC, msgpack, id checks) once per (visitor, token); later requests with
  the same token reuse the result until it expires.
- an answer (the decision, its encoded experiences and the token to send back) is remembered by
  (visitor, identity, token in): `decide` is pure and the token in stands for its entries. A
  returning visitor whose entries did not change gets its own token back until that is a day old,
  instead of a fresh signature; the answer is remembered until then (or until the token in
  expires), so a remembered answer never outlives a rule below.
- decisions are values (the engine builds every outcome at compile time), so each one's JSON
  fragment is encoded once, and visitors with the same decisions share one encoded list.
The memo lives on a `SiteRuntime` and is replaced with it when the configuration changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
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
MAX_ANSWERS = 20_000
MAX_FRAGMENTS = 10_000
_encode = msgspec.json.Encoder().encode
_NO_ENTRIES: Mapping[str, StickyEntry] = MappingProxyType({})

Entries = dict[str, StickyEntry]
K = TypeVar("K")
V = TypeVar("V")


class Answer:
    """What a visitor is answered, minus what changes per request (warnings, retry delay).

    `sticky_ignored`: the token in was not valid (the answer then carries that warning).
    `good_until`: epoch second from which it must be worked out again.
    """

    __slots__ = ("decision", "experiences", "good_until", "sticky", "sticky_ignored")

    def __init__(
        self, decision: SiteDecision, experiences: bytes, sticky: str, good_until: int, sticky_ignored: bool
    ) -> None:
        self.decision = decision
        self.experiences = experiences  # the encoded decisions, comma-separated
        self.sticky = sticky  # the token to send back
        self.good_until = good_until
        self.sticky_ignored = sticky_ignored


class StorefrontMemo:
    __slots__ = ("_answers", "_fragments", "_lists", "_secret", "_site_id", "_tokens")

    def __init__(self, secret: bytes, site_id: str) -> None:
        self._secret = secret
        self._site_id = site_id
        self._tokens: dict[tuple[str, str], tuple[Entries, int]] = {}
        self._answers: dict[tuple[str, Identity, str], Answer] = {}
        self._fragments: dict[Decision, bytes] = {}
        self._lists: dict[tuple[Decision, ...], bytes] = {}

    def answer(
        self,
        site: CompiledSite,
        visitor_id: str,
        identity: Identity,
        token: str | None,
        now: int,
        max_age_s: int,
    ) -> Answer:
        """The answer for a visitor with `identity` who sent `token` (None or "" for none).
        `site` is this memo's runtime's."""
        key = (visitor_id, identity, token or "")
        known = self._answers.get(key)
        if known is not None and now < known.good_until:
            return known
        carried = self.read_token(visitor_id, token, now, max_age_s)
        entries = _NO_ENTRIES if carried is None else carried[0]
        decision = decide(site, visitor_id, identity, entries)
        if carried is not None and now - carried[1] < REISSUE_AFTER_S and decision.sticky == entries:
            assert token is not None
            sticky, good_until = token, carried[1] + min(REISSUE_AFTER_S, max_age_s)
        else:
            sticky = self._issue(visitor_id, decision.sticky, now)
            good_until = now + min(REISSUE_AFTER_S, max_age_s)
            if carried is not None:  # the same token in must not be honoured once it expires
                good_until = min(good_until, carried[1] + max_age_s)
        known = Answer(decision, self._encoded(decision), sticky, good_until, bool(token) and carried is None)
        _bounded_put(self._answers, key, known, MAX_ANSWERS)
        return known

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
            _bounded_put(self._tokens, key, read, MAX_TOKENS)
        return read

    def fragment(self, decision: Decision) -> bytes:
        """`decision` as the storefront's JSON element."""
        encoded = self._fragments.get(decision)
        if encoded is None:
            encoded = _encode(decision.to_dict())
            if len(self._fragments) < MAX_FRAGMENTS:
                self._fragments[decision] = encoded
        return encoded

    def _encoded(self, decision: SiteDecision) -> bytes:
        """The decisions' JSON elements, comma-separated; one copy per distinct list."""
        decisions = decision.decisions
        encoded = self._lists.get(decisions)
        if encoded is None:
            encoded = b",".join([self.fragment(d) for d in decisions])
            _bounded_put(self._lists, decisions, encoded, MAX_FRAGMENTS)
        return encoded

    def _issue(self, visitor_id: str, entries: Mapping[str, StickyEntry], now: int) -> str:
        token = encode_sticky(self._secret, self._site_id, visitor_id, entries, now)
        _bounded_put(self._tokens, (visitor_id, token), (dict(entries), now), MAX_TOKENS)
        return token


def _bounded_put(table: dict[K, V], key: K, value: V, limit: int) -> None:
    if len(table) >= limit:
        # Oldest first (dicts keep insertion order): drop a tenth in one go.
        for stale in list(table)[: limit // 10]:
            del table[stale]
    table[key] = value
