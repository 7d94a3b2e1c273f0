"""Unit reports as a clerk fills them in: the template layout, reading the filled cells, and every check.

Pure functions over plain data (no database, no files). `tasks/collect/reports.py` gathers the campaign's data
into `TemplateInfo` and renders `build_layout` with openpyxl; on the way back it dumps a workbook's cells (or
a CSV's rows) into plain values, asks `read_xlsx_report` / `read_csv_report` for a `RawReport`, loads a
`ReportContext` from the database and lets `check_report` decide. Every problem is a `ReportError` naming
file, sheet, cell (XLSX) or row and column (CSV), the field, and what was expected, in Vietnamese.

The XLSX template
-----------------
One visible sheet (`REPORT_SHEET`) and one "veryHidden" sheet (`META_SHEET`, not listed by Excel's Unhide
menu). The visible sheet holds a title, instructions, the campaign / unit / period / due date (locked), one
input row per campaign field (column D), a "Đính chính số liệu (x)" mark and, optionally, one row per enrolled
officer with an input cell per field. The sheet is protected; only input cells are unlocked.

The hidden sheet is a key/value list (column A key, B value, C extra):

- `format`, `campaign_code`, `definition_hash`, `unit_code`, `period_key`, `sheet`, `correction_cell`,
  `fingerprint`: one row each;
- `input` rows: B = cell (e.g. D18), C = field key;
- `officer` rows: B = sheet row, C = person code; `officer_column` rows: B = column letter, C = field key;
- `locked` rows: B = cell, C = digest of its content (the first 16 hex digits of SHA-256).

`fingerprint` is the SHA-256 of the identity (code, hash, unit, period) and every locked cell's digest. On
reading, the digests are recomputed from the file: a changed, cleared or added cell outside the input cells is
named. Sheet protection guards against slips; the fingerprint against edits (neither against forgery: the CSV
form is accepted too, so the system trusts the sender as much as an email with a spreadsheet).

The CSV form
------------
UTF-8 (a BOM is fine), separated by `,` `;` or tab (the header row decides), header on the first non-empty
row, matched without case or extra spaces:

    Mã phong trào, Mã đơn vị, Kỳ báo cáo, Mã cán bộ, Họ và tên, <one column per field label>, Đính chính

- A field column may be headed by the field's label (as in the template) or its key (`finished`).
- The unit's row has `Mã cán bộ` empty; exactly one such row. Officer rows have `Mã cán bộ` filled; they
  may leave the campaign, unit and period columns empty (if filled, they must agree with the unit row).
  An officer row with every field empty is skipped; `Mã cán bộ` and `Họ và tên` columns are optional
  (`Họ và tên` is only there to help the clerk; it is not read). Other columns (STT, Ghi chú) are ignored.
- `Kỳ báo cáo`: `2024-03`, `03/2024` or `final` (also "tổng kết"). `Đính chính`: `x` or empty.

Checks (`check_report`)
-----------------------
Campaign (code, and for XLSX the definition hash) and the file's integrity; the unit (in the directory,
enrolled, expected to report); the period (in the calendar, open from the first day of the reported month,
or the campaign's start if later; not accepted once the campaign is closed or further on); every number a
whole, non-negative count, no unit cell empty; for every indicator to be reached from below (comparison
`>=` or `>`: completion or reduction rates, a share of a population) numerator ≤ denominator, for the unit
and for officers when the indicator applies to people; cumulative fields not below the unit's current report
of the latest earlier period, unless marked as a correction; officers enrolled in that unit, each at most
once. A sum of officers' figures above the unit's is only a warning: officers need not cover every case.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from thidua.errors import Problem
from thidua.models.definition import FieldDef, Indicator
from thidua.models.text import fmt_date, nfc

Cell = str | int | float | bool | date | datetime | None

FORMAT_VERSION = "1"
REPORT_SHEET = "Báo cáo"
META_SHEET = "_thidua"
INPUT_COLUMN = "D"
FIRST_OFFICER_FIELD_COLUMN = 5  # E
FINAL_KEY = "final"

CLOSED_STATUSES = frozenset({"closed", "in_review", "awarded", "archived"})
OPEN_STATUSES = frozenset({"launched", "collecting"})

CSV_CAMPAIGN = "Mã phong trào"
CSV_UNIT = "Mã đơn vị"
CSV_PERIOD = "Kỳ báo cáo"
CSV_PERSON = "Mã cán bộ"
CSV_NAME = "Họ và tên"
CSV_CORRECTION = "Đính chính"
CORRECTION_LABEL = "Đính chính số liệu (x)"

_MARK_YES = {"x", "có", "co", "1", "true", "đúng", "yes"}
_MARK_NO = {"", "không", "khong", "0", "false", "sai", "no"}


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class ReportError:
    """One problem, located the way a clerk finds it: file, sheet, cell or row, column, field."""

    file: str
    problem: str
    sheet: str | None = None
    cell: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None  # the field's label

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"trang “{self.sheet}”")
        if self.cell:
            where.append(f"ô {self.cell}")
        elif self.row is not None:
            where.append(f"dòng {self.row}")
        if self.column:
            where.append(f"cột “{self.column}”")
        text = ", ".join(where)
        if self.field and self.field != self.column:
            text += f" ({self.field})"
        return f"{text}: {self.problem}"

    def as_problem(self) -> Problem:
        column = self.column or self.field or (f"ô {self.cell}" if self.cell else None)
        return Problem(self.problem, file=self.file, sheet=self.sheet, row=self.row, column=column)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sheet": self.sheet,
            "cell": self.cell,
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "problem": self.problem,
            "text": str(self),
        }


@dataclass(frozen=True)
class Where:
    """Where a value was read from, kept so that a later check can name the cell."""

    sheet: str | None = None
    cell: str | None = None
    row: int | None = None
    column: str | None = None

    def error(self, file: str, problem: str, field_label: str | None = None) -> ReportError:
        return ReportError(file, problem, self.sheet, self.cell, self.row, self.column, field_label)


@dataclass(frozen=True)
class RawValue:
    value: Cell
    where: Where


@dataclass(frozen=True)
class RawOfficer:
    person_code: str
    values: dict[str, RawValue]
    where: Where  # the officer's row


@dataclass
class RawReport:
    """What a file says, before any check against the campaign."""

    file: str
    fmt: Literal["xlsx", "csv"]
    campaign_code: str | None = None
    definition_hash: str | None = None  # XLSX only
    unit_code: str | None = None
    unit_where: Where = field(default_factory=Where)
    period_key: str | None = None
    period_where: Where = field(default_factory=Where)
    values: dict[str, RawValue] = field(default_factory=dict)
    officers: list[RawOfficer] = field(default_factory=list)
    correction: RawValue | None = None
    errors: list[ReportError] = field(default_factory=list)  # found while reading
    unusable: bool = False  # nothing more can be read (not a template, broken metadata, missing columns)


# ---------------------------------------------------------------- cell values


def cell_text(value: Cell) -> str:
    """Canonical text of a cell for fingerprints: 5 and 5.0 agree; dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    return str(value)


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    if isinstance(value, datetime | date):
        return fmt_date(value)
    return nfc(str(value)) or ""


