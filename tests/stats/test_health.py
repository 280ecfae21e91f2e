"""Every warning's trigger and non-trigger, at its threshold."""

from __future__ import annotations

import msgspec
import pytest

from stats import (
    BOT_SHARE,
    MIN_ORDERS,
    MIN_REVENUE,
    MIN_VISITORS,
    ResultWarning,
    VariationData,
    analyze_experience,
    has_enough_data,
)
from tests.stats.factories import arms, busy

ARMS = arms("control", "treatment")


def _warnings(
    control: VariationData,
    treatment: VariationData,
    *,
    bots_excluded: int = 0,
    currencies: tuple[str, ...] = (),
) -> tuple[ResultWarning, ...]:
    results = analyze_experience(
        "exp", ARMS, [control, treatment], bots_excluded=bots_excluded, currencies=currencies
    )
    return results.warnings


def test_enough_data_in_every_group_gives_no_warning() -> None:
    assert _warnings(busy("control"), busy("treatment")) == ()


def test_the_minimums_are_inclusive() -> None:
    exact = VariationData(
        "g", visitors=MIN_VISITORS, converters=MIN_ORDERS, orders=MIN_ORDERS, revenue=MIN_REVENUE
    )
    assert has_enough_data(exact)


@pytest.mark.parametrize(
    "short",
    [
        {"visitors": MIN_VISITORS - 1},
        {"orders": MIN_ORDERS - 1, "converters": MIN_ORDERS - 1},
        {"revenue": MIN_REVENUE - 0.01},
    ],
    ids=["visitors", "orders", "revenue"],
)
@pytest.mark.parametrize("group", ["control", "treatment"])
def test_one_group_short_of_one_minimum_is_not_enough_data(short: dict[str, float], group: str) -> None:
    exact = VariationData(
        group, visitors=MIN_VISITORS, converters=MIN_ORDERS, orders=MIN_ORDERS, revenue=MIN_REVENUE
    )
    lacking = msgspec.structs.replace(exact, **short)
    other = "treatment" if group == "control" else "control"
    balanced = msgspec.structs.replace(exact, variation_id=other, visitors=lacking.visitors)
    warnings = _warnings(lacking, balanced) if group == "control" else _warnings(balanced, lacking)
    assert warnings == (ResultWarning.NOT_ENOUGH_DATA,)


def test_a_variation_without_any_data_is_not_enough_data() -> None:
    assert ResultWarning.NOT_ENOUGH_DATA in analyze_experience("exp", ARMS, [busy("control")]).warnings


def test_a_skewed_split_warns_of_a_sample_ratio_mismatch() -> None:
    warnings = _warnings(busy("control", visitors=5_000), busy("treatment", visitors=4_600))
    assert warnings == (ResultWarning.SAMPLE_RATIO_MISMATCH,)
    assert _warnings(busy("control", visitors=5_000), busy("treatment", visitors=5_030)) == ()


def test_bots_above_the_share_warn_and_at_the_share_do_not() -> None:
    visitors = 2_000  # both groups
    at_share = round(visitors * BOT_SHARE / (1 - BOT_SHARE))  # bots / (bots + visitors) == 20%
    assert at_share / (at_share + visitors) == pytest.approx(BOT_SHARE)
    assert _warnings(busy("control"), busy("treatment"), bots_excluded=at_share) == ()
    assert _warnings(busy("control"), busy("treatment"), bots_excluded=at_share + 1) == (
        ResultWarning.MANY_BOTS_EXCLUDED,
    )


def test_bots_with_nothing_else_counted_warn() -> None:
    warnings = analyze_experience("exp", ARMS, [], bots_excluded=3).warnings
    assert warnings == (ResultWarning.NOT_ENOUGH_DATA, ResultWarning.MANY_BOTS_EXCLUDED)


@pytest.mark.parametrize(
    ("currencies", "mixed"),
    [
        ((), False),
        (("USD",), False),
        (("USD", "usd", " USD "), False),
        (("USD", "EUR"), True),
        (("USD", ""), False),
    ],
)
def test_more_than_one_currency_warns(currencies: tuple[str, ...], mixed: bool) -> None:
    warnings = _warnings(busy("control"), busy("treatment"), currencies=currencies)
    assert warnings == ((ResultWarning.MIXED_CURRENCIES,) if mixed else ())


def test_several_warnings_come_in_a_stable_order() -> None:
    warnings = analyze_experience(
        "exp",
        ARMS,
        [busy("control", visitors=900), busy("treatment", visitors=50, orders=5)],
        bots_excluded=10_000,
        currencies={"EUR", "USD"},
    ).warnings
    assert warnings == tuple(ResultWarning)
