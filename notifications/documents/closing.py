"""The closing summary of a campaign: "Báo cáo tổng kết phong trào thi đua" (DOCX, Decree 30), the table of
every figure (XLSX) and the chart of the main indicator (PNG).

Pure builders: the caller (tasks/close) maps the stored final results to `ClosingContent` (plain data, no
database); these functions only lay it out. Ratios arrive as exact `IndicatorResult`s and are printed with
models/indicators.py (10,00%), so the document shows exactly what was computed and compared.

A unit "competes" when it reports itself (`UnitResult.reports`); a parent's line is the sum of its subtree
and is shown as the total, not ranked. At the close a unit below its target "không đạt" (during the campaign
the status table says "chưa đạt": there was still time).

Where the campaign has a case ledger, each unit that reports itself and each person with figures carries a
`LedgerCheck` (models/reconciliation.py): the report shows the reported figure, the ledger's and the
difference, marks the subjects to verify "(*)" and says that the ranking stands on the reported figures.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Mm, Pt

from thidua.models.files import write_atomic
from thidua.models.indicators import (
    DASH,
    IndicatorResult,
    fmt_int,
    fmt_percent,
    fmt_ratio,
    fmt_target,
    round_half_up,
)
from thidua.models.reconciliation import MARK, VERIFY, LedgerCheck
from thidua.models.text import fmt_date, vn_sort_key
from thidua.notifications.documents.charts import BAR_PITCH, COLOURS, FOOTER, HEADER, WIDTH, style_rate_axes
from thidua.notifications.documents.decree30 import (
    Decree30Document,
    DocumentHeader,
    Layout,
    Run,
    SignatureBlock,
)
from thidua.notifications.documents.sheets import write_xlsx

REPORT_TITLE = "BÁO CÁO"
UNIT_SHEET = "Đơn vị"
PERSON_SHEET = "Cá nhân"
INFO_SHEET = "Thông tin"
MET, NOT_MET, NO_REPORT, NO_VALUE = "Đạt", "Không đạt", "Không có báo cáo", "Không có số liệu"

# Met / not met / no data: green, red, grey (dark, mid, light in grey-scale print), as the status chart.
_FILLS = {"met": "C8E6C9", "unmet": "FFCDD2", "none": "EEEEEE", "verify": "FFE0B2"}
RANKING_BASIS = "Số liệu đơn vị báo cáo"

Outcome = Literal["met", "unmet", "missing", "none"]


# ---------------------------------------------------------------- plain data


@dataclass(frozen=True)
class FieldColumn:
    key: str
    label: str
    unit: str = ""  # "việc", "đồng"


@dataclass(frozen=True)
class IndicatorColumn:
    key: str
    label: str
    comparison: str  # ">=", ">", "<=", "<"
    target: Decimal  # the definition's; per-unit targets are in each result
    per_unit: bool = False
    numerator: Sequence[str] = ()
    denominator: Sequence[str] = ()

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys([*self.numerator, *self.denominator]))


@dataclass(frozen=True)
class UnitResult:
    code: str  # "" for a "Tổng cộng" line that is no unit (an enrolled forest)
    name: str
    short_name: str  # "Chi cục THADS huyện Yên Sơn"
    depth: int
    reports: bool  # reports itself: it competes and is ranked; False: its figures are its subtree's
    has_report: bool  # the final report (or, failing that, the last period's) is in
    figures: Mapping[str, int]
    results: Mapping[str, IndicatorResult]
    rank: int | None = None
    ledger: LedgerCheck | None = None  # the reported figures beside the case ledger's


@dataclass(frozen=True)
class PersonResult:
    code: str
    full_name: str
    title: str
    unit_code: str
    unit_name: str
    has_report: bool  # the person has a line in their unit's report
    figures: Mapping[str, int]
    results: Mapping[str, IndicatorResult]
    rank: int | None = None
    ledger: LedgerCheck | None = None


@dataclass(frozen=True)
class ClosingContent:
    header: DocumentHeader  # number None: "Số:      /BC-..." left for the clerk, as the plan
    campaign_code: str
    campaign_title: str
    kind_label: str  # "chuyên đề"
    issuer_short_name: str  # "Cục THADS"
    plan_reference: str  # "Kế hoạch số    /KH-CTHADS ngày 05/01/2024"
    period_start: date
    period_end: date
    data_label: str  # the period the figures come from ("Báo cáo tổng kết phong trào ...")
    data_is_final: bool  # False: no final report arrived, the last period with data stands in
    closed_on: date
    fields: Sequence[FieldColumn]
    indicators: Sequence[IndicatorColumn]  # those that apply to units
    person_indicators: Sequence[IndicatorColumn]
    main_key: str
    units: Sequence[UnitResult]  # tree order
    total: UnitResult  # the root's line, or a "Tổng cộng" line (code "") for several roots
    persons: Sequence[PersonResult]
    signature: SignatureBlock
    recipients: Sequence[str]
    top_persons: int = 10
    layout: Layout = field(default_factory=Layout)
    # Units that declared they propose nobody for an award, each as "<name> (<code>): không đề nghị – why".
    declined: Sequence[str] = ()
    ledger_fields: Sequence[FieldColumn] = ()  # the fields compared with the case ledger; () = no ledger
    ledger_at: date | None = None  # the ledger's figures are those at the end of this day
    version: int = 1  # the closing report's version: a reopened campaign's new close makes the next one
    revision_note: str | None = None  # from version 2: which version it replaces and why

    @property
    def main(self) -> IndicatorColumn:
        for ind in (*self.indicators, *self.person_indicators):
            if ind.key == self.main_key:
                return ind
        raise ValueError(f"chỉ tiêu chính “{self.main_key}” không có trong danh sách chỉ tiêu")

    @property
    def competitors(self) -> list[UnitResult]:
        return [u for u in self.units if u.reports]

    @property
    def subject_line(self) -> str:
        return f"Tổng kết phong trào thi đua {self.kind_label} “{self.campaign_title}”"

    @property
    def units_to_verify(self) -> list[UnitResult]:
        return [u for u in self.competitors if u.ledger is not None and u.ledger.to_verify]

    @property
    def persons_to_verify(self) -> list[PersonResult]:
        return [p for p in self.persons if p.ledger is not None and p.ledger.to_verify]


@dataclass(frozen=True)
class Assessment:
    """The reporting units by outcome on the main indicator, best first within each list."""

    met: list[UnitResult]
    not_met: list[UnitResult]
    missing: list[UnitResult]  # no report for the period the figures come from
    no_value: list[UnitResult]  # a report, but nothing to compute the ratio on (denominator 0)

    @property
    def reporting(self) -> int:
        return len(self.met) + len(self.not_met) + len(self.missing) + len(self.no_value)


def outcome(unit: UnitResult | PersonResult, key: str) -> Outcome:
    if not unit.has_report:
        return "missing"
    result = unit.results.get(key)
    if result is None or result.met is None:
        return "none"
    return "met" if result.met else "unmet"


def outcome_label(subject: UnitResult | PersonResult, key: str) -> str:
    # A person has no report of their own: without a line in the unit's report they have no figures.
    missing = NO_VALUE if isinstance(subject, PersonResult) else NO_REPORT
    return {"met": MET, "unmet": NOT_MET, "missing": missing, "none": NO_VALUE}[outcome(subject, key)]


def _by_rank(unit: UnitResult | PersonResult) -> tuple[int, int, str]:
    return (unit.rank is None, unit.rank or 0, unit.code)


def assess(content: ClosingContent) -> Assessment:
    lists: dict[Outcome, list[UnitResult]] = {"met": [], "unmet": [], "missing": [], "none": []}
    for unit in sorted(content.competitors, key=_by_rank):
        lists[outcome(unit, content.main_key)].append(unit)
    return Assessment(lists["met"], lists["unmet"], lists["missing"], lists["none"])


def top_persons(content: ClosingContent) -> list[PersonResult]:
    """Ranked people best first; the first `top_persons` and anyone tied with the last of them."""
    ranked = sorted(
        (p for p in content.persons if p.rank is not None),
        key=lambda p: (p.rank or 0, vn_sort_key(p.full_name), p.code),
    )
    limit = content.top_persons
    if len(ranked) <= limit or limit <= 0:
        return ranked
    edge = ranked[limit - 1].rank or 0
    return [p for p in ranked if (p.rank or 0) <= edge]


# ---------------------------------------------------------------- DOCX


def _pct(result: IndicatorResult | None) -> str:
    return fmt_percent(result.value) if result is not None else DASH


def _names(units: Sequence[UnitResult], key: str | None = None) -> str:
    if key is None:
        return ", ".join(u.short_name for u in units)
    return ", ".join(f"{_marked(u.short_name, u.ledger)} ({_pct(u.results.get(key))})" for u in units)


def _lower_first(text: str) -> str:
    # Inside a sentence: "Tỷ lệ giảm án ..." → "tỷ lệ giảm án ...", but "THADS" stays "THADS".
    return text[:1].lower() + text[1:]


def _met_word(met: bool | None) -> str:
    return "chưa xác định được" if met is None else ("đạt" if met else "không đạt")


def build_closing_report(content: ClosingContent, chart: Path | None = None) -> Decree30Document:
    """The report as a builder (header, body, signature), for a caller that wants to add to it."""
    main = content.main
    key = main.key
    verdict = assess(content)
    doc = Decree30Document(content.header, layout=content.layout)
    doc.title(REPORT_TITLE).subject(content.subject_line)
    if content.revision_note:
        doc.paragraph(content.revision_note, italic=True, align="center", indent=False)
    doc.paragraph(
        f"Thực hiện {content.plan_reference} phát động phong trào thi đua {content.kind_label} "
        f"“{content.campaign_title}”, {content.issuer_short_name} báo cáo tổng kết phong trào như sau:"
    )

    doc.heading("I. KẾT QUẢ THỰC HIỆN")
    doc.subheading("1. Kết quả chung")
    source = "" if content.data_is_final else " (chưa có báo cáo tổng kết: lấy số liệu kỳ gần nhất)"
    doc.paragraph(
        f"Thời gian thực hiện: từ ngày {fmt_date(content.period_start)} đến hết ngày "
        f"{fmt_date(content.period_end)}. Số liệu tổng hợp theo {_lower_first(content.data_label)}{source} "
        f"của {verdict.reporting} đơn vị thực hiện báo cáo; tổng hợp toàn phong trào bằng cộng số liệu của "
        "các đơn vị (không lấy trung bình tỷ lệ)."
    )
    total = content.total
    for f in content.fields:
        unit = f" {f.unit}" if f.unit else ""
        doc.bullet(f"{f.label}: {fmt_int(total.figures.get(f.key, 0))}{unit}.")
    for ind in content.indicators:
        r = total.results.get(ind.key)
        if r is None:
            continue
        target = fmt_target(ind.comparison, r.target)
        doc.bullet(
            [
                Run(f"{ind.label}: "),
                Run(fmt_percent(r.value), bold=ind.key == key),
                Run(f" ({fmt_ratio(r)}); chỉ tiêu {target}: {_met_word(r.met)}."),
            ]
        )
    doc.bullet(
        [
            Run("Số đơn vị đạt chỉ tiêu: "),
            Run(f"{len(verdict.met)}/{verdict.reporting}", bold=True),
            Run(
                f"; không đạt: {len(verdict.not_met)}; không có báo cáo: {len(verdict.missing)}"
                + (f"; không có số liệu để tính: {len(verdict.no_value)}" if verdict.no_value else "")
                + "."
            ),
        ]
    )

    doc.subheading("2. Kết quả của từng đơn vị")
    doc.paragraph(
        f"Tỷ lệ (%): {_lower_first(main.label)}; chỉ tiêu {_target_text(main)}. {ranking_basis(content)} "
        "Số liệu đầy đủ của mọi chỉ tiêu tại biểu Excel kèm theo."
    )
    _unit_table(doc, content, main)
    _ledger_notes(doc, content, [(u.short_name, u.ledger) for u in content.units_to_verify], "các đơn vị")

    doc.subheading("3. Kết quả của cá nhân")
    people = top_persons(content)
    if people:
        shown = len(people)
        ranked = sum(1 for p in content.persons if p.rank is not None)
        lead = (
            f"Các cá nhân có kết quả cao nhất ({shown}/{ranked} cá nhân có số liệu), xếp theo tỷ lệ:"
            if shown < ranked
            else f"Kết quả của {shown} cá nhân có số liệu, xếp theo tỷ lệ:"
        )
        doc.paragraph(lead)
        _person_table(doc, content, people, key)
        _ledger_notes(doc, content, _person_checks(content), "các cá nhân")
    elif not any(i.key == key for i in content.person_indicators):
        doc.paragraph("Phong trào không xếp hạng cá nhân theo chỉ tiêu chính.")
    else:
        doc.paragraph("Các đơn vị không báo cáo số liệu của cá nhân.")

    if chart is not None:
        doc.subheading("4. Biểu đồ kết quả")
        _picture(doc, chart, content.layout.body_width_mm - 5)
        caption = f"Biểu đồ: {_lower_first(main.label)} của các đơn vị so với chỉ tiêu."
        doc.paragraph(caption, italic=True, align="center", indent=False)

    doc.heading("II. ĐÁNH GIÁ CHUNG")
    for sentence in assessment_sentences(content, verdict):
        doc.paragraph(sentence)
    if content.declined:
        doc.paragraph(f"Có {len(content.declined)} đơn vị báo không đề nghị khen thưởng:")
        for line in content.declined:
            doc.bullet(f"{line}.")
    doc.paragraph(
        f"Trên đây là báo cáo tổng kết phong trào thi đua {content.kind_label} “{content.campaign_title}” "
        f"của {content.issuer_short_name}./."
    )
    return doc.signature(content.signature, content.recipients)


def render_closing_report(content: ClosingContent, path: Path, chart: Path | None = None) -> Path:
    """Write the report DOCX to `path` (atomically, same bytes for the same content) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_closing_report(content, chart).save(path)


