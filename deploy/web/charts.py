"""A small inline SVG line chart for the pages: no script, no library, readable on a phone and in print."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from html import escape

WIDTH, HEIGHT = 640, 260
# Drawn large: on a phone the 640-unit box is shown about half size.
LEFT, RIGHT, TOP, BOTTOM = 72, 20, 20, 44


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[Fraction | None]]],
    target: Decimal | None,
    *,
    title: str,
) -> str:
    """Percent values per period for each (name, colour, values) series, and a dashed target line."""
    values = [float(v) * 100 for _, _, vs in series for v in vs if v is not None]
    top = max([*values, float(target or 0) * 100, 1.0]) * 1.15
    n = max(len(labels), 1)
    step = (WIDTH - LEFT - RIGHT) / max(n - 1, 1)

    def x(i: int) -> float:
        return LEFT + (i * step if n > 1 else (WIDTH - LEFT - RIGHT) / 2)

    def y(percent: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - percent / top)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg" font-size="22" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        'stroke="#999"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        level = top / 1.15 * fraction
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(level) + 7:.1f}" text-anchor="end" fill="#555">{level:.0f}%</text>'
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 28}" text-anchor="middle" fill="#555">'
            f"{escape(label)}</text>"
        )
    if target is not None:
        ty = y(float(target) * 100)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" stroke="#1a7f37" '
            'stroke-width="3" stroke-dasharray="10 6"><title>Chỉ tiêu</title></line>'
        )
    for name, colour, vs in series:
        points = [(x(i), y(float(v) * 100)) for i, v in enumerate(vs) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="4"/>')
        for px, py in points:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="7" fill="{colour}">'
                f"<title>{escape(name)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