_INT_RE = re.compile(r"^[+-]?\d+$")
_DECIMAL_RE = re.compile(r"^[+-]?\d*[.,]\d+([.,]\d+)*$")


def parse_count(value: Cell, maximum: int | None = None) -> tuple[int | None, str | None]:
    """A whole non-negative count up to `maximum`: (n, None), (None, problem), or (None, None) when empty."""
    expected = "cần một số nguyên không âm (0, 1, 2, …)"
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        return None, f"{expected}, nhận được giá trị đúng/sai"
    if isinstance(value, datetime | date):
        return None, f"{expected}, nhận được ngày {fmt_date(value)}"
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None, f"{expected}, nhận được “{value}”"
        if value < 0:
            return None, f"không được là số âm (nhận được {_shown(value)})"
        if not value.is_integer():
            return None, f"cần một số nguyên, không có phần thập phân (nhận được {_shown(value)})"
        number = int(value)
    else:
        # Vietnamese clerks type a typographic minus and group digits with spaces (1 234).
        text = nfc(str(value)).replace("\u2212", "-").replace("\u00a0", "").replace(" ", "")
        if _INT_RE.match(text):
            number = int(text)
        elif _DECIMAL_RE.match(text):
            if text.startswith("-"):
                return None, f"không được là số âm (nhận được “{nfc(str(value))}”)"
            return None, (
                "cần một số nguyên, không có phần thập phân hay dấu phân cách hàng nghìn "
                f"(nhận được “{nfc(str(value))}”)"
            )
        else:
            return None, f"{expected}, nhận được “{nfc(str(value))}”"
    if number < 0:
        return None, f"không được là số âm (nhận được {number})"
    if maximum is not None and number > maximum:
        shown = "10^" + str(len(str(number)) - 1) if number >= 10**16 else f"{number:,}".replace(",", ".")
        return None, f"số quá lớn: {shown} (tối đa {maximum:,})".replace(",", ".")
    return number, None


def parse_mark(value: Cell) -> tuple[bool, str | None]:
    """The correction mark: "x" (or có / 1) means yes, empty means no."""
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value), None
    text = (nfc(str(value)) if value is not None else "").casefold()
    if text in _MARK_YES:
        return True, None
    if text in _MARK_NO:
        return False, None
    return False, f"chỉ ghi “x” (đính chính số liệu) hoặc để trống, nhận được “{nfc(str(value))}”"


def _fold(text: str) -> str:
    """Compare headers and words without case, diacritics or extra spaces."""
    decomposed = unicodedata.normalize("NFD", nfc(text).casefold().replace("đ", "d"))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


_YM_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_MY_RE = re.compile(r"^(\d{1,2})[/.-](\d{4})$")


def normalise_period(value: Cell) -> str | None:
    """'2024-03', '03/2024', '3/2024' → '2024-03'; 'final' / 'tổng kết' → 'final'; other text as typed."""
    if isinstance(value, datetime | date):
        return f"{value:%Y-%m}"
    if is_blank(value):
        return None
    text = nfc(str(value)) or ""
    folded = _fold(text)
    if folded in ("final", "tong ket", "bao cao tong ket"):
        return FINAL_KEY
    match = _YM_RE.match(text)
    if match and 1 <= int(match.group(2)) <= 12:
        return f"{match.group(1)}-{int(match.group(2)):02d}"
    match = _MY_RE.match(text)
    if match and 1 <= int(match.group(1)) <= 12:
        return f"{match.group(2)}-{int(match.group(1)):02d}"
    return text


def opens_on(period_start: date, period_end: date) -> date:
    """First day a period's report is accepted: the first day of the reported month (periods are cumulative,
    so every one starts with the campaign; opening them all on day one would accept June's report in
    January)."""
    return max(period_start, period_end.replace(day=1))


