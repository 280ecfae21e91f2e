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

Results' cohorts (sticky.py): an entry made here carries the index of the advanced audience that
admitted the visitor (None for custom rules) and no day (the token writes the day it is issued);
an honoured entry is carried as it came, cohort included. A personalization keeps a `counted`
mark once the visitor first matches it (shown a variation, or the holdout's control): the mark
is never a decision, only what results attribute later orders to. `SiteDecision.counted` lists
the experiences counted for the first time. `decide_bot` answers a known crawler.

The hash is computed only for visitors whose rules match, and every outcome is prebuilt
(outcomes.py), so the fast path allocates little. `decide` is pure: same inputs, same
`SiteDecision`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TypeAlias

import msgspec

from targeting.bucketing import FNV_OFFSET, FnvLanes, Units, code_units, hash_from_state
from targeting.compiled import CARRIED_FORWARD, CompiledExperience, CompiledSite
from targeting.decision import DecisionStatus, Reason, SiteDecision
from targeting.exclusion import GroupOwner, group_owner
from targeting.identity import Identity, IdentityKind, VisitorContext
from targeting.model import AudienceAction, Variation
from targeting.outcomes import Draw, Outcome, admitted_by
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


Step: TypeAlias = Outcome | Draw  # an experience's outcome, or the draw that gives it


def _drawn(step: Step, units: Units, notes: Notes | None) -> Outcome:
    """The outcome of `step` for a visitor id's code units: a draw hashes, anything else is it."""
    if not isinstance(step, Draw):
        return step
    n = hash_from_state(step.state, units)
    for low, high, variation, outcome in step.rows:
        if low <= n < high:
            if notes is not None:
                notes.n, notes.variation = n, variation
            return outcome
    if notes is not None:
        notes.n, notes.variation = n, None
    return step.miss


def _not_matched(cx: CompiledExperience, ctx: VisitorContext) -> Outcome:
    if cx.needs_identity and ctx.identity.kind is IdentityKind.UNIDENTIFIED:
        return cx.outcomes.unidentified
    return cx.outcomes.not_matched


def _custom(cx: CompiledExperience, ctx: VisitorContext) -> Step:
    """A custom test or a personalization: one rule tree."""
    truth = cx.evaluate(ctx)
    if truth:
        draw = cx.draw
        assert draw is not None
        return Draw(cx.bucket_state(ctx.now), draw.rows, draw.miss) if cx.period_s else draw
    return cx.outcomes.pending if truth is None else _not_matched(cx, ctx)


def _deferred(cx: CompiledExperience, notes: Notes | None, cause: DeferCause) -> Outcome:
    if notes is not None:
        notes.defer_cause = cause
    return cx.outcomes.deferred


def _advanced(cx: CompiledExperience, ctx: VisitorContext, notes: Notes | None) -> Step:
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
            assert audience.draw is not None  # from the seed: advanced tests have no period
            return audience.draw
        if action is AudienceAction.ASSIGN:
            assert audience.variation is not None
            return admitted_by(outcomes.assigned[audience.variation.id], audience.index)
        if action is AudienceAction.EXCLUDE:
            return outcomes.excluded
        return _deferred(cx, notes, DeferCause.ACTION)
    return _deferred(cx, notes, DeferCause.NO_AUDIENCE_MATCHED)


def _targeted(cx: CompiledExperience, ctx: VisitorContext, notes: Notes | None = None) -> Step:
    """What the experience's targeting gives `ctx`, before the visitor's hash is known."""
    return _advanced(cx, ctx, notes) if cx.advanced else _custom(cx, ctx)


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
    return None if outcome is None else (outcome[0], entry)  # the entry as it came: its cohort


def decide_experience(
    cx: CompiledExperience,
    ctx: VisitorContext,
    units: Units,
    entry: StickyEntry | None,
    notes: Notes | None = None,
    owner: GroupOwner | None = None,
    targeted: Step | None = None,
) -> Outcome:
    """Decide one live experience; `units` are the visitor id's code units (bucketing.py) and
    `owner` the test of its exclusion group the visitor is given (exclusion.py), if it has one.
    `targeted`: what `_targeted(cx, ctx)` gives, when already known (`targeted_steps`)."""
    if entry is not None:
        honoured = _sticky(cx, entry, notes)
        if honoured is not None:
            return honoured
    if owner is not None and owner.experience_id != cx.id:
        if notes is not None:
            notes.excluded = True
        return cx.outcomes.exclusion_group
    outcome = _drawn(_targeted(cx, ctx, notes) if targeted is None else targeted, units, notes)
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
    now: int = 0,
    targeted: Sequence[Step] | None = None,
) -> SiteDecision:
    """Decide every live experience of `site` for one visitor on one visit.

    `sticky` is what the visitor's token carried (`decode_sticky`); the result's `sticky` is what
    the next token should carry: new and honoured test entries, plus entries of paused or draft
    experiences carried forward unchanged. Entries of ended or unknown experiences are dropped.
    `visit` is the request's `Visit.from_request_fields(...)`, built once by the edge (the empty
    visit knows nothing, so no visit condition matches it). `now` (epoch seconds) matters only
    to temporary personalizations, which draw their holdout afresh every period.

    `targeted`: `targeted_steps(site, identity, visit, now)` when the caller keeps it (it is the
    same for every visitor with that identity on such a visit), so only the hashes are left to do.
    """
    ctx = VisitorContext(identity, visit, now)
    units = code_units(visitor_id)
    owners = GroupOwners(units, sticky) if site.groups else None
    decisions = []
    carried: dict[str, StickyEntry] = {}
    counted: list[str] = []
    for index, cx in enumerate(site.experiences):
        owner = owners.of(cx) if owners is not None else None
        entry_in = sticky.get(cx.id) if sticky else None
        step = targeted[index] if targeted is not None else None
        decision, entry = decide_experience(cx, ctx, units, entry_in, None, owner, step)
        decisions.append(decision)
        if entry is not None:
            carried[cx.id] = entry
            if decision.first_assignment and decision.entered:
                counted.append(cx.id)
        elif not cx.is_test:
            if entry_in is not None and entry_in.outcome is StickyOutcome.COUNTED:
                carried[cx.id] = entry_in
            elif decision.status is DecisionStatus.DECIDED and (
                decision.entered or decision.reason is Reason.HOLDOUT
            ):
                assert decision.variation_id is not None
                carried[cx.id] = StickyEntry.counted(decision.variation_id)
                counted.append(cx.id)
    if sticky:
        statuses = site.statuses
        for experience_id, entry in sticky.items():
            if statuses.get(experience_id) in CARRIED_FORWARD:
                carried[experience_id] = entry
    return SiteDecision(tuple(decisions), carried, tuple(counted) if counted else ())


