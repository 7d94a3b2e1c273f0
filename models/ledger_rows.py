"""A case ledger (sổ thụ lý) as a clerk exports it: header recognition and row validation, one row at a time.

Pure (no files, no database): tasks/collect/ledger.py streams the cells of a CSV or XLSX file through a
`LedgerRowParser`, which yields database-ready tuples for good rows and collects a `RowError` (file, row,
column, problem) for each bad one. Any error rejects the whole file.

## Columns (one row per case; header = the first non-empty row)

| column                  | content                                                                       |
| ----------------------- | ----------------------------------------------------------------------------- |
| `Mã việc`               | case id, unique in the file (≤ 60 characters)                                 |
| `Mã đơn vị`             | code of the unit handling the case: an enrolled unit of the campaign          |
| `Mã chấp hành viên`     | person code of the officer (Chấp hành viên); may be empty                     |
| `Ngày thụ lý`           | date received                                                                 |
| `Ngày có điều kiện`     | date the case became enforceable ("có điều kiện"); empty = never              |
| `Trạng thái`            | đang thi hành, hoãn, tạm đình chỉ, tạm dừng, xong, đình chỉ, chưa có điều     |
|                         | kiện, ủy thác, trả đơn (case and diacritics ignored; "thi hành xong",         |
|                         | "đình chỉ thi hành án" ... accepted)                                          |
| `Ngày trạng thái`       | date of that status; required for xong, đình chỉ, chưa có điều kiện, ủy thác, |
|                         | trả đơn                                                                       |
| `Số tiền phải thi hành` | VND, a whole number (1234567, 1.234.567 or 1,234,567); empty = 0              |
| `Số tiền đã thu`        | VND, a whole number; empty = 0; not more than the amount owed                 |

Headers are matched without case or diacritics, a trailing unit in brackets ("(đồng)", "(VND)") ignored;
other columns (STT, Ghi chú ...) are ignored. Dates are dd/mm/yyyy (also d/m/yyyy, yyyy-mm-dd, or Excel
dates). CSV files are UTF-8 (with or without BOM), separated by `,`, `;` or tab.

Row checks: Ngày thụ lý ≤ Ngày có điều kiện; Ngày thụ lý ≤ Ngày trạng thái; for a status that closes the
case, Ngày có điều kiện ≤ Ngày trạng thái; no date after the ledger's "as of" date; known unit and officer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date, datetime
from operator import itemgetter

from thidua.errors import InvalidInput
from thidua.models.directory_rows import Cell, RowError, fold
from thidua.models.ledger_rules import CLOSING, STATUS_LABELS, Case, Status
from thidua.models.text import fmt_date, parse_date

MAX_ERRORS = 100

# Column key -> header text, in the order the demo and the README show them.
LEDGER_COLUMNS: dict[str, str] = {
    "case_id": "Mã việc",
    "unit_code": "Mã đơn vị",
    "officer_code": "Mã chấp hành viên",
    "received_date": "Ngày thụ lý",
    "conditions_date": "Ngày có điều kiện",
    "status": "Trạng thái",
    "status_date": "Ngày trạng thái",
    "amount_owed": "Số tiền phải thi hành",
    "amount_collected": "Số tiền đã thu",
}
# Other spellings seen in exports, folded.
_HEADER_ALIASES: dict[str, str] = {
    "ma chv": "officer_code",
    "ma can bo": "officer_code",
    "ngay co dieu kien thi hanh": "conditions_date",
    "so tien phai thi hanh an": "amount_owed",
    "so tien da thu duoc": "amount_collected",
    "so tien thuc thu": "amount_collected",
}
# The database row: LedgerCase columns in this order (dates as ISO text, which SQLite stores and COPY reads).
DB_COLUMNS: tuple[str, ...] = tuple(LEDGER_COLUMNS)
LedgerTuple = tuple[str, str, str | None, str, str | None, str, str | None, int, int]

_STATUS_WORDS: dict[str, Status] = {
    "dang thi hanh": Status.DANG_THI_HANH,
    "dang thi hanh an": Status.DANG_THI_HANH,
    "dang to chuc thi hanh": Status.DANG_THI_HANH,
    "hoan": Status.HOAN,
    "hoan thi hanh": Status.HOAN,
    "hoan thi hanh an": Status.HOAN,
    "tam dinh chi": Status.TAM_DINH_CHI,
    "tam dinh chi thi hanh": Status.TAM_DINH_CHI,
    "tam dinh chi thi hanh an": Status.TAM_DINH_CHI,
    "tam dung": Status.TAM_DUNG,
    "tam dung thi hanh": Status.TAM_DUNG,
    "tam dung thi hanh an": Status.TAM_DUNG,
    "xong": Status.XONG,
    "thi hanh xong": Status.XONG,
    "da thi hanh xong": Status.XONG,
    "dinh chi": Status.DINH_CHI,
    "dinh chi thi hanh": Status.DINH_CHI,
    "dinh chi thi hanh an": Status.DINH_CHI,
    "chua co dieu kien": Status.CHUA_CO_DIEU_KIEN,
    "chua co dieu kien thi hanh": Status.CHUA_CO_DIEU_KIEN,
    "chua co dieu kien thi hanh an": Status.CHUA_CO_DIEU_KIEN,
    "uy thac": Status.UY_THAC,
    "uy thac thi hanh an": Status.UY_THAC,
    "da uy thac": Status.UY_THAC,
    "tra don": Status.TRA_DON,
    "tra don yeu cau": Status.TRA_DON,
    "tra don yeu cau thi hanh an": Status.TRA_DON,
}
for _status in Status:  # the codes themselves ("dang_thi_hanh") are accepted too
    _STATUS_WORDS[_status.value.replace("_", " ")] = _status

_CLOSING_CODES: frozenset[str] = frozenset(s.value for s in CLOSING)
_CACHE_LIMIT = 200_000  # distinct date or status spellings remembered; a ledger has a few thousand


class LedgerFileError(InvalidInput):
    """The file cannot be read as a ledger at all (no header, missing columns)."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        super().__init__("Không đọc được tệp sổ thụ lý", self.errors)


