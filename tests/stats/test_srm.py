"""Sample-ratio mismatch against the configured weights."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stats import SRM_P_VALUE, sample_ratio


def test_a_skewed_even_split_is_a_mismatch() -> None:
    srm = sample_ratio([5_000, 4_600], [50, 50])
    assert srm.p_value is not None and srm.p_value < SRM_P_VALUE
    assert srm.mismatch


def test_a_fair_even_split_is_not() -> None:
    srm = sample_ratio([5_000, 5_030], [50, 50])
    assert srm.p_value is not None and srm.p_value > 0.5
    assert not srm.mismatch


def test_unequal_weights_are_what_the_split_is_tested_against() -> None:
    assert not sample_ratio([6_700, 3_300], [2, 1]).mismatch
    assert sample_ratio([5_000, 5_000], [2, 1]).mismatch
    assert sample_ratio([6_700, 3_300], [1, 1]).mismatch


def test_three_variations() -> None:
    assert not sample_ratio([3_400, 3_300, 3_350], [1, 1, 1]).mismatch
    assert sample_ratio([3_400, 3_300, 2_900], [1, 1, 1]).mismatch


def test_nothing_to_test_without_visitors_or_with_one_variation() -> None:
    for srm in (sample_ratio([0, 0], [1, 1]), sample_ratio([500], [1]), sample_ratio([], [])):
        assert srm.p_value is None
        assert not srm.mismatch


def test_everyone_in_one_variation_is_a_mismatch() -> None:
    srm = sample_ratio([1_000, 0], [1, 1])
    assert srm.mismatch


@given(
    st.lists(st.integers(min_value=0, max_value=100_000), min_size=2, max_size=5),
    st.floats(min_value=0.001, max_value=1_000),
)
def test_scaling_the_weights_changes_nothing(visitors: list[int], scale: float) -> None:
    weights = [1.0 + i for i in range(len(visitors))]
    plain = sample_ratio(visitors, weights)
    scaled = sample_ratio(visitors, [w * scale for w in weights])
    assert plain.mismatch == scaled.mismatch
    if plain.p_value is None:
        assert scaled.p_value is None
    else:
        assert scaled.p_value is not None and abs(plain.p_value - scaled.p_value) < 1e-9


def test_the_threshold_is_p_below_one_in_a_thousand() -> None:
    just_above = sample_ratio([5_164, 4_836], [1, 1])
    just_below = sample_ratio([5_166, 4_834], [1, 1])
    assert just_above.p_value is not None and 0.001 < just_above.p_value < 0.0011
    assert just_below.p_value is not None and 0.0009 < just_below.p_value < 0.001
    assert not just_above.mismatch
    assert just_below.mismatch