def ranking_basis(content: ClosingContent) -> str:
    """On which figures the ranking stands: the reported ones; with a ledger, the differences are marked."""
    text = "Xếp hạng theo tỷ lệ tính trên số liệu đơn vị báo cáo, các đơn vị bằng nhau cùng hạng."
    if content.ledger_at is None:
        return text
    at = fmt_date(content.ledger_at)
    return (
        f"{text} Số liệu báo cáo được đối chiếu với sổ thụ lý (tính đến hết ngày {at}); đơn vị, cá nhân có "
        f"số liệu chênh lệch được đánh dấu {MARK}."
    )


def _marked(name: str, ledger: LedgerCheck | None) -> str:
    return f"{name} {MARK}" if ledger is not None and ledger.to_verify else name


def _person_checks(content: ClosingContent) -> list[tuple[str, LedgerCheck | None]]:
    short = {u.code: u.short_name for u in content.units}
    return [
        (f"{p.full_name} ({p.title}, {short.get(p.unit_code, p.unit_name)})", p.ledger)
        for p in sorted(content.persons_to_verify, key=lambda p: (vn_sort_key(p.full_name), p.code))
    ]


def _ledger_notes(
    doc: Decree30Document,
    content: ClosingContent,
    flagged: Sequence[tuple[str, LedgerCheck | None]],
    who: str,
) -> None:
    """Under a table: the subjects whose reported figures differ from the ledger's, with the figures."""
    if content.ledger_at is None:
        return
    at = fmt_date(content.ledger_at)
    if not flagged:
        doc.paragraph(f"Số liệu báo cáo của {who} khớp với sổ thụ lý (tính đến hết ngày {at}).")
        return
    doc.paragraph(
        [
            Run(f"{MARK} {VERIFY}: ", bold=True),
            Run(
                f"số liệu báo cáo chênh lệch với sổ thụ lý (tính đến hết ngày {at}). Xếp hạng trên vẫn theo "
                "số liệu đơn vị báo cáo; Hội đồng Thi đua – Khen thưởng xem xét, quyết định:"
            ),
        ]
    )
    for name, ledger in flagged:
        if ledger is not None:
            doc.bullet(f"{name}: {ledger.differences_text()}.")


