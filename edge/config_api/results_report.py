"""An experience's results report: its arms, the store's cells for a range of days, the engine.

The results API and the merchant page's Results tab both answer from `build_report`, so the page
shows exactly what the API returns. Statistics are `stats`' (`analyze_experience`,
`analyze_audiences`, `cumulative_series`); this module only turns an experience's stored body
into the engine's arms and the store's cells into the engine's inputs.

Arms. A test's arms are its variations with their configured weights. A personalization shows a
non-control variation to `traffic_percent` of the visitors who match and the control to the rest
(the holdout), so its arms are the non-control variations sharing `traffic_percent` by their
weights and the control weighing `100 - traffic_percent`. At 100% there is no holdout: the
control keeps a negligible weight (`NO_HOLDOUT_WEIGHT`), so the split check still holds and its
row shows zeros, and the lifts are empty.

An advanced audience with action `assign` puts everyone it admits in one variation, so its
visitors are checked against that (`audience_arms`), and the whole experiment's split check
expects each audience's split weighted by its visitors (`expected_arms`).

Audiences. The store keys a cell's audience as `custom` (custom rules) or the index of the
advanced audience that admitted the visitor; `audience_name` gives a merchant's label for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

import msgspec

from edge.store.results_records import CUSTOM_AUDIENCE, ResultCell, ResultsReader
from stats import (
    Arm,
    DailyRow,
    ExperimentResults,
    Metric,
    ResultWarning,
    SampleRatio,
    SampleSize,
    VariationData,
    VariationResult,
    VariationSeries,
    analyze_audiences,
    analyze_experience,
    cumulative_series,
)

NO_HOLDOUT_WEIGHT: Final = 1e-9
"""The control's weight in a personalization at 100% traffic (nobody is held out)."""


class Breakdown(StrEnum):
    AUDIENCE = "audience"
    DAY = "day"


class AudienceReport(msgspec.Struct, frozen=True):
    """The report restricted to one audience's visitors (`audience`: `custom` or an index)."""

    audience: str
    name: str
    variations: tuple[VariationResult, ...]
    srm: SampleRatio
    warnings: tuple[ResultWarning, ...]
    sample_size: SampleSize


class ResultsReport(msgspec.Struct, frozen=True, omit_defaults=True):
    """`GET .../results`: the contract's fields first, then the range, names and breakdowns.

    `audiences` is present with `breakdown=audience`, `series` with `breakdown=day`."""

    experience_id: str
    variations: tuple[VariationResult, ...]
    srm: SampleRatio
    bots_excluded: int
    warnings: tuple[ResultWarning, ...]
    headline_metric: Metric
    sample_size: SampleSize
    type: str
    name: str
    variation_names: dict[str, str]
    first_day: date | None = msgspec.field(default=None, name="from")
    last_day: date | None = msgspec.field(default=None, name="to")
    audiences: tuple[AudienceReport, ...] | None = None
    series: tuple[VariationSeries, ...] | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """What the caller asked for: an inclusive range of entry days (None: open) and a breakdown."""

    first_day: date | None = None
    last_day: date | None = None
    breakdown: Breakdown | None = None


def arms_of(body: Mapping[str, Any]) -> list[Arm]:
    """The engine's arms for a stored experience body (see the module docstring)."""
    variations = [v for v in body.get("variations") or () if isinstance(v, Mapping)]
    if body.get("type") != "personalization":
        return [Arm(str(v["id"]), float(v["weight"]), bool(v.get("is_control"))) for v in variations]
    traffic = float(body.get("traffic_percent", 100))
    shown = [v for v in variations if not v.get("is_control")]
    total = sum(float(v["weight"]) for v in shown) or 1.0
    arms = []
    for v in variations:
        if v.get("is_control"):
            arms.append(Arm(str(v["id"]), max(100.0 - traffic, 0.0) or NO_HOLDOUT_WEIGHT, True))
        else:
            arms.append(Arm(str(v["id"]), traffic * float(v["weight"]) / total))
    return arms


def _assigned_variation(body: Mapping[str, Any], audience: str) -> str | None:
    """The variation an advanced audience with action `assign` gives everyone it admits."""
    audiences = (body.get("targeting") or {}).get("audiences") or []
    if not audience.isdigit() or int(audience) >= len(audiences):
        return None
    found = audiences[int(audience)]
    if isinstance(found, Mapping) and found.get("action") == "assign" and found.get("variation_id"):
        return str(found["variation_id"])
    return None


def audience_arms(body: Mapping[str, Any], audience: str) -> list[Arm]:
    """The split one audience's visitors should follow: the configured weights, or everyone in
    one variation for an `assign` audience (the others keep a negligible weight)."""
    arms = arms_of(body)
    assigned = _assigned_variation(body, audience)
    if assigned is None or assigned not in {arm.variation_id for arm in arms}:
        return arms
    return [
        Arm(arm.variation_id, 1.0 if arm.variation_id == assigned else NO_HOLDOUT_WEIGHT, arm.is_control)
        for arm in arms
    ]


