"""`compile_site`: everything a decision needs, computed once per configuration change.

A `CompiledSite` holds, for each live experience in the order given, its compiled rule
predicates, bucket ranges with their variations, the FNV state of its seed, its exclusion group
(exclusion.py) and every outcome it can produce (outcomes.py), so `decide` does no parsing, no
JSON walking and no allocation per experience. It also knows every experience's status, so
sticky entries of paused (or draft) experiences are carried forward while ended and unknown ones
are dropped, and what the live experiences need: the Klaviyo segments they target, whether any
needs the identity at all, and what of the visit they read (`visit_needs`), so the edge resolves
and collects only that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from targeting.attributes import ATTRIBUTES, Registry
from targeting.bucketing import bucket_ranges, seed_state
from targeting.errors import CompileError
from targeting.exclusion import CompiledGroup, compile_groups
from targeting.identity import Predicate
from targeting.model import (
    AdvancedTargeting,
    AudienceAction,
    Experience,
    ExperienceStatus,
    ExperienceType,
    Variation,
)
from targeting.outcomes import Outcomes, build_outcomes
from targeting.registry import lookup
from targeting.rules import MATCH_EVERYONE, RuleNode, compile_rule, iter_conditions
from targeting.visit import NO_VISIT_NEEDS, VisitNeeds

CARRIED_FORWARD: Final = frozenset({ExperienceStatus.PAUSED, ExperienceStatus.DRAFT})


@dataclass(frozen=True, slots=True)
class CompiledAudience:
    index: int
    action: AudienceAction
    evaluate: Predicate
    everyone: bool  # no conditions: the rules are constant
    variation: Variation | None  # the target of `assign`


@dataclass(frozen=True, slots=True)
class BucketRange:
    low: float
    high: float
    variation: Variation


@dataclass(frozen=True, slots=True)
class CompiledExperience:
    experience: Experience
    id: str
    type: ExperienceType
    is_test: bool
    advanced: bool
    evaluate: Predicate  # custom targeting's rules (advanced: unused)
    everyone: bool
    audiences: tuple[CompiledAudience, ...]
    needs_identity: bool
    seed_state: int
    coverage: float
    ranges: tuple[BucketRange, ...]  # tests: all variations; personalizations: non-control
    variations: Mapping[str, Variation]
    control: Variation
    outcomes: Outcomes  # every decision it can produce, prebuilt
    visit_needs: VisitNeeds
    group: CompiledGroup | None  # its exclusion group (live tests only)


@dataclass(frozen=True, slots=True)
class CompiledSite:
    experiences: tuple[CompiledExperience, ...]  # live ones, in the order given
    statuses: Mapping[str, ExperienceStatus]  # every experience
    targeted_segments: frozenset[str]  # segments live experiences reference
    needs_identity: bool  # some live experience has an identity condition
    registry: Registry  # the attributes conditions were compiled with
    visit_needs: VisitNeeds  # what of the visit live experiences' conditions read
    groups: Mapping[str, CompiledGroup]  # exclusion groups with a live, paused or draft test


def _needs_identity(trees: Iterable[RuleNode], attributes: Registry) -> bool:
    return any(
        lookup(attributes, condition.attribute).needs_identity
        for tree in trees
        for condition in iter_conditions(tree)
    )


def _visit_needs(trees: Iterable[RuleNode], attributes: Registry) -> VisitNeeds:
    needs = NO_VISIT_NEEDS
    for tree in trees:
        for condition in iter_conditions(tree):
            needs = needs.union(lookup(attributes, condition.attribute).visit_needs)
    return needs


def _no_conditions(tree: RuleNode) -> bool:
    return next(iter_conditions(tree), None) is None


def compile_experience(
    experience: Experience, attributes: Registry = ATTRIBUTES, group: CompiledGroup | None = None
) -> CompiledExperience:
    is_test = experience.type is ExperienceType.TEST
    coverage = experience.traffic_percent / 100
    split = [v for v in experience.variations if is_test or not v.is_control]
    ranges = tuple(
        BucketRange(low, high, variation)
        for (low, high), variation in zip(
            bucket_ranges([v.weight for v in split], coverage), split, strict=True
        )
    )
    variations = MappingProxyType({v.id: v for v in experience.variations})
    targeting = experience.targeting
    audiences: tuple[CompiledAudience, ...] = ()
    if isinstance(targeting, AdvancedTargeting):
        audiences = tuple(
            CompiledAudience(
                index,
                audience.action,
                compile_rule(audience.rules, attributes),
                _no_conditions(audience.rules),
                variations.get(audience.variation_id) if audience.variation_id else None,
            )
            for index, audience in enumerate(targeting.audiences)
        )
        evaluate = compile_rule(MATCH_EVERYONE, attributes)
        everyone = False
    else:
        evaluate = compile_rule(targeting.rules, attributes)
        everyone = _no_conditions(targeting.rules)
    return CompiledExperience(
        experience=experience,
        id=experience.id,
        type=experience.type,
        is_test=is_test,
        advanced=isinstance(targeting, AdvancedTargeting),
        evaluate=evaluate,
        everyone=everyone,
        audiences=audiences,
        needs_identity=_needs_identity(experience.rule_trees, attributes),
        seed_state=seed_state(experience.bucketing_seed),
        coverage=coverage,
        ranges=ranges,
        variations=variations,
        control=experience.control,
        outcomes=build_outcomes(experience),
        visit_needs=_visit_needs(experience.rule_trees, attributes),
        group=group,
    )


def compile_site(experiences: Iterable[Experience], *, attributes: Registry = ATTRIBUTES) -> CompiledSite:
    """Compile a site's experiences (every status); only live ones are decided."""
    statuses: dict[str, ExperienceStatus] = {}
    given = list(experiences)
    for experience in given:
        if experience.id in statuses:
            raise CompileError(f"two experiences share the id {experience.id!r}")
        statuses[experience.id] = experience.status
    groups = compile_groups(given)
    live = [
        compile_experience(
            experience,
            attributes,
            groups.get(experience.exclusion_group) if experience.exclusion_group else None,
        )
        for experience in given
        if experience.status is ExperienceStatus.LIVE
    ]
    visit_needs = NO_VISIT_NEEDS
    for cx in live:
        visit_needs = visit_needs.union(cx.visit_needs)
    return CompiledSite(
        experiences=tuple(live),
        statuses=MappingProxyType(statuses),
        targeted_segments=frozenset().union(*(cx.experience.referenced_segments for cx in live)),
        needs_identity=any(cx.needs_identity for cx in live),
        registry=attributes,
        visit_needs=visit_needs,
        groups=groups,
    )