# ---------------------------------------------------------------- fingerprint


def cell_digest(value: Cell) -> str:
    return hashlib.sha256(cell_text(value).encode("utf-8")).hexdigest()[:16]


def locked_digests(cells: Mapping[str, Cell], inputs: Iterable[str]) -> dict[str, str]:
    """Digest of every non-empty cell that is not an input cell."""
    skip = set(inputs)
    return {ref: cell_digest(v) for ref, v in cells.items() if ref not in skip and not is_blank(v)}


def fingerprint(identity: Mapping[str, str], locked: Mapping[str, str]) -> str:
    lines = [f"{k}={identity[k]}" for k in sorted(identity)]
    lines += [f"{ref}:{locked[ref]}" for ref in sorted(locked, key=_cell_order)]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


_REF_RE = re.compile(r"^([A-Z]+)(\d+)$")


def split_ref(ref: str) -> tuple[str, int]:
    match = _REF_RE.match(ref)
    if not match:
        raise ValueError(f"not a cell reference: {ref}")
    return match.group(1), int(match.group(2))


def _cell_order(ref: str) -> tuple[int, int, str]:
    col, row = split_ref(ref)
    return row, len(col), col


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


# ---------------------------------------------------------------- the template layout


@dataclass(frozen=True)
class OfficerInfo:
    code: str
    full_name: str
    title: str


@dataclass(frozen=True)
class TemplateInfo:
    """Everything a template shows, gathered by the task from the database."""

    campaign_code: str
    campaign_title: str
    definition_hash: str
    unit_code: str
    unit_name: str
    period_key: str
    period_label: str  # "Báo cáo tháng 03/2024"
    period_start: date
    period_end: date
    due_date: date
    contact: str  # "Phòng Tổ chức cán bộ – tccb@..."
    fields: Sequence[FieldDef]
    indicators: Sequence[Indicator] = ()
    officers: Sequence[OfficerInfo] = ()


@dataclass(frozen=True)
class OfficerSlot:
    person_code: str
    row: int
    cells: dict[str, str]  # field key -> cell


@dataclass(frozen=True)
class TemplateLayout:
    sheet: str
    cells: dict[str, Cell]  # every pre-filled (locked) cell
    styles: dict[str, str]  # cell -> "title" | "subtitle" | "label" | "value" | "header" | "note"
    merges: list[str]
    inputs: dict[str, str]  # cell -> field key, the unit's figures
    officer_slots: list[OfficerSlot]
    officer_columns: dict[str, str]  # column letter -> field key
    correction_cell: str
    column_widths: dict[str, float]
    meta: list[tuple[str, str, str]]  # rows of the hidden sheet

    @property
    def input_cells(self) -> list[str]:
        """Every unlocked cell: the unit's figures, the correction mark, the officers' figures."""
        out = [*self.inputs, self.correction_cell]
        for slot in self.officer_slots:
            out.extend(slot.cells.values())
        return out


def consistency_rules(indicators: Sequence[Indicator]) -> list[Indicator]:
    """Indicators reached from below (completion, reduction): their numerator is part of the denominator."""
    return [ind for ind in indicators if ind.comparison in (">=", ">")]


def _labels(keys: Sequence[str], fields: Sequence[FieldDef]) -> str:
    by_key = {f.key: f.label for f in fields}
    return " + ".join(f"“{by_key.get(k, k)}”" for k in keys)


def instructions(info: TemplateInfo) -> list[str]:
    lines = [
        "Chỉ nhập số liệu vào các ô nền vàng; các ô khác đã được khóa, không sửa, không thêm nội dung.",
        "Số liệu là số nguyên không âm (0, 1, 2, …), không có phần thập phân; không để trống ô nào của "
        "đơn vị.",
        f"Số liệu tính lũy kế từ ngày {fmt_date(info.period_start)} "
        f"đến hết ngày {fmt_date(info.period_end)}. "
        "Nếu số liệu lũy kế thấp hơn kỳ trước do đính chính, ghi “x” vào ô “Đính chính số liệu (x)”.",
    ]
    for ind in consistency_rules(info.indicators):
        lines.append(
            f"{_labels(ind.numerator, info.fields)} không được lớn hơn "
            f"{_labels(ind.denominator, info.fields)}."
        )
    if info.officers:
        lines.append(
            "Bảng số liệu theo từng cán bộ không bắt buộc; đã điền cho cán bộ nào thì điền đủ các cột của "
            "cán bộ đó."
        )
    lines.append(
        "Không đổi tên, thêm hay xóa trang tính. "
        f"Gửi lại tệp .xlsx này chậm nhất ngày {fmt_date(info.due_date)} "
        f"(đầu mối: {info.contact})."
    )
    return lines


