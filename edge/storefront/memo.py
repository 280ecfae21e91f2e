"""Memory for the assignment hot path: whole answers of returning visitors, encoded decisions.

Everything here is a pure function of its inputs, so remembering it changes no answer:
- an answer (the decision, its encoded experiences and the token to send back) is remembered by
  (memo, visitor, identity, token in), for a token in that verified (HMAC, msgpack, id checks):
  `decide` is pure and the token stands for its entries. A request without a token is decided
  every time and not remembered (a first visit leaves nothing behind: the visitor comes back
  with the token it was given), and a token that does not verify is never remembered, so what a
  client makes up costs it a verification per request and costs the process nothing.
- a returning visitor whose entries did not change gets its own token back until that is a day
  old, instead of a fresh signature; the answer is remembered until then (or until the token in
  expires), so a remembered answer never outlives a rule below.
- decisions are values (the engine builds every outcome at compile time), so each one's JSON
  fragment is encoded once, and visitors with the same decisions share one encoded list.

A `StorefrontMemo` belongs to one `SiteRuntime` and owns its compiled site; every memo of the
process keeps its entries in one `MemoTables` (held by `SiteRuntimes`), whose bounds are the
process' whatever the number of sites. An answer's key starts with its memo's serial number, so
a runtime replaced after a configuration change can never answer again: its entries are the
oldest and leave first. What invalidates what, across the hot path: docs/memory.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import MappingProxyType

import msgspec

from edge.bounded import BoundedMap
from targeting import (
    CompiledSite,
    Decision,
    Identity,
    SiteDecision,
    StickyEntry,
    decide,
    encode_sticky,
    read_sticky,
)

REISSUE_AFTER_S = 86_400
MAX_ANSWERS = 100_000  # the whole process, every site
MAX_FRAGMENTS = 20_000
_encode = msgspec.json.Encoder().encode
_NO_ENTRIES: Mapping[str, StickyEntry] = MappingProxyType({})

Entries = dict[str, StickyEntry]
AnswerKey = tuple[int, str, Identity, str]


class Answer(msgspec.Struct, frozen=True, gc=False):
    """What a visitor is answered, minus what changes per request (warnings, retry delay).

    `experiences`: the encoded decisions, comma-separated; `sticky`: the token to send back;
    `good_until`: epoch second from which it must be worked out again. Not tracked by the
    garbage collector (it holds no container that could close a cycle), so a full memo adds
    nothing to the collector's passes.
    """

    decision: SiteDecision
    experiences: bytes
    sticky: str
    good_until: int


class MemoTables:
    """The process' storefront memory, shared by every site's memo; each table bounded."""

    __slots__ = ("_serials", "answers", "fragments", "lists")

    def __init__(self, max_answers: int = MAX_ANSWERS, max_fragments: int = MAX_FRAGMENTS) -> None:
        self.answers: BoundedMap[AnswerKey, Answer] = BoundedMap(max_answers)
        self.fragments: BoundedMap[Decision, bytes] = BoundedMap(max_fragments)
        self.lists: BoundedMap[tuple[Decision, ...], bytes] = BoundedMap(max_fragments)
        self._serials = itertools.count(1)

    def serial(self) -> int:
        return next(self._serials)


class StorefrontMemo:
    __slots__ = ("_answers", "_secret", "_serial", "_site_id", "_tables", "site")

    def __init__(self, site: CompiledSite, secret: bytes, site_id: str, tables: MemoTables) -> None:
        self.site = site
        self._secret = secret
        self._site_id = site_id
        self._tables = tables
        self._answers = tables.answers
        self._serial = tables.serial()

    def answer(
        self, visitor_id: str, identity: Identity, token: str | None, now: int, max_age_s: int
    ) -> tuple[Answer, bool]:
        """The answer for a visitor with `identity` who sent `token` (None or "" for none), and
        whether the token was ignored (sent, but not valid: the answer then carries a warning)."""
        if token:
            key = (self._serial, visitor_id, identity, token)
            known = self._answers.get(key)
            if known is not None and now < known.good_until:
                return known, False
            carried = read_sticky(self._secret, self._site_id, visitor_id, token, now, max_age_s)
            if carried is not None:
                fresh = self._worked_out(visitor_id, identity, token, carried, now, max_age_s)
                self._answers.put(key, fresh)
                return fresh, False
        return self._worked_out(visitor_id, identity, None, None, now, max_age_s), bool(token)

    def read_token(self, visitor_id: str, token: str | None, now: int, max_age_s: int) -> Entries | None:
        """The token's entries, or None when it is missing or not valid."""
        if not token:
            return None
        carried = read_sticky(self._secret, self._site_id, visitor_id, token, now, max_age_s)
        return None if carried is None else carried[0]

    def fragment(self, decision: Decision) -> bytes:
        """`decision` as the storefront's JSON element."""
        fragments = self._tables.fragments
        encoded = fragments.get(decision)
        if encoded is None:
            encoded = _encode(decision.to_dict())
            fragments.put(decision, encoded)
        return encoded

    def _worked_out(
        self,
        visitor_id: str,
        identity: Identity,
        token: str | None,
        carried: tuple[Entries, int] | None,
        now: int,
        max_age_s: int,
    ) -> Answer:
        entries = _NO_ENTRIES if carried is None else carried[0]
        decision = decide(self.site, visitor_id, identity, entries)
        if carried is not None and now - carried[1] < REISSUE_AFTER_S and decision.sticky == entries:
            assert token is not None
            return Answer(
                decision, self._encoded(decision), token, carried[1] + min(REISSUE_AFTER_S, max_age_s)
            )
        sticky = encode_sticky(self._secret, self._site_id, visitor_id, decision.sticky, now)
        good_until = now + min(REISSUE_AFTER_S, max_age_s)
        if carried is not None:  # the same token in must not be honoured once it expires
            good_until = min(good_until, carried[1] + max_age_s)
        return Answer(decision, self._encoded(decision), sticky, good_until)

    def _encoded(self, decision: SiteDecision) -> bytes:
        """The decisions' JSON elements, comma-separated; one copy per distinct list."""
        decisions = decision.decisions
        lists = self._tables.lists
        encoded = lists.get(decisions)
        if encoded is None:
            encoded = b",".join([self.fragment(d) for d in decisions])
            lists.put(decisions, encoded)
        return encoded