def _target_text(ind: IndicatorColumn) -> str:
    shown = fmt_target(ind.comparison, ind.target)
    return f"theo chỉ tiêu giao cho từng đơn vị (mặc định {shown})" if ind.per_unit else shown


def assessment_sentences(content: ClosingContent, verdict: Assessment | None = None) -> list[str]:
    """Part II, "Đánh giá chung": who met the target, who did not, who sent no final report, by name."""
    verdict = verdict or assess(content)
    main, key = content.main, content.main_key
    out: list[str] = []
    total = content.total.results.get(key)
    if total is not None:
        out.append(
            f"Tính chung các đơn vị, {_lower_first(main.label)} đạt {fmt_percent(total.value)} "
            f"({fmt_ratio(total)}), {_met_word(total.met)} chỉ tiêu {_target_text(main)}."
        )
    n = verdict.reporting
    if verdict.met:
        everyone = " (tất cả các đơn vị)" if len(verdict.met) == n else ""
        out.append(f"Có {len(verdict.met)}/{n} đơn vị đạt chỉ tiêu{everyone}: {_names(verdict.met, key)}.")
    else:
        out.append("Không có đơn vị nào đạt chỉ tiêu.")
    if verdict.not_met:
        out.append(f"Có {len(verdict.not_met)} đơn vị không đạt chỉ tiêu: {_names(verdict.not_met, key)}.")
    if verdict.missing:
        what = "báo cáo tổng kết" if content.data_is_final else f"số liệu {_lower_first(content.data_label)}"
        out.append(
            f"Có {len(verdict.missing)} đơn vị không gửi {what}, chưa được đánh giá: "
            f"{_names(verdict.missing)}."
        )
    if verdict.no_value:
        out.append(
            f"Có {len(verdict.no_value)} đơn vị không có việc thuộc diện tính chỉ tiêu: "
            f"{_names(verdict.no_value)}."
        )
    out += _verify_sentences(content)
    leaders = [p for p in content.persons if p.rank == 1]
    if leaders:
        short = {u.code: u.short_name for u in content.units}
        names = ", ".join(
            f"{p.full_name} ({p.title}, {short.get(p.unit_code, p.unit_name)}) – {_pct(p.results.get(key))}"
            for p in sorted(leaders, key=lambda p: vn_sort_key(p.full_name))
        )
        out.append(f"Cá nhân có kết quả cao nhất: {names}.")
    return out


