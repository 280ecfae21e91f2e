"""The Results tab of a test or personalization: `/admin/experiences/{id}/results`.

It shows the results API's report (`edge.config_api.results.report_for`, the same numbers), in
words a merchant reads: the table, what each warning means for them, a verdict only when the data
allows one, the breakdown by audience, and the cumulative chart (`edge.admin.charts`). The range
and the chart's metric are query parameters of the page (`from`, `to`, `metric`), so a view can be
bookmarked and the page needs no script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from edge.admin.charts import METRICS, cumulative_chart
from edge.admin.pages import SignedIn, _render, _signed_in
from edge.config_api.results import parse_query, report_for
from edge.config_api.results_report import Breakdown, Query, ResultsReport
from edge.services import services
from edge.web.errors import ApiError
from stats import MIN_ORDERS, MIN_VISITORS, MetricLift, ResultWarning, VariationResult

WINNING_CHANCE: Final = 0.95
"""The chance to beat control at which the page names a variation as winning."""


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def chance_text(chance: float) -> str:
    """A chance as a merchant reads it: never a flat 100% or 0%, which no test can promise."""
    if chance >= 0.995:
        return "more than 99%"
    if chance <= 0.005:
        return "less than 1%"
    return f"{chance:.0%}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _signed_percent(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


def lift_text(lift: MetricLift | None) -> str:
    """`+12.0% (-3.1% to +27.5%)`: the lift and its 95% interval, or a dash."""
    if lift is None or lift.value is None:
        return "—"
    if lift.ci_low is None or lift.ci_high is None:
        return _signed_percent(lift.value)
    return (
        f"{_signed_percent(lift.value)} ({_signed_percent(lift.ci_low)} to {_signed_percent(lift.ci_high)})"
    )


def _row(report: ResultsReport, v: VariationResult) -> dict[str, Any]:
    lifts = v.lift
    return {
        "id": v.variation_id,
        "name": report.variation_names.get(v.variation_id, v.variation_id),
        "is_control": v.is_control,
        "visitors": f"{v.visitors:,}",
        "orders": f"{v.orders:,}",
        "revenue": _money(v.revenue),
        "conversion_rate": _percent(v.conversion_rate),
        "revenue_per_visitor": _money(v.revenue_per_visitor),
        "average_order_value": _money(v.average_order_value),
        "cr_lift": lift_text(lifts.conversion_rate) if lifts else "",
        "rpv_lift": lift_text(lifts.revenue_per_visitor) if lifts else "",
        "chance": ""
        if v.is_control
        else "—"
        if v.chance_to_beat_control is None
        else chance_text(v.chance_to_beat_control),
    }


def warning_texts(report: ResultsReport) -> list[dict[str, str]]:
    """Each warning of the report as a sentence a merchant can act on."""
    words = {
        ResultWarning.NOT_ENOUGH_DATA: (
            "Not enough data yet",
            f"Each variation needs at least {MIN_VISITORS} visitors and {MIN_ORDERS} orders before its "
            "numbers mean much. Keep the test running; do not pick a winner yet.",
        ),
        ResultWarning.SAMPLE_RATIO_MISMATCH: (
            "Something is wrong with the split: do not trust this test",
            "Visitors are not divided between the variations as the weights say "
            f"(p = {report.srm.p_value:.2g}). A variation that breaks the page, a redirect that loses "
            "visitors or a cache can cause this; find the cause before reading the results."
            if report.srm.p_value is not None
            else "Visitors are not divided between the variations as the weights say.",
        ),
        ResultWarning.MANY_BOTS_EXCLUDED: (
            "Many bots were excluded",
            f"{report.bots_excluded:,} bot requests were kept out of this test. That much bot traffic "
            "means some bots the crawler list does not know may still be counted as visitors.",
        ),
        ResultWarning.MIXED_CURRENCIES: (
            "Orders in more than one currency",
            "Revenue adds up amounts in different currencies, so revenue figures are not comparable.",
        ),
    }
    return [{"code": str(w), "title": words[w][0], "text": words[w][1]} for w in report.warnings]


def verdict(report: ResultsReport) -> str:
    """One sentence: a winner only when the data is enough and the split is sound."""
    if report.warnings and (
        ResultWarning.NOT_ENOUGH_DATA in report.warnings
        or ResultWarning.SAMPLE_RATIO_MISMATCH in report.warnings
    ):
        return ""
    best = max(
        (v for v in report.variations if not v.is_control and v.chance_to_beat_control is not None),
        key=lambda v: v.chance_to_beat_control or 0.0,
        default=None,
    )
    if best is None or best.chance_to_beat_control is None:
        return ""
    name = report.variation_names.get(best.variation_id, best.variation_id)
    chance = best.chance_to_beat_control
    if chance >= WINNING_CHANCE:
        return f"{name} is winning: {chance_text(chance)} chance to beat the control on revenue per visitor."
    losing = [
        v
        for v in report.variations
        if not v.is_control and (v.chance_to_beat_control or 1) <= 1 - WINNING_CHANCE
    ]
    if len(losing) == len(report.variations) - 1:
        return (
            f"The control is winning: every variation has at most {1 - WINNING_CHANCE:.0%} chance to beat it."
        )
    return f"No clear winner yet: the best variation, {name}, has {chance_text(chance)} chance to beat the control."


@dataclass(frozen=True, slots=True)
class _View:
    metric: str
    query: Query


def _metric(request: Request) -> str:
    chosen = request.query_params.get("metric", "revenue_per_visitor")
    return chosen if chosen in METRICS else "revenue_per_visitor"


def _link(experience_id: str, query: Query, **extra: str) -> str:
    params = {"from": query.first_day, "to": query.last_day}
    kept = {k: v.isoformat() for k, v in params.items() if v is not None} | extra
    return f"/admin/experiences/{experience_id}/results" + (f"?{urlencode(kept)}" if kept else "")


async def results_page(request: Request) -> Response:
    signed = await _signed_in(request)
    if isinstance(signed, Response):
        return signed
    experience_id = request.path_params["experience_id"]
    svc = services(request)
    record = await svc.store.get_experience(signed.site.id, experience_id)
    if record is None:
        return _render(request, "missing.html", {"page": "experiences", "experience_id": experience_id},
                       status_code=404, signed=signed)  # fmt: skip
    problem = ""
    try:
        query = parse_query(request)
    except ApiError as exc:
        problem, query = exc.message, Query()
    query_for = Query(query.first_day, query.last_day, Breakdown.DAY)
    report = await report_for(svc, signed.site.id, experience_id, query_for)
    by_audience = await report_for(svc, signed.site.id, experience_id,
                                   Query(query.first_day, query.last_day, Breakdown.AUDIENCE))  # fmt: skip
    return _render(request, "results.html", _context(signed, record.status, report, by_audience, query,
                                                     _metric(request), problem), signed=signed)  # fmt: skip


def _context(
    signed: SignedIn,
    status: str,
    report: ResultsReport,
    by_audience: ResultsReport,
    query: Query,
    metric: str,
    problem: str,
) -> dict[str, Any]:
    experience_id = report.experience_id
    csv_params = {k: v.isoformat() for k, v in (("from", query.first_day), ("to", query.last_day)) if v}
    csv_base = f"/v1/sites/{signed.site.id}/experiences/{experience_id}/results.csv"
    audiences = [
        {"name": part.name, "audience": part.audience, "rows": [_row(report, v) for v in part.variations],
         "warnings": [str(w) for w in part.warnings]}
        for part in by_audience.audiences or ()
    ]  # fmt: skip
    return {
        "page": "experiences",
        "experience_id": experience_id,
        "name": report.name,
        "status": status,
        "is_test": report.type == "test",
        "rows": [_row(report, v) for v in report.variations],
        "warnings": warning_texts(report),
        "verdict": verdict(report),
        "bots_excluded": f"{report.bots_excluded:,}",
        "srm_p": "—" if report.srm.p_value is None else f"{report.srm.p_value:.3g}",
        "audiences": audiences,
        "chart": cumulative_chart(report.series or (), metric, report.variation_names),
        "metric": metric,
        "metrics": [
            {"key": key, "label": label, "href": _link(experience_id, query, metric=key)}
            for key, (label, _, _) in METRICS.items()
        ],
        "first_day": query.first_day.isoformat() if query.first_day else "",
        "last_day": query.last_day.isoformat() if query.last_day else "",
        "csv_href": csv_base + (f"?{urlencode(csv_params)}" if csv_params else ""),
        "csv_audience_href": csv_base + "?" + urlencode(csv_params | {"breakdown": "audience"}),
        "problem": problem,
    }