def targeted_steps(
    site: CompiledSite, identity: Identity, visit: Visit = EMPTY_VISIT, now: int = 0
) -> tuple[Step, ...]:
    """What each live experience's targeting gives `identity` on `visit` at `now`, before any
    visitor's hash: an outcome, or the draw the hash settles. Rules read only the identity, the
    visit and `now` (through temporary personalizations' periods), never the visitor id, so
    this holds for every visitor with that identity on a visit with the same
    `CompiledSite.visit_signature`; pass it to `decide` as `targeted`."""
    ctx = VisitorContext(identity, visit, now)
    return tuple(_targeted(cx, ctx) for cx in site.experiences)


def decide_bot(site: CompiledSite, sticky: Mapping[str, StickyEntry]) -> SiteDecision:
    """A known crawler's answer: every live experience's control, reason `bot`, nothing entered
    or counted; the entries it carried go back unchanged."""
    return SiteDecision(tuple(cx.outcomes.bot[0] for cx in site.experiences), dict(sticky))


class DrawPlan:
    """`targeted_steps(site, identity, visit, now)` ready for visitors who carry no entries.

    `decide(site, v, identity, {}, visit=visit, now=now, targeted=plan.steps)` reads the visitor
    id `v` only through rows its hashes fall in, `plan.picks(code_units(v))`: first, for each
    exclusion group of a live experience, the range holding the group hash (the test the visitor
    is given, exclusion.py: with no entries it is the hash's); then, for each draw in site order,
    the row holding the draw's hash, unless the draw is a grouped test the visitor was not given
    (the group's control, whatever the hash). Visitors with the same picks get the same
    `SiteDecision`, so a caller may decide once per picks and share the result."""

    __slots__ = ("_draws", "_groups", "_lanes", "steps")

    def __init__(self, site: CompiledSite, steps: tuple[Step, ...]) -> None:
        self.steps = steps
        slots: dict[str, int] = {}
        groups: list[tuple[Units, tuple[tuple[float, float], ...]]] = []
        draws = []
        states = []
        for cx, step in zip(site.experiences, steps, strict=True):
            group = cx.group
            slot = own = -1
            if group is not None:
                slot = slots.get(group.name, -1)
                if slot < 0:
                    slot = slots[group.name] = len(groups)
                    groups.append((group.seed_units, tuple((r.low, r.high) for r in group.ranges)))
                # The range index the group hash must pick for this test to be decided (-2:
                # none; a live test always has one): `GroupOwner.experience_id == cx.id`.
                own = next((i for i, r in enumerate(group.ranges) if r.experience_id == cx.id), -2)
            if isinstance(step, Draw):
                states.append(step.state)
                draws.append((tuple((row[0], row[1]) for row in step.rows), slot, own))
        if groups:
            states.append(FNV_OFFSET)  # the last lane: the visitor's units alone (`group_hash`)
        self._groups = tuple(groups)
        self._draws = tuple(draws)
        self._lanes = FnvLanes(states) if states else None

    def picks(self, units: Units) -> tuple[int, ...]:
        """For each exclusion group, the index of the range holding the visitor's group hash
        (-1: none); then for each draw in site order, the index of the row holding the
        visitor's hash (-1: none, the draw's miss; -2: not hashed, the visitor was given
        another test of the draw's group): what `decide` chooses, without building it.
        Every draw's first hash (and the group hash's visitor part) runs in one `FnvLanes`
        pass; the second hash, over at most ten digits, per draw."""
        if self._lanes is None:
            return ()
        states = self._lanes.run(units)
        found = []
        if self._groups:
            # `group_hash` (exclusion.py): the visitor's units (the last lane), then each seed.
            start = states[-1]
            for seed_units, ranges in self._groups:
                state = start
                for unit in seed_units:
                    state = (state ^ unit) * 16777619 & 0xFFFFFFFF
                g = (state % 1000) / 1000
                index = -1
                for at, (low, high) in enumerate(ranges):
                    if low <= g < high:
                        index = at
                        break
                found.append(index)
        for (bounds, slot, own), state in zip(self._draws, states, strict=False):  # + the group lane
            if slot >= 0 and found[slot] != own:
                found.append(-2)
                continue
            # The rest of `hash_from_state`, inlined with its constants (FNV_OFFSET, FNV_PRIME,
            # _MASK): a few percent less per first visit's picks, measured on bench.assign's site.
            second = 0x811C9DC5
            for unit in b"%d" % state:
                second = (second ^ unit) * 16777619
            n = (second & 0xFFFFFFFF) % 10000 / 10000
            index = -1
            for at, (low, high) in enumerate(bounds):
                if low <= n < high:
                    index = at
                    break
            found.append(index)
        return tuple(found)


def draw_plan(site: CompiledSite, identity: Identity, visit: Visit = EMPTY_VISIT, now: int = 0) -> DrawPlan:
    """`targeted_steps` as a `DrawPlan`."""
    return DrawPlan(site, targeted_steps(site, identity, visit, now))