def _verify_sentences(content: ClosingContent) -> list[str]:
    units, persons = content.units_to_verify, content.persons_to_verify
    if content.ledger_at is None or not (units or persons):
        return []
    who = [f"{len(units)} đơn vị ({_names(units)})"] if units else []
    if persons:
        names = ", ".join(p.full_name for p in sorted(persons, key=lambda p: vn_sort_key(p.full_name)))
        who.append(f"{len(persons)} cá nhân ({names})")
    return [
        f"Có {' và '.join(who)} có số liệu báo cáo chênh lệch với sổ thụ lý, cần xác minh trước khi xét "
        "khen thưởng."
    ]


def _unit_table(doc: Decree30Document, content: ClosingContent, main: IndicatorColumn) -> None:
    shown_fields = [f for f in content.fields if f.key in main.fields] or list(content.fields)
    header = ["STT", "Đơn vị", *(f.label for f in shown_fields), "Tỷ lệ (%)"]
    if main.per_unit:
        header.append("Chỉ tiêu (%)")
    header += ["Kết quả", "Xếp hạng"]
    rows: list[list[object]] = []
    for n, unit in enumerate(content.competitors, start=1):
        r = unit.results.get(main.key)
        row: list[object] = [n, _marked(unit.short_name, unit.ledger)]
        row += [fmt_int(unit.figures[f.key]) if f.key in unit.figures else DASH for f in shown_fields]
        row.append(_pct(r) if unit.has_report else DASH)
        if main.per_unit:
            row.append(fmt_percent(r.target) if r is not None else DASH)
        row += [outcome_label(unit, main.key), unit.rank if unit.rank is not None else DASH]
        rows.append(row)
    total = content.total
    r = total.results.get(main.key)
    line: list[object] = ["", "Tổng cộng"]
    line += [fmt_int(total.figures.get(f.key, 0)) for f in shown_fields]
    line.append(_pct(r))
    if main.per_unit:
        line.append(fmt_percent(r.target) if r is not None else DASH)
    line += [MET if r is not None and r.met else NOT_MET if r is not None and r.met is False else DASH, ""]
    rows.append(line)

    fixed = {"STT": 10.0, "Tỷ lệ (%)": 18.0, "Chỉ tiêu (%)": 18.0, "Kết quả": 18.0, "Xếp hạng": 14.0}
    body = content.layout.body_width_mm
    rest = body - sum(fixed[h] for h in header if h in fixed)
    name_w = max(min(rest - 19.0 * len(shown_fields), 48.0), 30.0)
    field_w = (rest - name_w) / max(len(shown_fields), 1)
    widths = [fixed.get(h, field_w) for h in header]
    widths[1] = name_w
    aligns: list[Any] = ["center", "left", *(["right"] * len(shown_fields)), "right"]
    aligns += ["right"] * int(main.per_unit) + ["center", "center"]
    doc.table(header, rows, widths_mm=widths, align=aligns, bold_rows={len(rows) - 1}, font_pt=11)


