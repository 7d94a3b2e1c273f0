"""Progress of a campaign: per-unit targets and progress snapshots (timeliness and the status table are
re-exported from tasks/collect/status_table.py).

- `import_targets` loads per-unit targets (seed 000: each province's completion targets) from a CSV or XLSX
  file with the columns `Mã đơn vị, Chỉ tiêu, Giá trị`; all or nothing, every bad row reported at once.
- `compute_snapshots` / `compute_all_snapshots` compute, from the current submissions of a period, every
  enrolled unit's figures (rolled up the hierarchy by sums) and indicators, and every reporting officer's,
  and store them as ProgressSnapshot rows (source "report"). A fixed handful of queries per call whatever the
  number of units, one bulk upsert; rows whose figures did not change are not rewritten, so a second run
  changes nothing (and keeps `computed_at` as the moment the figures last changed).
- `period_status` and `campaign_status` (the completeness and timeliness of a period, the status table people
  read) are read only and live in tasks/collect/status_table.py; they are re-exported here.

The arithmetic is models/indicators.py: exact fractions, sums of numerators and denominators, never floats.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, delete, select, tuple_
from sqlmodel import SQLModel

from thidua.errors import InvalidInput, NotFound, Problem
from thidua.models.campaign import EnrolledPerson
from thidua.models.db import transaction, upsert
from thidua.models.definition import Indicator
from thidua.models.indicators import (
    IndicatorResult,
    evaluate_all,
    parse_target,
    roll_up,
)
from thidua.models.indicators import target_for as _target_for
from thidua.models.reporting import ProgressSnapshot, SnapshotSource, UnitTarget
from thidua.models.text import nfc
from thidua.tasks.collect.status_table import (
    IndicatorColumn,
    PeriodStatus,
    ProgressError,
    StatusRow,
    StatusTable,
    UnknownPeriod,
    _Campaign,
    _campaign,
    _collect,
    _own_figures,
    _period,
    _periods,
    _person_indicators,
    _Reports,
    _submission_rows,
    _targets,
    _Unit,
    _unit_indicators,
    _units,
    campaign_status,
    period_status,
)
from thidua.tasks.core.events import record_event

__all__ = [
    "IndicatorColumn",
    "PeriodStatus",
    "ProgressError",
    "SnapshotRun",
    "SnapshotSummary",
    "StatusRow",
    "StatusTable",
    "TargetImportError",
    "TargetImportResult",
    "TargetRowError",
    "UnknownIndicator",
    "UnknownPeriod",
    "campaign_status",
    "compute_all_snapshots",
    "compute_snapshots",
    "import_targets",
    "period_status",
    "target_for",
    "unit_targets",
]


ENROLLED_PERSON: Table = SQLModel.metadata.tables[EnrolledPerson.__tablename__]
UNIT_TARGET: Table = SQLModel.metadata.tables[UnitTarget.__tablename__]
SNAPSHOT: Table = SQLModel.metadata.tables[ProgressSnapshot.__tablename__]

_SOURCE = SnapshotSource.REPORT.value


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class TargetRowError:
    row: int | None  # 1-based row of the file; None for the whole file
    message: str

    def __str__(self) -> str:
        return f"dòng {self.row}: {self.message}" if self.row is not None else self.message

    def as_problem(self) -> Problem:
        return Problem(self.message, row=self.row)


class UnknownIndicator(ProgressError, NotFound):
    """The campaign has no indicator of that key."""


class TargetImportError(ProgressError, InvalidInput):
    """A targets file that was not loaded (nothing was written); `errors` lists every problem."""

    def __init__(self, source_name: str, errors: Sequence[TargetRowError]) -> None:
        self.source_name = source_name
        self.errors = list(errors)
        super().__init__(str(self), self.errors)

    def located(self) -> list[Problem]:
        return [Problem(e.message, file=self.source_name, row=e.row) for e in self.errors]

    def __str__(self) -> str:
        head = f"{self.source_name}: không nhập chỉ tiêu nào ({len(self.errors)} lỗi)"
        return "\n".join([head, *(f"  {self.source_name}: {e}" for e in self.errors)])


def canonical(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------- per-unit targets


@dataclass(frozen=True)
class TargetImportResult:
    source_name: str
    rows: int
    inserted: int
    updated: int
    unchanged: int


_HEADERS = {
    "unit": ("ma don vi", "don vi", "unit", "unit code", "unit_code"),
    "indicator": ("chi tieu", "ma chi tieu", "indicator", "indicator key", "indicator_key"),
    "value": ("gia tri", "chi tieu giao", "target", "value"),
}
_HEADER_SEARCH_ROWS = 20


def _plain_header(value: object) -> str:
    text = unicodedata.normalize("NFD", nfc(str(value or "")) or "").replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(text.replace("_", " ").replace("*", " ").split())


def _header_columns(cells: Sequence[object]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = _plain_header(cell)
        for role, names in _HEADERS.items():
            if name in names and role not in found:
                found[role] = i
    return found if len(found) == len(_HEADERS) else None


def _target_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        first = next((line for line in text.splitlines() if line.strip()), "")
        # Excel in a Vietnamese locale writes ';' (the decimal separator is ',').
        delimiter = max((";", ",", "\t"), key=first.count)
        for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            yield n, list(row)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
                yield n, list(values)
        finally:
            wb.close()
    else:
        raise TargetImportError(
            path.name,
            [
                TargetRowError(
                    None, f"định dạng “{suffix or '(không đuôi)'}” không được nhận; dùng .csv hoặc .xlsx"
                )
            ],
        )


def _cell_text(value: object) -> str:
    return nfc(str(value)) if value is not None else ""


@dataclass(frozen=True)
class _TargetRecord:
    row: int
    unit: str
    indicator: str
    value: object


def _target_records(path: Path) -> list[_TargetRecord]:
    """The data rows under the header row (searched in the first rows: files often start with a title)."""
    name = path.name
    columns: dict[str, int] | None = None
    out: list[_TargetRecord] = []
    try:
        for n, cells in _target_rows(path):
            if columns is None:
                columns = _header_columns(cells)
                if columns is None and n >= _HEADER_SEARCH_ROWS:
                    break
                continue
            if all(_cell_text(c) == "" for c in cells):
                continue
            picked = [cells[i] if i < len(cells) else None for i in (columns[r] for r in _HEADERS)]
            out.append(_TargetRecord(n, _cell_text(picked[0]), _cell_text(picked[1]), picked[2]))
    except TargetImportError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetImportError(name, [TargetRowError(None, f"không đọc được tệp: {exc}")]) from exc
    except Exception as exc:
        # openpyxl raises many types on a damaged workbook; the file is refused with the reason.
        message = f"không đọc được tệp ({type(exc).__name__}): {exc}"
        raise TargetImportError(name, [TargetRowError(None, message)]) from exc
    if columns is None:
        message = "không tìm thấy dòng tiêu đề “Mã đơn vị, Chỉ tiêu, Giá trị”"
        raise TargetImportError(name, [TargetRowError(None, message)])
    if not out:
        raise TargetImportError(name, [TargetRowError(None, "tệp không có dòng chỉ tiêu nào")])
    return out


def _check_targets(
    records: Sequence[_TargetRecord], info: _Campaign, units: Mapping[str, _Unit]
) -> tuple[dict[tuple[str, str], tuple[Decimal, int]], list[TargetRowError]]:
    by_name: dict[str, Indicator] = {}
    for ind in info.definition.indicators:
        by_name[ind.key.casefold()] = ind
        by_name[nfc(ind.label).casefold()] = ind
    per_unit = ", ".join(i.key for i in info.definition.indicators if i.targets == "per_unit") or "(không có)"
    parsed: dict[tuple[str, str], tuple[Decimal, int]] = {}
    errors: list[TargetRowError] = []
    for rec in records:
        problems: list[str] = []
        if not rec.unit:
            problems.append("thiếu mã đơn vị")
        elif rec.unit not in units:
            problems.append(f"đơn vị “{rec.unit}” không tham gia phong trào {info.code}")
        indicator = by_name.get(rec.indicator.casefold()) if rec.indicator else None
        if not rec.indicator:
            problems.append("thiếu chỉ tiêu (mã hoặc tên chỉ tiêu)")
        elif indicator is None:
            problems.append(f"không có chỉ tiêu “{rec.indicator}” (các chỉ tiêu giao riêng: {per_unit})")
        elif indicator.targets != "per_unit":
            problems.append(
                f"chỉ tiêu “{indicator.key}” áp dụng chung một mức cho mọi đơn vị (targets: fixed), "
                "không giao riêng cho từng đơn vị được"
            )
        value: Decimal | None = None
        try:
            value = parse_target(rec.value)
        except ValueError as exc:
            problems.append(f"giá trị: {exc}")
        if not problems and indicator is not None and value is not None:
            key = (rec.unit, indicator.key)
            if key in parsed:
                problems.append(
                    f"đơn vị “{rec.unit}”, chỉ tiêu “{indicator.key}” đã có ở dòng {parsed[key][1]}"
                )
            else:
                parsed[key] = (value, rec.row)
        errors.extend(TargetRowError(rec.row, p) for p in problems)
    return parsed, errors


def import_targets(engine: Engine, code: str, path: Path | str, *, now: datetime) -> TargetImportResult:
    """Load per-unit targets from CSV/XLSX (`Mã đơn vị, Chỉ tiêu, Giá trị`); all or nothing.

    `Chỉ tiêu` is an indicator's key or label; `Giá trị` is "83,90%", "0.839" or "83.9" (above 1: a
    percentage). Errors: unit not enrolled, unknown indicator, indicator not declared `targets: per_unit`,
    a value that is not a ratio, the same unit and indicator twice. A target already stored is replaced.
    """
    path = Path(path)
    with transaction(engine) as s:
        conn = s.connection()
        info = _campaign(conn, code)
        records = _target_records(path)
        parsed, errors = _check_targets(records, info, _units(conn, info.id))
        if errors:
            raise TargetImportError(path.name, errors)
        existing = _targets(conn, info.id)
        rows = [
            {"campaign_id": info.id, "unit_code": unit, "indicator_key": key, "target": format(value, "f")}
            for (unit, key), (value, _row) in sorted(parsed.items())
            if existing.get((unit, key)) != value
        ]
        inserted = sum(1 for r in rows if (r["unit_code"], r["indicator_key"]) not in existing)
        upsert(conn, UNIT_TARGET, rows, ("campaign_id", "unit_code", "indicator_key"))
        result = TargetImportResult(
            path.name, len(parsed), inserted, len(rows) - inserted, len(parsed) - len(rows)
        )
        record_event(
            s,
            campaign_id=info.id,
            kind="targets.imported",
            now=now,
            payload={"file": path.name, "rows": result.rows, "inserted": inserted, "updated": result.updated},
        )
        return result


def unit_targets(engine: Engine, code: str) -> dict[tuple[str, str], Decimal]:
    """(unit code, indicator key) -> the target assigned to that unit."""
    with engine.connect() as conn:
        return _targets(conn, _campaign(conn, code).id)


def target_for(engine: Engine, code: str, unit_code: str, indicator_key: str) -> Decimal:
    """A unit's target for an indicator: its assigned one (per_unit indicators), else the definition's."""
    with engine.connect() as conn:
        info = _campaign(conn, code)
        indicator = next((i for i in info.definition.indicators if i.key == indicator_key), None)
        if indicator is None:
            raise UnknownIndicator(f"Phong trào {info.code} không có chỉ tiêu “{indicator_key}”.")
        row = conn.execute(
            select(UNIT_TARGET.c.target).where(
                UNIT_TARGET.c.campaign_id == info.id,
                UNIT_TARGET.c.unit_code == unit_code,
                UNIT_TARGET.c.indicator_key == indicator_key,
            )
        ).first()
        assigned = {(unit_code, indicator_key): Decimal(row.target)} if row is not None else {}
        return _target_for(assigned, unit_code, indicator)


# ---------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class SnapshotSummary:
    period_key: str
    units: int  # unit snapshots of the period
    persons: int  # person snapshots of the period (officers in the current reports)
    written: int  # rows inserted or changed by this run
    removed: int  # person rows no longer backed by a current report


@dataclass(frozen=True)
class SnapshotRun:
    code: str
    periods: list[SnapshotSummary]

    @property
    def written(self) -> int:
        return sum(p.written for p in self.periods)


def compute_snapshots(engine: Engine, code: str, period_key: str, *, now: datetime) -> SnapshotSummary:
    """Snapshots of one period for every enrolled unit (rolled up) and every reporting officer."""
    return compute_all_snapshots(engine, code, [period_key], now=now).periods[0]


def compute_all_snapshots(
    engine: Engine, code: str, period_keys: Sequence[str] | None = None, *, now: datetime
) -> SnapshotRun:
    """Snapshots of several periods (None: every period of the calendar) in one transaction.

    Seven queries and one bulk upsert per call, whatever the number of units, people or periods.
    """
    with transaction(engine) as s:
        conn = s.connection()
        info = _campaign(conn, code)
        periods = _periods(conn, info.id)
        keys = (
            [p.key for p in periods]
            if period_keys is None
            else [_period(periods, k, info.code).key for k in period_keys]
        )
        keys = list(dict.fromkeys(keys))
        if not keys:
            return SnapshotRun(info.code, [])
        units = _units(conn, info.id)
        parents = {u.code: u.parent for u in units.values()}
        targets = _targets(conn, info.id)
        # dict(result) would take the Result for a mapping (it has .keys()): build it from the rows.
        unit_of: dict[str, str] = {
            person: unit
            for person, unit in conn.execute(
                select(ENROLLED_PERSON.c.person_code, ENROLLED_PERSON.c.unit_code).where(
                    ENROLLED_PERSON.c.campaign_id == info.id
                )
            ).tuples()
        }
        reports = _collect(_submission_rows(conn, info.id, keys, current_only=True), as_of=None, tz=None)
        existing: dict[tuple[str, str, str], tuple[str, str]] = {
            (r.period_key, r.subject_kind, r.subject_code): (r.values_json, r.indicators_json)
            for r in conn.execute(
                select(
                    SNAPSHOT.c.period_key,
                    SNAPSHOT.c.subject_kind,
                    SNAPSHOT.c.subject_code,
                    SNAPSHOT.c.values_json,
                    SNAPSHOT.c.indicators_json,
                ).where(
                    SNAPSHOT.c.campaign_id == info.id,
                    SNAPSHOT.c.source == _SOURCE,
                    SNAPSHOT.c.period_key.in_(keys),
                )
            )
        }

        unit_inds = _unit_indicators(info.definition)
        person_inds = _person_indicators(info.definition)
        rows: list[dict[str, Any]] = []
        wanted: set[tuple[str, str, str]] = set()
        summaries: list[SnapshotSummary] = []
        for key in keys:
            rep = reports.get(key, _Reports())
            subjects: list[tuple[str, str, dict[str, int], dict[str, IndicatorResult]]] = []
            for unit, figures in roll_up(parents, _own_figures(units, rep)).items():
                results = evaluate_all(unit_inds, figures, unit_code=unit, targets=targets)
                subjects.append(("unit", unit, figures, results))
            persons = 0
            for person, figures in sorted(rep.persons.items()):
                if person not in unit_of:
                    continue  # ingestion checks officers against the enrolment; never invent a subject
                results = evaluate_all(person_inds, figures, unit_code=unit_of[person], targets=targets)
                subjects.append(("person", person, figures, results))
                persons += 1
            written = 0
            for kind, subject, figures, results in subjects:
                values_json = canonical(figures)
                indicators_json = canonical({k: r.as_json() for k, r in results.items()})
                ident = (key, kind, subject)
                wanted.add(ident)
                if existing.get(ident) == (values_json, indicators_json):
                    continue
                written += 1
                rows.append(
                    {
                        "campaign_id": info.id,
                        "period_key": key,
                        "subject_kind": kind,
                        "subject_code": subject,
                        "source": _SOURCE,
                        "computed_at": now,
                        "values_json": values_json,
                        "indicators_json": indicators_json,
                    }
                )
            stale = [ident for ident in existing if ident[0] == key and ident not in wanted]
            summaries.append(SnapshotSummary(key, len(subjects) - persons, persons, written, len(stale)))

        upsert(conn, SNAPSHOT, rows, ("campaign_id", "period_key", "subject_kind", "subject_code", "source"))
        stale_all = [ident for ident in existing if ident not in wanted]
        if stale_all:
            conn.execute(
                delete(SNAPSHOT).where(
                    SNAPSHOT.c.campaign_id == info.id,
                    SNAPSHOT.c.source == _SOURCE,
                    tuple_(SNAPSHOT.c.period_key, SNAPSHOT.c.subject_kind, SNAPSHOT.c.subject_code).in_(
                        stale_all
                    ),
                )
            )
        return SnapshotRun(info.code, summaries)
