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
    unit: str = "",
    label: str = "",
) -> SafeString:
    """Vertical bars with a tooltip each (`<title>`), the maximum on the axis, first and last labels below."""
    if not points:
        return format_html('<p class="chart-empty">No data yet.</p>')
    top = max(value for _, value in points) or 1
    pad_left, pad_bottom, pad_top = 40, 18, 8
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - pad_top
    step = plot_w / len(points)
    bar_w = max(1.0, step * 0.8)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}{}</title></rect>',
        (
            (
                _n(pad_left + i * step),
                _n(pad_top + plot_h - (value / top) * plot_h),
                _n(bar_w),
                _n(max((value / top) * plot_h, 0.5 if value else 0)),
                color,
                name,
                _fmt(value),
                unit,
            )
            for i, (name, value) in enumerate(points)
        ),
    )
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">0</text>'
        '<text x="{}" y="{}" font-size="10" fill="#666">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#666">{}</text>',
        pad_left - 2, pad_top + plot_h, width - 4, pad_top + plot_h,
        pad_left - 4, pad_top + 10, _fmt(top),
        pad_left - 4, pad_top + plot_h,
        pad_left, height - 4, points[0][0],
        width - 4, height - 4, points[-1][0],
    )  # fmt: skip
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">{}{}</svg>',
        label,
        width,
        height,
        axis,
        bars,
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
        width, height, pad_left - 4, pad_top + 10, _fmt(top), mark_safe("".join(parts)),  # noqa: S308 - built by format_html
        pad_left, height - 4, legend,
    )  # fmt: skip


def _n(value: float) -> str:
    return f"{value:.1f}"


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"
