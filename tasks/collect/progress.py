"""Progress of a campaign: per-unit targets, progress snapshots, timeliness and the status table.

- `import_targets` loads per-unit targets (seed 000: each province's completion targets) from a CSV or XLSX
  file with the columns `Mã đơn vị, Chỉ tiêu, Giá trị`; all or nothing, every bad row reported at once.
- `compute_snapshots` / `compute_all_snapshots` compute, from the current submissions of a period, every
  enrolled unit's figures (rolled up the hierarchy by sums) and indicators, and every reporting officer's,
  and store them as ProgressSnapshot rows (source "report"). A fixed handful of queries per call whatever the
  number of units, one bulk upsert; rows whose figures did not change are not rewritten, so a second run
  changes nothing (and keeps `computed_at` as the moment the figures last changed).
- `period_status` is the DHIS2-style completeness and timeliness of one period: expected reports (enrolled
  units that report), received, on time, late, missing; before the due date, those not in are "pending".
- `campaign_status` builds the table people read: every unit in tree order against its targets, with the
  trend since the previous period, the hierarchy totals and the timeliness summary. It reads submissions
  directly (the revisions received by `as_of`), so it can be replayed for any past date and never shows
  figures older than the last ingest; it writes nothing.

The arithmetic is models/indicators.py: exact fractions, sums of numerators and denominators, never floats.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, delete, select, tuple_
from sqlmodel import SQLModel

from thidua.errors import InvalidInput, NotFound, Problem, ThiduaError
from thidua.models.campaign import Campaign, Deadline, DeadlineKind, EnrolledPerson, EnrolledUnit
from thidua.models.db import transaction, upsert
from thidua.models.definition import CampaignDefinition, Indicator, definition_from_json
from thidua.models.indicators import (
    IndicatorResult,
    Timeliness,
    Trend,
    evaluate_all,
    fmt_percent,
    parse_target,
    roll_up,
    timeliness,
    tree_order,
    trend,
)
from thidua.models.indicators import target_for as _target_for
from thidua.models.report_rows import normalise_period
from thidua.models.reporting import ProgressSnapshot, SnapshotSource, Submission, UnitTarget
from thidua.models.settings import Settings
from thidua.models.text import fmt_date, nfc
from thidua.tasks.core.campaigns import get_campaign
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


CAMPAIGN: Table = SQLModel.metadata.tables[Campaign.__tablename__]
ENROLLED_UNIT: Table = SQLModel.metadata.tables[EnrolledUnit.__tablename__]
ENROLLED_PERSON: Table = SQLModel.metadata.tables[EnrolledPerson.__tablename__]
DEADLINE: Table = SQLModel.metadata.tables[Deadline.__tablename__]
SUBMISSION: Table = SQLModel.metadata.tables[Submission.__tablename__]
UNIT_TARGET: Table = SQLModel.metadata.tables[UnitTarget.__tablename__]
SNAPSHOT: Table = SQLModel.metadata.tables[ProgressSnapshot.__tablename__]

_REPORT_KINDS = (DeadlineKind.PERIOD_REPORT.value, DeadlineKind.FINAL_REPORT.value)
_SOURCE = SnapshotSource.REPORT.value


# ---------------------------------------------------------------- errors


class ProgressError(ThiduaError):
    """Base of this module's errors."""


class UnknownPeriod(ProgressError, NotFound):
    pass


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


# ---------------------------------------------------------------- shared look-ups


@dataclass(frozen=True)
class _Campaign:
    id: int
    code: str
    title: str
    definition: CampaignDefinition


@dataclass(frozen=True)
class _Unit:
    code: str
    name: str
    parent: str | None
    level: str
    reports: bool


@dataclass(frozen=True)
class _Period:
    key: str
    label: str
    kind: str
    start: date | None
    end: date | None
    due: date


def _campaign(conn: Connection, code: str) -> _Campaign:
    found = get_campaign(conn, code)
    assert found.id is not None
    return _Campaign(found.id, found.code, found.title, definition_from_json(found.definition_json))