def _header_key(cell: Cell) -> str:
    text = fold(str(cell)) if cell is not None else ""
    if text.endswith(")") and "(" in text:  # "Số tiền phải thi hành (đồng)"
        text = text[: text.rindex("(")].strip()
    return text


_FOLDED_COLUMNS: dict[str, str] = {fold(v): k for k, v in LEDGER_COLUMNS.items()} | _HEADER_ALIASES


def status_of(text: str) -> Status | None:
    """A status as a clerk writes it, or None when unknown."""
    return _STATUS_WORDS.get(" ".join(fold(text).replace("_", " ").split()))


def _text(cell: Cell) -> str | None:
    """Trimmed NFC text; whole Excel numbers lose their '.0'."""
    if cell is None:
        return None
    if isinstance(cell, str):
        text = cell.strip()
        if text and not text.isascii():
            text = unicodedata.normalize("NFC", text)
        return text or None
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date):
        return fmt_date(cell)
    return str(cell).strip() or None


class LedgerRowParser:
    """Validates the rows of one ledger file; `rows()` yields the good ones, `errors` lists the bad ones.

    `units` / `officers`: the codes allowed (None = not checked). With `check_duplicates` the parser
    remembers every case id it has seen (a dict of a million strings for a national ledger); the import
    leaves that to the database's unique key instead and only comes back here when the key objects.
    """

    def __init__(
        self,
        file_label: str,
        header: Sequence[Cell],
        *,
        header_row: int = 1,
        as_of: date,
        units: Collection[str] | None = None,
        officers: Collection[str] | None = None,
        max_errors: int = MAX_ERRORS,
        check_duplicates: bool = True,
    ) -> None:
        self.file = file_label
        self.as_of = as_of
        self._as_of_iso = as_of.isoformat()
        self.units = frozenset(units) if units is not None else None
        self.officers = frozenset(officers) if officers is not None else None
        self.max_errors = max_errors
        self.errors: list[RowError] = []
        self.check_duplicates = check_duplicates
        self._seen: dict[str, int] = {}
        self._dates: dict[object, str] = {}
        self._statuses: dict[str, Status] = {}
        self._fast_status: dict[str, str] = {}  # the cell as written -> status code, for the fast path
        self._index = self._columns(header, header_row)
        # The usual export has exactly these columns in this order: rows unpack without a lookup.
        order = [self._index[key] for key in LEDGER_COLUMNS]
        self._in_order = len(header) == len(LEDGER_COLUMNS) and order == list(range(len(LEDGER_COLUMNS)))

    # ------------------------------------------------------------ header

    def _columns(self, header: Sequence[Cell], header_row: int) -> dict[str, int]:
        found: dict[str, int] = {}
        for i, cell in enumerate(header):
            key = _FOLDED_COLUMNS.get(_header_key(cell))
            if key is not None and key not in found:
                found[key] = i
        missing = [LEDGER_COLUMNS[k] for k in LEDGER_COLUMNS if k not in found]
        if missing:
            problem = (
                "thiếu cột "
                + ", ".join(f"“{m}”" for m in missing)
                + ". Dòng tiêu đề phải có: "
                + ", ".join(LEDGER_COLUMNS.values())
            )
            raise LedgerFileError([RowError(self.file, header_row, None, problem)])
        return found

    # ------------------------------------------------------------ rows

    @property
    def full(self) -> bool:
        return len(self.errors) >= self.max_errors

    def _error(self, row: int, key: str | None, problem: str) -> None:
        if len(self.errors) < self.max_errors:
            self.errors.append(RowError(self.file, row, LEDGER_COLUMNS[key] if key else None, problem))

    def rows(self, numbered: Iterable[tuple[int, Sequence[Cell]]]) -> Iterator[LedgerTuple]:
        """Good rows as database tuples; stops reading once `max_errors` errors are collected.

        A million-row ledger spends most of its import time here, so rows read from CSV (lists of text) go
        through a fast path first: it accepts only a row the full check would accept unchanged (known
        spellings of dates and statuses, codes already trimmed, plain integers) and hands anything else to
        `parse`, which reports the problems. Both paths give the same tuple for the same row.
        """
        pick = itemgetter(*(self._index[key] for key in LEDGER_COLUMNS))
        in_order = self._in_order
        check_duplicates = self.check_duplicates
        fast = self.units is not None and self.officers is not None
        units = self.units or frozenset()
        officers = self.officers or frozenset()
        dates, statuses, seen = self._dates, self._fast_status, self._seen
        closing = _CLOSING_CODES
        slow = self.parse
        errors, limit = self.errors, self.max_errors
        for number, cells in numbered:
            if fast and type(cells) is list:
                try:
                    cid, unit, officer, rec, cond, st, sd, owed, coll = cells if in_order else pick(cells)
                    received = dates[rec]
                    conditions = dates[cond] if cond else None
                    status_date = dates[sd] if sd else None
                    code = statuses[st]
                    owed_value = int(owed) if owed else 0
                    collected_value = int(coll) if coll else 0
                except (IndexError, KeyError, ValueError, TypeError):
                    pass
                else:
                    if (
                        0 < len(cid) <= 60
                        and cid.isascii()
                        and cid.strip() == cid
                        and unit in units
                        and (not officer or officer in officers)
                        and 0 <= collected_value <= owed_value < 2**63
                        and (conditions is None or conditions >= received)
                        and (status_date is None or status_date >= received)
                        and (
                            code not in closing
                            or (status_date is not None and (conditions is None or status_date >= conditions))
                        )
                        and (not check_duplicates or seen.setdefault(cid, number) == number)
                    ):
                        yield (
                            cid, unit, officer or None, received, conditions, code, status_date, owed_value,
                            collected_value,
                        )  # fmt: skip
                        continue
            parsed = slow(number, cells)
            if parsed is not None:
                yield parsed
            elif len(errors) >= limit:
                return

    def parse(self, row: int, cells: Sequence[Cell]) -> LedgerTuple | None:
        """One row as a database tuple, or None (blank row, or errors recorded)."""
        idx = self._index
        width = len(cells)

        def cell(key: str) -> Cell:
            i = idx[key]
            return cells[i] if i < width else None

        case_id = _text(cell("case_id"))
        unit = _text(cell("unit_code"))
        officer = _text(cell("officer_code"))
        received_cell = cell("received_date")
        conditions_cell = cell("conditions_date")
        status_cell = cell("status")
        status_date_cell = cell("status_date")
        owed_cell = cell("amount_owed")
        collected_cell = cell("amount_collected")
        if (
            case_id is None
            and unit is None
            and all(
                _blank(c)
                for c in (
                    officer,
                    received_cell,
                    conditions_cell,
                    status_cell,
                    status_date_cell,
                    owed_cell,
                    collected_cell,
                )
            )
        ):
            return None  # a blank line between blocks of the export

        before = len(self.errors)
        if case_id is None:
            self._error(row, "case_id", "thiếu mã việc")
        elif len(case_id) > 60:
            self._error(row, "case_id", "mã việc dài quá 60 ký tự")
        elif self.check_duplicates:
            first = self._seen.setdefault(case_id, row)
            if first != row:
                self._error(row, "case_id", f"mã việc “{case_id}” bị lặp (đã có ở dòng {first})")

        if unit is None:
            self._error(row, "unit_code", "thiếu mã đơn vị")
        elif self.units is not None and unit not in self.units:
            self._error(
                row, "unit_code", f"đơn vị “{unit}” không tham gia phong trào (không có trong danh sách)"
            )
        elif len(unit) > 40:
            self._error(row, "unit_code", "mã đơn vị dài quá 40 ký tự")

        if officer is not None:
            if self.officers is not None and officer not in self.officers:
                self._error(
                    row, "officer_code", f"cán bộ “{officer}” không có trong danh sách cán bộ của phong trào"
                )
            elif len(officer) > 40:
                self._error(row, "officer_code", "mã cán bộ dài quá 40 ký tự")

        received = self._date(row, "received_date", received_cell, required=True)
        conditions = self._date(row, "conditions_date", conditions_cell, required=False)
        status_date = self._date(row, "status_date", status_date_cell, required=False)
        status = self._status(row, status_cell)
        owed = self._amount(row, "amount_owed", owed_cell)
        collected = self._amount(row, "amount_collected", collected_cell)

        # ISO text compares like the dates it spells.
        if received is not None:
            if conditions is not None and conditions < received:
                self._error(row, "conditions_date", "Ngày có điều kiện trước Ngày thụ lý")
            if status_date is not None and status_date < received:
                self._error(row, "status_date", "Ngày trạng thái trước Ngày thụ lý")
        if status is not None and status in CLOSING:
            if status_date is None:
                if _blank(status_date_cell):  # otherwise the unreadable date is already reported
                    message = f"trạng thái “{STATUS_LABELS[status]}” cần Ngày trạng thái"
                    self._error(row, "status_date", message)
            elif conditions is not None and status_date < conditions:
                self._error(
                    row,
                    "status_date",
                    f"Ngày trạng thái (“{STATUS_LABELS[status]}”) trước Ngày có điều kiện",
                )
        if owed is not None and collected is not None and collected > owed:
            self._error(row, "amount_collected", "Số tiền đã thu lớn hơn Số tiền phải thi hành")

        if len(self.errors) != before or self.full:
            return None
        assert case_id is not None and unit is not None and received is not None and status is not None
        assert owed is not None and collected is not None
        return (case_id, unit, officer, received, conditions, status.value, status_date, owed, collected)

    # ------------------------------------------------------------ cells

    def _date(self, row: int, key: str, cell: Cell, *, required: bool) -> str | None:
        if _blank(cell):
            if required:
                self._error(row, key, "thiếu ngày (dạng dd/mm/yyyy)")
            return None
        iso = self._dates.get(cell)  # only valid days up to as_of are remembered
        if iso is None:
            try:
                if isinstance(cell, datetime):
                    value = cell.date()
                elif isinstance(cell, date):
                    value = cell
                else:
                    value = _parse_day(str(cell).strip())
            except ValueError as exc:
                self._error(row, key, str(exc))
                return None
            iso = value.isoformat()
            if iso > self._as_of_iso:
                self._error(row, key, f"ngày {_vn(iso)} sau ngày chốt sổ {fmt_date(self.as_of)}")
                return iso
            if len(self._dates) < _CACHE_LIMIT:
                self._dates[cell] = iso
        return iso

    def _status(self, row: int, cell: Cell) -> Status | None:
        text = _text(cell)
        if text is None:
            self._error(row, "status", "thiếu trạng thái")
            return None
        found = self._statuses.get(text)
        if found is None:
            found = status_of(text)
            if found is None:
                known = ", ".join(STATUS_LABELS.values())
                self._error(row, "status", f"trạng thái “{text}” không rõ; dùng một trong: {known}")
                return None
            if len(self._statuses) < _CACHE_LIMIT:
                self._statuses[text] = found
        if isinstance(cell, str) and len(self._fast_status) < _CACHE_LIMIT:
            self._fast_status[cell] = found.value
        return found

    def _amount(self, row: int, key: str, cell: Cell) -> int | None:
        if _blank(cell):
            return 0
        if isinstance(cell, bool):
            self._error(row, key, "cần một số tiền (đồng)")
            return None
        if isinstance(cell, int):
            value = cell
        elif isinstance(cell, float):
            if not cell.is_integer():
                self._error(row, key, f"số tiền “{cell}” phải là số nguyên (đồng)")
                return None
            value = int(cell)
        else:
            text = str(cell).strip()
            try:
                value = int(text)
            except ValueError:
                parsed = _grouped_int(text)
                if parsed is None:
                    self._error(row, key, f"“{text}” không phải số tiền nguyên (đồng), ví dụ 1.234.567")
                    return None
                value = parsed
        if value < 0:
            self._error(row, key, "số tiền không được âm")
            return None
        if value >= 2**63:
            self._error(row, key, "số tiền quá lớn")
            return None
        return value


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _parse_day(text: str) -> date:
    # The common "dd/mm/yyyy" without the general parser's splitting; anything else goes through parse_date.
    if len(text) == 10 and text[2] == "/" and text[5] == "/":
        try:
            return date(int(text[6:]), int(text[3:5]), int(text[:2]))
        except ValueError:
            pass
    return parse_date(text)


