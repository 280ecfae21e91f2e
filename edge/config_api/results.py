"""`GET /v1/sites/{site_id}/experiences/{id}/results` and `.../results.csv`: a test's results.

Query: `from` and `to` (ISO dates, inclusive, UTC: the days visitors entered the experience),
`breakdown=audience|day`. The JSON is `results_report.ResultsReport`; the CSV has one row per
variation (per audience and variation with `breakdown=audience`, per day and variation with
`breakdown=day`, whose counts are cumulative through that day, as the chart draws them).

Errors: 401, 404 (`experience_not_found`, or another site's), 422 (`invalid_query`, naming the
parameter in `details`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from edge.access.auth import require_site
from edge.config_api.experiences import ITEM
from edge.config_api.results_report import Breakdown, Query, ResultsReport, build_report
from edge.services import Services, services
from edge.store.results_records import ResultsReader
from edge.web.errors import NotFound, Unprocessable
from edge.web.http import json_response
from stats import MetricLift, VariationResult

RESULTS = ITEM + "/results"
RESULTS_CSV = ITEM + "/results.csv"


def results_reader(svc: Services) -> ResultsReader:
    """The results tables' read side (`Services.results_store`; tests may substitute their own)."""
    return svc.results_store


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(
        f"The {field} parameter {message}.",
        code="invalid_query",
        details=[{"path": field, "message": message}],
    )


def _day(request: Request, field: str) -> date | None:
    raw = request.query_params.get(field)
    if raw is None:
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise _invalid(field, "must be a date as YYYY-MM-DD") from None


def parse_query(request: Request) -> Query:
    """`from`, `to` and `breakdown` of the request (422 naming the first bad one)."""
    first, last = _day(request, "from"), _day(request, "to")
    if first is not None and last is not None and first > last:
        raise _invalid("to", "must be on or after from")
    raw = request.query_params.get("breakdown")
    if raw is not None and raw not in {str(b) for b in Breakdown}:
        raise _invalid("breakdown", "must be audience or day")
    return Query(first, last, None if raw is None else Breakdown(raw))


async def report_for(svc: Services, site_id: str, experience_id: str, query: Query) -> ResultsReport:
    record = await svc.store.get_experience(site_id, experience_id)
    if record is None:
        raise NotFound(f"No experience {experience_id} in site {site_id}.", code="experience_not_found")
    return await build_report(results_reader(svc), site_id, experience_id, record.body, query)


async def results(request: Request) -> Response:
    site = await require_site(request)
    report = await report_for(
        services(request), site.id, request.path_params["experience_id"], parse_query(request)
    )
    return json_response(report, headers={"Cache-Control": "no-store"})


_LIFT_COLUMNS = ("value", "ci_low", "ci_high")
_VARIATION_COLUMNS = [
    "variation_id", "variation_name", "is_control", "visitors", "converters", "orders", "revenue",
    "conversion_rate", "revenue_per_visitor", "average_order_value", "chance_to_beat_control",
    *(f"{metric}_lift_{part}" for metric in ("conversion_rate", "revenue_per_visitor")
      for part in _LIFT_COLUMNS),
]  # fmt: skip
_SERIES_COLUMNS = [
    "day", "variation_id", "variation_name", "is_control", "visitors", "converters", "orders", "revenue",
    "conversion_rate", "revenue_per_visitor", "conversion_rate_lift", "revenue_per_visitor_lift",
]  # fmt: skip


def _cell(value: Any) -> Any:
    """CSV text for a value: empty for None, lower-case booleans, floats as Python writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _lift_cells(lift: MetricLift | None) -> list[Any]:
    return [None] * 3 if lift is None else [lift.value, lift.ci_low, lift.ci_high]


def _variation_row(report: ResultsReport, v: VariationResult) -> list[Any]:
    lifts = v.lift
    return [
        v.variation_id, report.variation_names.get(v.variation_id, v.variation_id), v.is_control,
        v.visitors, v.converters, v.orders, v.revenue, v.conversion_rate, v.revenue_per_visitor,
        v.average_order_value, v.chance_to_beat_control,
        *_lift_cells(lifts.conversion_rate if lifts else None),
        *_lift_cells(lifts.revenue_per_visitor if lifts else None),
    ]  # fmt: skip


def csv_rows(report: ResultsReport) -> Iterator[list[Any]]:
    """The header, then one row per variation (per audience or day and variation with a breakdown)."""
    if report.series is not None:
        yield _SERIES_COLUMNS
        days = sorted({point.day for line in report.series for point in line.points})
        by_line = {line.variation_id: {p.day: p for p in line.points} for line in report.series}
        for day in days:
            for line in report.series:
                p = by_line[line.variation_id][day]
                yield [
                    day.isoformat(), line.variation_id,
                    report.variation_names.get(line.variation_id, line.variation_id), line.is_control,
                    p.visitors, p.converters, p.orders, p.revenue, p.conversion_rate,
                    p.revenue_per_visitor, p.conversion_rate_lift, p.revenue_per_visitor_lift,
                ]  # fmt: skip
        return
    if report.audiences is not None:
        yield ["audience", "audience_name", *_VARIATION_COLUMNS]
        for part in report.audiences:
            for v in part.variations:
                yield [part.audience, part.name, *_variation_row(report, v)]
        return
    yield _VARIATION_COLUMNS
    for v in report.variations:
        yield _variation_row(report, v)


def to_csv(report: ResultsReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv_rows(report):
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def csv_filename(report: ResultsReport, query: Query) -> str:
    """`<experience>-results[-<from>][-<to>][-<breakdown>].csv` (ids are safe in a header)."""
    parts = [report.experience_id, "results"]
    parts += [d.isoformat() for d in (query.first_day, query.last_day) if d is not None]
    if query.breakdown is not None:
        parts.append(f"by-{query.breakdown}")
    return "-".join(parts) + ".csv"


async def results_csv(request: Request) -> Response:
    site = await require_site(request)
    query = parse_query(request)
    report = await report_for(services(request), site.id, request.path_params["experience_id"], query)
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{csv_filename(report, query)}"',
            "Cache-Control": "no-store",
        },
    )


routes: list[BaseRoute] = [
    Route(RESULTS, results, methods=["GET"]),
    Route(RESULTS_CSV, results_csv, methods=["GET"]),
]