def _units(conn: Connection, campaign_id: int) -> dict[str, _Unit]:
    rows = conn.execute(
        select(
            ENROLLED_UNIT.c.unit_code,
            ENROLLED_UNIT.c.unit_name,
            ENROLLED_UNIT.c.parent_code,
            ENROLLED_UNIT.c.level,
            ENROLLED_UNIT.c.reports,
        )
        .where(ENROLLED_UNIT.c.campaign_id == campaign_id)
        .order_by(ENROLLED_UNIT.c.unit_code)
    )
    return {
        r.unit_code: _Unit(r.unit_code, r.unit_name, r.parent_code, r.level, bool(r.reports)) for r in rows
    }


def _periods(conn: Connection, campaign_id: int) -> list[_Period]:
    rows = conn.execute(
        select(
            DEADLINE.c.key,
            DEADLINE.c.label,
            DEADLINE.c.kind,
            DEADLINE.c.period_start,
            DEADLINE.c.period_end,
            DEADLINE.c.due_date,
        ).where(DEADLINE.c.campaign_id == campaign_id, DEADLINE.c.kind.in_(_REPORT_KINDS))
    )
    periods = [_Period(r.key, r.label, str(r.kind), r.period_start, r.period_end, r.due_date) for r in rows]
    # The final report covers the same span as the last month and comes after it (as reports orders).
    periods.sort(key=lambda p: (p.end or p.due, p.kind == DeadlineKind.FINAL_REPORT.value, p.key))
    return periods


def _period(periods: Sequence[_Period], key: str, code: str) -> _Period:
    wanted = normalise_period(key) or nfc(key) or ""
    for p in periods:
        if p.key == wanted:
            return p
    known = ", ".join(p.key for p in periods)
    raise UnknownPeriod(f"Kỳ báo cáo “{wanted}” không có trong lịch của phong trào {code} (các kỳ: {known}).")


def _targets(conn: Connection, campaign_id: int) -> dict[tuple[str, str], Decimal]:
    rows = conn.execute(
        select(UNIT_TARGET.c.unit_code, UNIT_TARGET.c.indicator_key, UNIT_TARGET.c.target).where(
            UNIT_TARGET.c.campaign_id == campaign_id
        )
    )
    return {(r.unit_code, r.indicator_key): Decimal(r.target) for r in rows}


def _figures(raw: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int | float) and not isinstance(v, bool)}


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


# ---------------------------------------------------------------- figures of a period


@dataclass
class _Reports:
    """The figures of one period: each unit's own report and each officer's row."""

    units: dict[str, dict[str, int]] = field(default_factory=dict)
    persons: dict[str, dict[str, int]] = field(default_factory=dict)
    first_on_time: dict[str, bool] = field(default_factory=dict)  # unit -> its first revision was on time
    first_received: dict[str, datetime] = field(default_factory=dict)
    revision: dict[str, int] = field(default_factory=dict)


def _collect(rows: Iterable[Any], *, as_of: date | None, tz: ZoneInfo | None) -> dict[str, _Reports]:
    """Per period: the current revision of each unit (the latest received by `as_of` in `tz`, when given)."""
    latest: dict[tuple[str, str], Any] = {}
    out: dict[str, _Reports] = {}
    for r in rows:
        if as_of is not None and tz is not None and r.received_at.astimezone(tz).date() > as_of:
            continue
        if as_of is None and not r.is_current:
            continue
        key = (r.period_key, r.unit_code)
        seen = latest.get(key)
        if seen is None or r.revision > seen.revision:
            latest[key] = r
    for (period_key, unit), r in latest.items():
        reports = out.setdefault(period_key, _Reports())
        reports.units[unit] = _figures(json.loads(r.values_json))
        reports.revision[unit] = r.revision
        for officer in json.loads(r.officers_json or "[]"):
            code = str(officer.get("person_code") or "")
            if not code:
                continue
            target = reports.persons.setdefault(code, {})
            for k, v in _figures(officer.get("values") or {}).items():
                target[k] = target.get(k, 0) + v
    return out