def _person_table(
    doc: Decree30Document, content: ClosingContent, people: Sequence[PersonResult], key: str
) -> None:
    header = ["STT", "Họ và tên", "Chức danh", "Đơn vị", "Số liệu", "Tỷ lệ (%)", "Kết quả", "Xếp hạng"]
    short = {u.code: u.short_name for u in content.units}
    rows: list[list[object]] = []
    for n, p in enumerate(people, start=1):
        r = p.results.get(key)
        rows.append(
            [
                n,
                _marked(p.full_name, p.ledger),
                p.title,
                short.get(p.unit_code, p.unit_name),
                fmt_ratio(r) if r is not None else DASH,
                _pct(r),
                outcome_label(p, key),
                p.rank if p.rank is not None else DASH,
            ]
        )
    widths = [9.0, 34.0, 24.0, 32.0, 19.0, 17.0, 16.0, 14.0]
    widths[3] += content.layout.body_width_mm - sum(widths)
    aligns: list[Any] = ["center", "left", "left", "left", "right", "right", "center", "center"]
    doc.table(header, rows, widths_mm=widths, align=aligns, font_pt=11)


def _picture(doc: Decree30Document, image: Path, width_mm: float) -> None:
    document = doc.document
    document.add_picture(str(image), width=Mm(width_mm))
    p = document.paragraphs[-1]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.first_line_indent = Cm(0)
    p.paragraph_format.space_before = Pt(6)
    p.paragraph_format.keep_with_next = True


# ---------------------------------------------------------------- XLSX


def _ratio_cell(value: Fraction | Decimal | None) -> Decimal | None:
    # Exact to 12 decimals of the ratio: more than any display needs (Excel keeps a double anyway).
    return None if value is None else round_half_up(Fraction(value), 12)