def build_layout(info: TemplateInfo) -> TemplateLayout:
    """Cells, styles and the hidden metadata of a report template (rendered by tasks.collect.reports)."""
    cells: dict[str, Cell] = {}
    styles: dict[str, str] = {}
    merges: list[str] = []
    last_col = column_letter(
        max(4, FIRST_OFFICER_FIELD_COLUMN - 1 + (len(info.fields) if info.officers else 0))
    )

    def put(ref: str, value: Cell, style: str) -> None:
        cells[ref] = value
        styles[ref] = style

    put("A1", "BÁO CÁO SỐ LIỆU PHONG TRÀO THI ĐUA", "title")
    merges.append(f"A1:{last_col}1")
    put("A2", info.campaign_title, "subtitle")
    merges.append(f"A2:{last_col}2")
    head = [
        ("Mã phong trào", info.campaign_code),
        ("Mã đơn vị", info.unit_code),
        ("Tên đơn vị", info.unit_name),
        ("Kỳ báo cáo", info.period_label),
        ("Mã kỳ báo cáo", info.period_key),
        ("Số liệu tính từ ngày – đến ngày", f"{fmt_date(info.period_start)} – {fmt_date(info.period_end)}"),
        ("Hạn nộp", fmt_date(info.due_date)),
    ]
    row = 4
    visible: dict[str, str] = {}
    for label, value in head:
        visible[label] = f"C{row}"
        put(f"A{row}", label, "label")
        merges.append(f"A{row}:B{row}")
        put(f"C{row}", value, "value")
        merges.append(f"C{row}:{last_col}{row}")
        row += 1

    row += 1
    put(f"A{row}", "Hướng dẫn:", "label")
    merges.append(f"A{row}:{last_col}{row}")
    row += 1
    for i, line in enumerate(instructions(info), start=1):
        put(f"A{row}", f"{i}. {line}", "note")
        merges.append(f"A{row}:{last_col}{row}")
        row += 1

    row += 1
    for col, text in zip("ABCD", ("STT", "Chỉ tiêu", "Đơn vị tính", "Số liệu"), strict=True):
        put(f"{col}{row}", text, "header")
    row += 1
    inputs: dict[str, str] = {}
    for i, fdef in enumerate(info.fields, start=1):
        put(f"A{row}", i, "value")
        put(f"B{row}", fdef.label, "value")
        put(f"C{row}", fdef.unit, "value")
        inputs[f"{INPUT_COLUMN}{row}"] = fdef.key
        row += 1
    put(f"B{row}", CORRECTION_LABEL, "label")
    put(f"C{row}", "ghi “x” nếu có", "value")
    correction_cell = f"{INPUT_COLUMN}{row}"
    row += 2

    slots: list[OfficerSlot] = []
    officer_columns: dict[str, str] = {}
    if info.officers:
        put(f"A{row}", "SỐ LIỆU THEO TỪNG CÁN BỘ (không bắt buộc)", "label")
        merges.append(f"A{row}:{last_col}{row}")
        row += 1
        for col, text in zip("ABCD", ("STT", "Mã cán bộ", "Họ và tên", "Chức danh"), strict=True):
            put(f"{col}{row}", text, "header")
        for j, fdef in enumerate(info.fields):
            letter = column_letter(FIRST_OFFICER_FIELD_COLUMN + j)
            officer_columns[letter] = fdef.key
            put(f"{letter}{row}", f"{fdef.label} ({fdef.unit})", "header")
        row += 1
        for i, person in enumerate(info.officers, start=1):
            put(f"A{row}", i, "value")
            put(f"B{row}", person.code, "value")
            put(f"C{row}", person.full_name, "value")
            put(f"D{row}", person.title, "value")
            slots.append(OfficerSlot(person.code, row, {k: f"{c}{row}" for c, k in officer_columns.items()}))
            row += 1

    widths = {"A": 8.0, "B": 48.0, "C": 24.0, "D": 18.0}
    for letter in officer_columns:
        widths[letter] = 22.0

    identity = _identity(info.campaign_code, info.definition_hash, info.unit_code, info.period_key)
    locked = {ref: cell_digest(v) for ref, v in cells.items() if not is_blank(v)}
    meta: list[tuple[str, str, str]] = [
        ("format", FORMAT_VERSION, ""),
        *((k, v, "") for k, v in identity.items()),
        ("sheet", REPORT_SHEET, ""),
        ("unit_cell", visible["Mã đơn vị"], ""),
        ("period_cell", visible["Mã kỳ báo cáo"], ""),
        ("correction_cell", correction_cell, ""),
        ("fingerprint", fingerprint(identity, locked), ""),
    ]
    meta += [("input", ref, key) for ref, key in inputs.items()]
    meta += [("officer_column", letter, key) for letter, key in officer_columns.items()]
    meta += [("officer", str(slot.row), slot.person_code) for slot in slots]
    meta += [
        ("locked", ref, digest) for ref, digest in sorted(locked.items(), key=lambda kv: _cell_order(kv[0]))
    ]
    return TemplateLayout(
        sheet=REPORT_SHEET,
        cells=cells,
        styles=styles,
        merges=merges,
        inputs=inputs,
        officer_slots=slots,
        officer_columns=officer_columns,
        correction_cell=correction_cell,
        column_widths=widths,
        meta=meta,
    )


def _identity(code: str, digest: str, unit: str, period: str) -> dict[str, str]:
    return {"campaign_code": code, "definition_hash": digest, "unit_code": unit, "period_key": period}


def csv_header(fields: Sequence[FieldDef]) -> list[str]:
    return [
        CSV_CAMPAIGN,
        CSV_UNIT,
        CSV_PERIOD,
        CSV_PERSON,
        CSV_NAME,
        *(f.label for f in fields),
        CSV_CORRECTION,
    ]


def csv_rows(info: TemplateInfo) -> list[list[str]]:
    """The CSV form of a template: header, the unit's row, one row per officer (figures left empty)."""
    empty = [""] * len(info.fields)
    out = [csv_header(info.fields), [info.campaign_code, info.unit_code, info.period_key, "", "", *empty, ""]]
    for person in info.officers:
        out.append(
            [info.campaign_code, info.unit_code, info.period_key, person.code, person.full_name, *empty, ""]
        )
    return out


