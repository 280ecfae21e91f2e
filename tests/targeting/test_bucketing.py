"""Bucketing is GrowthBook's: published vectors, the reference SDK, and statistical properties."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from growthbook.core import chooseVariation, gbhash, getBucketRanges
from hypothesis import given, settings
from hypothesis import strategies as st

from targeting.bucketing import (
    FnvLanes,
    bucket_ranges,
    choose_variation,
    code_units,
    fnv1a32,
    fnv1a32_update,
    hash_from_state,
    hash_v1,
    hash_v2,
    seed_state,
)

# [seed, value, version, expected]: GrowthBook's sdk-js test/cases.json "hash" table, also
# checked against the installed growthbook package.
HASH_VECTORS = [
    ("", "a", 1, 0.22),
    ("", "b", 1, 0.077),
    ("b", "a", 1, 0.946),
    ("ef", "d", 1, 0.652),
    ("asdf", "8952klfjas09ujk", 1, 0.549),
    ("", "123", 1, 0.011),
    ("", '___)((*":&', 1, 0.563),
    ("seed", "a", 2, 0.0505),
    ("seed", "b", 2, 0.2696),
    ("foo", "ab", 2, 0.2575),
    ("foo", "def", 2, 0.2019),
    ("89123klj", "8952klfjas09ujkasdf", 2, 0.124),
    ("90850943850283058242805", "123", 2, 0.7516),
    ("()**(%$##$%#$#", '___)((*":&', 2, 0.0128),
]

# FNV-1a 32 reference values (Landon Curt Noll's test suite).
FNV_VECTORS = [("", 0x811C9DC5), ("a", 0xE40C292C), ("ab", 0x4D2505CA), ("foobar", 0xBF9CF968)]

# (weights, coverage) -> ranges: GrowthBook's getBucketRange cases with valid weights.
RANGE_VECTORS = [
    ((1, 1), 1, [(0, 0.5), (0.5, 1)]),
    ((1, 1), 0.5, [(0, 0.25), (0.5, 0.75)]),
    ((1, 1), 0, [(0, 0), (0.5, 0.5)]),
    ((1, 1, 1, 1), 1, [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]),
    ((0.4, 0.6), 1, [(0, 0.4), (0.4, 1)]),
    ((0.2, 0.3, 0.5), 1, [(0, 0.2), (0.2, 0.5), (0.5, 1)]),
    ((1, 1), -0.2, [(0, 0), (0.5, 0.5)]),
    ((1, 1), 1.5, [(0, 0.5), (0.5, 1)]),
    ((2, 3), 1, [(0, 0.4), (0.4, 1)]),  # weights are normalised
]

# (n, ranges) -> index: GrowthBook's sdk-js chooseVariation tests.
EVEN = [(0, 0.5), (0.5, 1)]
REDUCED = [(0, 0.25), (0.5, 0.75)]
ZERO = [(0, 0.5), (0.5, 0.5), (0.5, 1)]
CHOOSE_VECTORS = [
    (0.2, EVEN, 0),
    (0.6, EVEN, 1),
    (0.4, EVEN, 0),
    (0.8, EVEN, 1),
    (0, EVEN, 0),
    (0.5, EVEN, 1),
    (0.2, REDUCED, 0),
    (0.6, REDUCED, 1),
    (0.4, REDUCED, -1),
    (0.8, REDUCED, -1),
    (0.5, ZERO, 2),
]

# sdk-js "coverage" and "threeWayTest": experiment "my-test" (hash v1), users "1".."9".
EXPERIMENT_VECTORS = [
    ((1, 1), 0.4, [-1, 0, 0, -1, 1, -1, 0, 1, -1]),
    ((1, 1, 1), 1, [2, 0, 0, 2, 1, 2, 0, 1, 0]),
]


def _flat(ranges: Sequence[tuple[float, float]]) -> list[float]:
    return [bound for pair in ranges for bound in pair]


@pytest.mark.parametrize(("seed", "value", "version", "expected"), HASH_VECTORS)
def test_hash_matches_published_vectors(seed: str, value: str, version: int, expected: float) -> None:
    hashed = hash_v2(seed, value) if version == 2 else hash_v1(seed, value)
    assert hashed == expected


@pytest.mark.parametrize(("text", "expected"), FNV_VECTORS)
def test_fnv1a32_matches_reference_values(text: str, expected: int) -> None:
    assert fnv1a32(text) == expected


@pytest.mark.parametrize(("weights", "coverage", "expected"), RANGE_VECTORS)
def test_bucket_ranges_match_published_vectors(
    weights: tuple[float, ...], coverage: float, expected: list[tuple[float, float]]
) -> None:
    assert _flat(bucket_ranges(weights, coverage)) == pytest.approx(_flat(expected))


def test_reduced_coverage_ranges_start_at_the_full_ranges_starts() -> None:
    assert _flat(bucket_ranges((0.2, 0.3, 0.5), 0.2)) == pytest.approx([0, 0.04, 0.2, 0.26, 0.5, 0.6])


@pytest.mark.parametrize(("n", "ranges", "expected"), CHOOSE_VECTORS)
def test_choose_variation_matches_published_vectors(
    n: float, ranges: list[tuple[float, float]], expected: int
) -> None:
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize(("weights", "coverage", "expected"), EXPERIMENT_VECTORS)
def test_assignments_match_published_experiment_vectors(
    weights: tuple[float, ...], coverage: float, expected: list[int]
) -> None:
    ranges = bucket_ranges(weights, coverage)
    assert [choose_variation(hash_v1("my-test", str(i)), ranges) for i in range(1, 10)] == expected


texts = st.text(max_size=40)


@settings(max_examples=400)
@given(seed=texts, value=texts)
def test_hashes_match_the_growthbook_package(seed: str, value: str) -> None:
    assert hash_v2(seed, value) == gbhash(seed, value, 2)
    assert hash_v1(seed, value) == gbhash(seed, value, 1)


@settings(max_examples=400)
@given(seed=texts, value=texts)
def test_hash_from_a_precomputed_seed_state_equals_hash_v2(seed: str, value: str) -> None:
    assert hash_from_state(seed_state(seed), code_units(value)) == hash_v2(seed, value)


weight_lists = st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=8)
coverages = st.integers(min_value=0, max_value=100).map(lambda p: p / 100)


@settings(max_examples=300)
@given(weights=weight_lists, coverage=coverages, n=st.integers(0, 9999).map(lambda k: k / 10000))
def test_ranges_and_choice_match_the_growthbook_package(
    weights: list[int], coverage: float, n: float
) -> None:
    normalised = [w / sum(weights) for w in weights]
    theirs = getBucketRanges(len(weights), coverage, normalised)
    assert list(bucket_ranges(weights, coverage)) == theirs
    assert choose_variation(n, bucket_ranges(weights, coverage)) == chooseVariation(n, theirs)


@settings(max_examples=300)
@given(
    weights=weight_lists,
    wide=coverages,
    narrow=coverages,
    n=st.integers(0, 9999).map(lambda k: k / 10000),
)
def test_shrinking_traffic_never_moves_an_entered_visitor(
    weights: list[int], wide: float, narrow: float, n: float
) -> None:
    wide, narrow = max(wide, narrow), min(wide, narrow)
    before = choose_variation(n, bucket_ranges(weights, wide))
    after = choose_variation(n, bucket_ranges(weights, narrow))
    assert after in (before, -1)
    if before == -1:
        assert after == -1


def _chi_square(counts: list[int]) -> float:
    expected = sum(counts) / len(counts)
    return sum((c - expected) ** 2 / expected for c in counts)


def test_hash_is_uniform_over_100k_visitor_ids() -> None:
    rng = random.Random(20240611)
    state = seed_state("homepage-hero")
    bins = [0] * 100
    for _ in range(100_000):
        visitor = f"{rng.getrandbits(128):032x}"
        bins[int(hash_from_state(state, code_units(visitor)) * 100)] += 1
    # 99 degrees of freedom: mean 99, sd 14; 180 is beyond p = 1e-6.
    assert _chi_square(bins) < 180
    assert min(bins) > 850 and max(bins) < 1150


def test_sequential_visitor_ids_are_uniform_too() -> None:
    state = seed_state("exp")
    bins = [0] * 20
    for i in range(40_000):
        bins[int(hash_from_state(state, code_units(f"v{i}")) * 20)] += 1
    assert _chi_square(bins) < 19 + 6 * 6.2


@settings(max_examples=4, deadline=None)
@given(seed_a=st.text(min_size=1, max_size=12), seed_b=st.text(min_size=1, max_size=12))
def test_assignments_are_independent_across_seeds(seed_a: str, seed_b: str) -> None:
    if seed_a == seed_b:
        return
    a, b = seed_state(seed_a), seed_state(seed_b)
    table = [0] * 16
    for i in range(16_000):
        units = code_units(f"visitor-{i}")
        table[int(hash_from_state(a, units) * 4) * 4 + int(hash_from_state(b, units) * 4)] += 1
    # 4x4 contingency table against independence: 9 dof, p = 1e-5 at about 37.
    assert _chi_square(table) < 40


def test_independence_check_detects_correlated_seeds() -> None:
    state = seed_state("same")
    table = [0] * 16
    for i in range(4_000):
        n = hash_from_state(state, code_units(f"visitor-{i}"))
        table[int(n * 4) * 4 + int(n * 4)] += 1
    assert _chi_square(table) > 40


def test_non_ascii_ids_hash_over_utf16_code_units_like_the_js_sdk() -> None:
    assert code_units("é😀") == (0xE9, 0xD83D, 0xDE00)
    assert hash_v2("seed", "é😀") == gbhash("seed", "é😀", 2)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=0xFFFFFFFF), max_size=12),
    st.text(max_size=40) | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40),
)
def test_lanes_give_each_state_its_own_fnv(states: list[int], text: str) -> None:
    """Every lane equals FNV-1a continued alone from its state: ASCII ids (bytes) and any
    unicode (UTF-16 code units, up to 0xFFFF, surrogates included), with 0 to 12 states."""
    units = code_units(text)
    assert FnvLanes(states).run(units) == tuple(fnv1a32_update(state, units) for state in states)


def test_lanes_at_the_extremes() -> None:
    """The largest state and unit: a carry out of one lane would show in its neighbour."""
    states = [0xFFFFFFFF, 0, 0xFFFFFFFF, 0x811C9DC5]
    for units in (b"\xff" * 64, (0xFFFF,) * 64, b"", (0xD800, 0xDFFF, 0x41)):
        assert FnvLanes(states).run(units) == tuple(fnv1a32_update(s, units) for s in states)