def _grouped_int(text: str) -> int | None:
    """'1.234.567', '1,234,567', '1 234 567' (also with a trailing 'đ'); None when not a whole number."""
    body = text.removesuffix("đ").removesuffix("đồng").strip()
    for sep in (".", ",", " ", "\u00a0"):
        if sep in body:
            groups = body.split(sep)
            if (
                groups[0].isdigit()
                and 1 <= len(groups[0]) <= 3
                and all(len(g) == 3 and g.isdigit() for g in groups[1:])
            ):
                return int("".join(groups))
            return None
    return int(body) if body.isdigit() else None


def _vn(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"


def case_from_tuple(row: LedgerTuple) -> Case:
    """A database tuple as a typed `Case` (for the pure rules)."""
    case_id, unit, officer, received, conditions, status, status_date, owed, collected = row
    return Case(
        case_id=case_id,
        unit_code=unit,
        officer_code=officer,
        received=date.fromisoformat(received),
        conditions=date.fromisoformat(conditions) if conditions else None,
        status=Status(status),
        status_date=date.fromisoformat(status_date) if status_date else None,
        owed=owed,
        collected=collected,
    )


def find_header(rows: Iterator[tuple[int, Sequence[Cell]]]) -> tuple[int, Sequence[Cell]] | None:
    """The first non-empty row (the header) and its number; None for an empty file."""
    for number, cells in rows:
        if any(not _blank(c) for c in cells):
            return number, cells
    return None


__all__ = [
    "DB_COLUMNS",
    "LEDGER_COLUMNS",
    "MAX_ERRORS",
    "LedgerFileError",
    "LedgerRowParser",
    "LedgerTuple",
    "RowError",
    "case_from_tuple",
    "find_header",
    "status_of",
]
