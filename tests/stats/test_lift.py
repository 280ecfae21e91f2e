"""Relative lift: degenerate inputs give None (never NaN), and the answers hang together."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from stats import MetricLift, Moments, relative_lift
from stats.moments import proportion, sample_mean

NOTHING = MetricLift(None, None, None, None, None)


def test_empty_groups_or_a_zero_control_mean_give_no_lift() -> None:
    some = proportion(1_000, 40)
    assert relative_lift(proportion(0, 0), some) == NOTHING
    assert relative_lift(some, proportion(0, 0)) == NOTHING
    assert relative_lift(proportion(1_000, 0), some) == NOTHING


def test_zero_variance_keeps_the_point_estimate_only() -> None:
    control = sample_mean(100, 500.0, 2_500.0)  # every visitor spent exactly 5
    variation = sample_mean(100, 600.0, 4_000.0)
    assert control.variance == 0
    lift = relative_lift(control, variation)
    assert lift.value == pytest.approx(0.2)
    assert (lift.ci_low, lift.ci_high, lift.p_value, lift.chance_to_beat_control) == (None, None, None, None)


def test_unknown_variance_keeps_the_point_estimate_only() -> None:
    lift = relative_lift(Moments(100, 2.0, None), Moments(100, 3.0, 1.0))
    assert lift == MetricLift(0.5, None, None, None, None)


def test_single_visitor_groups_have_no_interval() -> None:
    lift = relative_lift(Moments(1, 2.0, 1.0), Moments(1, 3.0, 1.0))
    assert lift.value == 0.5
    assert lift.ci_low is None and lift.p_value is None and lift.chance_to_beat_control is None


def test_inconsistent_counts_never_produce_nan() -> None:
    lift = relative_lift(proportion(100, 150), proportion(100, 20))  # more converters than visitors
    assert all(v is None or math.isfinite(v) for v in (lift.value, lift.ci_low, lift.p_value))


def test_a_clear_winner_has_a_small_p_value_and_a_high_chance() -> None:
    lift = relative_lift(proportion(20_000, 600), proportion(20_000, 800))
    assert lift.value == pytest.approx(1 / 3)
    assert lift.p_value is not None and lift.p_value < 1e-4
    assert lift.chance_to_beat_control is not None and lift.chance_to_beat_control > 0.9999
    assert lift.ci_low is not None and lift.ci_low > 0


counts = st.integers(min_value=2, max_value=200_000)


@st.composite
def groups(draw: st.DrawFn) -> Moments:
    n = draw(counts)
    return proportion(n, draw(st.integers(min_value=1, max_value=n - 1)))


@st.composite
def means(draw: st.DrawFn) -> Moments:
    n = draw(counts)
    mean = draw(st.floats(min_value=0.01, max_value=1_000))
    sd = draw(st.floats(min_value=0.01, max_value=1_000))
    return Moments(n, mean, sd * sd)


@given(st.one_of(groups(), means()))
def test_identical_groups_give_lift_zero_chance_half_p_one(group: Moments) -> None:
    lift = relative_lift(group, group)
    assert lift.value == 0
    assert lift.chance_to_beat_control == pytest.approx(0.5)
    assert lift.p_value == pytest.approx(1.0)
    assert lift.ci_low is not None and lift.ci_high is not None
    assert lift.ci_low == pytest.approx(-lift.ci_high)


@given(st.one_of(st.tuples(groups(), groups()), st.tuples(means(), means())))
def test_the_interval_contains_the_estimate_and_agrees_with_the_p_value_and_chance(
    pair: tuple[Moments, Moments],
) -> None:
    lift = relative_lift(*pair)
    assert lift.value is not None and lift.ci_low is not None and lift.ci_high is not None
    assert lift.p_value is not None and lift.chance_to_beat_control is not None
    assert lift.ci_low <= lift.value <= lift.ci_high
    assert 0 <= lift.p_value <= 1 and 0 <= lift.chance_to_beat_control <= 1
    assume(abs(lift.p_value - 0.05) > 1e-9 and lift.value != 0)
    # Welch's interval excludes zero exactly when its test rejects at 5%.
    assert (lift.p_value < 0.05) == (lift.ci_low > 0 or lift.ci_high < 0)
    # The posterior favours the variation exactly when the estimate is positive.
    assert (lift.chance_to_beat_control > 0.5) == (lift.value > 0) or lift.chance_to_beat_control == 0.5