# ---------------------------------------------------------------- reading an XLSX


def _meta_rows(sheet: Mapping[str, Cell]) -> list[tuple[str, str, str]]:
    rows: dict[int, dict[str, str]] = {}
    for ref, value in sheet.items():
        col, row = split_ref(ref)
        if col in ("A", "B", "C") and not is_blank(value):
            rows.setdefault(row, {})[col] = cell_text(value)
    return [(r.get("A", ""), r.get("B", ""), r.get("C", "")) for _, r in sorted(rows.items())]


def read_xlsx_report(file: str, workbook: Mapping[str, Mapping[str, Cell]]) -> RawReport:
    """A report from an XLSX template's cells: `workbook` maps sheet name → {cell: value}."""
    raw = RawReport(file=file, fmt="xlsx")
    meta_sheet = workbook.get(META_SHEET)
    if meta_sheet is None:
        raw.errors.append(
            ReportError(
                file,
                "không phải mẫu báo cáo do hệ thống phát hành (thiếu trang dữ liệu ẩn của mẫu); hãy tải mẫu "
                "bằng lệnh “thidua report template” và điền vào mẫu đó, hoặc gửi dạng CSV",
            )
        )
        raw.unusable = True
        return raw
    scalars: dict[str, str] = {}
    inputs: dict[str, str] = {}
    officer_columns: dict[str, str] = {}
    officer_rows: dict[int, str] = {}
    locked_meta: dict[str, str] = {}
    try:
        for key, b, c in _meta_rows(meta_sheet):
            if key == "input":
                inputs[b] = c
            elif key == "officer_column":
                officer_columns[b] = c
            elif key == "officer":
                officer_rows[int(b)] = c
            elif key == "locked":
                locked_meta[b] = c
            elif key:
                scalars[key] = b
        for ref in [*inputs, *locked_meta, *(scalars.get(k) or "A1" for k in ("unit_cell", "period_cell"))]:
            split_ref(ref)
    except ValueError:
        scalars = {}
    sheet_name = scalars.get("sheet", "")
    sheet = workbook.get(sheet_name)
    correction_cell = scalars.get("correction_cell", "")
    needed = ("campaign_code", "definition_hash", "unit_code", "period_key", "fingerprint")
    if (
        scalars.get("format") != FORMAT_VERSION
        or sheet is None
        or not correction_cell
        or not all(scalars.get(k) for k in needed)
    ):
        raw.errors.append(
            ReportError(file, "trang dữ liệu ẩn của mẫu bị hỏng hoặc thuộc phiên bản khác; hãy tải mẫu mới")
        )
        raw.unusable = True
        return raw

    raw.campaign_code = scalars["campaign_code"]
    raw.definition_hash = scalars["definition_hash"]
    raw.unit_code = scalars["unit_code"]
    raw.period_key = scalars["period_key"]
    raw.unit_where = Where(sheet_name, scalars.get("unit_cell") or None)
    raw.period_where = Where(sheet_name, scalars.get("period_cell") or None)

    officer_cells = {f"{col}{r}" for col in officer_columns for r in officer_rows}
    input_refs = {*inputs, correction_cell, *officer_cells}
    found = locked_digests(sheet, input_refs)
    identity = _identity(raw.campaign_code, raw.definition_hash, raw.unit_code, raw.period_key)
    if fingerprint(identity, found) != scalars["fingerprint"]:
        changed = sorted(set(found) | set(locked_meta), key=_cell_order)
        named = False
        for ref in changed:
            before, after = locked_meta.get(ref), found.get(ref)
            if before == after:
                continue
            named = True
            if after is None:
                problem = "ô bị khóa của mẫu đã bị xóa nội dung; chỉ được nhập vào các ô nền vàng"
            elif before is None:
                problem = (
                    f"ô nằm ngoài các ô nhập liệu nhưng có nội dung “{_shown(sheet[ref])}”; "
                    "chỉ được nhập vào các ô nền vàng"
                )
            else:
                problem = (
                    f"ô bị khóa của mẫu đã bị sửa (hiện ghi “{_shown(sheet[ref])}”); chỉ được nhập vào các ô "
                    "nền vàng"
                )
            raw.errors.append(ReportError(file, problem, sheet=sheet_name, cell=ref))
        if not named:
            raw.errors.append(
                ReportError(file, "dữ liệu nhận dạng của mẫu đã bị sửa; hãy tải mẫu mới", sheet=sheet_name)
            )

    for ref, key in inputs.items():
        raw.values[key] = RawValue(sheet.get(ref), Where(sheet_name, ref))
    raw.correction = RawValue(sheet.get(correction_cell), Where(sheet_name, correction_cell))
    for r, code in sorted(officer_rows.items()):
        values = {
            key: RawValue(sheet.get(f"{col}{r}"), Where(sheet_name, f"{col}{r}"))
            for col, key in officer_columns.items()
        }
        raw.officers.append(RawOfficer(code, values, Where(sheet_name, row=r)))
    return raw


# ---------------------------------------------------------------- reading a CSV


