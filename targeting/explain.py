"""`explain`: the full trace of a decision, for the configuration API and for support.

Each `ExperienceTrace` runs the very same decision path as `decide` (so the traced decision is
the decision) and adds what the fast path skips: every condition's result with its path in the
experience document, every audience's result, and the hash value `n` with the coverage, the
ranges and the range that holds `n` (computed even when the decision did not need it; `used`
says whether it did), and for a test in an exclusion group which test of the group the visitor
was given and why: the group hash `n`, every live test's range, the given test and the cause
(their sticky entry, or the hash). Traces are msgspec Structs; `to_dict()` gives JSON-ready
builtins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from targeting.attributes import ATTRIBUTES, Registry
from targeting.bucketing import code_units, hash_from_state
from targeting.compiled import CompiledExperience, CompiledSite
from targeting.decide import DeferCause, GroupOwners, Notes, StickyVerdict, decide_experience
from targeting.decision import Decision
from targeting.exclusion import GroupOwner, OwnerCause
from targeting.identity import Identity, VisitorContext
from targeting.model import AudienceAction, CustomTargeting, ExperienceType, TargetingMode
from targeting.rules import ConditionResult, TruthValue, trace_rule
from targeting.sticky import StickyEntry
from targeting.visit import EMPTY_VISIT, Visit


class RuleTrace(msgspec.Struct, frozen=True):
    path: str
    result: TruthValue
    conditions: tuple[ConditionResult, ...]


class AudienceTrace(msgspec.Struct, frozen=True):
    index: int
    action: AudienceAction
    variation_id: str | None
    rules: RuleTrace


class RangeTrace(msgspec.Struct, frozen=True):
    variation_id: str
    low: float
    high: float


class BucketTrace(msgspec.Struct, frozen=True):
    seed: str
    n: float
    coverage: float
    ranges: tuple[RangeTrace, ...]
    hit: RangeTrace | None  # the range holding n, if any
    used: bool  # whether the decision was made by the hash


class GroupRangeTrace(msgspec.Struct, frozen=True):
    experience_id: str
    low: float
    high: float


class ExclusionTrace(msgspec.Struct, frozen=True):
    group: str
    seed: str  # the group hash's seed, "__" + group
    n: float  # hash_v1(seed, visitor_id)
    ranges: tuple[GroupRangeTrace, ...]  # the group's live tests, by id
    given: str | None  # the test of the group the visitor was given
    cause: OwnerCause  # sticky_entry (their token says they entered it) or hash (n in its range)
    excluded: bool  # whether this test's decision was the group's exclusion


class ExperienceTrace(msgspec.Struct, frozen=True):
    experience_id: str
    type: ExperienceType
    mode: TargetingMode
    sticky_in: StickyEntry | None
    sticky_verdict: StickyVerdict
    rules: RuleTrace | None  # custom targeting
    audiences: tuple[AudienceTrace, ...]  # advanced targeting, every audience evaluated
    matched_audience: int | None  # the audience that decided (advanced)
    defer_cause: DeferCause | None
    bucket: BucketTrace
    exclusion: ExclusionTrace | None  # tests in an exclusion group
    decision: Decision
    sticky_out: StickyEntry | None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


def _rule_trace(tree: Any, ctx: VisitorContext, path: str, attributes: Registry) -> RuleTrace:
    truth, conditions = trace_rule(tree, ctx, path, attributes)
    return RuleTrace(path, TruthValue.of(truth), conditions)


def _bucket_trace(cx: CompiledExperience, visitor_id: str, notes: Notes, now: int) -> BucketTrace:
    n = hash_from_state(cx.bucket_state(now), code_units(visitor_id))
    ranges = tuple(RangeTrace(b.variation.id, b.low, b.high) for b in cx.ranges)
    hit = next((r for r in ranges if r.low <= n < r.high), None)
    return BucketTrace(cx.experience.bucketing_seed, n, cx.coverage, ranges, hit, notes.n is not None)


def _exclusion_trace(cx: CompiledExperience, owner: GroupOwner | None, notes: Notes) -> ExclusionTrace | None:
    group = cx.group
    if group is None or owner is None:
        return None
    ranges = tuple(GroupRangeTrace(r.experience_id, r.low, r.high) for r in group.ranges)
    return ExclusionTrace(
        group.name, group.seed, owner.n, ranges, owner.experience_id, owner.cause, notes.excluded
    )


def trace_experience(
    cx: CompiledExperience,
    ctx: VisitorContext,
    visitor_id: str,
    entry: StickyEntry | None,
    attributes: Registry = ATTRIBUTES,
    owner: GroupOwner | None = None,
) -> ExperienceTrace:
    notes = Notes()
    decision, out = decide_experience(cx, ctx, code_units(visitor_id), entry, notes, owner)
    targeting = cx.experience.targeting
    rules = None
    audiences: tuple[AudienceTrace, ...] = ()
    if isinstance(targeting, CustomTargeting):
        rules = _rule_trace(targeting.rules, ctx, "targeting.rules", attributes)
    else:
        audiences = tuple(
            AudienceTrace(
                i,
                a.action,
                a.variation_id,
                _rule_trace(a.rules, ctx, f"targeting.audiences[{i}].rules", attributes),
            )
            for i, a in enumerate(targeting.audiences)
        )
    return ExperienceTrace(
        experience_id=cx.id,
        type=cx.type,
        mode=targeting.mode,
        sticky_in=entry,
        sticky_verdict=notes.sticky,
        rules=rules,
        audiences=audiences,
        matched_audience=notes.audience,
        defer_cause=notes.defer_cause,
        bucket=_bucket_trace(cx, visitor_id, notes, ctx.now),
        exclusion=_exclusion_trace(cx, owner, notes),
        decision=decision,
        sticky_out=out,
    )


def explain(
    site: CompiledSite,
    visitor_id: str,
    identity: Identity,
    sticky: Mapping[str, StickyEntry],
    *,
    visit: Visit = EMPTY_VISIT,
    now: int = 0,
) -> tuple[ExperienceTrace, ...]:
    """The trace of `decide(site, visitor_id, identity, sticky, visit=visit)` for each live
    experience."""
    ctx = VisitorContext(identity, visit, now)
    owners = GroupOwners(code_units(visitor_id), sticky)
    return tuple(
        trace_experience(cx, ctx, visitor_id, sticky.get(cx.id), site.registry, owners.of(cx))
        for cx in site.experiences
    )
