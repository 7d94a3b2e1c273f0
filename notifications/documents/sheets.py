"""Writing every spreadsheet the system produces (XLSX and CSV), so that text from users stays text.

A unit's or person's name, a campaign title or any other text a user typed may start like a formula
(``=HYPERLINK(…)``, ``@SUM(1)``); a spreadsheet program would run it when the file is opened.

- XLSX: `write_xlsx` saves a workbook after making every text cell a string cell (openpyxl stores a ``str``
  that starts with "=" as a formula and "#N/A" as an error value), with Excel's quote prefix on text that
  starts like a formula, so that editing the cell keeps it text too. Numbers, dates and empty cells are
  untouched. With a `stamp` the bytes do not depend on the clock (see zipfix).
- CSV: `write_csv` writes UTF-8 with a BOM (or Excel reads the Vietnamese in the local code
  page) and CRLF; text starting with ``= + - @``, a tab or a carriage return gets a leading ``'`` (the OWASP
  advice for CSV injection); numbers are written as numbers. `csv_text` takes the quote off again when such
  a file comes back (the report template).

openpyxl is imported by the callers that build the workbook; nothing here imports it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from thidua.models.files import atomic_file, write_atomic
from thidua.notifications.documents.zipfix import fixed_zip

# What a spreadsheet program reads as the start of a formula in a CSV field.
CSV_FORMULA_LEAD = frozenset("=+-@\t\r")
# In an XLSX string cell only what Excel would turn into a formula when the cell is edited.
_XLSX_FORMULA_LEAD = frozenset("=+-@")
_CSV_QUOTE = "'"


# ---------------------------------------------------------------- CSV


def csv_row(row: Iterable[Any]) -> list[Any]:
    """The row as it goes into a CSV file: risky text quoted, everything else as it is."""
    return [
        _CSV_QUOTE + value if value.__class__ is str and value[:1] in CSV_FORMULA_LEAD else value
        for value in row
    ]


def csv_text(value: str) -> str:
    """A field of a CSV file this module wrote, as the user typed it: the protecting quote taken off."""
    if value[:1] == _CSV_QUOTE and value[1:2] in CSV_FORMULA_LEAD:
        return value[1:]
    return value


def write_csv(path: Path, rows: Iterable[Sequence[Any]]) -> Path:
    """Write the rows to `path`: UTF-8 with a BOM, comma-separated, CRLF, risky text quoted; streamed (a
    ledger has a million rows) and atomic."""
    with atomic_file(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        csv.writer(text, lineterminator="\r\n").writerows(csv_row(row) for row in rows)
        text.flush()
        text.detach()  # the atomic writer syncs and closes the file itself
    return Path(path)


# ---------------------------------------------------------------- XLSX


def text_cells(workbook: Any) -> int:
    """Make every text cell of every sheet a string cell; the number of cells that would have been a
    formula or an error value."""
    changed = 0
    for sheet in workbook.worksheets:
        # _cells holds only the cells written: iterating the sheet's range would create the empty ones.
        for cell in sheet._cells.values():
            value = cell.value
            if value.__class__ is not str:
                continue
            if cell.data_type != "s":
                cell.data_type = "s"
                changed += 1
            if value[:1] in _XLSX_FORMULA_LEAD:
                cell.quotePrefix = True
    return changed


def xlsx_bytes(workbook: Any, *, stamp: date | None = None) -> bytes:
    """The workbook's bytes with text kept text; with `stamp` every date inside the file is that day."""
    text_cells(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    return data if stamp is None else fixed_zip(data, stamp, core_times=True)


def write_xlsx(workbook: Any, path: Path | str, *, stamp: date | None = None) -> Path:
    """Save the workbook to `path` atomically, as `xlsx_bytes` makes it."""
    return write_atomic(Path(path), xlsx_bytes(workbook, stamp=stamp))


__all__ = [
    "CSV_FORMULA_LEAD",
    "csv_row",
    "csv_text",
    "text_cells",
    "write_csv",
    "write_xlsx",
    "xlsx_bytes",
]
