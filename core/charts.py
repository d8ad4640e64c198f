"""Small server-rendered SVG charts for the admin: no JavaScript, no external assets, every label escaped."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def bar_chart(
    points: Sequence[tuple[str, float]],
    *,
    width: int = 640,
    height: int = 160,
    color: str = "#417690",
    colors: Sequence[str] | None = None,
    label_every_bar: bool = False,
    unit: str = "",
    label: str = "",
) -> SafeString:
    """Vertical bars with a tooltip each (`<title>`) and the maximum on the axis. By default the first and last
    names are written below; `label_every_bar` writes every bar's name below it and its count above it (for a
    few bars). `colors` gives each bar its own colour (e.g. matching a legend), else all are `color`."""
    if not points:
        return format_html('<p class="chart-empty">No data yet.</p>')
    top = max(value for _, value in points) or 1
    pad_left, pad_bottom, pad_top = 40, 18, 20 if label_every_bar else 8
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - pad_top
    step = plot_w / len(points)
    bar_w = max(1.0, step * 0.8)
    bars = []
    for i, (name, value) in enumerate(points):
        x, bar_h = pad_left + i * step, max((value / top) * plot_h, 0.5 if value else 0)
        y = pad_top + plot_h - bar_h
        fill = colors[i % len(colors)] if colors else color
        bars.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}{}</title></rect>',
                _n(x),
                _n(y),
                _n(bar_w),
                _n(bar_h),
                fill,
                name,
                _fmt(value),
                unit,
            )
        )
        if label_every_bar:
            middle = _n(x + bar_w / 2)
            bars.append(
                format_html(
                    '<text class="bar-value" x="{}" y="{}" font-size="11" text-anchor="middle" fill="#333">{}{}</text>'
                    '<text class="bar-name" x="{}" y="{}" font-size="10" text-anchor="middle" fill="#666">{}</text>',
                    middle,
                    _n(y - 4),
                    _fmt(value),
                    unit,
                    middle,
                    height - 4,
                    name,
                )
            )
    names = (
        format_html(
            '<text x="{}" y="{}" font-size="10" fill="#666">{}</text>'
            '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>',
            pad_left,
            height - 4,
            points[0][0],
            width - 4,
            height - 4,
            points[-1][0],
        )
        if not label_every_bar
        else ""
    )
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">0</text>{}',
        pad_left - 2,
        pad_top + plot_h,
        width - 4,
        pad_top + plot_h,
        pad_left - 4,
        pad_top + 10,
        _fmt(top),
        pad_left - 4,
        pad_top + plot_h,
        names,
    )
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">{}{}</svg>',
        label,
        width,
        height,
        axis,
        mark_safe("".join(bars)),  # noqa: S308 - each part built by format_html
    )


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[tuple[str, str]],
    *,
    width: int = 640,
    height: int = 160,
) -> SafeString:
    """Stacked vertical bars; `series` is [(name, color)], each row is (label, values per series)."""
    if not rows:
        return format_html('<p class="chart-empty">No data yet.</p>')
    top = max(sum(values) for _, values in rows) or 1
    pad_left, pad_bottom, pad_top = 40, 18, 8
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - pad_top
    step = plot_w / len(rows)
    parts = []
    for i, (name, values) in enumerate(rows):
        y = pad_top + plot_h
        for (series_name, color), value in zip(series, values, strict=False):
            h = (value / top) * plot_h
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}: {}</title></rect>',
                    _n(pad_left + i * step),
                    _n(y),
                    _n(max(1.0, step * 0.8)),
                    _n(h),
                    color,
                    name,
                    series_name,
                    _fmt(value),
                )
            )
    legend = format_html_join(
        "",
        '<tspan fill="{}">■ {}</tspan> ',
        ((color, name) for name, color in series),
    )
    return format_html(
        '<svg class="chart" role="img" viewBox="0 0 {} {}" width="100%" xmlns="http://www.w3.org/2000/svg">'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>{}'
        '<text x="{}" y="{}" font-size="10">{}</text></svg>',
        width,
        height,
        pad_left - 4,
        pad_top + 10,
        _fmt(top),
        mark_safe("".join(parts)),  # noqa: S308 - built by format_html
        pad_left,
        height - 4,
        legend,
    )


def _n(value: float) -> str:
    return f"{value:.1f}"


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"
