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
from targeting.identity import UNIDENTIFIED, Predicate, Truth, VisitorContext
from targeting.model import (
    AdvancedTargeting,
    AudienceAction,
    Experience,
    ExperienceStatus,
    ExperienceType,
    PersonalizationMode,
    Variation,
)
from targeting.outcomes import Draw, Outcomes, admitted_by, build_draw, build_outcomes
from targeting.registry import lookup
from targeting.rules import MATCH_EVERYONE, Condition, RuleNode, compile_rule, iter_conditions
from targeting.visit import NO_VISIT_NEEDS, Visit, VisitNeeds

DAY_S: Final = 86_400
CARRIED_FORWARD: Final = frozenset({ExperienceStatus.PAUSED, ExperienceStatus.DRAFT})


@dataclass(frozen=True, slots=True)
class CompiledAudience:
    index: int
    action: AudienceAction
    evaluate: Predicate
    everyone: bool  # no conditions: the rules are constant
    variation: Variation | None  # the target of `assign`
    draw: Draw | None = None  # `random`: the variations' outcomes, admitted by this audience


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
    period_s: int = 0  # temporary personalizations: a fresh holdout draw every period_s
    # Custom rules matched: the outcome of each variation's range (from `seed_state`).
    draw: Draw | None = None

    def bucket_state(self, now: int) -> int:
        """The seed's FNV state for a decision at `now`: a temporary personalization's seed is
        `"<seed>~<period number>"`, so each period draws afresh; every other's is its seed."""
        if not self.period_s:
            return self.seed_state
        return seed_state(f"{self.experience.bucketing_seed}~{now // self.period_s}")


@dataclass(frozen=True, slots=True)
class CompiledSite:
    experiences: tuple[CompiledExperience, ...]  # live ones, in the order given
    statuses: Mapping[str, ExperienceStatus]  # every experience
    targeted_segments: frozenset[str]  # segments live experiences reference
    needs_identity: bool  # some live experience has an identity condition
    registry: Registry  # the attributes conditions were compiled with
    visit_needs: VisitNeeds  # what of the visit live experiences' conditions read
    groups: Mapping[str, CompiledGroup]  # exclusion groups with a live, paused or draft test
    # Each distinct visit condition of the live experiences, compiled once (`visit_signature`).
    visit_conditions: tuple[Predicate, ...] = ()
    periods: tuple[int, ...] = ()  # temporary personalizations' period_s

    def visit_signature(self, visit: Visit, now: int = 0) -> tuple[Truth | int, ...]:
        """The truth of every visit condition of the live experiences for `visit`, then the
        period number of each temporary personalization at `now`.

        Visit conditions read only the visit, and every visit value decisions read goes through
        one of them, so two visits with the same signature decide alike for the same visitor,
        identity and token: an answer can be remembered under it. It holds booleans only, never
        what the client sent, and has one element per distinct condition (bounded by the
        configuration), so remembering by it adds nothing a client chose to memory."""
        return self.visit_truths(visit) + self.period_numbers(now)

    def visit_truths(self, visit: Visit) -> tuple[Truth, ...]:
        """The visit conditions' part of `visit_signature`: it reads only `visit`."""
        if not self.visit_conditions:
            return ()
        ctx = VisitorContext(UNIDENTIFIED, visit)
        return tuple([condition(ctx) for condition in self.visit_conditions])

    def period_numbers(self, now: int) -> tuple[int, ...]:
        """The periods' part of `visit_signature`: it reads only `now`."""
        return tuple([now // period for period in self.periods]) if self.periods else ()


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


def link_predicate(param: str, value: str) -> Predicate:
    """A link-based personalization's entry: the page URL carries `?param=value`, or the
    visitor arrived with it earlier (the snippet keeps it: `Visit.links`)."""

    def arrived_by_link(ctx: VisitorContext) -> Truth:
        visit = ctx.visit
        return visit.query.get(param) == value or visit.links.get(param) == value

    return arrived_by_link


def _both(first: Predicate, then: Predicate) -> Predicate:
    """`first AND then`, three-valued; `then` is not evaluated when `first` is false."""

    def both(ctx: VisitorContext) -> Truth:
        truth = first(ctx)
        if truth is False:
            return False
        other = then(ctx)
        if other is False:
            return False
        return None if truth is None or other is None else True

    return both


def _visit_conditions(
    experiences: Iterable[CompiledExperience], attributes: Registry
) -> tuple[Predicate, ...]:
    seen: dict[Condition, Predicate] = {}
    links: list[Predicate] = []
    for cx in experiences:
        experience = cx.experience
        if experience.mode is PersonalizationMode.LINK:
            assert experience.link_param is not None and experience.link_value is not None
            links.append(link_predicate(experience.link_param, experience.link_value))
        for tree in cx.experience.rule_trees:
            for condition in iter_conditions(tree):
                if condition in seen:
                    continue
                attribute = lookup(attributes, condition.attribute)
                if attribute.visit_needs.any and not attribute.needs_identity:
                    seen[condition] = attribute.compile(condition.operator, condition.value)
    return (*seen.values(), *links)


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
    outcomes = build_outcomes(experience)
    state = seed_state(experience.bucketing_seed)
    spans = [(r.low, r.high, r.variation) for r in ranges]
    audiences: tuple[CompiledAudience, ...] = ()
    if isinstance(targeting, AdvancedTargeting):
        audiences = tuple(
            CompiledAudience(
                index,
                audience.action,
                compile_rule(audience.rules, attributes),
                _no_conditions(audience.rules),
                variations.get(audience.variation_id) if audience.variation_id else None,
                _audience_draw(state, spans, outcomes, index, _no_conditions(audience.rules))
                if audience.action is AudienceAction.RANDOM
                else None,
            )
            for index, audience in enumerate(targeting.audiences)
        )
        evaluate = compile_rule(MATCH_EVERYONE, attributes)
        everyone = False
    else:
        evaluate = compile_rule(targeting.rules, attributes)
        everyone = _no_conditions(targeting.rules)
    visit_needs = _visit_needs(experience.rule_trees, attributes)
    period_s = 0
    if experience.mode is PersonalizationMode.LINK:
        assert experience.link_param is not None and experience.link_value is not None
        evaluate = _both(link_predicate(experience.link_param, experience.link_value), evaluate)
        everyone = False
        param = frozenset({experience.link_param})
        visit_needs = visit_needs.union(VisitNeeds(url=True, query_params=param, links=param))
    elif experience.mode is PersonalizationMode.TEMPORARY:
        assert experience.evaluate_every_days is not None
        period_s = experience.evaluate_every_days * DAY_S
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
        seed_state=state,
        coverage=coverage,
        ranges=ranges,
        variations=variations,
        control=experience.control,
        outcomes=outcomes,
        visit_needs=visit_needs,
        group=group,
        period_s=period_s,
        draw=build_draw(
            state,
            spans,
            outcomes.everyone if everyone else outcomes.matched,
            outcomes.not_in_traffic if is_test else outcomes.holdout,
        ),
    )


def _audience_draw(
    state: int, spans: list[tuple[float, float, Variation]], outcomes: Outcomes, index: int, everyone: bool
) -> Draw:
    table = outcomes.everyone if everyone else outcomes.matched
    admitted = {variation_id: admitted_by(outcome, index) for variation_id, outcome in table.items()}
    return build_draw(state, spans, admitted, outcomes.not_in_traffic)


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
        visit_conditions=_visit_conditions(live, attributes),
        periods=tuple(cx.period_s for cx in live if cx.period_s),
    )
