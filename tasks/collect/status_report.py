"""The campaign status (status_table.StatusTable) as people read it: text, an XLSX and a PNG chart.

- `status_lines` renders the table for a terminal: aligned columns, Vietnamese labels, dd/mm/yyyy.
- `write_status_xlsx` writes the same table (percentages as numbers with a % format, met / not met
  highlighted, frozen header) and a second sheet with the timeliness of the period.
- `write_status_chart` draws every reporting unit's main indicator as a sorted horizontal bar against the
  target (one line, or a marker per bar when targets are per unit), coloured met / not met / no data.

openpyxl and matplotlib are imported inside the writers: the `status` command prints text without them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from thidua.models.files import write_atomic
from thidua.models.indicators import (
    DASH,
    IndicatorResult,
    fmt_int,
    fmt_percent,
    fmt_points,
    fmt_target,
    met_label,
    round_half_up,
)
from thidua.models.text import fmt_date
from thidua.notifications.documents.charts import BAR_PITCH, COLOURS, FOOTER, HEADER, WIDTH, style_rate_axes
from thidua.notifications.documents.sheets import write_xlsx
from thidua.tasks.collect.status_table import IndicatorColumn, StatusRow, StatusTable

__all__ = [
    "COLOURS",
    "on_time_text",
    "reported_text",
    "short_name",
    "status_lines",
    "write_status_chart",
    "write_status_xlsx",
]

# Met / not met / no data: green, red, grey, distinguishable in grey-scale print as well (dark, mid, light).
_FILLS = {"met": "C8E6C9", "unmet": "FFCDD2", "none": "EEEEEE"}

_THADS = re.compile(r"thi hành án dân sự", re.IGNORECASE)


def short_name(name: str) -> str:
    """The usual short form: "Chi cục Thi hành án dân sự huyện X" -> "Chi cục THADS huyện X"."""
    return _THADS.sub("THADS", name)


def _state(met: bool | None) -> str:
    return "none" if met is None else "met" if met else "unmet"


def reported_text(row: StatusRow) -> str:
    if row.reports:
        return "Đã nộp" if row.reported else "Chưa nộp"
    return f"{row.received_below}/{row.expected_below}"


def on_time_text(row: StatusRow, table: StatusTable) -> str:
    if not row.reports:
        return ""
    if row.reported:
        return "Đúng hạn" if row.on_time else "Nộp muộn"
    return "Quá hạn" if table.timeliness.overdue else "Chưa đến hạn"


def _period_line(table: StatusTable) -> str:
    span = f" (đến {fmt_date(table.period_end)})" if table.period_end else ""
    due, as_of = fmt_date(table.due_date), fmt_date(table.as_of)
    return f"{table.period_label}{span} · hạn nộp {due} · số liệu đến {as_of}"


def _trend_text(row: StatusRow, key: str) -> str:
    t = row.trends.get(key)
    if t is None or t.delta is None:
        return ""
    return f"{t.arrow} {fmt_points(t.delta)}"


# ---------------------------------------------------------------- text


_MAX_FIGURES_WIDTH = 19


def status_lines(table: StatusTable) -> list[str]:
    """The status table as aligned text lines (for `thidua campaign status`)."""
    numbered = len(table.indicators) > 1
    head = ["Mã", "Đơn vị", "Báo cáo", "Đúng hạn"]
    for n in range(1, len(table.indicators) + 1):
        tag = f" ({n})" if numbered else ""
        head += [f"Số liệu{tag}", f"Tỷ lệ{tag}", f"Chỉ tiêu{tag}", f"Kết quả{tag}", f"So kỳ trước{tag}"]

    def cells(row: StatusRow, label: str) -> list[str]:
        out = [row.code, label, reported_text(row), on_time_text(row, table)]
        for ind in table.indicators:
            r = row.results[ind.key]
            out += [
                f"{fmt_int(r.num)}/{fmt_int(r.den)}" if r.den or r.num else DASH,
                fmt_percent(r.value),
                fmt_target(r.comparison, r.target),
                met_label(r.met),
                _trend_text(row, ind.key),
            ]
        return out

    body = [cells(r, "  " * r.depth + short_name(r.name)) for r in table.rows]
    if table.separate_total:
        body.append(cells(table.total, table.total.name.upper()))
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    # Sums of money in đồng run to 30 characters: past a width the figures are left to the XLSX.
    keep = [i for i, h in enumerate(head) if not (h.startswith("Số liệu") and widths[i] > _MAX_FIGURES_WIDTH)]
    head, widths = [head[i] for i in keep], [widths[i] for i in keep]
    body = [[line[i] for i in keep] for line in body]
    right = {i for i, h in enumerate(head) if h.startswith(("Số liệu", "Tỷ lệ", "So kỳ"))}

    def fmt(line: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [
        f"{table.code} — {table.title}",
        _period_line(table),
    ]
    if table.previous_period_label:
        out.append(f"So kỳ trước: so với {table.previous_period_label.lower()} (điểm phần trăm)")
    if numbered:
        out += [f"({n}) {ind.label}" for n, ind in enumerate(table.indicators, start=1)]
    else:
        out.append(f"Chỉ tiêu: {table.indicators[0].label}")
    out.append("")
    out.append(fmt(head))
    out.append("  ".join("-" * w for w in widths))
    out += [fmt(line) for line in body]
    out.append("")
    status = table.timeliness
    out.append("Tiến độ báo cáo: " + status.summary())
    for title, codes in (
        ("Chưa nộp (quá hạn)", status.missing),
        ("Chưa nộp (chưa đến hạn)", status.pending),
        ("Nộp muộn", status.late_units),
    ):
        if codes:
            out.append(
                f"{title}: " + "; ".join(f"{c} {short_name(status.names.get(c, ''))}".strip() for c in codes)
            )
    return out


# ---------------------------------------------------------------- XLSX


def _ratio_cell(value: Fraction | Decimal | None) -> Decimal | None:
    # Exact enough for any display (12 decimals of a ratio); Excel keeps a double anyway.
    return None if value is None else round_half_up(Fraction(value), 12)


def write_status_xlsx(table: StatusTable, path: Path | str) -> Path:
    """The status table on sheet "Tình hình", timeliness on sheet "Tiến độ báo cáo"."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    path = Path(path)
    thin = Side(style="thin", color="9E9E9E")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    bold = Font(name="Times New Roman", size=12, bold=True)
    normal = Font(name="Times New Roman", size=12)
    header_fill = PatternFill("solid", fgColor="D9E1F2")
    fills = {k: PatternFill("solid", fgColor=v) for k, v in _FILLS.items()}
    wrap_center = Alignment(horizontal="center", vertical="center", wrap_text=True)

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Tình hình"

    fields = table.fields
    head = ["Mã đơn vị", "Đơn vị", "Báo cáo", "Ngày nộp", "Đúng hạn"] + [label for _k, label in fields]
    ind_start = len(head) + 1
    for ind in table.indicators:
        head += [
            f"{ind.label} (%)",
            "Chỉ tiêu (%)",
            "Kết quả",
            "So với kỳ trước (điểm %)",
        ]
    width = len(head)
    last = get_column_letter(width)

    titles = [
        ("TÌNH HÌNH THỰC HIỆN PHONG TRÀO THI ĐUA", Font(name="Times New Roman", size=14, bold=True)),
        (f"{table.title} ({table.code})", Font(name="Times New Roman", size=13, bold=True)),
        (_period_line(table), Font(name="Times New Roman", size=12, italic=True)),
    ]
    for i, (text, font) in enumerate(titles, start=1):
        ws.cell(row=i, column=1, value=text).font = font
        ws.cell(row=i, column=1).alignment = Alignment(horizontal="center")
        ws.merge_cells(f"A{i}:{last}{i}")
    header_row = len(titles) + 2
    for j, text in enumerate(head, start=1):
        cell = ws.cell(row=header_row, column=j, value=text)
        cell.font, cell.fill, cell.border, cell.alignment = bold, header_fill, box, wrap_center
    ws.row_dimensions[header_row].height = 80

    rows: list[StatusRow] = list(table.rows) + ([table.total] if table.separate_total else [])
    for i, row in enumerate(rows, start=header_row + 1):
        emphasis = row.depth == 0 or row.is_total
        values: list[Any] = [
            row.code or None,
            row.name,
            reported_text(row),
            row.received_on,
            on_time_text(row, table) or None,
        ]
        values += [row.figures.get(k) for k, _label in fields]
        for ind in table.indicators:
            result: IndicatorResult = row.results[ind.key]
            t = row.trends.get(ind.key)
            values += [
                _ratio_cell(result.value),
                _ratio_cell(result.target),
                met_label(result.met),
                None if t is None or t.delta is None else _ratio_cell(t.delta * 100),
            ]
        for j, value in enumerate(values, start=1):
            cell = ws.cell(row=i, column=j, value=value)
            cell.font = bold if emphasis else normal
            cell.border = box
            cell.alignment = Alignment(vertical="center", wrap_text=j == 2)
        ws.cell(row=i, column=2).alignment = Alignment(
            horizontal="left", indent=2 * row.depth, vertical="center", wrap_text=True
        )
        ws.cell(row=i, column=4).number_format = "DD/MM/YYYY"
        for j in range(6, 6 + len(fields)):
            ws.cell(row=i, column=j).number_format = "#,##0"
        for n, ind in enumerate(table.indicators):
            base = ind_start + 4 * n
            state = _state(row.results[ind.key].met)
            ws.cell(row=i, column=base).number_format = "0.00%"
            ws.cell(row=i, column=base + 1).number_format = "0.00%"
            ws.cell(row=i, column=base + 2).fill = fills[state]
            ws.cell(row=i, column=base).fill = fills[state]
            ws.cell(row=i, column=base + 3).number_format = '"↑ "+0.00;"↓ "-0.00;"= "0.00'
            for k in range(4):
                ws.cell(row=i, column=base + k).alignment = Alignment(horizontal="center", vertical="center")
        if row.reports and not row.reported:
            ws.cell(row=i, column=3).font = Font(name="Times New Roman", size=12, bold=True, color="C62828")

    widths = {
        1: 12,
        2: min(max([len(r.name) + 2 * r.depth for r in rows] + [20]) + 2, 55),
        3: 11,
        4: 12,
        5: 13,
    }
    for j in range(6, width + 1):
        widths.setdefault(j, 15)
    for n in range(len(table.indicators)):
        widths[ind_start + 4 * n] = 20
    for j, w in widths.items():
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    ws.auto_filter.ref = f"A{header_row}:{last}{header_row + len(rows)}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"

    _timeliness_sheet(wb, table, bold=bold, normal=normal, box=box, header_fill=header_fill, fills=fills)
    return write_xlsx(wb, path)


