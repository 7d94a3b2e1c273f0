"""The organisation directory as a clerk writes it: header recognition, cell parsing and whole-import checks.

Pure functions over plain data (no database, no files): `tasks/core/directory.py` reads CSV/XLSX into lists of
cells, asks `parse_table` for typed rows, loads the existing directory into an `ExistingDirectory`, and lets
`check_import` validate everything at once. Any problem anywhere rejects the whole import
(`DirectoryImportError`, listing every `RowError` with file, spreadsheet row, column and what was wrong).

Three kinds of file, recognised from their header row (matched after NFC, case-insensitive, extra spaces
ignored; header = row 1, or the first non-empty row):

- units:      Mã đơn vị, Tên đơn vị, Mã đơn vị cấp trên, Cấp, Email, Địa danh
- people:     Mã cán bộ, Họ và tên, Chức danh, Mã đơn vị, Email, Thủ trưởng đơn vị (+ optional Đang công tác)
- discipline: Mã cán bộ, Hình thức, Ngày quyết định, Lý do   (dates dd/mm/yyyy)

Columns other than these are ignored, so a clerk may keep helper columns (STT, Ghi chú ...).

`Cấp` (unit level), compared without case or diacritics:

- the labels of `LEVEL_LABELS`: Bộ, Cục, Ban, Tỉnh, Khu vực, Phòng;
- names of the level from before and after the 2025 reorganisation: "Tổng cục", "Cục Quản lý THADS" → Cục;
  "Cục THADS tỉnh", "THADS tỉnh", "THADS tỉnh, thành phố", "Cấp tỉnh" → Tỉnh; "Chi cục", "Chi cục THADS",
  "Phòng THADS khu vực", "Cấp huyện" → Khu vực; "Phòng chuyên môn", "Phòng nghiệp vụ" → Phòng;
- "Văn phòng" is genuinely ambiguous: the Văn phòng of Cục Quản lý THADS is one of its 7 units (level Ban),
  while the Văn phòng of a provincial body is a department (level Phòng). It is resolved from the parent's
  level: under a Cục → Ban; under a Tỉnh or Khu vực → Phòng; under anything else it is an error asking the
  clerk to write "Ban" or "Phòng".

`Hình thức` accepts the labels of `DISCIPLINE_LABELS` (without case/diacritics, an optional leading
"Kỷ luật"/"Hình thức" ignored). `Thủ trưởng đơn vị` and `Đang công tác`: x / có / 1 / true / đúng → yes;
empty / không / 0 / false / sai → no (an empty `Đang công tác` means yes: people listed are working).

Codes are compared exactly (after trimming and NFC); a reference that only matches another case gets a hint.
Emails are stored in lower case. A unit has at most one head among its working people, counting the people
already in the database: to change a head, list the old one too with `Thủ trưởng đơn vị` empty.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from thidua.errors import InvalidInput, Problem
from thidua.models.labels import DISCIPLINE_LABELS, LEVEL_LABELS
from thidua.models.states import DisciplineForm, UnitLevel
from thidua.models.text import fmt_date, nfc, parse_date

Cell = str | int | float | bool | date | datetime | None


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class RowError:
    """One problem, located the way a clerk finds it in the spreadsheet (header = row 1)."""

    file: str
    row: int | None
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"dòng {self.row}")
        if self.column:
            where.append(f"cột “{self.column}”")
        return ", ".join(where) + ": " + self.problem

    def as_problem(self) -> Problem:
        return Problem(self.problem, file=self.file, row=self.row, column=self.column)


class DirectoryImportError(InvalidInput):
    """The import was rejected as a whole; nothing was written. `.errors` lists every problem found."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors: list[RowError] = list(errors)
        super().__init__(str(self), self.errors)

    def __str__(self) -> str:
        head = (
            f"Không nhập danh bạ: có {len(self.errors)} lỗi, cơ sở dữ liệu không thay đổi. "
            "Hãy sửa các lỗi sau rồi nhập lại toàn bộ:"
        )
        return "\n".join([head, *(f"- {e}" for e in self.errors)])


# ---------------------------------------------------------------- file kinds and columns


