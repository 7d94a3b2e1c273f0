"""Where a campaign stands, read only: completeness and timeliness of a period, and the status table.

- `period_status` is the DHIS2-style completeness and timeliness of one period: expected reports (enrolled
  units that report), received, on time, late, missing; before the due date, those not in are "pending".
- `campaign_status` builds the table people read: every unit in tree order against its targets, with the
  trend since the previous period, the hierarchy totals and the timeliness summary. It reads submissions
  directly (the revisions received by `as_of`), so it can be replayed for any past date and never shows
  figures older than the last ingest; it writes nothing.

The look-ups here (the campaign, its enrolled units, its periods, the submissions of a period) are shared
with tasks/collect/progress.py, which computes and stores the snapshots. They read through the light table
views of models/core_tables.py, so `thidua campaign status` loads neither the ORM nor pydantic-settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from thidua.errors import NotFound, ThiduaError
from thidua.models.core_tables import DEADLINE, ENROLLED_UNIT, SUBMISSION, UNIT_TARGET
from thidua.models.definition import CampaignDefinition, Indicator, definition_from_json
from thidua.models.indicators import (
    IndicatorResult,
    Timeliness,
    Trend,
    evaluate_all,
    fmt_percent,
    roll_up,
    timeliness,
    tree_order,
    trend,
)
from thidua.models.states import DeadlineKind
from thidua.models.text import fmt_date, nfc
from thidua.tasks.core.queries import find_campaign

_REPORT_KINDS = (DeadlineKind.PERIOD_REPORT.value, DeadlineKind.FINAL_REPORT.value)


def _installation_zone() -> ZoneInfo:
    from thidua.models.settings import Settings

    return Settings().tz  # the zone is the installation's setting (THIDUA_TIMEZONE)


class ProgressError(ThiduaError):
    """Base of this module's errors."""


class UnknownPeriod(ProgressError, NotFound):
    pass


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
    found = find_campaign(conn, code)
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
    # The report-file module is large; only a period typed by hand (`--period`) needs its reading of one.
    from thidua.models.report_rows import normalise_period

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
    tz = tz or _installation_zone()
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
    tz = tz or _installation_zone()
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
