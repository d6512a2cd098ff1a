"""Server-side SVG charts of live quality over time: one line per model, optionally a dashed picked-only twin.

Plain strings like `ml/charts.py`, every label passed through `escape`, sized by a viewBox so a chart
shrinks to its column. Periods with few reviews are drawn with hollow markers: their figures are noisy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from reviews.quality import ModelQuality

WIDTH, PLOT_HEIGHT = 460, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 28, 26
LEGEND_ROW = 16
FEW_REVIEWS = 5  # a period with fewer reviews than this gets a hollow marker
# Okabe-Ito colours (told apart with colour-blindness too), then dash patterns so a model keeps its look.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
PICKED_DASH = "5 3"


@dataclass(frozen=True)
class LiveChart:
    """One figure over time: its field, the picked-only field drawn dashed beside it, how to print a value."""

    title: str
    figure: str
    picked_figure: str = ""
    share: bool = True  # 0-1, printed as a percentage; otherwise the scale follows the data


LIVE_CHARTS = (
    LiveChart("Exact agreement (rating = suggestion)", "exact", "picked_exact"),
    LiveChart("Macro-F1 of the labels", "macro_f1", "picked_macro_f1"),
    LiveChart("Within one star", "within_one", "picked_within_one"),
    LiveChart("Mean absolute error (stars)", "mae", "picked_mae", share=False),
    LiveChart("Acceptance rate (suggestion used as is)", "acceptance_rate"),
    LiveChart("Reviews with a suggestion", "reviews", share=False),
)


def _value_text(value: float, chart: LiveChart) -> str:
    if chart.figure == "reviews":
        return f"{value:g}"
    return f"{value:.0%}" if chart.share and chart.figure != "macro_f1" else f"{value:.2f}"


def _day_text(day: date, with_year: bool) -> str:
    return f"{day.day} {day:%b %Y}" if with_year else f"{day.day} {day:%b}"


def live_chart_svg(models: Sequence[ModelQuality], chart: LiveChart, period: str) -> str:
    """`chart`'s figure per period for every model, on one shared time axis."""
    colours = [COLOURS[index % len(COLOURS)] for index in range(len(models))]
    # (model, figure, picked only, colour): a model's picked-only line has its colour, dashed
    lines = [(model, chart.figure, False, colour) for model, colour in zip(models, colours, strict=True)]
    if chart.picked_figure:
        lines += [(model, chart.picked_figure, True, colour) for model, _, _, colour in lines]
    legend_height = LEGEND_ROW * (len(models) + bool(chart.picked_figure)) + 6
    height = TOP + PLOT_HEIGHT + BOTTOM + legend_height
    days = sorted({point.period_start for model in models for point in model.series})
    values = [
        value for model, figure, *_ in lines for point in model.series if (value := getattr(point, figure)) is not None
    ]
    if not days or not values:
        return _svg(WIDTH, 60, f'<text x="8" y="36">{escape("No reviews in this window.")}</text>', chart.title)
    top = 1.0 if chart.share else _round_top(max(values), whole=chart.figure == "reviews")
    first, last = days[0], days[-1]
    span = max(1, (last - first).days)
    inner_w = WIDTH - LEFT - RIGHT

    def x_of(day: date) -> float:
        return LEFT + inner_w / 2 if first == last else LEFT + inner_w * (day - first).days / span

    def y_of(value: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - value / top)

    parts = [f'<text x="{WIDTH / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">{escape(chart.title)}</text>']
    for step in range(5):
        value = top * step / 4
        y = y_of(value)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_value_text(value, chart)}</text>')
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + PLOT_HEIGHT}" x2="{WIDTH - RIGHT}" y2="{TOP + PLOT_HEIGHT}" stroke="#888"/>'
    )
    for day in _ticks(days):
        anchor = "start" if day == first and first != last else "end" if day == last and first != last else "middle"
        parts.append(
            f'<text x="{x_of(day):.1f}" y="{TOP + PLOT_HEIGHT + 16}" text-anchor="{anchor}">'
            f"{escape(_day_text(day, False))}</text>"
        )
    for model, figure, picked, colour in lines:
        stroke = _stroke(colour, picked)
        points = [(point, value) for point in model.series if (value := getattr(point, figure)) is not None]
        coords = " ".join(f"{x_of(point.period_start):.1f},{y_of(value):.1f}" for point, value in points)
        name = f"{model.model}, picked only" if picked else model.model
        parts.append(f'<polyline fill="none" {stroke} points="{coords}" data-series="{escape(figure)}"/>')
        parts.extend(
            _marker(
                x_of(point.period_start),
                y_of(value),
                colour,
                point.reviews < FEW_REVIEWS,
                f"{name}, {period} of {_day_text(point.period_start, True)}: {_value_text(value, chart)} "
                f"({point.reviews} reviews)",
            )
            for point, value in points
        )
    years = f"{first.year}" if first.year == last.year else f"{first.year}–{last.year}"
    parts.append(
        f'<text x="{WIDTH - RIGHT}" y="{TOP + PLOT_HEIGHT + BOTTOM + 14}" text-anchor="end" fill="#555">'
        f"per {escape(period)} · {years}</text>"
    )
    parts.extend(_legend(models, colours, bool(chart.picked_figure), TOP + PLOT_HEIGHT + BOTTOM + 10))
    return _svg(WIDTH, height, "".join(parts), chart.title)