def _first_receipts(
    rows: Iterable[Any], reports: Mapping[str, _Reports], *, as_of: date | None, tz: ZoneInfo
) -> None:
    """Timeliness goes by a unit's first report of the period: a later correction does not make it late."""
    for r in rows:
        if as_of is not None and r.received_at.astimezone(tz).date() > as_of:
            continue
        rep = reports.get(r.period_key)
        if rep is None or r.unit_code not in rep.units:
            continue
        known = rep.first_received.get(r.unit_code)
        if known is None or r.received_at < known:
            rep.first_received[r.unit_code] = r.received_at
            rep.first_on_time[r.unit_code] = bool(r.on_time)


def _submission_rows(
    conn: Connection, campaign_id: int, period_keys: Sequence[str], *, current_only: bool
) -> list[Any]:
    query = select(
        SUBMISSION.c.unit_code,
        SUBMISSION.c.period_key,
        SUBMISSION.c.revision,
        SUBMISSION.c.is_current,
        SUBMISSION.c.received_at,
        SUBMISSION.c.on_time,
        SUBMISSION.c.values_json,
        SUBMISSION.c.officers_json,
    ).where(SUBMISSION.c.campaign_id == campaign_id, SUBMISSION.c.period_key.in_(list(period_keys)))
    if current_only:
        query = query.where(SUBMISSION.c.is_current.is_(True))
    return list(conn.execute(query))


def _own_figures(units: Mapping[str, _Unit], reports: _Reports) -> dict[str, dict[str, int]]:
    # A unit that does not report (the Cục above its Chi cục) would only restate its children: never added.
    return {u: v for u, v in reports.units.items() if u in units and units[u].reports}


def _unit_indicators(defn: CampaignDefinition) -> list[Indicator]:
    return [i for i in defn.indicators if "unit" in i.applies_to]


def _person_indicators(defn: CampaignDefinition) -> list[Indicator]:
    return [i for i in defn.indicators if "person" in i.applies_to]


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


# ---------------------------------------------------------------- timeliness