def read_csv_report(file: str, rows: Sequence[Sequence[Cell]], fields: Sequence[FieldDef]) -> RawReport:
    """A report from the CSV form (rows as read, header on the first non-empty row)."""
    raw = RawReport(file=file, fmt="csv")
    numbered = [(i, list(r)) for i, r in enumerate(rows, start=1) if any(not is_blank(v) for v in r)]
    if not numbered:
        raw.errors.append(ReportError(file, "tệp trống"))
        raw.unusable = True
        return raw
    header_row, header = numbered[0]
    folded = [_fold(str(h)) if not is_blank(h) else "" for h in header]

    def find(*names: str) -> int | None:
        wanted = {_fold(n) for n in names}
        return next((i for i, h in enumerate(folded) if h in wanted), None)

    columns: dict[str, int] = {}
    missing: list[str] = []
    for name in (CSV_CAMPAIGN, CSV_UNIT, CSV_PERIOD):
        idx = find(name)
        if idx is None:
            missing.append(name)
        else:
            columns[name] = idx
    field_cols: dict[str, int] = {}
    for fdef in fields:
        idx = find(fdef.label, fdef.key, f"{fdef.label} ({fdef.unit})")
        if idx is None:
            missing.append(fdef.label)
        else:
            field_cols[fdef.key] = idx
    if missing:
        for name in missing:
            raw.errors.append(
                ReportError(
                    file,
                    f"thiếu cột “{name}” ở dòng tiêu đề; các cột cần có: {', '.join(csv_header(fields))}",
                    row=header_row,
                )
            )
        raw.unusable = True
        return raw
    person_col = find(CSV_PERSON)
    mark_col = find(CSV_CORRECTION, CORRECTION_LABEL)
    headers = {idx: nfc(str(header[idx])) or "" for idx in range(len(header))}

    def at(r: list[Cell], idx: int | None) -> Cell:
        return r[idx] if idx is not None and idx < len(r) else None

    unit_rows = [(n, r) for n, r in numbered[1:] if is_blank(at(r, person_col))]
    officer_rows = [(n, r) for n, r in numbered[1:] if not is_blank(at(r, person_col))]
    if not unit_rows:
        raw.errors.append(
            ReportError(file, f"thiếu dòng số liệu của đơn vị (dòng để trống cột “{CSV_PERSON}”)")
        )
        raw.unusable = True
        return raw
    if len(unit_rows) > 1:
        lines = ", ".join(str(n) for n, _ in unit_rows)
        raw.errors.append(
            ReportError(
                file,
                f"chỉ được có một dòng số liệu của đơn vị (cột “{CSV_PERSON}” để trống), đang có ở các dòng "
                f"{lines}",
            )
        )
        raw.unusable = True
        return raw
    unit_row, unit_cells = unit_rows[0]

    def where(n: int, idx: int) -> Where:
        return Where(row=n, column=headers.get(idx))

    code = at(unit_cells, columns[CSV_CAMPAIGN])
    raw.campaign_code = (nfc(str(code)) or "").upper() if not is_blank(code) else None
    unit = at(unit_cells, columns[CSV_UNIT])
    raw.unit_code = nfc(str(unit)) if not is_blank(unit) else None
    raw.unit_where = where(unit_row, columns[CSV_UNIT])
    raw.period_key = normalise_period(at(unit_cells, columns[CSV_PERIOD]))
    raw.period_where = where(unit_row, columns[CSV_PERIOD])
    for name, wanted in ((CSV_CAMPAIGN, "campaign"), (CSV_UNIT, "unit"), (CSV_PERIOD, "period")):
        if (
            (wanted == "campaign" and raw.campaign_code is None)
            or (wanted == "unit" and raw.unit_code is None)
            or (wanted == "period" and raw.period_key is None)
        ):
            raw.errors.append(where(unit_row, columns[name]).error(file, "chưa điền (bắt buộc)"))
    raw.values = {key: RawValue(at(unit_cells, idx), where(unit_row, idx)) for key, idx in field_cols.items()}
    if mark_col is not None:
        raw.correction = RawValue(at(unit_cells, mark_col), where(unit_row, mark_col))

    expected = {CSV_CAMPAIGN: raw.campaign_code, CSV_UNIT: raw.unit_code, CSV_PERIOD: raw.period_key}
    for n, r in officer_rows:
        for name, value in expected.items():
            given = at(r, columns[name])
            if is_blank(given) or value is None:
                continue
            normal = normalise_period(given) if name == CSV_PERIOD else nfc(str(given))
            if name == CSV_CAMPAIGN:
                normal = (normal or "").upper()
            if normal != value:
                raw.errors.append(
                    where(n, columns[name]).error(
                        file,
                        f"khác với dòng của đơn vị (dòng {unit_row} ghi “{value}”, "
                        f"dòng này ghi “{_shown(given)}”)",
                    )
                )
        values = {key: RawValue(at(r, idx), where(n, idx)) for key, idx in field_cols.items()}
        assert person_col is not None
        raw.officers.append(RawOfficer(nfc(str(r[person_col])) or "", values, Where(row=n)))
    if mark_col is not None:
        for n, r in officer_rows:
            if not is_blank(at(r, mark_col)):
                raw.errors.append(
                    where(n, mark_col).error(file, "đánh dấu đính chính chỉ ghi ở dòng của đơn vị")
                )
    return raw


# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    reports: bool


@dataclass(frozen=True)
class PeriodInfo:
    key: str
    label: str
    period_start: date
    period_end: date
    due_date: date

    @property
    def opens(self) -> date:
        return opens_on(self.period_start, self.period_end)


@dataclass(frozen=True)
class PreviousReport:
    """The unit's current report of the latest earlier period: cumulative figures must not fall below it."""

    period_key: str
    period_label: str
    values: Mapping[str, int]


