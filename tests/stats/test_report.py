"""The whole report: its JSON shape, the control's nulls, and degenerate inputs."""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stats import (
    HEADLINE_METRIC,
    Arm,
    InvalidArmsError,
    Metric,
    MetricLift,
    ResultWarning,
    VariationData,
    analyze_audiences,
    analyze_experience,
)
from tests.stats.factories import arms, busy

CONTRACT_VARIATION_FIELDS = {
    "variation_id",
    "is_control",
    "visitors",
    "converters",
    "orders",
    "revenue",
    "conversion_rate",
    "revenue_per_visitor",
    "average_order_value",
    "chance_to_beat_control",
    "lift",
}
CONTRACT_LIFT_FIELDS = {"value", "ci_low", "ci_high"}


def _floats(node: Any) -> list[float]:
    if isinstance(node, float):
        return [node]
    if isinstance(node, dict):
        return [f for value in node.values() for f in _floats(value)]
    if isinstance(node, list | tuple):
        return [f for value in node for f in _floats(value)]
    return []


def _assert_json_clean(results: object) -> dict[str, Any]:
    """Holds no NaN or infinity anywhere (msgspec would write them as null), and encodes."""
    assert all(math.isfinite(f) for f in _floats(msgspec.to_builtins(results)))
    decoded: dict[str, Any] = json.loads(msgspec.json.encode(results))
    return decoded


def test_the_answer_has_the_contract_fields() -> None:
    answer = _assert_json_clean(
        analyze_experience("exp_1", arms("a", "b"), [busy("a"), busy("b", orders=60)])
    )
    assert {"experience_id", "variations", "srm", "bots_excluded", "warnings"} <= answer.keys()
    assert answer["experience_id"] == "exp_1"
    assert answer["srm"].keys() == {"p_value", "mismatch"}
    for variation in answer["variations"]:
        assert variation.keys() >= CONTRACT_VARIATION_FIELDS
    lift = answer["variations"][1]["lift"]
    assert lift.keys() == {m.value for m in Metric}
    assert lift["conversion_rate"].keys() >= CONTRACT_LIFT_FIELDS
    assert lift["revenue_per_visitor"].keys() >= CONTRACT_LIFT_FIELDS


def test_the_control_has_no_lift_or_chance_and_the_others_do() -> None:
    results = analyze_experience(
        "exp", arms("a", "b", "c"), [busy("a"), busy("b", orders=70), busy("c", orders=20)]
    )
    control, *others = results.variations
    assert control.is_control and control.lift is None and control.chance_to_beat_control is None
    for variation in others:
        assert variation.lift is not None
        assert variation.chance_to_beat_control == variation.lift.revenue_per_visitor.chance_to_beat_control
    assert results.headline_metric is HEADLINE_METRIC is Metric.REVENUE_PER_VISITOR
    assert others[0].chance_to_beat_control is not None and others[0].chance_to_beat_control > 0.9
    assert others[1].chance_to_beat_control is not None and others[1].chance_to_beat_control < 0.1


def test_rates_and_totals_are_reported_per_variation() -> None:
    data = VariationData(
        "a", visitors=200, converters=20, orders=25, revenue=1_000.0, revenue_sq=90_000.0, orders_sq=35
    )
    variation = analyze_experience("exp", arms("a", "b"), [data]).variations[0]
    assert (variation.visitors, variation.converters, variation.orders, variation.revenue) == (
        200,
        20,
        25,
        1_000.0,
    )
    assert variation.conversion_rate == pytest.approx(0.1)
    assert variation.revenue_per_visitor == pytest.approx(5.0)
    assert variation.average_order_value == pytest.approx(40.0)
    assert variation.orders_per_visitor == pytest.approx(0.125)


def test_zero_visitors_everywhere_gives_nulls_and_warnings_but_no_error() -> None:
    results = analyze_experience("exp", arms("a", "b"), [])
    answer = _assert_json_clean(results)
    for variation in answer["variations"]:
        assert variation["visitors"] == 0
        assert variation["conversion_rate"] is None and variation["revenue_per_visitor"] is None
        assert variation["average_order_value"] is None and variation["chance_to_beat_control"] is None
    assert all(v is None for lift in answer["variations"][1]["lift"].values() for v in lift.values())
    assert answer["srm"] == {"p_value": None, "mismatch": False}
    assert answer["warnings"] == [ResultWarning.NOT_ENOUGH_DATA.value]
    assert answer["sample_size"]["orders_per_group"] is None


def test_zero_orders_gives_no_order_value_and_no_revenue_lift() -> None:
    data = [VariationData("a", visitors=500), VariationData("b", visitors=500)]
    results = analyze_experience("exp", arms("a", "b"), data)
    _assert_json_clean(results)
    treatment = results.variations[1]
    assert treatment.conversion_rate == 0 and treatment.average_order_value is None
    assert treatment.lift is not None and treatment.lift.revenue_per_visitor.value is None
    assert treatment.chance_to_beat_control is None


def test_a_variation_without_orders_loses_everything_but_has_no_order_value_lift() -> None:
    results = analyze_experience("exp", arms("a", "b"), [busy("a"), VariationData("b", visitors=1_000)])
    lift = results.variations[1].lift
    assert lift is not None
    assert lift.conversion_rate.value == -1 and lift.revenue_per_visitor.value == -1
    assert lift.average_order_value == MetricLift(None, None, None, None, None)