class FileKind(StrEnum):
    UNITS = "units"
    PEOPLE = "people"
    DISCIPLINE = "discipline"


KIND_LABELS: dict[FileKind, str] = {
    FileKind.UNITS: "danh sách đơn vị",
    FileKind.PEOPLE: "danh sách cán bộ",
    FileKind.DISCIPLINE: "danh sách kỷ luật",
}

# Column key -> header text, in the order a template shows them.
UNIT_COLUMNS: dict[str, str] = {
    "code": "Mã đơn vị",
    "name": "Tên đơn vị",
    "parent": "Mã đơn vị cấp trên",
    "level": "Cấp",
    "email": "Email",
    "place": "Địa danh",
}
PERSON_COLUMNS: dict[str, str] = {
    "code": "Mã cán bộ",
    "full_name": "Họ và tên",
    "title": "Chức danh",
    "unit": "Mã đơn vị",
    "email": "Email",
    "is_head": "Thủ trưởng đơn vị",
    "active": "Đang công tác",
}
DISCIPLINE_COLUMNS: dict[str, str] = {
    "person": "Mã cán bộ",
    "form": "Hình thức",
    "date": "Ngày quyết định",
    "reason": "Lý do",
}
COLUMNS: dict[FileKind, dict[str, str]] = {
    FileKind.UNITS: UNIT_COLUMNS,
    FileKind.PEOPLE: PERSON_COLUMNS,
    FileKind.DISCIPLINE: DISCIPLINE_COLUMNS,
}
OPTIONAL_COLUMNS: dict[FileKind, frozenset[str]] = {
    FileKind.UNITS: frozenset(),
    FileKind.PEOPLE: frozenset({"active"}),
    FileKind.DISCIPLINE: frozenset(),
}
# A header that only one kind has: enough to say which kind a file with missing columns was meant to be.
_SIGNATURE: dict[FileKind, str] = {
    FileKind.UNITS: "name",
    FileKind.PEOPLE: "full_name",
    FileKind.DISCIPLINE: "form",
}

# Database column widths (models/directory.py), checked here so a long value is a row error, not a crash.
MAX_LEN: dict[str, int] = {
    "code": 40,
    "name": 300,
    "email": 254,
    "place": 100,
    "full_name": 200,
    "title": 100,
    "reason": 1000,
}


def expected_headers(kind: FileKind) -> str:
    return ", ".join(COLUMNS[kind].values())


# ---------------------------------------------------------------- text helpers


def fold(text: str) -> str:
    """Lower case, no diacritics, single spaces: for comparing words a clerk may type many ways."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def _header_key(text: str) -> str:
    return " ".join(nfc(text).casefold().split())


def cell_text(cell: Cell) -> str | None:
    """A cell as trimmed NFC text; Excel numbers that are whole lose their '.0', dates become dd/mm/yyyy."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime | date):
        return fmt_date(cell)
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    text = nfc(str(cell))
    return text or None


def _squash(text: str) -> str:
    # Names typed in Word/Excel often carry double or non-breaking spaces.
    return " ".join(text.split())


_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$"
)


def parse_email(text: str) -> str:
    value = text.strip().lower()
    if not _EMAIL.match(value):
        raise ValueError(
            f"“{text}” không phải địa chỉ email hợp lệ (cần một địa chỉ dạng ten@donvi.gov.vn, "
            "không dấu, không khoảng trắng)"
        )
    return value


# ---------------------------------------------------------------- levels, forms, yes/no

OFFICE = "van_phong"  # "Văn phòng": Ban or Phòng depending on the parent (see module docstring)

