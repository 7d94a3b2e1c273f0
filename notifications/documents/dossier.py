"""Dossier documents the system drafts for a proposing unit from its own data.

- `render_nomination_list`: the Danh sách đề nghị khen thưởng, a Decree 30 DOCX (header block, "DANH SÁCH",
  subject, one table STT / Họ và tên – Tên tập thể / Chức vụ / Đơn vị / Hình thức khen thưởng with the
  collectives then the individuals, the total, the head's signature).
- `render_results_summary`: the Tổng hợp kết quả, an XLSX with each nominee's final figures and indicators;
  with a case ledger, each compared figure's ledger value and difference, "Cần xác minh" where they differ.

Both are deterministic (same content, same bytes), so drafting again after nothing changed stores nothing new.
The caller maps database rows to the plain data below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from thidua.models.indicators import IndicatorResult, met_label, round_half_up
from thidua.models.reconciliation import VERIFY, LedgerCheck
from thidua.models.text import fmt_date
from thidua.notifications.documents.decree30 import Decree30Document, DocumentHeader, Layout, SignatureBlock
from thidua.notifications.documents.sheets import write_xlsx

LIST_TITLE = "DANH SÁCH"
LIST_HEADER = ("STT", "Họ và tên / Tên tập thể", "Chức vụ", "Đơn vị", "Hình thức khen thưởng")
LIST_WIDTHS_MM = (12.0, 45.0, 30.0, 43.0, 35.0)  # 165 mm: the text block with Decree 30's default margins
GROUPS: dict[str, tuple[str, str]] = {"collective": ("I", "TẬP THỂ"), "individual": ("II", "CÁ NHÂN")}

Kind = Literal["collective", "individual"]


@dataclass(frozen=True)
class ListLine:
    kind: Kind
    name: str
    title: str  # Chức vụ ("" for a collective)
    unit_name: str
    award_name: str


@dataclass(frozen=True)
class NominationListContent:
    header: DocumentHeader
    subject: str
    lines: Sequence[ListLine]
    signature: SignatureBlock
    note: str | None = None  # "(Kèm theo Tờ trình ... của ...)", italic under the subject
    recipients: Sequence[str] = ()
    layout: Layout = field(default_factory=Layout)


def list_rows(lines: Sequence[ListLine]) -> tuple[list[list[str]], list[int]]:
    """Table rows (group rows "I / TẬP THỂ", "II / CÁ NHÂN", each followed by its numbered lines) and the
    indexes of the group rows (printed bold)."""
    rows: list[list[str]] = []
    bold: list[int] = []
    for kind, (roman, label) in GROUPS.items():
        members = [line for line in lines if line.kind == kind]
        if not members:
            continue
        bold.append(len(rows))
        rows.append([roman, label, "", "", ""])
        for number, line in enumerate(members, start=1):
            rows.append([str(number), line.name, line.title, line.unit_name, line.award_name])
    return rows, bold


def total_line(lines: Sequence[ListLine]) -> str:
    """'Tổng số: 01 tập thể, 03 cá nhân.'"""
    collectives = sum(1 for line in lines if line.kind == "collective")
    individuals = len(lines) - collectives
    parts = []
    if collectives:
        parts.append(f"{collectives:02d} tập thể")
    if individuals:
        parts.append(f"{individuals:02d} cá nhân")
    return f"Tổng số: {', '.join(parts) or '0'}./."


def build_nomination_list(content: NominationListContent) -> Decree30Document:
    if not content.lines:
        raise ValueError("danh sách đề nghị khen thưởng không có ai")
    doc = Decree30Document(content.header, layout=content.layout)
    doc.title(LIST_TITLE).subject(content.subject)
    if content.note:
        doc.paragraph(content.note, italic=True, align="center", indent=False)
    rows, bold = list_rows(content.lines)
    doc.table(
        LIST_HEADER,
        rows,
        widths_mm=LIST_WIDTHS_MM,
        align=["center", "left", "left", "left", "left"],
        bold_rows=bold,
    )
    doc.paragraph(total_line(content.lines), indent=False)
    return doc.signature(content.signature, content.recipients)


def render_nomination_list(content: NominationListContent, path: Path) -> Path:
    """Write the Danh sách DOCX to `path` (atomically) and return it."""
    return build_nomination_list(content).save(path)


# ---------------------------------------------------------------- Tổng hợp kết quả (XLSX)


@dataclass(frozen=True)
class SummaryLine:
    kind: Kind
    code: str
    name: str
    title: str
    unit_name: str
    award_name: str
    figures: Mapping[str, int]  # field key -> final figure
    results: Mapping[str, IndicatorResult]  # indicator key -> final result
    has_figures: bool = True
    ledger: LedgerCheck | None = None  # the figures beside the case ledger's


@dataclass(frozen=True)
class ResultsSummaryContent:
    title: str  # the dossier part's name: "Tổng hợp kết quả giảm việc có điều kiện trên một năm"
    campaign_line: str
    unit_line: str
    period_line: str
    fields: Sequence[tuple[str, str]]  # (key, label)
    indicators: Sequence[tuple[str, str]]
    lines: Sequence[SummaryLine]
    stamp: date  # written as the workbook's creation date, so the bytes do not depend on the clock
    ledger_fields: Sequence[tuple[str, str]] = ()  # (key, label) compared with the case ledger; () = none
    ledger_at: date | None = None


SUMMARY_FIXED = ("STT", "Mã", "Họ và tên / Tên tập thể", "Chức vụ", "Đơn vị", "Hình thức khen thưởng")


def summary_header(content: ResultsSummaryContent) -> list[str]:
    head = list(SUMMARY_FIXED) + [label for _k, label in content.fields]
    for _key, label in content.indicators:
        head += [f"{label} (%)", "Chỉ tiêu (%)", "Kết quả"]
    for _key, label in content.ledger_fields:
        head += [f"{label} – theo sổ thụ lý", f"{label} – chênh lệch"]
    if content.ledger_fields:
        head.append("Đối chiếu sổ thụ lý")
    return head


def _ledger_values(content: ResultsSummaryContent, check: LedgerCheck | None) -> list[Any]:
    if not content.ledger_fields:
        return []
    out: list[Any] = []
    for key, _label in content.ledger_fields:
        figure = check.figure(key) if check is not None else None
        out += [figure.ledger, figure.difference] if figure is not None else [None, None]
    if check is None:
        return [*out, None]
    return [*out, f"{VERIFY}: {check.differences_text()}" if check.to_verify else check.verdict()]


def _ratio(value: Fraction | Decimal | None) -> Decimal | None:
    return None if value is None else round_half_up(Fraction(value), 6)


def summary_rows(content: ResultsSummaryContent) -> list[list[Any]]:
    rows: list[list[Any]] = []
    ordered = [line for kind in GROUPS for line in content.lines if line.kind == kind]
    for number, line in enumerate(ordered, start=1):
        row: list[Any] = [number, line.code, line.name, line.title, line.unit_name, line.award_name]
        row += [line.figures.get(key) for key, _label in content.fields]
        for key, _label in content.indicators:
            result = line.results.get(key)
            if result is None:
                row += [None, None, "Không có số liệu"]
                continue
            value = result.value
            if value is None and result.den:
                value = Fraction(result.num, result.den)
            row += [_ratio(value), _ratio(result.target), met_label(result.met)]
        rows.append(row + _ledger_values(content, line.ledger))
    return rows


def _format_ledger_cells(ws: Any, row: int, first: int, content: ResultsSummaryContent) -> None:
    """Numbers and signed differences; the verdict wraps and is shaded when it says to verify."""
    from openpyxl.styles import Alignment, PatternFill

    if not content.ledger_fields:
        return
    for n in range(len(content.ledger_fields)):
        ws.cell(row=row, column=first + 2 * n).number_format = "#,##0"
        ws.cell(row=row, column=first + 2 * n + 1).number_format = "+#,##0;-#,##0;0"
    verdict = ws.cell(row=row, column=first + 2 * len(content.ledger_fields))
    verdict.alignment = Alignment(vertical="center", wrap_text=True)
    if str(verdict.value or "").startswith(VERIFY):
        verdict.fill = PatternFill("solid", fgColor="FFE0B2")


def render_results_summary(content: ResultsSummaryContent, path: Path) -> Path:
    """Write the Tổng hợp kết quả XLSX to `path` (atomically, same bytes for the same content)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin", color="9E9E9E")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    bold = Font(name="Times New Roman", size=12, bold=True)
    normal = Font(name="Times New Roman", size=12)
    fills = {
        "Đạt": PatternFill("solid", fgColor="C8E6C9"),
        "Chưa đạt": PatternFill("solid", fgColor="FFCDD2"),
    }
    head = summary_header(content)
    last = get_column_letter(len(head))

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Tổng hợp"
    titles = [
        (content.title.upper(), Font(name="Times New Roman", size=14, bold=True)),
        (content.campaign_line, Font(name="Times New Roman", size=13, bold=True)),
        (content.unit_line, Font(name="Times New Roman", size=12)),
        (content.period_line, Font(name="Times New Roman", size=12, italic=True)),
    ]
    if content.ledger_at is not None:
        note = (
            f"Đối chiếu với sổ thụ lý tính đến hết ngày {fmt_date(content.ledger_at)}: “{VERIFY}” là số liệu "
            "báo cáo chênh lệch với sổ, để Hội đồng xem xét."
        )
        titles.append((note, Font(name="Times New Roman", size=12, italic=True)))
    for i, (text, font) in enumerate(titles, start=1):
        cell = ws.cell(row=i, column=1, value=text)
        cell.font, cell.alignment = font, Alignment(horizontal="center", wrap_text=True)
        ws.merge_cells(f"A{i}:{last}{i}")
    header_row = len(titles) + 2
    for j, text in enumerate(head, start=1):
        cell = ws.cell(row=header_row, column=j, value=text)
        cell.font, cell.border = bold, box
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[header_row].height = 75
    first_ind = len(SUMMARY_FIXED) + len(content.fields) + 1
    for i, row in enumerate(summary_rows(content), start=header_row + 1):
        for j, value in enumerate(row, start=1):
            cell = ws.cell(row=i, column=j, value=value)
            cell.font, cell.border = normal, box
            cell.alignment = Alignment(vertical="center", wrap_text=j in (3, 5, 6))
        for j in range(len(SUMMARY_FIXED) + 1, first_ind):
            ws.cell(row=i, column=j).number_format = "#,##0"
        for n in range(len(content.indicators)):
            base = first_ind + 3 * n
            ws.cell(row=i, column=base).number_format = "0.00%"
            ws.cell(row=i, column=base + 1).number_format = "0.00%"
            verdict = ws.cell(row=i, column=base + 2)
            fill = fills.get(str(verdict.value))
            if fill is not None:
                verdict.fill = fill
        _format_ledger_cells(ws, i, first_ind + 3 * len(content.indicators), content)
    widths = {1: 6, 2: 12, 3: 28, 4: 18, 5: 30, 6: 28}
    if content.ledger_fields:
        widths[len(head)] = 48
    for j in range(1, len(head) + 1):
        ws.column_dimensions[get_column_letter(j)].width = widths.get(j, 16)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=4)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"

    return write_xlsx(wb, path, stamp=content.stamp)


__all__ = [
    "LIST_HEADER",
    "LIST_TITLE",
    "SUMMARY_FIXED",
    "ListLine",
    "NominationListContent",
    "ResultsSummaryContent",
    "SummaryLine",
    "build_nomination_list",
    "list_rows",
    "render_nomination_list",
    "render_results_summary",
    "summary_header",
    "summary_rows",
    "total_line",
]