def test_a_control_without_revenue_gives_no_revenue_lift_but_a_conversion_lift() -> None:
    control = VariationData(
        "a", visitors=500, converters=10, orders=10, revenue=0.0, orders_sq=10, revenue_orders=0.0
    )
    results = analyze_experience("exp", arms("a", "b"), [control, busy("b", visitors=500)])
    lift = results.variations[1].lift
    assert lift is not None
    assert lift.revenue_per_visitor.value is None and lift.average_order_value.value is None
    assert lift.conversion_rate.value is not None and lift.conversion_rate.chance_to_beat_control is not None


def test_identical_groups_give_lift_zero_and_an_even_chance() -> None:
    results = analyze_experience("exp", arms("a", "b"), [busy("a"), busy("b")])
    lift = results.variations[1].lift
    assert lift is not None
    for metric in (
        lift.conversion_rate,
        lift.revenue_per_visitor,
        lift.orders_per_visitor,
        lift.average_order_value,
    ):
        assert metric.value == pytest.approx(0)
        assert metric.chance_to_beat_control == pytest.approx(0.5)
        assert metric.p_value == pytest.approx(1)
    assert results.srm.p_value == pytest.approx(1) and results.warnings == ()


def test_without_the_cross_term_order_value_lift_has_a_value_but_no_interval() -> None:
    data = [msgspec.structs.replace(busy(v), revenue_orders=None) for v in ("a", "b")]
    lift = analyze_experience("exp", arms("a", "b"), [data[0], busy("b", order_value=60)]).variations[1].lift
    assert lift is not None and lift.average_order_value.value == pytest.approx(0.2)
    assert lift.average_order_value.ci_low is None and lift.average_order_value.chance_to_beat_control is None
    assert lift.revenue_per_visitor.ci_low is not None


def test_only_a_control_is_a_report_of_one() -> None:
    results = analyze_experience("exp", [Arm("a", 1, True)], [busy("a")])
    assert len(results.variations) == 1 and results.srm.p_value is None
    assert results.warnings == ()


def test_data_is_summed_per_variation_missing_arms_are_zero_and_strangers_left_out() -> None:
    half = VariationData(
        "a", visitors=100, converters=5, orders=6, revenue=50.0, revenue_sq=600.0, orders_sq=8.0
    )
    results = analyze_experience(
        "exp", arms("a", "b", "c"), [half, VariationData("gone", visitors=999), half]
    )
    assert [v.variation_id for v in results.variations] == ["a", "b", "c"]
    control = results.variations[0]
    assert (control.visitors, control.converters, control.orders, control.revenue) == (200, 10, 12, 100.0)
    assert results.variations[1].visitors == 0 and results.variations[2].visitors == 0


@pytest.mark.parametrize(
    "bad",
    [
        [Arm("a", 1), Arm("b", 1)],
        [Arm("a", 1, True), Arm("b", 1, True)],
        [Arm("a", 1, True), Arm("a", 1)],
        [Arm("a", 1, True), Arm("b", 0)],
        [Arm("a", float("nan"), True), Arm("b", 1)],
    ],
    ids=["no-control", "two-controls", "duplicate-id", "zero-weight", "nan-weight"],
)
def test_a_bad_split_raises_a_coded_error(bad: list[Arm]) -> None:
    with pytest.raises(InvalidArmsError) as raised:
        analyze_experience("exp", bad, [])
    assert raised.value.code == "invalid_arms"


def test_bots_excluded_are_reported_as_given() -> None:
    assert (
        analyze_experience("exp", arms("a", "b"), [busy("a"), busy("b")], bots_excluded=7).bots_excluded == 7
    )


def test_audiences_get_the_same_report_each_in_order() -> None:
    audiences = {
        "vip": [busy("a", visitors=300, orders=30), busy("b", visitors=300, orders=45)],
        "everyone_else": [busy("a"), busy("b", visitors=1_100)],
    }
    reports = analyze_audiences("exp", arms("a", "b"), audiences)
    assert [r.audience for r in reports] == ["vip", "everyone_else"]
    for report, data in zip(reports, audiences.values(), strict=True):
        assert report.results == analyze_experience("exp", arms("a", "b"), data)
    _assert_json_clean(reports)


def test_audience_reports_carry_no_bot_or_currency_warnings() -> None:
    reports = analyze_audiences("exp", arms("a", "b"), {"vip": [busy("a"), busy("b")]})
    assert reports[0].results.bots_excluded == 0 and reports[0].results.warnings == ()


amounts = st.floats(min_value=0, max_value=1e12)
any_counts = st.builds(
    VariationData,
    variation_id=st.sampled_from(["a", "b", "c"]),
    visitors=st.integers(min_value=0, max_value=10**9),
    converters=st.integers(min_value=0, max_value=10**9),
    orders=st.integers(min_value=0, max_value=10**9),
    revenue=amounts,
    revenue_sq=amounts,
    orders_sq=amounts,
    revenue_orders=st.none() | amounts,
)


@given(st.lists(any_counts, max_size=6), st.integers(min_value=0, max_value=10**6))
def test_any_counts_even_inconsistent_ones_give_a_clean_answer(data: list[VariationData], bots: int) -> None:
    _assert_json_clean(analyze_experience("exp", arms("a", "b", "c"), data, bots_excluded=bots))