@dataclass(frozen=True)
class ReportContext:
    campaign_code: str
    definition_hash: str
    status: str  # CampaignStatus value
    fields: Sequence[FieldDef]
    indicators: Sequence[Indicator]
    units: Mapping[str, UnitInfo]  # enrolled units
    known_units: frozenset[str]  # codes in the directory (to tell "unknown" from "not enrolled")
    people: Mapping[str, str]  # enrolled person code -> unit code
    periods: Mapping[str, PeriodInfo]  # report periods (monthly and final)
    received_on: date  # local date
    previous: PreviousReport | None = None


@dataclass(frozen=True)
class OfficerFigures:
    person_code: str
    values: dict[str, int]


@dataclass(frozen=True)
class CheckedReport:
    unit_code: str | None
    period_key: str | None
    values: dict[str, int]
    officers: list[OfficerFigures]
    is_correction: bool
    errors: list[ReportError]
    warnings: list[ReportError]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_identity(raw: RawReport, ctx: ReportContext) -> list[ReportError]:
    """Campaign, definition version, unit and period: whether this file may be a report of this campaign."""
    f = raw.file
    out: list[ReportError] = []
    if raw.campaign_code is not None and raw.campaign_code != ctx.campaign_code:
        out.append(
            ReportError(
                f,
                f"tệp là mẫu báo cáo của phong trào “{raw.campaign_code}”, không phải phong trào "
                f"“{ctx.campaign_code}”",
                sheet=raw.unit_where.sheet,
            )
        )
        return out  # the unit and period of another campaign mean nothing here
    if raw.definition_hash is not None and raw.definition_hash != ctx.definition_hash:
        out.append(
            ReportError(
                f,
                f"mẫu được lập theo một phiên bản khác của phong trào “{ctx.campaign_code}”; hãy tải mẫu mới "
                "(thidua report template) rồi điền lại",
                sheet=raw.unit_where.sheet,
            )
        )
    unit = raw.unit_code
    if unit is not None:
        info = ctx.units.get(unit)
        if info is None:
            hint = next((c for c in ctx.units if c.casefold() == unit.casefold()), None)
            if hint is not None:
                problem = f"mã đơn vị “{unit}” không đúng; có phải “{hint}”?"
            elif unit in ctx.known_units:
                problem = f"đơn vị “{unit}” không tham gia phong trào “{ctx.campaign_code}”"
            else:
                problem = f"mã đơn vị “{unit}” không có trong danh bạ"
            out.append(raw.unit_where.error(f, problem))
        elif not info.reports:
            out.append(
                raw.unit_where.error(
                    f, f"đơn vị “{unit}” ({info.name}) không thuộc diện gửi báo cáo định kỳ của phong trào"
                )
            )
    key = raw.period_key
    if ctx.status in CLOSED_STATUSES:
        out.append(
            raw.period_where.error(
                f, "phong trào đã kết thúc việc nhận báo cáo; không nhận thêm hay sửa số liệu"
            )
        )
    elif ctx.status not in OPEN_STATUSES:
        out.append(raw.period_where.error(f, "phong trào chưa được phát động; chưa nhận báo cáo"))
    if key is not None:
        period = ctx.periods.get(key)
        if period is None:
            known = ", ".join(sorted(ctx.periods, key=lambda k: (k == FINAL_KEY, k)))
            out.append(
                raw.period_where.error(
                    f, f"kỳ báo cáo “{key}” không có trong lịch báo cáo của phong trào (các kỳ: {known})"
                )
            )
        elif ctx.received_on < period.opens:
            out.append(
                raw.period_where.error(
                    f,
                    f"{period.label} chưa mở: nhận báo cáo từ ngày {fmt_date(period.opens)}, tệp nhận ngày "
                    f"{fmt_date(ctx.received_on)}",
                )
            )
    return out


def _parse_values(
    file: str,
    raw_values: Mapping[str, RawValue],
    fields: Sequence[FieldDef],
    errors: list[ReportError],
    *,
    required: bool,
) -> dict[str, int]:
    out: dict[str, int] = {}
    for fdef in fields:
        rv = raw_values.get(fdef.key)
        if rv is None:
            errors.append(ReportError(file, f"không tìm thấy ô nhập “{fdef.label}”", field=fdef.label))
            continue
        number, problem = parse_count(rv.value, fdef.bound)
        if problem is not None:
            errors.append(rv.where.error(file, problem, fdef.label))
        elif number is None:
            if required:
                errors.append(
                    rv.where.error(file, "chưa điền số liệu (bắt buộc; ghi 0 nếu không có)", fdef.label)
                )
        else:
            out[fdef.key] = number
    return out


def _consistency(
    file: str,
    values: Mapping[str, int],
    raw_values: Mapping[str, RawValue],
    fields: Sequence[FieldDef],
    rules: Sequence[Indicator],
) -> list[ReportError]:
    out: list[ReportError] = []
    labels = {f.key: f.label for f in fields}
    for ind in rules:
        keys = [*ind.numerator, *ind.denominator]
        if not all(k in values for k in keys):
            continue  # a missing or wrong figure is reported already
        num = sum(values[k] for k in ind.numerator)
        den = sum(values[k] for k in ind.denominator)
        if num <= den:
            continue
        parts = " + ".join(str(values[k]) for k in ind.denominator)
        total = f"{parts} = {den}" if len(ind.denominator) > 1 else str(den)
        blame = ind.numerator[0]
        where = raw_values[blame].where if blame in raw_values else Where()
        out.append(
            where.error(
                file,
                f"{_labels(ind.numerator, fields)} ({num}) không được lớn hơn "
                f"{_labels(ind.denominator, fields)} ({total})",
                labels.get(blame),
            )
        )
    return out