def write_closing_xlsx(content: ClosingContent, path: Path) -> Path:
    """Every figure: sheet "Đơn vị" (units in tree order, then a total), sheet "Cá nhân" (every enrolled
    person, ranked first), sheet "Thông tin". Numbers are numbers, ratios are numbers with a % format,
    the header row is frozen. Same content, same bytes (fixed document times)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = UNIT_SHEET
    styles = _Styles(wb)
    _unit_sheet(ws, content, styles)
    _person_sheet(wb.create_sheet(PERSON_SHEET), content, styles)
    _info_sheet(wb.create_sheet(INFO_SHEET), content, styles)
    wb.active = 0
    stamp = datetime(content.closed_on.year, content.closed_on.month, content.closed_on.day)
    wb.properties.creator = content.header.agency_one_line()
    wb.properties.title = f"Tổng kết phong trào thi đua – {content.campaign_title}"
    wb.properties.created = stamp
    return write_xlsx(wb, path, stamp=stamp)


CellKind = Literal["text", "int", "diff", "pct", "date", "header", "label"]
_NUMBER_FORMATS: dict[str, str] = {
    "int": "#,##0",
    "diff": "+#,##0;-#,##0;0",  # a difference shows its sign
    "pct": "0.00%",
    "date": "DD/MM/YYYY",
}
Cell = tuple[Any, CellKind, str | None]  # value, kind, fill state ("met", "unmet", "none") or None


class _Styles:
    """Named styles created once per workbook: styling 100,000 cells one by one takes openpyxl minutes
    (it hashes every style object); naming a registered style is a lookup."""

    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self.known: set[str] = set()

    def __call__(
        self, kind: CellKind, fill: str | None = None, *, bold: bool = False, indent: int = 0
    ) -> str:
        name = f"tk-{kind}-{fill or 'plain'}-{'b' if bold else 'n'}-{indent}"
        if name in self.known:
            return name
        from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side

        thin = Side(style="thin", color="9E9E9E")
        style = NamedStyle(name=name)
        style.font = Font(name="Times New Roman", size=12, bold=bold or kind in ("header", "label"))
        if kind != "label":
            style.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        style.number_format = _NUMBER_FORMATS.get(kind, "General")
        if kind == "header":
            style.fill = PatternFill("solid", fgColor="D9E1F2")
            style.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        elif kind in ("int", "diff", "pct"):
            style.alignment = Alignment(horizontal="right", vertical="center")
        else:
            style.alignment = Alignment(horizontal="left", vertical="center", indent=indent, wrap_text=True)
        if fill:
            style.fill = PatternFill("solid", fgColor=_FILLS[fill])
        self.wb.add_named_style(style)
        self.known.add(name)
        return name


def _write_header(ws: Any, head: Sequence[str], styles: _Styles) -> None:
    name = styles("header")
    for j, text in enumerate(head, start=1):
        ws.cell(row=1, column=j, value=text).style = name
    ws.row_dimensions[1].height = 96


def _indicator_head(indicators: Sequence[IndicatorColumn]) -> list[str]:
    out: list[str] = []
    for ind in indicators:
        out += [f"{ind.label} (%)", f"Chỉ tiêu – {ind.label} (%)", f"Kết quả – {ind.label}"]
    return out


def _indicator_cells(subject: UnitResult | PersonResult, indicators: Sequence[IndicatorColumn]) -> list[Cell]:
    out: list[Cell] = []
    for ind in indicators:
        r = subject.results.get(ind.key)
        fill = {"met": "met", "unmet": "unmet"}.get(outcome(subject, ind.key), "none")
        out += [
            (_ratio_cell(r.value) if r is not None else None, "pct", fill),
            (_ratio_cell(r.target) if r is not None else None, "pct", None),
            (outcome_label(subject, ind.key), "text", fill),
        ]
    return out


def _ledger_head(content: ClosingContent) -> list[str]:
    """The columns beside the reported figures when there is a ledger: its figure and the difference per
    compared field, the main indicator on the ledger's figures, and the verdict."""
    if not content.ledger_fields:
        return []
    head: list[str] = []
    for f in content.ledger_fields:
        head += [f"{f.label} – theo sổ thụ lý", f"{f.label} – chênh lệch"]
    return [*head, f"{content.main.label} – theo sổ thụ lý (%)", "Đối chiếu sổ thụ lý"]


def _ledger_widths(content: ClosingContent) -> list[int]:
    return [18, 14] * len(content.ledger_fields) + [16, 16] if content.ledger_fields else []


def _ledger_cells(subject: UnitResult | PersonResult, content: ClosingContent) -> list[Cell]:
    if not content.ledger_fields:
        return []
    check = subject.ledger
    cells: list[Cell] = []
    for f in content.ledger_fields:
        figure = check.figure(f.key) if check is not None else None
        if figure is None:
            cells += [(None, "int", None), (None, "diff", None)]
        else:
            fill = "verify" if figure.difference else None
            cells += [(figure.ledger, "int", None), (figure.difference, "diff", fill)]
    main = check.main if check is not None else None
    cells.append((_ratio_cell(main.value) if main is not None else None, "pct", None))
    verdict = check.verdict() if check is not None else None
    cells.append((verdict, "text", "verify" if check is not None and check.to_verify else None))
    return cells


def _write_row(
    ws: Any, i: int, cells: Sequence[Cell], styles: _Styles, *, bold: bool = False, indent: int = 0
) -> None:
    for j, (value, kind, fill) in enumerate(cells, start=1):
        style = styles(kind, fill, bold=bold, indent=indent if j == 3 else 0)
        ws.cell(row=i, column=j, value=value).style = style


def _finish_sheet(ws: Any, widths: Sequence[float], rows: int, freeze: str) -> None:
    from openpyxl.utils import get_column_letter

    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = freeze
    last = get_column_letter(len(widths))
    ws.auto_filter.ref = f"A1:{last}{max(rows, 1) + 1}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def _yes(value: bool) -> str:
    return "Có" if value else "Không"