def _stroke(colour: str, picked: bool) -> str:
    dash = f' stroke-dasharray="{PICKED_DASH}"' if picked else ""
    return f'stroke="{colour}" stroke-width="2"{dash}'


def _legend(models: Sequence[ModelQuality], colours: list[str], with_picked: bool, top: float) -> list[str]:
    """One row per model (a solid sample, a dashed one when the chart has picked-only lines, the name)."""
    parts = []
    if with_picked:
        parts.append(f'<text x="{LEFT}" y="{top + 4}" fill="#555">solid: every review · dashed: picked only</text>')
        top += LEGEND_ROW
    name_x = LEFT + (64 if with_picked else 32)
    for row, (model, colour) in enumerate(zip(models, colours, strict=True)):
        y = top + row * LEGEND_ROW
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + 24}" y2="{y}" {_stroke(colour, False)}/>')
        if with_picked:
            parts.append(f'<line x1="{LEFT + 32}" y1="{y}" x2="{LEFT + 56}" y2="{y}" {_stroke(colour, True)}/>')
        parts.append(f'<text x="{name_x}" y="{y + 4}">{escape(model.model)}</text>')
    return parts


def _marker(x: float, y: float, colour: str, hollow: bool, tip: str) -> str:
    fill = "#fff" if hollow else colour
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}" stroke="{colour}" stroke-width="1.5">'
        f"<title>{escape(tip)}</title></circle>"
    )


def _round_top(biggest: float, *, whole: bool = False) -> float:
    """The top of a scale of four round steps (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10ⁿ) just above `biggest`."""
    raw = max(biggest * 1.05, 1e-9) / 4
    power = 10 ** math.floor(math.log10(raw))
    steps = [power * m for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)]
    if whole:  # counts: whole steps only
        steps = [step for step in steps if step >= 1 and float(step).is_integer()] or [1.0]
    step = next((step for step in steps if step >= raw), steps[-1])
    return round(step * 4, 9)


def _ticks(days: list[date], most: int = 6) -> list[date]:
    """At most about `most` of the period starts, evenly spaced, always the first and the last."""
    step = max(1, math.ceil((len(days) - 1) / (most - 1)))
    indexes = list(range(0, len(days), step))
    if indexes[-1] != len(days) - 1:
        # the last period always gets its label; the one before it gives way when the two would touch
        if len(days) - 1 - indexes[-1] < step * 0.6 and len(indexes) > 1:
            indexes.pop()
        indexes.append(len(days) - 1)
    return [days[index] for index in indexes]


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'style="font:11px sans-serif;background:#fff">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )
