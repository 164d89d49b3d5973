"""Hand-written SVG charts for the HTML report: lines (linear or log axes) and histograms.

Every label goes through :func:`html.escape`; the charts are plain strings with no scripts, so
the report stays one self-contained file that any browser shows and any reviewer can trust.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH, HEIGHT = 520, 320
LEFT, RIGHT, TOP, BOTTOM = 60, 150, 20, 45

Series = tuple[str, Sequence[tuple[float, float]]]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e-2 and abs(value) < 1e4:
        return f"{value:.3g}"
    return f"{value:.0e}"


class _Axis:
    def __init__(self, lo: float, hi: float, log: bool, start: float, length: float, flip: bool):
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi <= lo:
            hi = lo + 1
        self.lo, self.hi, self.log = lo, hi, log
        self.start, self.length, self.flip = start, length, flip

    def __call__(self, value: float) -> float:
        v = math.log10(max(value, 10**self.lo)) if self.log else value
        frac = (v - self.lo) / (self.hi - self.lo)
        return (
            self.start + (1 - frac) * self.length if self.flip else self.start + frac * self.length
        )

    def ticks(self) -> list[float]:
        if self.log:
            return [10.0**e for e in range(math.ceil(self.lo), math.floor(self.hi) + 1)]
        step = 10 ** math.floor(math.log10((self.hi - self.lo) / 4))
        for mult in (1, 2, 5, 10):
            if (self.hi - self.lo) / (step * mult) <= 6:
                step *= mult
                break
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step + 1e-9) + 1)]


def _frame(x: _Axis, y: _Axis, x_label: str, y_label: str, title: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#999"/>',
    ]
    for t in x.ticks():
        px = x(t)
        parts.append(
            f'<line x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{HEIGHT - BOTTOM}" stroke="#eee"/>'
        )
        parts.append(
            f'<text x="{px:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{_fmt(t)}</text>'
        )
    for t in y.ticks():
        py = y(t)
        parts.append(
            f'<line x1="{LEFT}" y1="{py:.1f}" x2="{WIDTH - RIGHT}" y2="{py:.1f}" stroke="#eee"/>'
        )
        parts.append(f'<text x="{LEFT - 5}" y="{py + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" '
        f'text-anchor="middle">{html.escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">'
        f"{html.escape(y_label)}</text>"
    )
    return parts


def _legend(names: Sequence[str], dashed: Sequence[bool] = ()) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        y = TOP + 10 + 16 * i
        colour = PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="4 3"' if i < len(dashed) and dashed[i] else ""
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 10}" y1="{y}" x2="{WIDTH - RIGHT + 30}" '
            f'y2="{y}" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{WIDTH - RIGHT + 35}" y="{y + 4}">{html.escape(name)}</text>')
    return parts


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    log_y: bool = False,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    diagonal: bool = False,
    markers: bool = True,
) -> str:
    """Lines with optional log axes; ``diagonal`` draws y = x (chance for a ROC)."""
    points = [p for _, pts in series for p in pts]
    xs = [p[0] for p in points if not log_x or p[0] > 0] or [0.0, 1.0]
    ys = [p[1] for p in points if not log_y or p[1] > 0] or [0.0, 1.0]
    x_lo, x_hi = x_range or (min(xs), max(xs))
    y_lo, y_hi = y_range or (min(ys), max(ys))
    x = _Axis(x_lo, x_hi, log_x, LEFT, WIDTH - LEFT - RIGHT, flip=False)
    y = _Axis(y_lo, y_hi, log_y, TOP, HEIGHT - TOP - BOTTOM, flip=True)
    parts = _frame(x, y, x_label, y_label, title)
    if diagonal:
        grid = np.geomspace(max(x_lo, 1e-6), x_hi, 50) if log_x else np.linspace(x_lo, x_hi, 2)
        coords = " ".join(f"{x(v):.1f},{y(max(v, y_lo)):.1f}" for v in grid)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="#aaa" stroke-dasharray="4 3"/>'
        )
    for i, (_, pts) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        kept = [(a, b) for a, b in pts if (not log_x or a > 0) and (not log_y or b > 0)]
        coords = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in kept)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        if markers and len(kept) <= 30:
            parts += [
                f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3" fill="{colour}"/>' for a, b in kept
            ]
    parts += _legend([name for name, _ in series])
    parts.append("</svg>")
    return "\n".join(parts)


def histogram(
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    x_label: str,
    bins: int = 40,
) -> str:
    """Overlaid step histograms (densities) of several groups on a shared range."""
    values = [np.asarray(v, dtype=np.float64) for _, v in groups]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(1)
    if len(finite) == 0:
        finite = np.zeros(1)
    lo, hi = np.percentile(finite, [0.5, 99.5])
    if hi <= lo:
        hi = lo + 1
    edges = np.linspace(lo, hi, bins + 1)
    width = float(edges[1] - edges[0])
    dens = []
    for v in values:
        kept = np.clip(v[np.isfinite(v)], lo, hi)
        counts = np.histogram(kept, bins=edges)[0].astype(np.float64)
        dens.append(counts / (max(len(kept), 1) * width))
    top = max((float(d.max()) for d in dens if len(d)), default=1.0) or 1.0
    x = _Axis(float(lo), float(hi), False, LEFT, WIDTH - LEFT - RIGHT, flip=False)
    y = _Axis(0.0, top * 1.05, False, TOP, HEIGHT - TOP - BOTTOM, flip=True)
    parts = _frame(x, y, x_label, "density", title)
    for i, d in enumerate(dens):
        colour = PALETTE[i % len(PALETTE)]
        coords = [f"{x(edges[0]):.1f},{y(0):.1f}"]
        for j, h in enumerate(d):
            coords += [f"{x(edges[j]):.1f},{y(h):.1f}", f"{x(edges[j + 1]):.1f},{y(h):.1f}"]
        coords.append(f"{x(edges[-1]):.1f},{y(0):.1f}")
        parts.append(
            f'<polyline points="{" ".join(coords)}" fill="{colour}" fill-opacity="0.15" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
    parts += _legend([name for name, _ in groups])
    parts.append("</svg>")
    return "\n".join(parts)
