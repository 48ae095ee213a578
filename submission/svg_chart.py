"""Grouped bar charts as inline SVG (no plotting library):
one bar per series in each group, a legend, a y axis.

Every bar is a `<rect class="bar">` carrying data-series, data-group and data-value, with a <title>
tooltip, so the chart is readable by a person and checkable by a program.
"""

from __future__ import annotations

import math
from html import escape
from typing import Callable, Mapping, Sequence

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 36, 40  # margins around the plot area, pixels
TICKS = 5


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above value (1 for nothing to show)."""
    if not value > 0:
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= value * (1 - 1e-9))


def bar_chart(
    chart_id: str,
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    fmt: Callable[[float], str] = "{:.4f}".format,
    tick_fmt: Callable[[float], str] = "{:g}".format,
    width: int = 960,
    height: int = 320,
) -> str:
    """An SVG of len(groups) groups × len(series) bars; NaN values get no bar. `fmt` labels values
    in the tooltips, `tick_fmt` the y axis."""
    top = nice_ceiling(
        max((v for values in series.values() for v in values if not math.isnan(v)), default=0)
    )
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(chart_id)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f'<title>{escape(title)}</title>',
    ]
    parts += _axis(top, tick_fmt, plot_w, plot_h) + _legend(list(series), width)
    for g, group in enumerate(groups):
        x0 = LEFT + g * group_w + group_w * 0.1
        parts.append(
            f'<text x="{LEFT + (g + 0.5) * group_w:.1f}" y="{TOP + plot_h + 18}" '
            f'text-anchor="middle" class="label">{escape(group)}</text>'
        )
        for s, (name, values) in enumerate(series.items()):
            value = values[g]
            if math.isnan(value):
                continue
            h = plot_h * max(value, 0) / top
            parts.append(
                f'<rect class="bar" x="{x0 + s * bar_w:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}" '
                f'data-series="{escape(name)}" data-group="{escape(group)}" data-value="{value!r}">'
                f'<title>{escape(name)} · {escape(group)}: {escape(fmt(value))}</title></rect>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _axis(top: float, fmt: Callable[[float], str], plot_w: float, plot_h: float) -> list[str]:
    lines = []
    for i in range(TICKS + 1):
        value = top * i / TICKS
        y = TOP + plot_h - plot_h * i / TICKS
        lines.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        lines.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f'{escape(fmt(value))}</text>'
        )
    return lines


def _legend(names: list[str], width: int) -> list[str]:
    """Swatches and names in one row under the title, right-aligned."""
    items, x = [], width - RIGHT
    for s, name in reversed(list(enumerate(names))):
        x -= 22 + 7.5 * len(name)
        items.append(
            f'<rect x="{x:.1f}" y="8" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 16:.1f}" y="19" class="legend">{escape(name)}</text>'
        )
    return items
