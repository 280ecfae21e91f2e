"""`decide`: one visitor, every live experience of a site, with sticky assignments honoured.

For each live experience (see docs/DESIGN.md "The decision" and `decision.py` for the output mapping):

1. Sticky (tests only). A sticky entry is honoured while the experience is live and, for an
   entered visitor, its variation still exists (reason `sticky`). If the variation was deleted
   the visitor is decided afresh and the reason is `sticky_variation_removed` (unless the fresh
   decision defers: reason `deferred`). Personalizations ignore and drop entries.
2. `custom` test: rules true -> hash; in a range: entered (`rules_matched`, or `everyone` when
   there are no conditions), sticks; outside: control, `not_in_traffic`, does not stick (so
   growing traffic can admit the visitor later). Rules false or unknown -> the control at once,
   `decided`, and it sticks as default control (`rules_not_matched`, `unidentified`, `pending`).
3. `advanced` test: the first audience whose rules are true decides: `random` (as above),
   `assign` (entered in its variation, `assigned`, sticks), `exclude` (control, `excluded`,
   sticks), `defer`. An audience whose rules are unknown (pending identity) stops the walk: an
   earlier audience may not be skipped on a guess. Defer, no match or unknown -> `decided`,
   not entered, `variation_id` None, `deferred`, nothing sticks.
4. Personalization: rules true -> hash over the non-control variations; in a range: entered,
   outside: the holdout sees the control (`holdout`). Rules false -> control; unknown -> control
   with status `pending` (reason `pending`). Nothing sticks.
5. Exclusion group (tests with an `exclusion_group`, exclusion.py): after the test's own sticky
   entry (1) and before its targeting (2, 3), the visitor is given one test of the group: the
   one their token says they entered, else the live one whose range holds the group hash. That
   test is decided as above; each other test of the group gives the control at once, reason
   `exclusion_group`, and that sticks as `excluded`.

What sticks in a group, and why. The entered visitor sticks to the given test as in any test,
and that entry keeps them out of the group's other tests for as long as the test is live or
paused, even when ranges move because a test of the group starts or ends. The exclusion sticks
too, like a default control: the visitor has seen that test's page in its control state, so
letting them in later (when ranges move) would change the page under their eyes and count in
that test someone already exposed to another test of the group. A visitor who entered nothing
(rules false, outside traffic, deferred) holds no entered entry, so when ranges move the hash
may give them another test; they enter at most that one, and never one that excluded them.
Visit conditions (url, utm, device, ...) are evaluated like segment conditions, from `visit`.

The hash is computed only for visitors whose rules match, and every outcome is prebuilt
(outcomes.py), so the fast path allocates little. `decide` is pure: same inputs, same
`SiteDecision`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import msgspec

from targeting.bucketing import Units, code_units, hash_from_state
from targeting.compiled import CARRIED_FORWARD, CompiledExperience, CompiledSite
from targeting.decision import Reason, SiteDecision
from targeting.exclusion import GroupOwner, group_owner
from targeting.identity import Identity, IdentityKind, VisitorContext
from targeting.model import AudienceAction, Variation
from targeting.outcomes import Outcome
from targeting.sticky import StickyEntry, StickyOutcome
from targeting.visit import EMPTY_VISIT, Visit


class StickyVerdict(StrEnum):
    NONE = "none"  # no entry for this experience
    HONOURED = "honoured"
    VARIATION_REMOVED = "variation_removed"  # its variation no longer exists: decided afresh
    NOT_STICKY = "not_sticky"  # personalizations never stick: ignored and dropped


class DeferCause(StrEnum):
    ACTION = "action_defer"
    NO_AUDIENCE_MATCHED = "no_audience_matched"
    PENDING = "pending"


class Notes:
    """What the decision path took, filled in only for `explain` (None on the fast path)."""

    __slots__ = ("audience", "defer_cause", "excluded", "n", "sticky", "variation")

    def __init__(self) -> None:
        self.sticky = StickyVerdict.NONE
        self.audience: int | None = None
        self.defer_cause: DeferCause | None = None
        self.n: float | None = None
        self.variation: Variation | None = None
        self.excluded = False  # decided by the exclusion group


def _bucket(cx: CompiledExperience, units: Units, notes: Notes | None) -> Variation | None:
    n = hash_from_state(cx.seed_state, units)
    chosen = None
    for bucket in cx.ranges:
        if bucket.low <= n < bucket.high:
            chosen = bucket.variation
            break
    if notes is not None:
        notes.n, notes.variation = n, chosen
    return chosen


def _not_matched(cx: CompiledExperience, ctx: VisitorContext) -> Outcome:
    if cx.needs_identity and ctx.identity.kind is IdentityKind.UNIDENTIFIED:
        return cx.outcomes.unidentified
    return cx.outcomes.not_matched


def _custom(cx: CompiledExperience, ctx: VisitorContext, units: Units, notes: Notes | None) -> Outcome:
    """A custom test or a personalization: one rule tree."""
    truth = cx.evaluate(ctx)
    if truth:
        variation = _bucket(cx, units, notes)
        if variation is None:
            return cx.outcomes.not_in_traffic if cx.is_test else cx.outcomes.holdout
        return (cx.outcomes.everyone if cx.everyone else cx.outcomes.matched)[variation.id]
    return cx.outcomes.pending if truth is None else _not_matched(cx, ctx)


def _deferred(cx: CompiledExperience, notes: Notes | None, cause: DeferCause) -> Outcome:
    if notes is not None:
        notes.defer_cause = cause
    return cx.outcomes.deferred


def _advanced(cx: CompiledExperience, ctx: VisitorContext, units: Units, notes: Notes | None) -> Outcome:
    outcomes = cx.outcomes
    for audience in cx.audiences:
        truth = audience.evaluate(ctx)
        if truth is False:
            continue
        if truth is None:
            return _deferred(cx, notes, DeferCause.PENDING)
        if notes is not None:
            notes.audience = audience.index
        action = audience.action
        if action is AudienceAction.RANDOM:
            variation = _bucket(cx, units, notes)
            if variation is None:
                return outcomes.not_in_traffic
            return (outcomes.everyone if audience.everyone else outcomes.matched)[variation.id]
        if action is AudienceAction.ASSIGN:
            assert audience.variation is not None
            return outcomes.assigned[audience.variation.id]
        if action is AudienceAction.EXCLUDE:
            return outcomes.excluded
        return _deferred(cx, notes, DeferCause.ACTION)
    return _deferred(cx, notes, DeferCause.NO_AUDIENCE_MATCHED)


def _sticky(cx: CompiledExperience, entry: StickyEntry, notes: Notes | None) -> Outcome | None:
    """The honoured outcome of a sticky entry, or None to decide afresh."""
    verdict = StickyVerdict.HONOURED
    outcome: Outcome | None
    if not cx.is_test:
        verdict, outcome = StickyVerdict.NOT_STICKY, None
    elif entry.outcome is StickyOutcome.ENTERED:
        outcome = cx.outcomes.sticky_entered.get(entry.variation_id or "")
        if outcome is None:
            verdict = StickyVerdict.VARIATION_REMOVED
    elif entry.outcome is StickyOutcome.EXCLUDED:
        outcome = cx.outcomes.sticky_excluded
    else:
        outcome = cx.outcomes.sticky_default_control
    if notes is not None:
        notes.sticky = verdict
    return outcome


def decide_experience(
    cx: CompiledExperience,
    ctx: VisitorContext,
    units: Units,
    entry: StickyEntry | None,
    notes: Notes | None = None,
    owner: GroupOwner | None = None,
) -> Outcome:
    """Decide one live experience; `units` are the visitor id's code units (bucketing.py) and
    `owner` the test of its exclusion group the visitor is given (exclusion.py), if it has one."""
    if entry is not None:
        honoured = _sticky(cx, entry, notes)
        if honoured is not None:
            return honoured
    if owner is not None and owner.experience_id != cx.id:
        if notes is not None:
            notes.excluded = True
        return cx.outcomes.exclusion_group
    outcome = _advanced(cx, ctx, units, notes) if cx.advanced else _custom(cx, ctx, units, notes)
    if entry is not None and cx.is_test and outcome[0].reason is not Reason.DEFERRED:
        # Only a removed variation gets here with an entry: the fresh decision says so.
        decision = msgspec.structs.replace(outcome[0], reason=Reason.STICKY_VARIATION_REMOVED)
        return decision, outcome[1]
    return outcome


class GroupOwners:
    """The test of each exclusion group a visitor is given, computed once per group per visit."""

    __slots__ = ("_owners", "_sticky", "_units")

    def __init__(self, units: Units, sticky: Mapping[str, StickyEntry]) -> None:
        self._units = units
        self._sticky = sticky
        self._owners: dict[str, GroupOwner] = {}

    def of(self, cx: CompiledExperience) -> GroupOwner | None:
        group = cx.group
        if group is None:
            return None
        owner = self._owners.get(group.name)
        if owner is None:
            owner = self._owners[group.name] = group_owner(group, self._units, self._sticky)
        return owner


def decide(
    site: CompiledSite,
    visitor_id: str,
    identity: Identity,
    sticky: Mapping[str, StickyEntry],
    *,
    visit: Visit = EMPTY_VISIT,
) -> SiteDecision:
    """Decide every live experience of `site` for one visitor on one visit.

    `sticky` is what the visitor's token carried (`decode_sticky`); the result's `sticky` is what
    the next token should carry: new and honoured test entries, plus entries of paused or draft
    experiences carried forward unchanged. Entries of ended or unknown experiences are dropped.
    `visit` is the request's `Visit.from_request_fields(...)`, built once by the edge (the empty
    visit knows nothing, so no visit condition matches it).
    """
    ctx = VisitorContext(identity, visit)
    units = code_units(visitor_id)
    owners = GroupOwners(units, sticky) if site.groups else None
    decisions = []
    carried: dict[str, StickyEntry] = {}
    for cx in site.experiences:
        owner = owners.of(cx) if owners is not None else None
        decision, entry = decide_experience(
            cx, ctx, units, sticky.get(cx.id) if sticky else None, None, owner
        )
        decisions.append(decision)
        if entry is not None:
            carried[cx.id] = entry
    if sticky:
        statuses = site.statuses
        for experience_id, entry in sticky.items():
            if statuses.get(experience_id) in CARRIED_FORWARD:
                carried[experience_id] = entry
    return SiteDecision(tuple(decisions), carried)