def _unit_sheet(ws: Any, content: ClosingContent, styles: _Styles) -> None:
    head = ["STT", "Mã đơn vị", "Tên đơn vị", "Tự báo cáo", "Có báo cáo"]
    head += [f.label for f in content.fields] + _indicator_head(content.indicators) + ["Xếp hạng"]
    head += _ledger_head(content)
    _write_header(ws, head, styles)
    # The units a reader needs: those that report and those whose subtree does (their totals).
    lines = [u for u in content.units if u.reports or u.figures]
    if content.total.code == "":
        lines.append(content.total)
    for i, unit in enumerate(lines, start=2):
        cells: list[Cell] = [
            (i - 1 if unit.code else None, "int", None),
            (unit.code or None, "text", None),
            (unit.name, "text", None),
            (_yes(unit.reports) if unit.code else None, "text", None),
            (_yes(unit.has_report), "text", None),
        ]
        cells += [(unit.figures.get(f.key), "int", None) for f in content.fields]
        cells += _indicator_cells(unit, content.indicators)
        cells.append((unit.rank, "int", None))
        cells += _ledger_cells(unit, content)
        _write_row(ws, i, cells, styles, bold=not unit.reports, indent=2 * unit.depth)
    widths = [6, 12, 48, 11, 11, *([18] * len(content.fields)), *([16, 14, 16] * len(content.indicators)), 10]
    widths += _ledger_widths(content)
    _finish_sheet(ws, widths, len(lines), "D2")


def _person_sheet(ws: Any, content: ClosingContent, styles: _Styles) -> None:
    inds = content.person_indicators
    head = ["STT", "Mã cán bộ", "Họ và tên", "Chức danh", "Mã đơn vị", "Đơn vị", "Có số liệu"]
    head += [f.label for f in content.fields] + _indicator_head(inds) + ["Xếp hạng"]
    head += _ledger_head(content)
    _write_header(ws, head, styles)
    people = sorted(
        content.persons,
        key=lambda p: (p.rank is None, p.rank or 0, p.unit_code, vn_sort_key(p.full_name), p.code),
    )
    for i, p in enumerate(people, start=2):
        cells: list[Cell] = [
            (i - 1, "int", None),
            (p.code, "text", None),
            (p.full_name, "text", None),
            (p.title, "text", None),
            (p.unit_code, "text", None),
            (p.unit_name, "text", None),
            (_yes(p.has_report), "text", None),
        ]
        cells += [(p.figures.get(f.key), "int", None) for f in content.fields]
        cells += _indicator_cells(p, inds)
        cells.append((p.rank, "int", None))
        cells += _ledger_cells(p, content)
        _write_row(ws, i, cells, styles)
    widths = [6, 12, 28, 22, 12, 40, 11, *([18] * len(content.fields)), *([16, 14, 16] * len(inds)), 10]
    widths += _ledger_widths(content)
    _finish_sheet(ws, widths, len(people), "D2")


def _info_sheet(ws: Any, content: ClosingContent, styles: _Styles) -> None:
    verdict = assess(content)
    main = content.main
    total = content.total.results.get(main.key)
    facts: list[tuple[str, Any, CellKind]] = [
        ("Phong trào", content.campaign_title, "text"),
        ("Mã phong trào", content.campaign_code, "text"),
        ("Từ ngày", content.period_start, "date"),
        ("Đến ngày", content.period_end, "date"),
        ("Ngày kết thúc nhận báo cáo", content.closed_on, "date"),
        ("Số liệu theo", content.data_label, "text"),
        ("Chỉ tiêu chính", main.label, "text"),
        ("Mức chỉ tiêu", _ratio_cell(main.target), "pct"),
        ("Kết quả chung", _ratio_cell(total.value) if total is not None else None, "pct"),
        ("Số đơn vị thực hiện báo cáo", verdict.reporting, "int"),
        ("Số đơn vị đạt", len(verdict.met), "int"),
        ("Số đơn vị không đạt", len(verdict.not_met), "int"),
        ("Số đơn vị không có báo cáo", len(verdict.missing), "int"),
        ("Xếp hạng theo", RANKING_BASIS, "text"),
    ]
    if content.ledger_at is not None:
        facts += [
            ("Đối chiếu sổ thụ lý đến hết ngày", content.ledger_at, "date"),
            ("Số đơn vị cần xác minh", len(content.units_to_verify), "int"),
            ("Số cá nhân cần xác minh", len(content.persons_to_verify), "int"),
        ]
    if content.revision_note:
        facts += [("Lần báo cáo", content.version, "int"), ("Thay thế", content.revision_note, "text")]
    for i, (label, value, kind) in enumerate(facts, start=1):
        ws.cell(row=i, column=1, value=label).style = styles("label")
        ws.cell(row=i, column=2, value=value).style = styles(kind)
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 80


# ---------------------------------------------------------------- PNG chart


