"""Reading a nomination list from a CSV/XLSX file into the rows `nominate` checks."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from thidua.models.directory_rows import HEADER_SEARCH_ROWS, Cell, RowError, cell_text, fold
from thidua.models.text import nfc
from thidua.tasks.core.directory import read_csv_rows, read_xlsx_rows
from thidua.tasks.review.nominations.errors import NominationImportError
from thidua.tasks.review.nominations.lookups import _aware
from thidua.tasks.review.nominations.nominate import NominationInput, NominationResult, _Located, _nominate
from thidua.tasks.review.nominations.shared import _HEADER_ALIASES, COLUMNS, OPTIONAL_COLUMNS


def _header_key(text: str) -> str:
    return " ".join(re.sub(r"[/,;:()\-]", " ", fold(text)).split())


_ALIAS_KEYS: dict[str, str] = {_header_key(a): key for key, names in _HEADER_ALIASES.items() for a in names}


def _detect_header(cells: Sequence[Cell]) -> tuple[dict[str, int], dict[str, str]]:
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    for index, cell in enumerate(cells):
        text = cell_text(cell)
        key = _ALIAS_KEYS.get(_header_key(text)) if text else None
        if key is not None and key not in positions:
            positions[key] = index
            written[key] = text or COLUMNS[key]
    return positions, written


def _expected() -> str:
    return ", ".join(
        f"{label} (không bắt buộc)" if key in OPTIONAL_COLUMNS else label for key, label in COLUMNS.items()
    )


def read_nomination_file(path: Path) -> tuple[list[_Located], list[RowError]]:
    """The rows of a nomination list (CSV in UTF-8 with `,` `;` or tab, or the first sheet of an XLSX)."""
    label = nfc(path.name) or "tệp"
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = read_csv_rows(path)
        elif suffix in (".xlsx", ".xlsm"):
            table = read_xlsx_rows(path)
        else:
            problem = (
                f"định dạng “{path.suffix or '(không có đuôi)'}” không được hỗ trợ; hãy lưu thành .xlsx hoặc "
                ".csv (UTF-8)"
            )
            return [], [RowError(label, None, None, problem)]
    except FileNotFoundError:
        return [], [RowError(label, None, None, f"không tìm thấy tệp {path}")]
    except UnicodeDecodeError:
        problem = (
            "tệp CSV không ở bảng mã UTF-8; trong Excel hãy chọn Lưu thành “CSV UTF-8 (Comma delimited)”"
        )
        return [], [RowError(label, None, None, problem)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        problem = f"không đọc được tệp Excel ({type(exc).__name__}); tệp có bị hỏng không?"
        return [], [RowError(label, None, None, problem)]
    return _parse_rows(label, table)


def _parse_rows(label: str, table: Sequence[Sequence[Cell]]) -> tuple[list[_Located], list[RowError]]:
    header_row = 0
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    best: tuple[int, dict[str, int], dict[str, str]] | None = None
    for number, cells in enumerate(table[:HEADER_SEARCH_ROWS], start=1):
        found, names = _detect_header(cells)
        if found and (best is None or len(found) > len(best[1])):
            best = (number, found, names)
        if all(k in found for k in COLUMNS if k not in OPTIONAL_COLUMNS):
            header_row, positions, written = number, found, names
            break
    if not header_row:
        if best is None:
            problem = f"không thấy dòng tiêu đề; dòng tiêu đề phải có các cột: {_expected()}"
            return [], [RowError(label, None, None, problem)]
        missing = [COLUMNS[k] for k in COLUMNS if k not in OPTIONAL_COLUMNS and k not in best[1]]
        problem = f"dòng tiêu đề thiếu cột: {', '.join(missing)} (cần các cột: {_expected()})"
        return [], [RowError(label, best[0], None, problem)]
    headers = {**COLUMNS, **written}
    rows: list[_Located] = []
    for number, cells in enumerate(table[header_row:], start=header_row + 1):
        values = {k: cell_text(cells[i]) if i < len(cells) else None for k, i in positions.items()}
        if not any(values.values()):
            continue  # blank lines between blocks are common in hand-made sheets
        row = NominationInput(
            award_key=values.get("award") or "",
            subject_kind=values.get("kind") or "",
            subject_code=values.get("code") or "",
            nominated_by=values.get("nominated_by") or "",
            achievement=values.get("achievement"),
            subject_name=values.get("name"),
        )
        rows.append(_Located(row, label, number, headers))
    if not rows:
        return [], [RowError(label, header_row, None, "danh sách không có đề nghị nào dưới dòng tiêu đề")]
    return rows, []


def import_nominations(
    engine: Engine, code: str, path: Path, *, now: datetime, actor: str | None = None
) -> NominationResult:
    """Import a nomination list (CSV/XLSX), all or nothing; NominationImportError locates every problem."""
    rows, errors = read_nomination_file(Path(path))
    if errors and not rows:
        raise NominationImportError(errors)
    return _nominate(
        engine, code, rows, now=_aware(now), actor=actor, errors=errors, error_type=NominationImportError
    )