@dataclass(frozen=True)
class PeriodStatus:
    """Completeness and timeliness of one period as of a date (see models.indicators.Timeliness)."""

    code: str
    period_key: str
    period_label: str
    due_date: date
    as_of: date
    overdue: bool  # the due date has passed: units without a report are missing, not pending
    expected: int
    received: int
    on_time: int
    late: int
    missing: list[str]
    pending: list[str]
    late_units: list[str]
    reporting_rate: Fraction | None
    on_time_rate: Fraction | None
    names: dict[str, str]  # unit code -> name, for the units listed above

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (rates as exact "7/8" and as printed "87,50%"), for run records and APIs."""
        return {
            "code": self.code,
            "period_key": self.period_key,
            "period_label": self.period_label,
            "due_date": self.due_date.isoformat(),
            "as_of": self.as_of.isoformat(),
            "overdue": self.overdue,
            "expected": self.expected,
            "received": self.received,
            "on_time": self.on_time,
            "late": self.late,
            "missing": self.missing,
            "pending": self.pending,
            "late_units": self.late_units,
            "reporting_rate": None if self.reporting_rate is None else str(self.reporting_rate),
            "on_time_rate": None if self.on_time_rate is None else str(self.on_time_rate),
            "reporting_rate_text": fmt_percent(self.reporting_rate),
            "on_time_rate_text": fmt_percent(self.on_time_rate),
        }

    def summary(self) -> str:
        """One Vietnamese line: "8 đơn vị phải báo cáo · đã nộp 7 (87,50%) · đúng hạn 6 (75,00%) · ..."."""
        parts = [
            f"{self.expected} đơn vị phải báo cáo",
            f"đã nộp {self.received} ({fmt_percent(self.reporting_rate)})",
            f"đúng hạn {self.on_time} ({fmt_percent(self.on_time_rate)})",
            f"nộp muộn {self.late}",
        ]
        if self.overdue:
            parts.append(f"chưa nộp (quá hạn) {len(self.missing)}")
        else:
            parts.append(f"chưa nộp {len(self.pending)} (hạn {fmt_date(self.due_date)})")
        return " · ".join(parts)


def _status_from(
    info: _Campaign, units: Mapping[str, _Unit], period: _Period, rep: _Reports, as_of: date
) -> PeriodStatus:
    expected = [u.code for u in units.values() if u.reports]
    t: Timeliness = timeliness(expected, rep.first_on_time, due=period.due, as_of=as_of)
    listed = {*t.missing, *t.pending, *t.late_units}
    return PeriodStatus(
        code=info.code,
        period_key=period.key,
        period_label=period.label,
        due_date=period.due,
        as_of=as_of,
        overdue=t.overdue,
        expected=t.expected,
        received=t.received,
        on_time=t.on_time,
        late=t.late,
        missing=t.missing,
        pending=t.pending,
        late_units=t.late_units,
        reporting_rate=t.reporting_rate,
        on_time_rate=t.on_time_rate,
        names={u: units[u].name for u in sorted(listed)},
    )


def period_status(
    engine: Engine, code: str, period_key: str, *, as_of: date, tz: ZoneInfo | None = None
) -> PeriodStatus:
    """Who was expected to report for the period, who did (by `as_of`), on time or late, who has not."""
    with engine.connect() as conn:
        info = _campaign(conn, code)
        period = _period(_periods(conn, info.id), period_key, info.code)
        units = _units(conn, info.id)
        rows = _submission_rows(conn, info.id, [period.key], current_only=False)
    tz = tz or Settings().tz  # the zone is the installation's setting (THIDUA_TIMEZONE)
    reports = _collect(rows, as_of=as_of, tz=tz)
    _first_receipts(rows, reports, as_of=as_of, tz=tz)
    return _status_from(info, units, period, reports.get(period.key, _Reports()), as_of)


# ---------------------------------------------------------------- the status table


@dataclass(frozen=True)
class IndicatorColumn:
    key: str
    label: str
    comparison: str
    target: Decimal  # the definition's (per-unit targets may differ row by row)
    per_unit: bool
    main: bool


@dataclass(frozen=True)
class StatusRow:
    code: str
    name: str
    level: str
    depth: int
    reports: bool  # expected to report itself
    reported: bool | None  # None: the unit does not report itself
    on_time: bool | None  # None: no report (yet), or not expected
    received_on: date | None  # first report of the period
    revision: int | None
    expected_below: int  # reporting units in its subtree (itself included)
    received_below: int
    figures: dict[str, int]  # rolled up
    results: dict[str, IndicatorResult]
    trends: dict[str, Trend]
    is_total: bool = False


@dataclass(frozen=True)
class StatusTable:
    code: str
    title: str
    period_key: str
    period_label: str
    period_start: date | None
    period_end: date | None
    due_date: date
    as_of: date
    previous_period_key: str | None
    previous_period_label: str | None
    fields: list[tuple[str, str]]  # (key, label)
    indicators: list[IndicatorColumn]
    rows: list[StatusRow]  # tree order
    total: StatusRow  # the root's line, or a "Tổng cộng" line when the enrolled tree has several roots
    timeliness: PeriodStatus

    @property
    def main(self) -> IndicatorColumn:
        # The definition has exactly one main indicator; if it applies to people only, the first unit one.
        return next((i for i in self.indicators if i.main), self.indicators[0])

    @property
    def separate_total(self) -> bool:
        """True when `total` is not one of `rows` (several roots) and must be printed on its own."""
        return not any(r is self.total for r in self.rows)

    @property
    def reporting_rows(self) -> list[StatusRow]:
        return [r for r in self.rows if r.reports]


def _default_period(periods: Sequence[_Period], as_of: date) -> _Period:
    # The latest period already due; before the first due date, the first one (the one being worked on).
    # Not "the latest started": monthly periods are cumulative from the campaign start, so all have started.
    due = [p for p in periods if p.due <= as_of]
    return due[-1] if due else periods[0]


def campaign_status(
    engine: Engine, code: str, *, as_of: date, period: str | None = None, tz: ZoneInfo | None = None
) -> StatusTable:
    """The status table of one period (default: the latest due by `as_of`) from reports received by then."""
    with engine.connect() as conn:
        info = _campaign(conn, code)
        periods = _periods(conn, info.id)
        if not periods:
            raise UnknownPeriod(f"Phong trào {info.code} không có kỳ báo cáo định kỳ.")
        chosen = _period(periods, period, info.code) if period else _default_period(periods, as_of)
        index = periods.index(chosen)
        previous = periods[index - 1] if index > 0 else None
        keys = [chosen.key] + ([previous.key] if previous else [])
        units = _units(conn, info.id)
        targets = _targets(conn, info.id)
        rows = _submission_rows(conn, info.id, keys, current_only=False)
    tz = tz or Settings().tz  # the zone is the installation's setting (THIDUA_TIMEZONE)
    reports = _collect(rows, as_of=as_of, tz=tz)
    _first_receipts(rows, reports, as_of=as_of, tz=tz)
    rep = reports.get(chosen.key, _Reports())
    prev = reports.get(previous.key, _Reports()) if previous else None

    defn = info.definition
    inds = _unit_indicators(defn)
    parents = {u.code: u.parent for u in units.values()}
    now_figures = roll_up(parents, _own_figures(units, rep))
    prev_figures = roll_up(parents, _own_figures(units, prev)) if prev is not None else {}
    expected_below = roll_up(parents, {u.code: {"n": 1} for u in units.values() if u.reports})
    received_below = roll_up(parents, {u: {"n": 1} for u in _own_figures(units, rep)})

    def results_and_trends(
        unit: str | None, figures: Mapping[str, int], before: Mapping[str, int] | None
    ) -> tuple[dict[str, IndicatorResult], dict[str, Trend]]:
        results = evaluate_all(inds, figures, unit_code=unit, targets=targets)
        old = evaluate_all(inds, before, unit_code=unit, targets=targets) if before is not None else {}
        trends = {k: trend(r.value, old[k].value if k in old else None) for k, r in results.items()}
        return results, trends

    table_rows: list[StatusRow] = []
    roots: list[StatusRow] = []
    for unit_code, depth in tree_order(parents):
        unit = units[unit_code]
        n_expected = expected_below[unit_code].get("n", 0)
        if n_expected == 0:
            continue  # nothing is reported in this subtree: a row of dashes helps nobody
        figures = now_figures[unit_code]
        results, trends = results_and_trends(
            unit_code, figures, prev_figures.get(unit_code) if prev else None
        )
        reported = unit_code in rep.units if unit.reports else None
        received = rep.first_received.get(unit_code) if unit.reports else None
        row = StatusRow(
            code=unit_code,
            name=unit.name,
            level=unit.level,
            depth=depth,
            reports=unit.reports,
            reported=reported,
            on_time=rep.first_on_time.get(unit_code) if reported else None,
            received_on=received.astimezone(tz).date() if received is not None else None,
            revision=rep.revision.get(unit_code) if reported else None,
            expected_below=n_expected,
            received_below=received_below[unit_code].get("n", 0),
            figures=figures,
            results=results,
            trends=trends,
        )
        table_rows.append(row)
        if unit.parent is None or unit.parent not in units:
            roots.append(row)

    if len(roots) == 1:
        total = roots[0]
    else:
        figures = _sum_figures(r.figures for r in roots)
        before = _sum_figures(prev_figures.get(r.code, {}) for r in roots) if prev is not None else None
        results, trends = results_and_trends(None, figures, before)
        total = StatusRow(
            code="",
            name="Tổng cộng",
            level="",
            depth=0,
            reports=False,
            reported=None,
            on_time=None,
            received_on=None,
            revision=None,
            expected_below=sum(r.expected_below for r in roots),
            received_below=sum(r.received_below for r in roots),
            figures=figures,
            results=results,
            trends=trends,
            is_total=True,
        )

    return StatusTable(
        code=info.code,
        title=info.title,
        period_key=chosen.key,
        period_label=chosen.label,
        period_start=chosen.start,
        period_end=chosen.end,
        due_date=chosen.due,
        as_of=as_of,
        previous_period_key=previous.key if previous else None,
        previous_period_label=previous.label if previous else None,
        fields=[(f.key, f.label) for f in defn.fields],
        indicators=[
            IndicatorColumn(i.key, i.label, i.comparison, i.target, i.targets == "per_unit", i.main)
            for i in inds
        ],
        rows=table_rows,
        total=total,
        timeliness=_status_from(info, units, chosen, rep, as_of),
    )


def _sum_figures(items: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for figures in items:
        for k, v in figures.items():
            out[k] = out.get(k, 0) + v
    return out