def write_closing_chart(content: ClosingContent, path: Path) -> Path:
    """A PNG bar per reporting unit of the main indicator, best at the top, against the target: a dashed
    line for one target, a tick on each bar for per-unit targets. Vietnamese labels; Agg, no pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    main, key = content.main, content.main_key
    units = content.competitors
    with_value = sorted(
        (u for u in units if u.has_report and u.results.get(key) and u.results[key].value is not None),
        key=_by_rank,
    )
    without = [u for u in units if u not in with_value]
    ordered = list(reversed(with_value + without))  # barh draws from the bottom up
    results = [u.results.get(key) for u in ordered]
    # Floats only to place bars on the canvas; every printed number comes from the exact fraction.
    values = [float(r.value) if r is not None and r.value is not None else 0.0 for r in results]
    targets = [float(r.target if r is not None else main.target) for r in results]
    states = [{"met": "met", "unmet": "unmet"}.get(outcome(u, key), "none") for u in ordered]
    one_target = len(set(targets)) <= 1
    top = max([*values, *targets, float(main.target), 0.01])
    limit = top / 0.8  # room for "25,00%  (hạng 1)" right of the longest bar

    n = max(len(ordered), 1)
    height = HEADER + FOOTER + BAR_PITCH * n
    fig = Figure(figsize=(WIDTH, height), dpi=110)
    FigureCanvasAgg(fig)
    longest = max([len(u.short_name) for u in ordered] + [10])
    left = min(0.2 + 0.075 * longest, 4.0)
    fig.subplots_adjust(left=left / WIDTH, right=1 - 0.35 / WIDTH, top=1 - HEADER / height,
                        bottom=FOOTER / height)  # fmt: skip
    ax = fig.add_subplot(1, 1, 1)
    positions = list(range(len(ordered)))
    ax.barh(positions, values, height=0.68, color=[COLOURS[s] for s in states], zorder=2)
    ax.set_yticks(positions)
    ax.set_yticklabels([u.short_name for u in ordered], fontsize=10)
    style_rate_axes(ax, len(ordered), limit)
    if one_target:
        goal = targets[0] if targets else float(main.target)
        ax.axvline(goal, color=COLOURS["target"], linestyle="--", linewidth=1.6, zorder=3)
        shown = results[0].target if results and results[0] is not None else main.target
        target_handle = Line2D([0], [0], color=COLOURS["target"], linestyle="--",
                               label=f"Chỉ tiêu {fmt_target(main.comparison, shown)}")  # fmt: skip
    else:
        ax.scatter(targets, positions, marker="|", s=300, linewidths=2.6, color=COLOURS["target"], zorder=4)
        target_handle = Line2D([0], [0], color=COLOURS["target"], marker="|", linestyle="None", markersize=13,
                               markeredgewidth=2.6, label="Chỉ tiêu giao cho đơn vị")  # fmt: skip
    for y, unit, r, value in zip(positions, ordered, results, values, strict=True):
        if r is None or r.value is None or not unit.has_report:
            label = NO_REPORT.lower() if not unit.has_report else NO_VALUE.lower()
            ax.text(limit * 0.01, y, label, va="center", ha="left", fontsize=9, color="#616161",
                    style="italic", zorder=5)  # fmt: skip
            continue
        label = fmt_percent(r.value) + (f"  (hạng {unit.rank})" if unit.rank is not None else "")
        if unit.ledger is not None and unit.ledger.to_verify:
            label += f"  {MARK} {VERIFY.lower()}"
        ax.text(value + limit * 0.008, y, label, va="center", ha="left", fontsize=9.5,
                fontweight="bold", color="#212121", zorder=5,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})  # fmt: skip

    verdict = assess(content)
    total = content.total.results.get(key)
    fig.text(0.015, 1 - 0.18 / height, f"{main.label} – kết quả tổng kết", fontsize=14, fontweight="bold",
             va="top")  # fmt: skip
    fig.text(0.015, 1 - 0.52 / height,
             f"{content.data_label} · kết thúc ngày {fmt_date(content.closed_on)} · "
             f"đạt chỉ tiêu: {len(verdict.met)}/{verdict.reporting} đơn vị",
             fontsize=10.5, va="top", color="#424242")  # fmt: skip
    if total is not None:
        fig.text(0.015, 1 - 0.78 / height,
                 f"Tính chung: {fmt_percent(total.value)} ({fmt_ratio(total)}) – {_met_word(total.met)}",
                 fontsize=10.5, va="top", color="#424242")  # fmt: skip
    handles = [
        Patch(color=COLOURS["met"], label=MET),
        Patch(color=COLOURS["unmet"], label=NOT_MET),
        Patch(color=COLOURS["none"], label=f"{NO_REPORT} / {NO_VALUE.lower()}"),
        target_handle,
    ]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.008, 1 - 1.02 / height), ncol=4,
               frameon=False, fontsize=10, handlelength=1.8, columnspacing=1.6)  # fmt: skip
    ax.set_xlabel("Tỷ lệ (%)", fontsize=10)

    png = io.BytesIO()
    fig.savefig(png, format="png", metadata={"Software": None})
    return write_atomic(path, png.getvalue())


__all__ = [
    "COLOURS",
    "INFO_SHEET",
    "MET",
    "NOT_MET",
    "NO_REPORT",
    "NO_VALUE",
    "PERSON_SHEET",
    "REPORT_TITLE",
    "UNIT_SHEET",
    "Assessment",
    "ClosingContent",
    "FieldColumn",
    "IndicatorColumn",
    "PersonResult",
    "UnitResult",
    "assess",
    "assessment_sentences",
    "build_closing_report",
    "outcome",
    "outcome_label",
    "ranking_basis",
    "render_closing_report",
    "top_persons",
    "write_closing_chart",
    "write_closing_xlsx",
]
