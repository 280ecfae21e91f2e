"""The report: every variation against the control, the split check, warnings, sample size."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from stats.health import warnings_for
from stats.inputs import Arm, VariationData, check_arms, collect
from stats.lift import relative_lift
from stats.moments import Metric, Moments, metric_moments
from stats.numbers import finite, ratio_or_none
from stats.power import sample_size
from stats.results import AudienceResults, ExperimentResults, Lifts, VariationResult
from stats.srm import sample_ratio

# The metric a free-shipping or pricing test is decided on: it moves with conversion and with
# order value, so a variation that converts more but sells smaller baskets wins only if it still
# makes more money per visitor.
HEADLINE_METRIC = Metric.REVENUE_PER_VISITOR


def analyze_experience(
    experience_id: str,
    arms: Sequence[Arm],
    data: Iterable[VariationData],
    *,
    bots_excluded: int = 0,
    currencies: Collection[str] = (),
) -> ExperimentResults:
    """Compare every arm with the control. `data` may miss arms (zeros) or repeat one (summed);
    data of a variation that is not an arm is left out. Raises `InvalidArmsError` on a bad split."""
    control_arm = check_arms(arms)
    groups = collect(arms, data)
    control = groups[arms.index(control_arm)]
    control_moments = metric_moments(control)
    variations = tuple(
        _variation_result(group, arm.is_control, control_moments)
        for arm, group in zip(arms, groups, strict=True)
    )
    srm = sample_ratio([group.visitors for group in groups], [arm.weight for arm in arms])
    warnings = warnings_for(groups, srm, bots_excluded=bots_excluded, currencies=currencies)
    return ExperimentResults(
        experience_id=experience_id,
        headline_metric=HEADLINE_METRIC,
        variations=variations,
        srm=srm,
        bots_excluded=bots_excluded,
        warnings=tuple(warnings),
        sample_size=sample_size(control),
    )


def analyze_audiences(
    experience_id: str,
    arms: Sequence[Arm],
    audiences: Mapping[str, Iterable[VariationData]],
) -> tuple[AudienceResults, ...]:
    """The same report for each audience's visitors, in the mapping's order. Bots and currencies
    are properties of the whole experiment, so audience reports carry neither."""
    return tuple(
        AudienceResults(audience, analyze_experience(experience_id, arms, data))
        for audience, data in audiences.items()
    )


def _variation_result(
    group: VariationData, is_control: bool, control: Mapping[Metric, Moments]
) -> VariationResult:
    lifts, chance = None, None
    if not is_control:
        moments = metric_moments(group)
        by_metric = {metric: relative_lift(control[metric], moments[metric]) for metric in Metric}
        lifts = Lifts(
            conversion_rate=by_metric[Metric.CONVERSION_RATE],
            revenue_per_visitor=by_metric[Metric.REVENUE_PER_VISITOR],
            orders_per_visitor=by_metric[Metric.ORDERS_PER_VISITOR],
            average_order_value=by_metric[Metric.AVERAGE_ORDER_VALUE],
        )
        chance = by_metric[HEADLINE_METRIC].chance_to_beat_control
    return VariationResult(
        variation_id=group.variation_id,
        is_control=is_control,
        visitors=group.visitors,
        converters=group.converters,
        orders=group.orders,
        revenue=finite(group.revenue) or 0.0,
        conversion_rate=ratio_or_none(group.converters, group.visitors),
        revenue_per_visitor=ratio_or_none(group.revenue, group.visitors),
        average_order_value=ratio_or_none(group.revenue, group.orders),
        orders_per_visitor=ratio_or_none(group.orders, group.visitors),
        chance_to_beat_control=chance,
        lift=lifts,
    )
