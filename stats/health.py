"""Warnings the merchant sees beside the results, with the thresholds that raise them.

- `not_enough_data`: some group has fewer than 100 visitors, 10 orders or 1.00 of revenue
  (Intelligems' minimums before a verdict is shown). The numbers are still computed; the page
  should not call a winner while this warning stands.
- `sample_ratio_mismatch`: the visitors do not split as the weights say (chi-square p < 0.001):
  something is wrong with the split, do not trust this test.
- `many_bots_excluded`: bots are more than 20% of everyone counted for the experience
  (bots excluded / (bots excluded + visitors)). Excluding them is right, but that much bot
  traffic means the remaining counts may hold bots the crawler list does not know.
- `mixed_currencies`: orders came in more than one currency (compared case-insensitively), so
  revenue sums add amounts that are not comparable.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import StrEnum

from stats.inputs import VariationData
from stats.srm import SampleRatio

MIN_VISITORS = 100
MIN_ORDERS = 10
MIN_REVENUE = 1.0
BOT_SHARE = 0.20


class ResultWarning(StrEnum):
    """Stable warning codes of a results answer, listed in this order when several apply."""

    NOT_ENOUGH_DATA = "not_enough_data"
    SAMPLE_RATIO_MISMATCH = "sample_ratio_mismatch"
    MANY_BOTS_EXCLUDED = "many_bots_excluded"
    MIXED_CURRENCIES = "mixed_currencies"


def has_enough_data(group: VariationData) -> bool:
    return group.visitors >= MIN_VISITORS and group.orders >= MIN_ORDERS and group.revenue >= MIN_REVENUE


def bots_share(bots_excluded: int, visitors: int) -> float:
    """Bots' share of everyone counted: 0 when nothing was counted."""
    counted = bots_excluded + visitors
    return bots_excluded / counted if counted > 0 else 0.0


def warnings_for(
    groups: Sequence[VariationData],
    srm: SampleRatio,
    *,
    bots_excluded: int,
    currencies: Collection[str],
) -> list[ResultWarning]:
    """The warnings that apply, in `ResultWarning` order."""
    found: list[ResultWarning] = []
    if not all(has_enough_data(group) for group in groups):
        found.append(ResultWarning.NOT_ENOUGH_DATA)
    if srm.mismatch:
        found.append(ResultWarning.SAMPLE_RATIO_MISMATCH)
    if bots_share(bots_excluded, sum(group.visitors for group in groups)) > BOT_SHARE:
        found.append(ResultWarning.MANY_BOTS_EXCLUDED)
    if len({code.strip().upper() for code in currencies if code.strip()}) > 1:
        found.append(ResultWarning.MIXED_CURRENCIES)
    return found