_LEVEL_SYNONYMS: dict[str, UnitLevel | str] = {fold(label): level for level, label in LEVEL_LABELS.items()}
_LEVEL_SYNONYMS.update(
    {
        fold(text): level
        for level, texts in {
            UnitLevel.BO: ["Bộ Tư pháp", "Cấp bộ"],
            UnitLevel.CUC: [
                "Tổng cục",
                "Tổng cục THADS",
                "Tổng cục Thi hành án dân sự",
                "Cục Quản lý THADS",
                "Cục Quản lý thi hành án dân sự",
                "Cấp cục",
            ],
            UnitLevel.BAN: ["Ban thuộc Cục", "Cấp ban"],
            UnitLevel.TINH: [
                "Cấp tỉnh",
                "THADS tỉnh",
                "THADS thành phố",
                "THADS tỉnh, thành phố",
                "Thi hành án dân sự tỉnh",
                "Thi hành án dân sự tỉnh, thành phố",
                "Cục THADS tỉnh",
                "Cục THADS",
                "Cục Thi hành án dân sự tỉnh",
                "Tỉnh, thành phố",
                "Tỉnh/thành phố",
            ],
            UnitLevel.KHU_VUC: [
                "Cấp khu vực",
                "Phòng THADS khu vực",
                "Phòng Thi hành án dân sự khu vực",
                "Chi cục",
                "Chi cục THADS",
                "Chi cục Thi hành án dân sự",
                "Cấp huyện",
                "Huyện",
            ],
            UnitLevel.PHONG: ["Cấp phòng", "Phòng chuyên môn", "Phòng nghiệp vụ", "Phòng thuộc Cục"],
        }.items()
        for text in texts
    }
)
_LEVEL_SYNONYMS[fold("Văn phòng")] = OFFICE
_LEVEL_SYNONYMS[fold("Văn phòng Cục")] = OFFICE


def parse_level(text: str) -> UnitLevel | str:
    """A UnitLevel, or OFFICE for "Văn phòng" (resolved against the parent later)."""
    found = _LEVEL_SYNONYMS.get(fold(text))
    if found is None:
        labels = ", ".join(LEVEL_LABELS.values())
        raise ValueError(
            f"“{text}” không phải cấp đơn vị hợp lệ; cần một trong: {labels} "
            "(cũng nhận: Chi cục, Phòng THADS khu vực, Cục THADS tỉnh, Văn phòng)"
        )
    return found


def resolve_office(parent_level: UnitLevel | None) -> UnitLevel | None:
    """The level "Văn phòng" stands for under a parent of this level (None when it cannot be told)."""
    if parent_level is UnitLevel.CUC:
        return UnitLevel.BAN
    if parent_level in (UnitLevel.TINH, UnitLevel.KHU_VUC):
        return UnitLevel.PHONG
    return None


_FORM_SYNONYMS: dict[str, DisciplineForm] = {fold(label): form for form, label in DISCIPLINE_LABELS.items()}
_FORM_SYNONYMS.update({fold(form.value.replace("_", " ")): form for form in DisciplineForm})


def parse_form(text: str) -> DisciplineForm:
    key = fold(text)
    for prefix in ("ky luat ", "hinh thuc ", "bi "):
        if key.startswith(prefix) and key not in _FORM_SYNONYMS:
            key = key[len(prefix) :]
    found = _FORM_SYNONYMS.get(key)
    if found is None:
        labels = ", ".join(DISCIPLINE_LABELS.values())
        raise ValueError(f"“{text}” không phải hình thức kỷ luật hợp lệ; cần một trong: {labels}")
    return found


_YES = frozenset({"x", "co", "1", "true", "yes", "dung", "v"})
_NO = frozenset({"", "khong", "0", "false", "no", "sai"})


def parse_yes_no(text: str | None, *, empty: bool = False) -> bool:
    key = fold(text or "")
    if not key:
        return empty
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise ValueError(
        f"“{text}” không rõ có hay không; ghi “x” (hoặc “có”) nếu đúng, để trống (hoặc “không”) nếu không"
    )


# ---------------------------------------------------------------- typed rows


@dataclass(frozen=True)
class UnitRow:
    file: str
    row: int
    code: str
    name: str
    parent_code: str | None
    level: UnitLevel | None  # None: unknown (error reported) or "Văn phòng" not yet resolved
    email: str | None
    place_name: str | None
    office: bool = False  # written as "Văn phòng": level comes from the parent


@dataclass(frozen=True)
class PersonRow:
    file: str
    row: int
    code: str
    full_name: str
    title: str
    unit_code: str
    email: str | None
    is_head: bool
    active: bool


@dataclass(frozen=True)
class DisciplineRow:
    file: str
    row: int
    person_code: str
    form: DisciplineForm
    decision_date: date
    reason: str | None


