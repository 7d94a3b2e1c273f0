"""What the bar charts of rates share (the status chart and the closing report's chart): colours, layout,
the percentage axis. matplotlib is imported by the callers, inside their writers."""

from __future__ import annotations

from typing import Any

COLOURS = {"met": "#2E7D32", "unmet": "#C62828", "none": "#BDBDBD", "target": "#212121"}

# Layout in inches: the figure grows with the number of units, the margins do not.
BAR_PITCH = 0.36
HEADER = 1.45
FOOTER = 0.65
WIDTH = 11.0


def pct_axis(x: float, _pos: object) -> str:
    return f"{x * 100:.0f}%"


def style_rate_axes(ax: Any, bars: int, limit: float) -> None:
    """A horizontal axis of percentages up to `limit`, one row per bar, light vertical grid, no box."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xlim(0, limit)
    ax.set_ylim(-0.6, bars - 0.4)
    ax.xaxis.set_major_formatter(FuncFormatter(pct_axis))
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#E0E0E0", zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
