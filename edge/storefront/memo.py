"""Memory for the assignment hot path: whole answers of returning visitors, encoded decisions.

Everything here is a pure function of its inputs, so remembering it changes no answer:
- an answer (the decision, its encoded experiences and the token to send back) is remembered by
  (memo, visitor, identity, token in), for a token in that verified (HMAC, msgpack, id checks):
  `decide` is pure and the token stands for its entries. A request without a token is decided
  every time and not remembered (a first visit leaves nothing behind: the visitor comes back
  with the token it was given), and a token that does not verify is never remembered, so what a
  client makes up costs it a verification per request and costs the process nothing.
- on a site whose live experiences read the visit (url, utm, device, ...), the key also holds
  the visit's signature (`CompiledSite.visit_signature`): the truth of each of the site's visit
  conditions for this request, booleans only, one per distinct condition. Visits with the same
  signature decide alike, so nothing the client sent (its URL, its cookies) is kept, and a
  visitor's entries are bounded by the site's conditions, not by what the client varies.
- a returning visitor whose entries did not change gets its own token back until that is a day
  old, instead of a fresh signature; the answer is remembered until then (or until the token in
  expires), so a remembered answer never outlives a rule below.
- decisions are values (the engine builds every outcome at compile time), so each one's JSON
  fragment is encoded once, and visitors with the same decisions share one encoded list.
- what the site's targeting gives an identity on a visit (`targeted_steps`: each experience's
  outcome, or the draw the visitor's hash settles) reads no visitor id, so it is remembered by
  (memo, identity, visit signature) as a `DrawPlan`. A visitor without entries is decided by
  the plan and the rows its hashes pick only (the range of each exclusion group's hash, the
  test of the group it is given; the row of each draw of an experience it may enter), so the
  decision, its encoding and its entries packed for the token are made once per (plan, picks)
  and shared (`FirstAnswer`, keyed by the plan object: a new memo or a plan made again is
  another key): a first visit by someone whose identity was seen before (the
  same few segments, after a campaign) costs only the hashes and the token's signature.
  Nothing of the visitor is kept: picks are row indices, bounded by the configuration.
- a returning visitor's visit is not built (nor its signature worked out) when the request's
  `VisitDigest` (a BLAKE2b-128 digest of the body and the headers the visit reads) is the one
  its verified token last came with: the signature that visit had is remembered by (memo,
  visitor, identity, token in), one entry per such key (the last visit's), only once the token
  verified, so what a client varies replaces its own entry and never adds any. What is kept of
  the visit is its digest (16 bytes, not what it says) and its truths, booleans.

A `StorefrontMemo` belongs to one `SiteRuntime` and owns its compiled site; every memo of the
process keeps its entries in one `MemoTables` (held by `SiteRuntimes`), whose bounds are the
process' whatever the number of sites. An answer's key starts with its memo's serial number, so
a runtime replaced after a configuration change can never answer again: its entries are the
oldest and leave first. What invalidates what, across the hot path: docs/memory.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from types import MappingProxyType

import msgspec

from edge.bounded import BoundedMap
from targeting import (
    EMPTY_VISIT,
    CompiledSite,
    Decision,
    DrawPlan,
    Identity,
    SiteDecision,
    StickyEntry,
    StickySigner,
    Truth,
    Visit,
    decide,
    decide_bot,
    draw_plan,
    encode_sticky,
    pack_entries,
    read_sticky,
)
from targeting.bucketing import code_units
from targeting.sticky import DAY_S

REISSUE_AFTER_S = 86_400
MAX_ANSWERS = 100_000  # the whole process, every site
MAX_FRAGMENTS = 20_000
MAX_TARGETED = 20_000  # the whole process: (site, identity, visit signature) seen on first visits
MAX_FIRST_ANSWERS = 10_000  # the whole process: first visits' shared answers, by (plan, picks)
MAX_VISITS = 100_000  # the whole process: the last visit's digest and truths per verified token
_encode = msgspec.json.Encoder().encode
_NO_ENTRIES: Mapping[str, StickyEntry] = MappingProxyType({})

Entries = dict[str, StickyEntry]
AnswerKey = tuple[int, str, Identity, str, tuple[Truth | int, ...]]
TargetedKey = tuple[int, Identity, tuple[Truth | int, ...]]
FirstKey = tuple[DrawPlan, tuple[int, ...]]
VisitKey = tuple[int, str, Identity, str]
VisitDigest = bytes  # what the visit is built from, digested (`edge.storefront.visit.visit_digest`)
# A visit, or how to build it (called at most once, only when the answer is not remembered).
VisitSource = Visit | Callable[[], Visit]
_NO_SIGNATURE: tuple[Truth | int, ...] = ()


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


class FirstAnswer:
    """What every first visit (no entries carried) with the same `DrawPlan` picks is answered,
    but its token: the shared decision, its encoded experiences, and its entries packed for the
    token (`pack_entries`) on `day`, packed again when the day changes."""

    __slots__ = ("day", "decision", "experiences", "packed")

    def __init__(self, decision: SiteDecision, experiences: bytes) -> None:
        self.decision = decision
        self.experiences = experiences
        self.day = -1
        self.packed = b""


class MemoTables:
    """The process' storefront memory, shared by every site's memo; each table bounded."""

    __slots__ = ("_serials", "answers", "firsts", "fragments", "lists", "targeted", "visits")

    def __init__(
        self,
        max_answers: int = MAX_ANSWERS,
        max_fragments: int = MAX_FRAGMENTS,
        max_targeted: int = MAX_TARGETED,
        max_first_answers: int = MAX_FIRST_ANSWERS,
        max_visits: int = MAX_VISITS,
    ) -> None:
        self.answers: BoundedMap[AnswerKey, Answer] = BoundedMap(max_answers)
        self.fragments: BoundedMap[Decision, bytes] = BoundedMap(max_fragments)
        self.lists: BoundedMap[tuple[Decision, ...], bytes] = BoundedMap(max_fragments)
        self.targeted: BoundedMap[TargetedKey, DrawPlan] = BoundedMap(max_targeted)
        self.firsts: BoundedMap[FirstKey, FirstAnswer] = BoundedMap(max_first_answers)
        self.visits: BoundedMap[VisitKey, tuple[VisitDigest, tuple[Truth, ...]]] = BoundedMap(max_visits)
        self._serials = itertools.count(1)

    def serial(self) -> int:
        return next(self._serials)


class StorefrontMemo:
    __slots__ = ("_answers", "_secret", "_serial", "_signer", "_site_id", "_tables", "_visits", "site")

    def __init__(self, site: CompiledSite, secret: bytes, site_id: str, tables: MemoTables) -> None:
        self.site = site
        self._secret = secret
        self._site_id = site_id
        self._tables = tables
        self._answers = tables.answers
        self._visits = tables.visits
        self._serial = tables.serial()
        # None without a secret: `encode_sticky` then refuses, as it always did.
        self._signer = StickySigner(secret, site_id) if secret else None

    def answer(
        self,
        visitor_id: str,
        identity: Identity,
        token: str | None,
        now: int,
        max_age_s: int,
        visit: VisitSource = EMPTY_VISIT,
        *,
        bot: bool = False,
        digest: VisitDigest | None = None,
    ) -> tuple[Answer, bool]:
        """The answer for a visitor with `identity` who sent `token` (None or "" for none) on
        `visit`, and whether the token was ignored (sent, but not valid: the answer then carries
        a warning). A `bot` (a known crawler) gets every test's control and its entries back
        unchanged; nothing is remembered for it.

        `visit` may be a function building it, called only when needed; `digest` (optional)
        digests everything the visit is built from: a returning visitor whose verified token
        last came with the same digest is answered without building the visit. Measured on
        bench.assign --site mixed (6 live experiences, visit conditions on every page field):
        building the visit and its signature was 21 of the 23 µs of a remembered return visit's
        answer step; with the digest it is ~2 µs of BLAKE2b over the 1.5 kB body plus lookups."""
        if bot:
            return self._bot_answer(visitor_id, token, now, max_age_s)
        site = self.site
        built: Visit | None = visit if isinstance(visit, Visit) else None

        def the_visit() -> Visit:
            nonlocal built
            if built is None:
                assert callable(visit)
                built = visit()
            return built

        # The visit conditions' truths: remembered for a verified token that came with `digest`.
        truths: tuple[Truth, ...] = ()
        remember = False  # a digest whose truths are not remembered yet
        visit_key: VisitKey | None = None
        if site.visit_conditions:
            if token and digest is not None:
                visit_key = (self._serial, visitor_id, identity, token)
                seen = self._visits.get(visit_key)
                if seen is not None and seen[0] == digest:
                    truths = seen[1]
                else:
                    truths, remember = site.visit_truths(the_visit()), True
            else:
                truths = site.visit_truths(the_visit())
        signature: tuple[Truth | int, ...] = truths + site.period_numbers(now) if site.periods else truths
        if token:
            key = (self._serial, visitor_id, identity, token, signature)
            known = self._answers.get(key)
            if known is not None and now < known.good_until:
                if remember:  # the key is there, so the token verified
                    assert visit_key is not None and digest is not None
                    self._visits.put(visit_key, (digest, truths))
                return known, False
            carried = read_sticky(self._secret, self._site_id, visitor_id, token, now, max_age_s)
            if carried is not None:
                fresh = self._worked_out(visitor_id, identity, token, carried, now, max_age_s, the_visit())
                self._answers.put(key, fresh)
                if remember:
                    assert visit_key is not None and digest is not None
                    self._visits.put(visit_key, (digest, truths))
                return fresh, False
        plan = self._plan(identity, the_visit, now, signature)
        if self._signer is not None:
            return self._first_visit(visitor_id, identity, now, max_age_s, the_visit, plan), bool(token)
        fresh = self._worked_out(visitor_id, identity, None, None, now, max_age_s, the_visit(), plan)
        return fresh, bool(token)

    def _plan(
        self, identity: Identity, visit: Callable[[], Visit], now: int, signature: tuple[Truth | int, ...]
    ) -> DrawPlan:
        """`targeted_steps` for this identity on a visit with this signature, remembered."""
        table = self._tables.targeted
        key = (self._serial, identity, signature)
        plan = table.get(key)
        if plan is None:
            plan = draw_plan(self.site, identity, visit(), now)
            table.put(key, plan)
        return plan

    def _first_visit(
        self,
        visitor_id: str,
        identity: Identity,
        now: int,
        max_age_s: int,
        visit: Callable[[], Visit],
        plan: DrawPlan,
    ) -> Answer:
        """`_worked_out` for a visitor without entries, from the answer shared by every visitor
        whose hashes pick the same rows of `plan` (`DrawPlan`): only the hashes and the token's
        signature are left per visitor. Measured on bench.assign's site (10 live experiences,
        the VIP's plan has 2 draws): `answer` for a first visit 10.3 -> 5.5 µs a call alone,
        and the whole app in-process 29.6 -> 19.7 µs; the decision, its encoding and the
        packed entries are made once per (plan, picks) and day. With an exclusion group (the
        group's range is one more pick), on bench.assign --site mixed: the whole app in-process
        65.4 -> 55-57 µs, the answer step 48.8 -> 38-39 µs (building the visit is most of the rest)."""
        assert self._signer is not None
        key = (plan, plan.picks(code_units(visitor_id)))
        firsts = self._tables.firsts
        first = firsts.get(key)
        if first is None:
            decision = decide(
                self.site, visitor_id, identity, _NO_ENTRIES, visit=visit(), now=now, targeted=plan.steps
            )
            first = FirstAnswer(decision, self._encoded(decision))
            firsts.put(key, first)
        today = now // DAY_S
        if first.day != today:
            first.packed, first.day = pack_entries(first.decision.sticky, today), today
        sticky = self._signer.sign(visitor_id, first.packed, now)
        return Answer(first.decision, first.experiences, sticky, now + min(REISSUE_AFTER_S, max_age_s))

    def _sign(self, visitor_id: str, entries: Mapping[str, StickyEntry], now: int) -> str:
        if self._signer is None:
            return encode_sticky(self._secret, self._site_id, visitor_id, entries, now)
        return self._signer.sign(visitor_id, pack_entries(entries, now // DAY_S), now)

    def _bot_answer(
        self, visitor_id: str, token: str | None, now: int, max_age_s: int
    ) -> tuple[Answer, bool]:
        carried = (
            read_sticky(self._secret, self._site_id, visitor_id, token, now, max_age_s) if token else None
        )
        decision = decide_bot(self.site, _NO_ENTRIES if carried is None else carried[0])
        sticky = self._sign(visitor_id, decision.sticky, now)
        return Answer(decision, self._encoded(decision), sticky, now), bool(token) and carried is None

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
        visit: Visit,
        plan: DrawPlan | None = None,
    ) -> Answer:
        """`plan`: the identity's `targeted_steps`, for a visitor without entries."""
        entries = _NO_ENTRIES if carried is None else carried[0]
        targeted = None if plan is None else plan.steps
        decision = decide(self.site, visitor_id, identity, entries, visit=visit, now=now, targeted=targeted)
        if carried is not None and now - carried[1] < REISSUE_AFTER_S and decision.sticky == entries:
            assert token is not None
            return Answer(
                decision, self._encoded(decision), token, carried[1] + min(REISSUE_AFTER_S, max_age_s)
            )
        sticky = self._sign(visitor_id, decision.sticky, now)
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