@dataclass
class ParsedFile:
    """One file's typed rows (only rows whose key columns parsed) and every problem found in it."""

    file: str
    kind: FileKind | None
    units: list[UnitRow] = field(default_factory=list)
    people: list[PersonRow] = field(default_factory=list)
    discipline: list[DisciplineRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


_UNRECOGNISED = "không nhận ra loại tệp"


def detect_kind(header: Sequence[Cell]) -> tuple[FileKind | None, dict[str, int], str | None]:
    """(kind, column key -> cell index, problem) from a header row."""
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = cell_text(cell)
        if text and _header_key(text) not in positions:
            positions[_header_key(text)] = index
    complete: list[tuple[FileKind, dict[str, int]]] = []
    partial: list[tuple[int, FileKind, list[str]]] = []
    for kind, columns in COLUMNS.items():
        found = {
            key: positions[_header_key(text)]
            for key, text in columns.items()
            if _header_key(text) in positions
        }
        missing = [
            text for key, text in columns.items() if key not in found and key not in OPTIONAL_COLUMNS[kind]
        ]
        if not missing:
            complete.append((kind, found))
        elif _SIGNATURE[kind] in found:
            partial.append((len(found), kind, missing))
    if len(complete) == 1:
        return complete[0][0], complete[0][1], None
    if len(complete) > 1:
        kinds = " và ".join(KIND_LABELS[k] for k, _ in complete)
        return None, {}, f"dòng tiêu đề có cột của cả {kinds}; mỗi tệp chỉ chứa một loại danh sách"
    if partial:
        _, kind, missing = max(partial, key=lambda p: p[0])
        return (
            None,
            {},
            f"tệp có vẻ là {KIND_LABELS[kind]} nhưng thiếu cột: {', '.join(missing)} "
            f"(cần đủ các cột: {expected_headers(kind)})",
        )
    expected = "; ".join(f"{KIND_LABELS[k]}: {expected_headers(k)}" for k in FileKind)
    return (
        None,
        {},
        f"{_UNRECOGNISED} từ dòng tiêu đề; dòng tiêu đề phải có các cột của một trong: {expected}",
    )


# How far down a sheet the header is looked for: clerks often put a title ("DANH SÁCH CÁN BỘ") above it.
HEADER_SEARCH_ROWS = 10


def parse_table(file: str, rows: Iterable[Sequence[Cell]]) -> ParsedFile:
    """Typed rows of one sheet; `rows` starts at spreadsheet row 1.

    The header is the first of the top HEADER_SEARCH_ROWS rows that names a kind of file; when none does, the
    problem is reported against the row that looked most like a header (else the first non-empty row).
    """
    iterator = iter(enumerate(rows, start=1))
    first: tuple[int, str] | None = None
    kind: FileKind | None = None
    positions: dict[str, int] = {}
    for number, cells in iterator:
        if not any(cell_text(c) for c in cells):
            continue
        kind, positions, problem = detect_kind(cells)
        if first is None or (
            problem and not problem.startswith(_UNRECOGNISED) and first[1].startswith(_UNRECOGNISED)
        ):
            first = (number, problem or "")
        if kind is not None or number >= HEADER_SEARCH_ROWS:
            break
    if first is None:
        return ParsedFile(file, None, errors=[RowError(file, None, None, "tệp trống, không có dòng tiêu đề")])
    if kind is None:
        return ParsedFile(file, None, errors=[RowError(file, first[0], None, first[1])])
    parsed = ParsedFile(file, kind)
    labels = COLUMNS[kind]
    for number, cells in iterator:
        values = {key: cell_text(cells[i]) if i < len(cells) else None for key, i in positions.items()}
        if not any(values.values()):
            continue  # blank lines between blocks are common in hand-made sheets
        row = _RowReader(file, number, labels, values, parsed.errors)
        if kind is FileKind.UNITS:
            _parse_unit(row, parsed)
        elif kind is FileKind.PEOPLE:
            _parse_person(row, parsed)
        else:
            _parse_discipline(row, parsed)
    return parsed


class _RowReader:
    """Reads one row's columns, recording each problem against its column."""

    def __init__(
        self,
        file: str,
        row: int,
        labels: Mapping[str, str],
        values: Mapping[str, str | None],
        errors: list[RowError],
    ) -> None:
        self.file, self.row, self.labels, self.values, self.errors = file, row, labels, values, errors
        self.ok = True

    def error(self, key: str, problem: str) -> None:
        self.ok = False
        self.errors.append(RowError(self.file, self.row, self.labels[key], problem))

    def text(self, key: str, *, required: bool, squash: bool = False) -> str | None:
        value = self.values.get(key)
        if value is not None and squash:
            value = _squash(value)
        if not value:
            if required:
                self.error(key, "thiếu giá trị (cột này bắt buộc)")
            return None
        limit = MAX_LEN.get(key)
        if limit is not None and len(value) > limit:
            self.error(key, f"dài {len(value)} ký tự, quá giới hạn {limit} ký tự")
            return None
        return value

    def email(self, key: str) -> str | None:
        value = self.text(key, required=False)
        if value is None:
            return None
        try:
            return parse_email(value)
        except ValueError as exc:
            self.error(key, str(exc))
            return None

    def yes_no(self, key: str, *, empty: bool) -> bool:
        try:
            return parse_yes_no(self.values.get(key), empty=empty)
        except ValueError as exc:
            self.error(key, str(exc))
            return empty


def _parse_unit(r: _RowReader, out: ParsedFile) -> None:
    code = r.text("code", required=True)
    name = r.text("name", required=True, squash=True)
    parent = r.text("parent", required=False)
    level_text = r.text("level", required=True)
    level: UnitLevel | None = None
    office = False
    if level_text is not None:
        try:
            found = parse_level(level_text)
        except ValueError as exc:
            r.error("level", str(exc))
        else:
            office = found == OFFICE
            level = None if office else UnitLevel(found)
    email = r.email("email")
    place = r.text("place", required=False, squash=True)
    if code is not None:
        out.units.append(UnitRow(r.file, r.row, code, name or "", parent, level, email, place, office))


def _parse_person(r: _RowReader, out: ParsedFile) -> None:
    code = r.text("code", required=True)
    full_name = r.text("full_name", required=True, squash=True)
    title = r.text("title", required=True, squash=True)
    unit = r.text("unit", required=True)
    email = r.email("email")
    is_head = r.yes_no("is_head", empty=False)
    active = r.yes_no("active", empty=True)
    if code is not None:
        out.people.append(
            PersonRow(r.file, r.row, code, full_name or "", title or "", unit or "", email, is_head, active)
        )


def _parse_discipline(r: _RowReader, out: ParsedFile) -> None:
    person = r.text("person", required=True)
    form_text = r.text("form", required=True)
    form: DisciplineForm | None = None
    if form_text is not None:
        try:
            form = parse_form(form_text)
        except ValueError as exc:
            r.error("form", str(exc))
    date_text = r.text("date", required=True)
    decided: date | None = None
    if date_text is not None:
        try:
            decided = parse_date(date_text)
        except ValueError as exc:
            r.error("date", str(exc))
    reason = r.text("reason", required=False)
    if person is not None and form is not None and decided is not None:
        out.discipline.append(DisciplineRow(r.file, r.row, person, form, decided, reason))


# ---------------------------------------------------------------- the whole import against the database


@dataclass(frozen=True)
class ExistingUnit:
    code: str
    parent_code: str | None
    level: UnitLevel


@dataclass(frozen=True)
class ExistingPerson:
    code: str
    full_name: str
    unit_code: str
    is_head: bool
    active: bool


@dataclass(frozen=True)
class ExistingDirectory:
    """What the database holds, by code (only what the checks need)."""

    units: Mapping[str, ExistingUnit] = field(default_factory=dict)
    people: Mapping[str, ExistingPerson] = field(default_factory=dict)


@dataclass(frozen=True)
class DirectoryPlan:
    """A fully validated import: every unit has a concrete level, every reference resolves."""

    units: list[UnitRow]
    people: list[PersonRow]
    discipline: list[DisciplineRow]


def _where(file: str, row: int) -> str:
    return f"dòng {row} của tệp {file}"


def _case_hint(code: str, known: Iterable[str]) -> str:
    folded = code.casefold()
    same = sorted(k for k in known if k.casefold() == folded and k != code)
    return f" (có mã “{same[0]}”: mã phân biệt chữ hoa, chữ thường)" if same else ""


def check_import(files: Sequence[ParsedFile], existing: ExistingDirectory) -> DirectoryPlan:
    """Validate all files together against the database; raise DirectoryImportError listing every problem."""
    errors: list[RowError] = [e for f in files for e in f.errors]
    units = _dedupe_units(files, errors)
    people = _dedupe_people(files, errors)
    discipline = _dedupe_discipline(files, errors)

    units = _check_tree(units, existing, errors)
    unit_codes = {u.code for u in units} | set(existing.units)
    for p in people:
        if p.unit_code and p.unit_code not in unit_codes:
            errors.append(
                RowError(
                    p.file,
                    p.row,
                    PERSON_COLUMNS["unit"],
                    f"không có đơn vị mã “{p.unit_code}” (không có trong tệp đơn vị nhập cùng, "
                    f"cũng không có trong cơ sở dữ liệu){_case_hint(p.unit_code, unit_codes)}",
                )
            )
    _check_heads(people, existing, errors)
    person_codes = {p.code for p in people} | set(existing.people)
    for d in discipline:
        if d.person_code not in person_codes:
            errors.append(
                RowError(
                    d.file,
                    d.row,
                    DISCIPLINE_COLUMNS["person"],
                    f"không có cán bộ mã “{d.person_code}” (không có trong tệp cán bộ nhập cùng, "
                    f"cũng không có trong cơ sở dữ liệu){_case_hint(d.person_code, person_codes)}",
                )
            )
    if errors:
        order = {f.file: i for i, f in enumerate(files)}
        errors.sort(key=lambda e: (order.get(e.file, len(order)), e.row or 0))
        raise DirectoryImportError(errors)
    return DirectoryPlan(units, people, discipline)


_Row = TypeVar("_Row", UnitRow, PersonRow, DisciplineRow)


def _first_of_each(
    rows: Iterable[_Row],
    key: Callable[[_Row], Hashable],
    column: str,
    what: Callable[[_Row], str],
    errors: list[RowError],
) -> list[_Row]:
    """The first row of each key across all files; each later one is an error naming where the first is."""
    seen: dict[Hashable, _Row] = {}
    for row in rows:
        first = seen.setdefault(key(row), row)
        if first is not row:
            errors.append(
                RowError(
                    row.file,
                    row.row,
                    column,
                    f"{what(row)} bị trùng: đã có ở {_where(first.file, first.row)}",
                )
            )
    return list(seen.values())


def _dedupe_units(files: Sequence[ParsedFile], errors: list[RowError]) -> list[UnitRow]:
    return _first_of_each(
        (u for f in files for u in f.units),
        lambda u: u.code,
        UNIT_COLUMNS["code"],
        lambda u: f"mã đơn vị “{u.code}”",
        errors,
    )


def _dedupe_people(files: Sequence[ParsedFile], errors: list[RowError]) -> list[PersonRow]:
    return _first_of_each(
        (p for f in files for p in f.people),
        lambda p: p.code,
        PERSON_COLUMNS["code"],
        lambda p: f"mã cán bộ “{p.code}”",
        errors,
    )


def _dedupe_discipline(files: Sequence[ParsedFile], errors: list[RowError]) -> list[DisciplineRow]:
    return _first_of_each(
        (d for f in files for d in f.discipline),
        lambda d: (d.person_code, d.form, d.decision_date),
        DISCIPLINE_COLUMNS["person"],
        lambda d: (
            f"quyết định kỷ luật (cán bộ “{d.person_code}”, {DISCIPLINE_LABELS[d.form]}, "
            f"ngày {fmt_date(d.decision_date)})"
        ),
        errors,
    )


def _check_tree(units: list[UnitRow], existing: ExistingDirectory, errors: list[RowError]) -> list[UnitRow]:
    """Parents exist, no unit is its own ancestor, "Văn phòng" gets a level; returns rows with levels set."""
    col_parent = UNIT_COLUMNS["parent"]
    by_code = {u.code: u for u in units}
    parent_of: dict[str, str | None] = {code: e.parent_code for code, e in existing.units.items()}
    parent_of.update({u.code: u.parent_code for u in units})
    known = set(parent_of)

    bad_parent: set[str] = set()
    for u in units:
        if u.parent_code is None:
            continue
        if u.parent_code == u.code:
            errors.append(
                RowError(u.file, u.row, col_parent, f"đơn vị “{u.code}” không thể là cấp trên của chính nó")
            )
            bad_parent.add(u.code)
        elif u.parent_code not in known:
            errors.append(
                RowError(
                    u.file,
                    u.row,
                    col_parent,
                    f"không có đơn vị cấp trên mã “{u.parent_code}” (không có trong tệp, cũng không có trong "
                    f"cơ sở dữ liệu){_case_hint(u.parent_code, known)}",
                )
            )
            bad_parent.add(u.code)

    # Cycles: walk up from each imported unit over the tree as it would be after the import.
    reported: set[str] = set(bad_parent)
    for u in units:
        if u.code in reported:
            continue
        path: list[str] = [u.code]
        on_path = {u.code}
        current = parent_of.get(u.code)
        while current is not None and current not in on_path and current not in bad_parent:
            path.append(current)
            on_path.add(current)
            current = parent_of.get(current)
        if current is None or current in bad_parent or current != u.code:
            # A root, a reported error, or a loop above this unit (reported from its own members).
            continue
        loop = " → ".join([*path, u.code])
        for code in path:
            member = by_code.get(code)
            if member is not None and code not in reported:
                reported.add(code)
                origin = (
                    "" if all(c in by_code for c in path) else " (một phần vòng lặp nằm trong cơ sở dữ liệu)"
                )
                errors.append(
                    RowError(
                        member.file,
                        member.row,
                        col_parent,
                        f"tạo vòng lặp trong cây đơn vị: {loop}{origin}; một đơn vị không thể nằm dưới "
                        "chính đơn vị cấp dưới của nó",
                    )
                )

    resolved: list[UnitRow] = []
    for u in units:
        if not u.office:
            resolved.append(u)
            continue
        parent_level: UnitLevel | None = None
        if u.parent_code in by_code:
            parent_row = by_code[u.parent_code]
            parent_level = parent_row.level
        elif u.parent_code is not None and u.parent_code in existing.units:
            parent_level = existing.units[u.parent_code].level
        level = resolve_office(parent_level)
        if level is None and u.code not in bad_parent:
            errors.append(
                RowError(
                    u.file,
                    u.row,
                    UNIT_COLUMNS["level"],
                    "“Văn phòng” chỉ tự xác định được cấp khi đơn vị cấp trên là Cục (→ Ban) hoặc "
                    "Tỉnh/Khu vực (→ Phòng); hãy ghi rõ “Ban” hoặc “Phòng”",
                )
            )
        resolved.append(replace(u, level=level))
    return resolved


def _check_heads(people: list[PersonRow], existing: ExistingDirectory, errors: list[RowError]) -> None:
    # The heads each unit would have after the import: the database's people, overridden by the file's.
    heads: dict[str, list[tuple[str, PersonRow | None, str]]] = {}
    imported = {p.code for p in people}
    for e in existing.people.values():
        if e.code not in imported and e.is_head and e.active:
            heads.setdefault(e.unit_code, []).append((e.code, None, e.full_name))
    for p in people:
        if p.is_head and p.active:
            heads.setdefault(p.unit_code, []).append((p.code, p, p.full_name))
    for unit_code, found in heads.items():
        if len(found) < 2 or all(row is None for _, row, _ in found):
            continue
        names = "; ".join(
            f"{name} (mã {code}, {_where(row.file, row.row) if row else 'đã có trong cơ sở dữ liệu'})"
            for code, row, name in found
        )
        for _, row, _ in found:
            if row is not None:
                errors.append(
                    RowError(
                        row.file,
                        row.row,
                        PERSON_COLUMNS["is_head"],
                        f"đơn vị “{unit_code}” có {len(found)} thủ trưởng: {names}; mỗi đơn vị chỉ có một "
                        "thủ trưởng (để đổi thủ trưởng, ghi cả người cũ với cột này để trống)",
                    )
                )
