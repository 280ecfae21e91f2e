"""The Results tab's chart: each variation's cumulative rate per day, as an inline SVG.

Drawn on the server so the page needs no chart library and works under the page's strict
Content-Security-Policy (presentation attributes only, no inline styles or scripts). A line chart
of a handful of series is a few dozen lines of SVG; a vendored charting library would be far
more code to review than the drawing it does here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Final

from markupsafe import Markup, escape

from stats import SeriesPoint, VariationSeries

WIDTH: Final = 720
HEIGHT: Final = 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 40
COLOURS: Final = ("#5b6372", "#2f4fd8", "#c2410c", "#15803d", "#9333ea", "#0e7490")
"""The control is grey; variations get distinct, colour-blind-distinguishable hues."""

METRICS: Final[Mapping[str, tuple[str, Callable[[SeriesPoint], float | None], Callable[[float], str]]]] = {
    "conversion_rate": ("Conversion rate", lambda p: p.conversion_rate, lambda v: f"{v:.1%}"),
    "revenue_per_visitor": ("Revenue per visitor", lambda p: p.revenue_per_visitor, lambda v: f"{v:,.2f}"),
}


def _ticks(top: float, count: int = 4) -> list[float]:
    return [top * i / count for i in range(count + 1)]


def cumulative_chart(series: Sequence[VariationSeries], metric: str, names: Mapping[str, str]) -> Markup:
    """An SVG line chart of `metric` (a key of `METRICS`) per variation, oldest day on the left.

    Days where a variation's value is unknown (no visitors yet) break its line. With no days at
    all the answer is an empty string, and the page says there is nothing to draw yet."""
    label, value_of, fmt = METRICS[metric]
    days: list[date] = sorted({point.day for line in series for point in line.points})
    values = [value_of(p) for line in series for p in line.points]
    known = [v for v in values if v is not None]
    if not days or not known:
        return Markup("")
    top = max(known) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(day: date) -> float:
        if len(days) == 1:
            return _LEFT + plot_w / 2
        return _LEFT + plot_w * (day - days[0]).days / max((days[-1] - days[0]).days, 1)

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
        f'aria-labelledby="chart-title" data-metric="{escape(metric)}">',
        f'<title id="chart-title">Cumulative {escape(label.lower())} per variation, by day</title>',
    ]
    for tick in _ticks(top):
        ty = y(tick)
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#dfe3ea"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" fill="#5b6372">'
            f"{escape(fmt(tick))}</text>"
        )
    for day in {days[0], days[-1]}:
        anchor = "start" if day == days[0] and len(days) > 1 else "end" if len(days) > 1 else "middle"
        parts.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - _BOTTOM + 18}" text-anchor="{anchor}" font-size="11" '
            f'fill="#5b6372">{day.isoformat()}</text>'
        )
    for index, line in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        name = escape(names.get(line.variation_id, line.variation_id))
        runs: list[list[str]] = [[]]
        for point in line.points:
            value = value_of(point)
            if value is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(point.day):.1f},{y(value):.1f}")
        parts.append(f'<g class="series" data-variation="{escape(line.variation_id)}"><title>{name}</title>')
        for run in (r for r in runs if r):
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
            else:
                dash = ' stroke-dasharray="5 3"' if line.is_control else ""
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>'
                )
        parts.append("</g>")
    legend_x = _LEFT
    for index, line in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        plain = names.get(line.variation_id, line.variation_id)
        text = f"{plain} (control)" if line.is_control else plain
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="{HEIGHT - 9}" font-size="12" fill="#1d2330">{escape(text)}</text>'
        )
        legend_x += 28 + 7 * len(text)
    parts.append("</svg>")
    # Every piece of text above went through `escape`; the rest is our own markup.
    return Markup("".join(parts))  # noqa: S704
