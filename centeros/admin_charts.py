"""Server-rendered SVG charts for the admin pages.

The admin runs on machines without network access, so charts are inline SVG
built here rather than drawn by a JavaScript library from a CDN.
"""

import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 280
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 44
TICKS = 5

SERIES_COLOURS = ("#417690", "#e07b39")


def _finite(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _n(value: float) -> str:
    return f"{value:.1f}"


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2e}"
    return f"{value:.3g}"


def loss_curve_svg(metrics: Sequence[dict], *, keys=("loss", "val_loss")) -> SafeString:
    """Draw the per-epoch loss series of a training job as an SVG line chart.

    ``metrics`` is the job's list of ``{"epoch": n, "loss": x, "val_loss": y}``
    entries. Entries without a finite value for a series are skipped for that
    series. Returns an empty string when no series has a point.
    """
    series = {}
    for key in keys:
        points = [
            (entry["epoch"], entry[key])
            for entry in metrics
            if isinstance(entry, dict)
            and _finite(entry.get("epoch"))
            and _finite(entry.get(key))
        ]
        if points:
            series[key] = points
    if not series:
        return mark_safe("")

    all_points = [point for points in series.values() for point in points]
    x_min = min(x for x, _ in all_points)
    x_max = max(x for x, _ in all_points)
    y_min = min(0.0, min(y for _, y in all_points))
    y_max = max(y for _, y in all_points)
    if x_max == x_min:
        x_max = x_min + 1
    if y_max == y_min:
        y_max = y_min + 1

    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def to_x(x: float) -> float:
        return MARGIN_LEFT + (x - x_min) / (x_max - x_min) * plot_width

    def to_y(y: float) -> float:
        return MARGIN_TOP + (1 - (y - y_min) / (y_max - y_min)) * plot_height

    # Grid lines and tick labels of both axes.
    y_ticks = [y_min + (y_max - y_min) * i / (TICKS - 1) for i in range(TICKS)]
    x_ticks = sorted(
        {round(x_min + (x_max - x_min) * i / (TICKS - 1)) for i in range(TICKS)}
    )
    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
        '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#666">{}</text>',
        (
            (
                MARGIN_LEFT,
                _n(to_y(tick)),
                WIDTH - MARGIN_RIGHT,
                _n(to_y(tick)),
                MARGIN_LEFT - 6,
                _n(to_y(tick) + 4),
                _tick_label(tick),
            )
            for tick in y_ticks
        ),
    )
    x_labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#666">{}</text>',
        ((_n(to_x(tick)), HEIGHT - MARGIN_BOTTOM + 16, tick) for tick in x_ticks),
    )

    # One polyline per series, with a dot per epoch and a legend entry.
    lines = []
    legend = []
    for index, (key, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        coordinates = " ".join(f"{to_x(x):.1f},{to_y(y):.1f}" for x, y in points)
        lines.append(
            format_html(
                '<polyline class="series-{}" fill="none" stroke="{}" '
                'stroke-width="2" points="{}"/>',
                key,
                colour,
                coordinates,
            )
        )
        lines.append(
            format_html_join(
                "",
                '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>epoch {}: {} {}</title></circle>',
                (
                    (_n(to_x(x)), _n(to_y(y)), colour, x, key, _tick_label(y))
                    for x, y in points
                ),
            )
        )
        legend.append(
            format_html(
                '<rect x="{}" y="{}" width="12" height="3" fill="{}"/>'
                '<text x="{}" y="{}" font-size="12" fill="#333">{}</text>',
                MARGIN_LEFT + index * 110,
                HEIGHT - 12,
                colour,
                MARGIN_LEFT + index * 110 + 16,
                HEIGHT - 8,
                key,
            )
        )

    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="centeros-loss-curve" '
        'viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="Loss per epoch">'
        '<rect x="0" y="0" width="{}" height="{}" fill="#fff"/>{}{}'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#666">epoch</text>'
        "{}{}</svg>",
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        grid,
        x_labels,
        MARGIN_LEFT,
        HEIGHT - MARGIN_BOTTOM,
        WIDTH - MARGIN_RIGHT,
        HEIGHT - MARGIN_BOTTOM,
        _n(MARGIN_LEFT + plot_width / 2),
        HEIGHT - MARGIN_BOTTOM + 30,
        mark_safe("".join(lines)),
        mark_safe("".join(legend)),
    )


def bar_rows(counts: dict[str, int]) -> list[dict]:
    """Return rows with each count's share of the largest, for CSS bars."""
    largest = max(counts.values(), default=0)
    return [
        {
            "label": label,
            "count": count,
            "percent": round(100 * count / largest) if largest else 0,
        }
        for label, count in counts.items()
    ]