def _timeliness_sheet(wb: Any, table: StatusTable, **style: Any) -> None:
    from openpyxl.styles import Alignment, Font

    status = table.timeliness
    ws = wb.create_sheet("Tiến độ báo cáo")
    bold, normal, box = style["bold"], style["normal"], style["box"]
    ws.cell(row=1, column=1, value="TIẾN ĐỘ GỬI BÁO CÁO").font = Font(
        name="Times New Roman", size=14, bold=True
    )
    facts: list[tuple[str, Any, str | None]] = [
        ("Kỳ báo cáo", status.period_label, None),
        ("Hạn nộp", status.due_date, "DD/MM/YYYY"),
        ("Tính đến ngày", status.as_of, "DD/MM/YYYY"),
        ("Số đơn vị phải báo cáo", status.expected, "0"),
        ("Đã nộp", status.received, "0"),
        ("Tỷ lệ đã nộp", _ratio_cell(status.reporting_rate), "0.00%"),
        ("Nộp đúng hạn", status.on_time, "0"),
        ("Tỷ lệ nộp đúng hạn", _ratio_cell(status.on_time_rate), "0.00%"),
        ("Nộp muộn", status.late, "0"),
        (
            "Chưa nộp (quá hạn)" if status.overdue else "Chưa nộp (chưa đến hạn)",
            len(status.missing if status.overdue else status.pending),
            "0",
        ),
    ]
    for i, (label, value, number_format) in enumerate(facts, start=3):
        ws.cell(row=i, column=1, value=label).font = bold
        cell = ws.cell(row=i, column=2, value=value)
        cell.font = normal
        cell.alignment = Alignment(horizontal="left")
        if number_format:
            cell.number_format = number_format
    start = 3 + len(facts) + 1
    for j, text in enumerate(["Mã đơn vị", "Đơn vị", "Tình trạng", "Ngày nộp", "Lần nộp"], start=1):
        cell = ws.cell(row=start, column=j, value=text)
        cell.font, cell.fill, cell.border = bold, style["header_fill"], box
    for i, row in enumerate(table.reporting_rows, start=start + 1):
        state = on_time_text(row, table)
        label = state if row.reported else f"Chưa nộp – {state.lower()}"
        values = [row.code, row.name, label, row.received_on, row.revision]
        for j, value in enumerate(values, start=1):
            cell = ws.cell(row=i, column=j, value=value)
            cell.font, cell.border = normal, box
        ws.cell(row=i, column=4).number_format = "DD/MM/YYYY"
        colour = "met" if state == "Đúng hạn" else "none" if state == "Chưa đến hạn" else "unmet"
        ws.cell(row=i, column=3).fill = style["fills"][colour]
    for letter, w in {"A": 26, "B": 50, "C": 24, "D": 12, "E": 9}.items():
        ws.column_dimensions[letter].width = w
    ws.freeze_panes = ws.cell(row=start + 1, column=1)