def check_report(raw: RawReport, ctx: ReportContext) -> CheckedReport:
    """Every check of a report against its campaign; errors reject the file, warnings only inform."""
    f = raw.file
    errors = list(raw.errors)
    warnings: list[ReportError] = []
    if raw.unusable:
        return CheckedReport(raw.unit_code, raw.period_key, {}, [], False, errors, warnings)
    identity = check_identity(raw, ctx)
    errors.extend(identity)
    if raw.campaign_code is not None and raw.campaign_code != ctx.campaign_code:
        return CheckedReport(raw.unit_code, raw.period_key, {}, [], False, errors, warnings)

    values = _parse_values(f, raw.values, ctx.fields, errors, required=True)
    is_correction = False
    if raw.correction is not None:
        is_correction, problem = parse_mark(raw.correction.value)
        if problem is not None:
            errors.append(raw.correction.where.error(f, problem, CORRECTION_LABEL))

    rules = consistency_rules(ctx.indicators)
    errors.extend(_consistency(f, values, raw.values, ctx.fields, rules))

    prev = ctx.previous
    if prev is not None and not is_correction:
        for fdef in ctx.fields:
            before, now = prev.values.get(fdef.key), values.get(fdef.key)
            if not fdef.cumulative or before is None or now is None or now >= before:
                continue
            mark = (
                raw.correction.where.cell
                if raw.correction is not None and raw.correction.where.cell
                else None
            )
            how = (
                f"ghi “x” vào ô {mark} “{CORRECTION_LABEL}”" if mark else f"ghi “x” ở cột “{CSV_CORRECTION}”"
            )
            errors.append(
                raw.values[fdef.key].where.error(
                    f,
                    f"số liệu lũy kế giảm so với {prev.period_label.lower()} đã nộp ({before} → {now}); "
                    f"nếu đây là đính chính số liệu, {how}",
                    fdef.label,
                )
            )

    officers: list[OfficerFigures] = []
    person_rules = [ind for ind in rules if "person" in ind.applies_to]
    seen: dict[str, int | None] = {}
    for officer in raw.officers:
        code = officer.person_code
        if code in seen:
            first = seen[code]
            errors.append(
                officer.where.error(f, f"cán bộ “{code}” xuất hiện nhiều lần (lần đầu ở dòng {first})")
            )
            continue
        seen[code] = officer.where.row
        owner = ctx.people.get(code)
        if owner is None or owner != raw.unit_code:
            elsewhere = f" (thuộc đơn vị {owner})" if owner else ""
            errors.append(
                officer.where.error(
                    f,
                    f"cán bộ “{code}” không có trong danh sách cán bộ của đơn vị “{raw.unit_code}” "
                    f"tham gia phong trào{elsewhere}",
                    None,
                )
            )
            continue
        if all(is_blank(rv.value) for rv in officer.values.values()):
            continue  # the officer table is optional, row by row
        figures = _parse_values(f, officer.values, ctx.fields, errors, required=True)
        errors.extend(_consistency(f, figures, officer.values, ctx.fields, person_rules))
        if len(figures) == len(ctx.fields):
            officers.append(OfficerFigures(code, figures))

    if officers and values:
        for fdef in ctx.fields:
            total = sum(o.values[fdef.key] for o in officers)
            unit_value = values.get(fdef.key)
            if unit_value is not None and total > unit_value:
                warnings.append(
                    ReportError(
                        f,
                        f"tổng số liệu của các cán bộ ({total}) lớn hơn số liệu của đơn vị ({unit_value}); "
                        "đề nghị kiểm tra lại",
                        sheet=raw.unit_where.sheet,
                        field=fdef.label,
                    )
                )
    return CheckedReport(raw.unit_code, raw.period_key, values, officers, is_correction, errors, warnings)


def changes_between(
    before: Mapping[str, int],
    after: Mapping[str, int],
    officers_before: Sequence[Mapping[str, Any]] = (),
    officers_after: Sequence[OfficerFigures] = (),
) -> dict[str, list[int | None]]:
    """{field: [old, new]} for every changed figure; officers' figures as "<person code>/<field>"."""
    out: dict[str, list[int | None]] = {}
    for key in [*before, *(k for k in after if k not in before)]:
        if before.get(key) != after.get(key):
            out[key] = [before.get(key), after.get(key)]
    old = {str(o["person_code"]): dict(o["values"]) for o in officers_before}
    new = {o.person_code: o.values for o in officers_after}
    for code in sorted(set(old) | set(new)):
        a, b = old.get(code, {}), new.get(code, {})
        for key in [*a, *(k for k in b if k not in a)]:
            if a.get(key) != b.get(key):
                out[f"{code}/{key}"] = [a.get(key), b.get(key)]
    return out


__all__ = [
    "CLOSED_STATUSES",
    "FINAL_KEY",
    "META_SHEET",
    "REPORT_SHEET",
    "CheckedReport",
    "OfficerFigures",
    "OfficerInfo",
    "PeriodInfo",
    "PreviousReport",
    "RawReport",
    "ReportContext",
    "ReportError",
    "TemplateInfo",
    "TemplateLayout",
    "UnitInfo",
    "build_layout",
    "changes_between",
    "check_report",
    "csv_header",
    "csv_rows",
    "normalise_period",
    "opens_on",
    "parse_count",
    "parse_mark",
    "read_csv_report",
    "read_xlsx_report",
    "split_ref",
]