def expected_arms(body: Mapping[str, Any], visitors_by_audience: Mapping[str, int]) -> list[Arm]:
    """The whole experiment's split under the null: each audience's split weighted by its
    visitors. Without `assign` audiences that is simply the configured weights."""
    arms = arms_of(body)
    if all(_assigned_variation(body, audience) is None for audience in visitors_by_audience):
        return arms
    shares = dict.fromkeys((arm.variation_id for arm in arms), 0.0)
    for audience, visitors in visitors_by_audience.items():
        split = audience_arms(body, audience)
        total = sum(arm.weight for arm in split)
        for arm in split:
            shares[arm.variation_id] += visitors * arm.weight / total
    return [
        Arm(arm.variation_id, shares[arm.variation_id] or NO_HOLDOUT_WEIGHT, arm.is_control) for arm in arms
    ]


def audience_name(body: Mapping[str, Any], audience: str) -> str:
    """A merchant's label: the audience's `name` when the body has one, else its place in the list."""
    if audience == CUSTOM_AUDIENCE:
        return "Custom rules"
    audiences = (body.get("targeting") or {}).get("audiences") or []
    if audience.isdigit() and int(audience) < len(audiences):
        found = audiences[int(audience)]
        name = found.get("name") if isinstance(found, Mapping) else None
        return str(name) if name else f"Audience {int(audience) + 1}"
    return f"Audience {audience}"


def _data(cell: ResultCell) -> VariationData:
    return VariationData(
        variation_id=cell.variation_id,
        visitors=cell.visitors,
        converters=cell.converters,
        orders=cell.orders,
        revenue=cell.revenue,
        revenue_sq=cell.revenue_sq,
        orders_sq=cell.orders_sq,
        revenue_orders=cell.revenue_orders,
    )


def _audience_order(key: str) -> tuple[int, int, str]:
    """Advanced audiences in their list's order, then custom, then anything else."""
    if key.isdigit():
        return (0, int(key), key)
    return (1 if key == CUSTOM_AUDIENCE else 2, 0, key)


def _by_audience(cells: Iterable[ResultCell]) -> dict[str, list[VariationData]]:
    grouped: dict[str, list[VariationData]] = {}
    for cell in cells:
        grouped.setdefault(cell.audience, []).append(_data(cell))
    return {key: grouped[key] for key in sorted(grouped, key=_audience_order)}


def _daily(cells: Iterable[ResultCell]) -> list[DailyRow]:
    return [
        DailyRow(cell.day, cell.variation_id, cell.visitors, cell.converters, cell.orders, cell.revenue)
        for cell in cells
    ]


async def build_report(
    reader: ResultsReader, site_id: str, experience_id: str, body: Mapping[str, Any], query: Query
) -> ResultsReport:
    """The report of one stored experience over `query`'s range (raises `InvalidArmsError` for a
    body whose split the engine refuses, which a validated experience never has)."""
    cells = await reader.result_cells(
        site_id, experience_id, first_day=query.first_day, last_day=query.last_day
    )
    bots = await reader.bots_excluded(
        site_id, experience_id, first_day=query.first_day, last_day=query.last_day
    )
    currencies = await reader.currencies(site_id, experience_id)
    visitors_by_audience: dict[str, int] = {}
    for cell in cells:
        visitors_by_audience[cell.audience] = visitors_by_audience.get(cell.audience, 0) + cell.visitors
    arms = expected_arms(body, visitors_by_audience)
    whole: ExperimentResults = analyze_experience(
        experience_id, arms, (_data(cell) for cell in cells), bots_excluded=bots, currencies=currencies
    )
    audiences = None
    if query.breakdown is Breakdown.AUDIENCE:
        audiences = tuple(
            AudienceReport(
                audience=part.audience,
                name=audience_name(body, part.audience),
                variations=part.results.variations,
                srm=part.results.srm,
                warnings=part.results.warnings,
                sample_size=part.results.sample_size,
            )
            for key, data in _by_audience(cells).items()
            for part in analyze_audiences(experience_id, audience_arms(body, key), {key: data})
        )
    series = cumulative_series(arms_of(body), _daily(cells)) if query.breakdown is Breakdown.DAY else None
    names = {
        str(v["id"]): str(v.get("name") or v["id"])
        for v in body.get("variations") or ()
        if isinstance(v, Mapping)
    }
    return ResultsReport(
        experience_id=experience_id,
        variations=whole.variations,
        srm=whole.srm,
        bots_excluded=whole.bots_excluded,
        warnings=whole.warnings,
        headline_metric=whole.headline_metric,
        sample_size=whole.sample_size,
        type=str(body.get("type") or "test"),
        name=str(body.get("name") or experience_id),
        variation_names=names,
        first_day=query.first_day,
        last_day=query.last_day,
        audiences=audiences,
        series=series,
    )