# ---------------------------------------------------------------- chart


def write_status_chart(table: StatusTable, path: Path | str, *, indicator: str | None = None) -> Path:
    """A PNG of every reporting unit's value of the main indicator (or `indicator`) against its target.

    Bars are sorted best first and coloured met / not met / no data. One target for all: a dashed vertical
    line; per-unit targets: a black tick on each bar, and value and target printed in a column at the right.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    path = Path(path)
    column: IndicatorColumn = (
        next(i for i in table.indicators if i.key == indicator) if indicator else table.main
    )
    key = column.key
    units = table.reporting_rows or table.rows
    with_data = [r for r in units if r.results[key].value is not None]
    without = [r for r in units if r.results[key].value is None]
    # Best at the top, then the units without figures, by code.
    with_data.sort(key=lambda r: (-(r.results[key].value or 0), r.code))
    without.sort(key=lambda r: r.code)
    ordered = list(reversed(with_data + without))  # barh draws from the bottom up

    results = [r.results[key] for r in ordered]
    values = [float(r.value or 0) for r in results]
    targets = [float(r.target) for r in results]
    states = [_state(r.met) for r in results]
    one_target = len({r.target for r in results}) <= 1
    top = max([*values, *targets, float(column.target), 0.01])
    # Room for the value labels right of the longest bar.
    limit = top / 0.86 if one_target else top * 1.06

    n = max(len(ordered), 1)
    right_margin = 0.35 if one_target else 2.1
    height = HEADER + FOOTER + BAR_PITCH * n
    fig = Figure(figsize=(WIDTH, height), dpi=110)
    longest = max([len(short_name(r.name)) for r in ordered] + [10])
    left = min(0.2 + 0.075 * longest, 4.0)
    fig.subplots_adjust(
        left=left / WIDTH,
        right=1 - right_margin / WIDTH,
        top=1 - HEADER / height,
        bottom=FOOTER / height,
    )
    ax = fig.add_subplot(1, 1, 1)
    positions = list(range(len(ordered)))
    ax.barh(positions, values, height=0.68, color=[COLOURS[s] for s in states], zorder=2)
    ax.set_yticks(positions)
    ax.set_yticklabels([short_name(r.name) for r in ordered], fontsize=10)
    for tick, state in zip(ax.get_yticklabels(), states, strict=True):
        if state == "none":
            tick.set_color("#757575")
    style_rate_axes(ax, len(ordered), limit)

    if one_target and ordered:
        goal = targets[0]
        ax.axvline(goal, color=COLOURS["target"], linestyle="--", linewidth=1.6, zorder=3)
        target_handle = Line2D(
            [0],
            [0],
            color=COLOURS["target"],
            linestyle="--",
            label=f"Chỉ tiêu {fmt_target(column.comparison, results[0].target)}",
        )
    else:
        ax.scatter(targets, positions, marker="|", s=300, linewidths=2.6, color=COLOURS["target"], zorder=4)
        target_handle = Line2D(
            [0],
            [0],
            color=COLOURS["target"],
            marker="|",
            linestyle="None",
            markersize=13,
            markeredgewidth=2.6,
            label="Chỉ tiêu giao cho đơn vị",
        )
        # Value and target as a column beside the axes: labels on the bars would collide with the ticks.
        at_right = ax.get_yaxis_transform()
        ax.text(
            1.02,
            len(ordered) - 0.45,
            "Đạt được / chỉ tiêu",
            transform=at_right,
            fontsize=9,
            color="#616161",
            va="bottom",
            ha="left",
        )
        for y, r, state in zip(positions, results, states, strict=True):
            colour = "#757575" if state == "none" else COLOURS[state]
            ax.text(
                1.02,
                y,
                fmt_percent(r.value) if r.value is not None else "—",
                transform=at_right,
                va="center",
                ha="left",
                fontsize=9.5,
                fontweight="bold",
                color=colour,
            )
            ax.text(
                1.12,
                y,
                f"/ {fmt_percent(r.target)}",
                transform=at_right,
                va="center",
                ha="left",
                fontsize=9.5,
                color="#424242",
            )

    for y, r in zip(positions, results, strict=True):
        if r.value is None:
            ax.text(
                limit * 0.01,
                y,
                "chưa có số liệu",
                va="center",
                ha="left",
                fontsize=9,
                color="#616161",
                style="italic",
                zorder=5,
            )
        elif one_target:
            # A white box keeps the label readable where it crosses the target line.
            ax.text(
                float(r.value) + limit * 0.008,
                y,
                fmt_percent(r.value),
                va="center",
                ha="left",
                fontsize=9.5,
                fontweight="bold",
                color="#212121",
                zorder=5,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            )

    met = sum(1 for s in states if s == "met")
    total = table.total.results[key]
    scope = "Toàn phong trào" if table.separate_total else short_name(table.total.name)
    fig.text(0.015, 1 - 0.18 / height, column.label, fontsize=14, fontweight="bold", va="top")
    fig.text(
        0.015,
        1 - 0.52 / height,
        f"{table.period_label} · số liệu đến {fmt_date(table.as_of)} · "
        f"đạt chỉ tiêu: {met}/{len(ordered)} đơn vị",
        fontsize=10.5,
        va="top",
        color="#424242",
    )
    fig.text(
        0.015,
        1 - 0.78 / height,
        f"{scope}: {fmt_percent(total.value)} ({fmt_ratio_text(total)}) — {met_label(total.met).lower()}",
        fontsize=10.5,
        va="top",
        color="#424242",
    )
    handles = [
        Patch(color=COLOURS["met"], label="Đạt"),
        Patch(color=COLOURS["unmet"], label="Chưa đạt"),
        Patch(color=COLOURS["none"], label="Chưa có số liệu"),
        target_handle,
    ]
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.008, 1 - 1.02 / height),
        ncol=4,
        frameon=False,
        fontsize=10,
        handlelength=1.8,
        columnspacing=1.6,
    )
    ax.set_xlabel("Tỷ lệ (%)", fontsize=10)

    png = io.BytesIO()
    fig.savefig(png, format="png", metadata={"Software": None})
    return write_atomic(path, png.getvalue())


def fmt_ratio_text(result: IndicatorResult) -> str:
    """As "46/477 việc" without the unit: the numerator over the denominator, Vietnamese separators."""
    return f"{fmt_int(result.num)}/{fmt_int(result.den)}"
