"""Trend charts as inline SVG written on the server: no script, no library, no request to another
site, and nothing the Content-Security-Policy refuses (presentation attributes, no ``style``).
The chart is a picture of a table the page shows beside it; its ``<title>`` and ``<desc>`` name
it for screen readers, which read the table for the figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 16, 40
# Told apart by colour, dash and marker alike (not by colour alone: WCAG 1.4.1); colours with a
# contrast of at least 3:1 on white (WCAG 1.4.11).
_STYLES = (
    ("#0b5394", "", "circle"),
    ("#b42318", "6 4", "square"),
    ("#2e7d32", "2 3", "diamond"),
    ("#6a1b9a", "10 3 2 3", "triangle"),
)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per label; None: no data or not published (a gap)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "circle":
        return f'<circle cx="{_number(x)}" cy="{_number(y)}" r="3.5" fill="{colour}"/>'
    if kind == "square":
        return f'<rect x="{_number(x - 3.5)}" y="{_number(y - 3.5)}" width="7" height="7" fill="{colour}"/>'
    corners = (
        [(x, y - 4.5), (x + 4.5, y), (x, y + 4.5), (x - 4.5, y)]
        if kind == "diamond"
        else [(x, y - 4.5), (x + 4.5, y + 3.5), (x - 4.5, y + 3.5)]
    )
    points = " ".join(f"{_number(a)},{_number(b)}" for a, b in corners)
    return f'<polygon points="{points}" fill="{colour}"/>'


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    maximum: float = 100.0,
    unit: str = "%",
) -> Markup:
    """Lines over ``labels`` (oldest first) on a scale from 0 to ``maximum``; a value that is
    missing breaks its line rather than being drawn as 0. Texts come translated and are escaped
    here."""
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x_of(i: int) -> float:
        return _LEFT + i * step

    def y_of(value: float) -> float:
        return _TOP + plot_h * (1 - min(max(value, 0.0), maximum) / maximum)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for tick in range(5):
        value = maximum * tick / 4
        y = y_of(value)
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_number(y)}" y2="{_number(y)}"'
            ' stroke="#d0d7de" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{_number(y + 4)}" text-anchor="end" font-size="12"'
            f' fill="#1b1b1b">{escape(_number(value) + unit)}</text>'
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{_number(x_of(i))}" y="{HEIGHT - _BOTTOM + 18}" text-anchor="middle"'
            f' font-size="11" fill="#1b1b1b">{escape(label)}</text>'
        )
    for s, (colour, dash, marker) in zip(series, _STYLES, strict=False):
        segments: list[list[tuple[float, float]]] = [[]]
        for i, point in enumerate(s.values):
            if point is None:
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append((x_of(i), y_of(point)))
        parts.append(f'<g aria-hidden="true" data-series="{escape(s.name)}">')
        for segment in segments:
            if len(segment) > 1:
                points = " ".join(f"{_number(x)},{_number(y)}" for x, y in segment)
                dashed = f' stroke-dasharray="{dash}"' if dash else ""
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dashed}/>'
                )
            parts.extend(_marker(marker, x, y, colour) for x, y in segment)
        parts.append("</g>")
    parts.append("</svg>")
    # Every text above went through escape(); the rest is numbers and fixed names.
    return Markup("".join(parts))  # noqa: S704


def swatch(position: int) -> Markup:
    """The line and marker of the ``position``-th series, for the legend the page writes under
    the chart (decorative: the legend's text names the series)."""
    colour, dash, marker = _STYLES[position % len(_STYLES)]
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return Markup(  # noqa: S704 (fixed markup and numbers only)
        '<svg xmlns="http://www.w3.org/2000/svg" class="swatch" width="36" height="12" viewBox="0 0 36 12"'
        f' aria-hidden="true" focusable="false"><line x1="0" x2="36" y1="6" y2="6" stroke="{colour}"'
        f' stroke-width="2"{dashed}/>{_marker(marker, 18, 6, colour)}</svg>'
    )
