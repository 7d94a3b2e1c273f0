"""Stage 4 of the lifecycle — closing (tổng kết): freeze the reporting, compute the final results, write the
closing report and send it.

- `freeze_and_close` moves an open campaign (launched, collecting) to closed: from then on report ingestion
  refuses every submission with a clear message. Closing a campaign already closed or further on is a no-op.
- `reopen` is the administrator's way back (closed → collecting, with the reason in the audit trail).
- `compute_final_results` stores each enrolled unit's and person's final figures and indicators (FinalResult)
  and ranks them on the campaign's main indicator. The figures are those of the final report period, or of
  the last period with data when no final report came in; they are computed by collect.progress (the same
  roll-up by sums and the same snapshots a collection run stores), never recomputed another way here.
- `closing_content` maps the stored results to the plain data of notifications/documents/closing.py, with
  each reporting unit's and person's figures beside the case ledger's where the campaign has one
  (`final_ledger_checks`: the differences are marked "cần xác minh", the ranking stays on the reported
  figures); `write_closing_documents` writes the DOCX, XLSX and PNG and records them as CampaignDocument rows.
- `queue_closing_emails` sends the report and the table to the campaign's administrators and every enrolled
  unit with an address, once per address and per version of the report: after a reopening, a close whose
  results changed sends the new version, saying which one it replaces and why (tasks/close/versions.py).

Every function is idempotent: a second run with the same data changes no row and queues no email.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select, tuple_
from sqlmodel import Session, SQLModel, col

from thidua.errors import Conflict, InvalidInput, ThiduaError
from thidua.models.campaign import (
    Campaign,
    CampaignStatus,
    Deadline,
    DeadlineKind,
    EnrolledPerson,
    EnrolledUnit,
)
from thidua.models.db import transaction, upsert
from thidua.models.definition import CampaignDefinition, Indicator, definition_from_json
from thidua.models.indicators import IndicatorResult, evaluate_all, fmt_percent, fmt_target, tree_order
from thidua.models.labels import CAMPAIGN_STATUS
from thidua.models.reconciliation import LedgerCheck
from thidua.models.reporting import ProgressSnapshot, SnapshotSource, Submission
from thidua.models.review import CampaignDocument, DocumentKind, FinalResult
from thidua.models.settings import Settings
from thidua.models.storage import LocalStorage, storage_for, storage_key
from thidua.models.text import fmt_date, nfc
from thidua.notifications.documents.closing import (
    ClosingContent,
    FieldColumn,
    IndicatorColumn,
    PersonResult,
    UnitResult,
    assess,
    render_closing_report,
    write_closing_chart,
    write_closing_xlsx,
)
from thidua.notifications.documents.decree30 import DocumentHeader, SignatureBlock
from thidua.notifications.outbox import enqueue_many
from thidua.notifications.templating import render_email
from thidua.tasks.close.versions import ReportVersion, record_issued, report_version, settle
from thidua.tasks.collect.ledger import ReportedFigures, SubjectKey, ledger_checks
from thidua.tasks.collect.progress import canonical, compute_all_snapshots, unit_targets
from thidua.tasks.collect.status_report import short_name
from thidua.tasks.core.campaigns import get_campaign, last_closed_at, require_state, transition
from thidua.tasks.core.declines import declined_units
from thidua.tasks.core.events import CAMPAIGN_CLOSED, emit_prefect_event
from thidua.tasks.launch.campaign import plan_reference
from thidua.tasks.launch.plan import KIND_LABELS

__all__ = [
    "CLOSED_STATUSES",
    "CampaignNotClosed",
    "CannotClose",
    "CloseError",
    "CloseResult",
    "ClosingDocuments",
    "DataPeriod",
    "ReasonRequired",
    "closing_content",
    "competition_ranks",
    "compute_final_results",
    "data_period",
    "final_ledger_checks",
    "freeze_and_close",
    "queue_closing_emails",
    "reopen",
    "write_closing_documents",
]

CLOSED_STATUSES = frozenset(
    {CampaignStatus.CLOSED, CampaignStatus.IN_REVIEW, CampaignStatus.AWARDED, CampaignStatus.ARCHIVED}
)
_OPEN_STATUSES = frozenset({CampaignStatus.LAUNCHED, CampaignStatus.COLLECTING})
# The state labels as they read inside a sentence ("Phong trào X đã kết thúc").
STATUS_LABELS = {status: label[0].lower() + label[1:] for status, label in CAMPAIGN_STATUS.items()}
EMAIL_KIND = "closing_report"
_REPORT_KINDS = (DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT)
FINAL_KEY = "final"

FINAL_RESULT: Table = SQLModel.metadata.tables[FinalResult.__tablename__]
CAMPAIGN_DOCUMENT: Table = SQLModel.metadata.tables[CampaignDocument.__tablename__]


class CloseError(ThiduaError):
    """Base of this module's errors."""


class CannotClose(CloseError, Conflict):
    """The campaign is not in a state that can be closed, or reopened."""


class ReasonRequired(InvalidInput, CannotClose):
    """A reopening without the reason the audit trail keeps."""


class CampaignNotClosed(CloseError, Conflict):
    """A closing step that needs the earlier ones (results before documents, documents before emails)."""


def _status(campaign: Campaign) -> CampaignStatus:
    return CampaignStatus(campaign.status)


def _last_closed_at(s: Session | Connection, campaign_id: int) -> datetime | None:
    return last_closed_at(s, campaign_id)


# ---------------------------------------------------------------- freeze, close, reopen


@dataclass(frozen=True)
class CloseResult:
    code: str
    before: CampaignStatus
    status: CampaignStatus
    changed: bool  # this call changed the state
    closed_at: datetime | None  # when the campaign (last) closed

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, str(self.status))


def freeze_and_close(
    engine: Engine, code: str, *, now: datetime, actor: str, reason: str | None = None
) -> CloseResult:
    """Close the campaign (launched or collecting → closed); a campaign already closed or further on is left
    as it is. Raises WrongState for a draft. `reason` (an administrator's, from the portal) goes into the
    audit row of the move."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    with transaction(engine) as s:
        campaign = get_campaign(s, code, lock=True)
        assert campaign.id is not None
        before = _status(campaign)
        if before in CLOSED_STATUSES:
            return CloseResult(campaign.code, before, before, False, _last_closed_at(s, campaign.id))
        require_state(campaign, _OPEN_STATUSES)
        # transition() stores the audit row "campaign.closed" (before/after); the Prefect event for the
        # automations follows once that row is committed, as the launch does for "campaign.launched".
        why = (nfc(reason) or "").strip()
        details = {"reason": why} if why else None
        transition(s, campaign, CampaignStatus.CLOSED, now=now, actor=actor, details=details)
        result = CloseResult(campaign.code, before, CampaignStatus.CLOSED, True, now)
        payload = {"before": before.value, "after": CampaignStatus.CLOSED.value, "actor": actor}
    emit_prefect_event(result.code, CAMPAIGN_CLOSED, payload=payload, occurred=now)
    return result


def reopen(engine: Engine, code: str, *, now: datetime, actor: str, reason: str) -> CloseResult:
    """An administrator reopens the reporting of a closed campaign (closed → collecting): submissions are
    accepted again until the next close. A campaign already open is left as it is."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    why = nfc(reason) or ""
    if not why:
        raise ReasonRequired(
            "Cần nêu lý do mở lại kỳ báo cáo.", hint=f'Chạy `thidua reopen {code} --reason "…"`.'
        )
    with transaction(engine) as s:
        campaign = get_campaign(s, code, lock=True)
        assert campaign.id is not None
        before = _status(campaign)
        if before in _OPEN_STATUSES:
            return CloseResult(campaign.code, before, before, False, _last_closed_at(s, campaign.id))
        require_state(campaign, {CampaignStatus.CLOSED})
        closed_at = _last_closed_at(s, campaign.id)
        # The audit row of the move says why, for whoever audits the figures later.
        transition(
            s,
            campaign,
            CampaignStatus.COLLECTING,
            now=now,
            actor=actor,
            details={
                "reopened": True,
                "reason": why,
                "closed_at": closed_at.isoformat() if closed_at else None,
            },
        )
        return CloseResult(campaign.code, before, CampaignStatus.COLLECTING, True, closed_at)


# ---------------------------------------------------------------- final results


@dataclass(frozen=True)
class DataPeriod:
    key: str
    label: str
    is_final: bool  # the final report period; False: the last period with data stands in


def data_period(conn: Connection, campaign_id: int) -> DataPeriod:
    """The final report period when any final report is in, else the latest period with a report."""
    deadlines = conn.execute(
        select(
            col(Deadline.key), col(Deadline.label), col(Deadline.kind), col(Deadline.period_end),
            col(Deadline.due_date),
        ).where(col(Deadline.campaign_id) == campaign_id, col(Deadline.kind).in_(list(_REPORT_KINDS)))
    ).all()  # fmt: skip
    if not deadlines:
        raise CannotClose("Phong trào không có kỳ báo cáo nào trong lịch: không có số liệu để tổng kết.")
    # The final report covers the same span as the last month and comes after it (as tasks/collect/progress).
    ordered = sorted(
        deadlines,
        key=lambda d: (d.period_end or d.due_date, DeadlineKind(d.kind) == DeadlineKind.FINAL_REPORT, d.key),
    )
    with_data = set(
        conn.scalars(
            select(col(Submission.period_key))
            .where(col(Submission.campaign_id) == campaign_id, col(Submission.is_current).is_(True))
            .distinct()
        )
    )
    final = next((d for d in ordered if DeadlineKind(d.kind) == DeadlineKind.FINAL_REPORT), None)
    if final is not None and final.key in with_data:
        return DataPeriod(final.key, final.label, True)
    latest = next((d for d in reversed(ordered) if d.key in with_data), None)
    if latest is not None:
        return DataPeriod(latest.key, latest.label, False)
    chosen = final or ordered[-1]
    return DataPeriod(chosen.key, chosen.label, final is not None)


def competition_ranks(values: Mapping[str, Fraction], *, higher_is_better: bool) -> dict[str, int]:
    """1, 2, 2, 4: equal values share a rank and the next rank skips; exact fractions, no rounding."""
    ordered = sorted(values.items(), key=lambda kv: ((-kv[1] if higher_is_better else kv[1]), kv[0]))
    ranks: dict[str, int] = {}
    previous: Fraction | None = None
    rank = 0
    for position, (code, value) in enumerate(ordered, start=1):
        if value != previous:
            rank, previous = position, value
        ranks[code] = rank
    return ranks


def _higher_is_better(indicator: Indicator) -> bool:
    return indicator.comparison in (">=", ">")


def _results(indicators_json: str) -> dict[str, IndicatorResult]:
    return {k: IndicatorResult.from_json(k, v) for k, v in json.loads(indicators_json).items()}


def _no_data_json(indicators: Sequence[Indicator], unit_code: str, targets: Any) -> str:
    results = evaluate_all(indicators, {}, unit_code=unit_code, targets=targets)
    return str(canonical({k: r.as_json() for k, r in results.items()}))


@dataclass
class _Subject:
    kind: str
    code: str
    unit_code: str
    values_json: str
    indicators_json: str
    has_report: bool
    competes: bool
    main: IndicatorResult | None
    rank: int | None = None

    def row(self, campaign_id: int, now: datetime) -> dict[str, Any]:
        return {
            "campaign_id": campaign_id,
            "subject_kind": self.kind,
            "subject_code": self.code,
            "unit_code": self.unit_code,
            "values_json": self.values_json,
            "indicators_json": self.indicators_json,
            "main_met": self.main.met if self.has_report and self.main is not None else None,
            "rank": self.rank,
            "has_report": self.has_report,
            "computed_at": now,
        }


_COMPARED = ("unit_code", "values_json", "indicators_json", "main_met", "rank", "has_report")


def compute_final_results(engine: Engine, code: str, *, now: datetime) -> int:
    """Final figures, indicators and ranks of every enrolled unit and person, stored as FinalResult rows.

    Units: rolled up the hierarchy by sums (tasks/collect/progress snapshots of the chosen period); only units
    that report themselves are ranked (a parent's line restates its children). Persons: the officers' lines
    of their unit's report. Ranked on the main indicator (higher is better for ≥ and >, lower for ≤ and <),
    equal values share a rank; no figures → rank None, has_report False. Re-run: only changed rows are
    rewritten (computed_at stays the moment the result last changed). Returns the number of subjects.
    """
    with engine.connect() as conn:
        campaign = get_campaign(conn, code)
        assert campaign.id is not None
        campaign_id, campaign_code = campaign.id, campaign.code
        defn = definition_from_json(campaign.definition_json)
        period = data_period(conn, campaign_id)
    # The same computation a collection run stores; here for the period the close stands on.
    compute_all_snapshots(engine, campaign_code, [period.key], now=now)
    targets = unit_targets(engine, campaign_code)
    main = defn.main_indicator
    unit_inds = [i for i in defn.indicators if "unit" in i.applies_to]
    person_inds = [i for i in defn.indicators if "person" in i.applies_to]

    with transaction(engine) as s:
        conn = s.connection()
        units = conn.execute(
            select(col(EnrolledUnit.unit_code), col(EnrolledUnit.reports)).where(
                col(EnrolledUnit.campaign_id) == campaign_id
            )
        ).all()
        persons = conn.execute(
            select(col(EnrolledPerson.person_code), col(EnrolledPerson.unit_code)).where(
                col(EnrolledPerson.campaign_id) == campaign_id
            )
        ).all()
        snapshots = {
            (r[0], r[1]): (r[2], r[3])
            for r in conn.execute(
                select(
                    col(ProgressSnapshot.subject_kind),
                    col(ProgressSnapshot.subject_code),
                    col(ProgressSnapshot.values_json),
                    col(ProgressSnapshot.indicators_json),
                ).where(
                    col(ProgressSnapshot.campaign_id) == campaign_id,
                    col(ProgressSnapshot.period_key) == period.key,
                    col(ProgressSnapshot.source) == SnapshotSource.REPORT,
                )
            )
        }
        reported = set(
            conn.scalars(
                select(col(Submission.unit_code)).where(
                    col(Submission.campaign_id) == campaign_id,
                    col(Submission.period_key) == period.key,
                    col(Submission.is_current).is_(True),
                )
            )
        )
        existing = {
            (r[0], r[1]): tuple(r[2:])
            for r in conn.execute(
                select(
                    col(FinalResult.subject_kind),
                    col(FinalResult.subject_code),
                    *(getattr(FinalResult, name) for name in _COMPARED),
                ).where(col(FinalResult.campaign_id) == campaign_id)
            )
        }

        subjects: list[_Subject] = []
        for unit_code, reports in units:
            snap = snapshots.get(("unit", unit_code))
            values_json = snap[0] if snap else "{}"
            indicators_json = snap[1] if snap else _no_data_json(unit_inds, unit_code, targets)
            has_report = unit_code in reported if reports else bool(json.loads(values_json))
            main_result = _results(indicators_json).get(main.key)
            subjects.append(
                _Subject("unit", unit_code, unit_code, values_json, indicators_json, has_report,
                         bool(reports) and has_report, main_result)
            )  # fmt: skip
        for person_code, unit_code in persons:
            snap = snapshots.get(("person", person_code))
            if snap is not None:
                values_json, indicators_json, has_report = snap[0], snap[1], True
            else:
                values_json, indicators_json = "{}", _no_data_json(person_inds, unit_code, targets)
                has_report = False
            main_result = _results(indicators_json).get(main.key)
            subjects.append(
                _Subject("person", person_code, unit_code, values_json, indicators_json, has_report,
                         has_report, main_result)
            )  # fmt: skip

        for kind in ("unit", "person"):
            values = {
                x.code: x.main.value
                for x in subjects
                if x.kind == kind and x.competes and x.main is not None and x.main.value is not None
            }
            ranks = competition_ranks(values, higher_is_better=_higher_is_better(main))
            for x in subjects:
                if x.kind == kind:
                    x.rank = ranks.get(x.code)

        rows = []
        for x in subjects:
            record = x.row(campaign_id, now)
            if existing.get((x.kind, x.code)) != tuple(record[name] for name in _COMPARED):
                rows.append(record)
        upsert(conn, FINAL_RESULT, rows, ("campaign_id", "subject_kind", "subject_code"))
        wanted = {(x.kind, x.code) for x in subjects}
        stale = [key for key in existing if key not in wanted]
        if stale:
            conn.execute(
                delete(FINAL_RESULT).where(
                    FINAL_RESULT.c.campaign_id == campaign_id,
                    tuple_(FINAL_RESULT.c.subject_kind, FINAL_RESULT.c.subject_code).in_(stale),
                )
            )
        return len(subjects)


# ---------------------------------------------------------------- the closing report


def report_symbol(plan_symbol: str) -> str:
    """'KH-CTHADS' → 'BC-CTHADS': the report carries the issuer's symbol after the document type."""
    suffix = plan_symbol.split("-", 1)[1] if "-" in plan_symbol else plan_symbol
    return f"BC-{suffix}"


def _indicator_column(ind: Indicator) -> IndicatorColumn:
    return IndicatorColumn(
        key=ind.key,
        label=ind.label,
        comparison=ind.comparison,
        target=ind.target,
        per_unit=ind.targets == "per_unit",
        numerator=tuple(ind.numerator),
        denominator=tuple(ind.denominator),
    )


def _kind_label(defn: CampaignDefinition) -> str:
    value = str(getattr(defn.kind, "value", defn.kind))
    return KIND_LABELS.get(value, value)


def closing_content(engine: Engine, code: str, *, now: datetime, tz: tzinfo | None = None) -> ClosingContent:
    """The stored final results as the plain data the closing documents are built from (no computation
    beyond the total of an enrolled forest). Raises CampaignNotClosed before compute_final_results ran."""
    with transaction(engine) as s:
        campaign = get_campaign(s, code)
        assert campaign.id is not None
        defn = definition_from_json(campaign.definition_json)
        closed_at = _last_closed_at(s, campaign.id)
        # Dated the day the campaign closed: a re-run on another day writes the same document.
        day = (closed_at or now).astimezone(tz or now.tzinfo).date()
        conn = s.connection()
        period = data_period(conn, campaign.id)
        enrolled = conn.execute(
            select(
                col(EnrolledUnit.unit_code), col(EnrolledUnit.unit_name), col(EnrolledUnit.parent_code),
                col(EnrolledUnit.reports),
            ).where(col(EnrolledUnit.campaign_id) == campaign.id)
        ).all()  # fmt: skip
        people = conn.execute(
            select(
                col(EnrolledPerson.person_code), col(EnrolledPerson.full_name), col(EnrolledPerson.title),
                col(EnrolledPerson.unit_code),
            ).where(col(EnrolledPerson.campaign_id) == campaign.id)
        ).all()  # fmt: skip
        finals = {
            (r.subject_kind, r.subject_code): r
            for r in conn.execute(
                select(
                    col(FinalResult.subject_kind), col(FinalResult.subject_code),
                    col(FinalResult.values_json), col(FinalResult.indicators_json), col(FinalResult.rank),
                    col(FinalResult.has_report),
                ).where(col(FinalResult.campaign_id) == campaign.id)
            )
        }  # fmt: skip
        campaign_code, title = campaign.code, campaign.title
        declined = [d.text() for d in declined_units(conn, campaign.id)]
    if not finals:
        raise CampaignNotClosed(
            f"Phong trào “{campaign_code}” chưa có kết quả cuối cùng.",
            hint=f"Chạy `thidua close {campaign_code}`.",
        )
    checks = final_ledger_checks(engine, campaign_code)

    names = {r.unit_code: r.unit_name for r in enrolled}
    parents = {r.unit_code: r.parent_code for r in enrolled}
    reports = {r.unit_code: bool(r.reports) for r in enrolled}
    unit_inds = [i for i in defn.indicators if "unit" in i.applies_to]

    def unit_line(unit_code: str, depth: int) -> UnitResult:
        final = finals.get(("unit", unit_code))
        name = names[unit_code]
        return UnitResult(
            code=unit_code,
            name=name,
            short_name=short_name(name),
            depth=depth,
            reports=reports[unit_code],
            has_report=bool(final and final.has_report),
            figures=json.loads(final.values_json) if final else {},
            results=_results(final.indicators_json) if final else {},
            rank=final.rank if final else None,
            ledger=checks.get(("unit", unit_code)),
        )

    units = [unit_line(c, d) for c, d in tree_order(parents)]
    roots = [u for u in units if parents[u.code] is None or parents[u.code] not in parents]
    if len(roots) == 1:
        total = roots[0]
    else:
        figures: dict[str, int] = {}
        for root in roots:
            for k, v in root.figures.items():
                figures[k] = figures.get(k, 0) + int(v)
        total = UnitResult(
            code="", name="Tổng cộng", short_name="Tổng cộng", depth=0, reports=False,
            has_report=bool(figures), figures=figures, results=evaluate_all(unit_inds, figures), rank=None,
        )  # fmt: skip

    persons = []
    for person_code, full_name, person_title, unit_code in people:
        final = finals.get(("person", person_code))
        persons.append(
            PersonResult(
                code=person_code,
                full_name=full_name,
                title=person_title,
                unit_code=unit_code,
                unit_name=names.get(unit_code, unit_code),
                has_report=bool(final and final.has_report),
                figures=json.loads(final.values_json) if final else {},
                results=_results(final.indicators_json) if final else {},
                rank=final.rank if final else None,
                ledger=checks.get(("person", person_code)),
            )
        )
    compared = defn.ledger_measures() if checks else {}

    issuer = defn.issuer
    signer = issuer.signer
    return ClosingContent(
        header=DocumentHeader(
            parent_agency=issuer.parent_agency,
            agency=issuer.agency,
            number=None,  # numbered by hand at the clerk's office, as the plan
            symbol=report_symbol(defn.plan.symbol),
            place=issuer.place,
            date=day,
        ),
        campaign_code=campaign_code,
        campaign_title=title,
        kind_label=_kind_label(defn),
        issuer_short_name=issuer.agency_short_name,
        plan_reference=plan_reference(defn),
        period_start=defn.period.start,
        period_end=defn.period.end,
        data_label=period.label,
        data_is_final=period.is_final,
        closed_on=day,
        fields=[FieldColumn(f.key, f.label, f.unit) for f in defn.fields],
        indicators=[_indicator_column(i) for i in unit_inds],
        person_indicators=[_indicator_column(i) for i in defn.indicators if "person" in i.applies_to],
        main_key=defn.main_indicator.key,
        units=units,
        total=total,
        persons=persons,
        signature=SignatureBlock(on_behalf=signer.on_behalf, title=signer.title, name=signer.name),
        recipients=[f"{d.name} {d.note}".strip() if d.note else d.name for d in defn.distribution],
        declined=declined,
        ledger_fields=[FieldColumn(f.key, f.label, f.unit) for f in defn.fields if f.key in compared],
        ledger_at=next(iter(checks.values())).at if checks else None,
    )


def final_ledger_checks(engine: Engine, code: str) -> dict[SubjectKey, LedgerCheck]:
    """The final figures of every unit that reports itself and of every person with figures, beside the case
    ledger's at the end of the period the close stands on (tasks/collect/ledger.ledger_checks). Empty when the
    campaign has no ledger to compare with, or no final results yet."""
    with engine.connect() as conn:
        campaign = get_campaign(conn, code)
        assert campaign.id is not None
        main = definition_from_json(campaign.definition_json).main_indicator.key
        self_reporting = set(
            conn.scalars(
                select(col(EnrolledUnit.unit_code)).where(
                    col(EnrolledUnit.campaign_id) == campaign.id, col(EnrolledUnit.reports).is_(True)
                )
            )
        )
        rows = conn.execute(
            select(
                col(FinalResult.subject_kind), col(FinalResult.subject_code), col(FinalResult.values_json),
                col(FinalResult.indicators_json),
            ).where(col(FinalResult.campaign_id) == campaign.id, col(FinalResult.has_report).is_(True))
        ).all()  # fmt: skip
        if not rows:
            return {}
        period = data_period(conn, campaign.id)
        # A parent's line restates its children's reports: only a subject's own report is checked.
        reported = {
            (kind, subject): ReportedFigures(period.key, json.loads(values), _results(indicators).get(main))
            for kind, subject, values, indicators in rows
            if kind == "person" or subject in self_reporting
        }
    return ledger_checks(engine, campaign.code, reported)


@dataclass(frozen=True)
class ClosingDocuments:
    report_key: str  # DOCX, its storage key (models/storage.py)
    table_key: str  # XLSX
    chart_key: str  # PNG
    report: Path | None  # the local files, when the storage is the data dir
    table: Path | None
    chart: Path | None
    met: list[str] = field(default_factory=list)  # reporting units by outcome, best first
    not_met: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    no_value: list[str] = field(default_factory=list)
    version: int = 1  # of the closing report (tasks/close/versions.py)
    to_verify: list[str] = field(default_factory=list)  # reporting units whose figures differ from the ledger


def closing_keys(code: str, version: int = 1) -> tuple[str, str, str]:
    """The storage keys of the report, table and chart of a version; from version 2 on the names say
    "lan-N", so the files of a version already sent stay as they were sent."""
    slug = code.lower() + (f"-lan-{version}" if version > 1 else "")
    return (
        storage_key("documents", code, f"bao-cao-tong-ket-{slug}.docx"),
        storage_key("documents", code, f"tong-ket-{slug}.xlsx"),
        storage_key("documents", code, f"bieu-do-tong-ket-{slug}.png"),
    )


def versioned_content(
    engine: Engine, code: str, *, now: datetime, tz: tzinfo
) -> tuple[ClosingContent, ReportVersion]:
    """The closing content as the document of its version (tasks/close/versions.py): dated, numbered."""
    content = closing_content(engine, code, now=now, tz=tz)
    with engine.connect() as conn:
        campaign = get_campaign(conn, content.campaign_code)
        assert campaign.id is not None
        version = report_version(conn, campaign.id, content, tz)
    return settle(content, version), version


def write_closing_documents(
    engine: Engine, settings: Settings, code: str, *, now: datetime
) -> ClosingDocuments:
    """Write the closing report (DOCX with the chart), the table (XLSX) and the chart (PNG) under
    `<data>/documents/<CODE>/`, and record them (one CampaignDocument row per kind, replaced on a re-run).
    The documents are dated the day of the close that made their version, so a re-run writes the same bytes;
    a new version (after a reopening changed the results) gets files of its own."""
    content, version = versioned_content(engine, code, now=now, tz=settings.tz)
    report, table, chart = closing_keys(content.campaign_code, version.number)
    storage = storage_for(settings)
    # Rendered in a temporary folder (the DOCX embeds the chart from its file), then stored.
    with tempfile.TemporaryDirectory(prefix="thidua-close-") as tmp:
        local = {k: Path(tmp) / k.rsplit("/", 1)[-1] for k in (report, table, chart)}
        write_closing_chart(content, local[chart])
        render_closing_report(content, local[report], local[chart])
        write_closing_xlsx(content, local[table])
        data = {k: path.read_bytes() for k, path in local.items()}
    for k, payload in data.items():
        storage.put(k, payload)
    files = {
        DocumentKind.CLOSING_REPORT: report,
        DocumentKind.CLOSING_TABLE: table,
        DocumentKind.CLOSING_CHART: chart,
    }
    with transaction(engine) as s:
        campaign = get_campaign(s, content.campaign_code)
        conn = s.connection()
        known = {
            DocumentKind(r[0]): (r[1], r[2])
            for r in conn.execute(
                select(
                    col(CampaignDocument.kind), col(CampaignDocument.path), col(CampaignDocument.sha256)
                ).where(
                    col(CampaignDocument.campaign_id) == campaign.id,
                    col(CampaignDocument.kind).in_(list(files)),
                    col(CampaignDocument.ref) == "",
                )
            )
        }
        rows = []
        for kind, rel in files.items():
            digest = hashlib.sha256(data[rel]).hexdigest()
            if known.get(kind) != (rel, digest):
                rows.append(
                    {"campaign_id": campaign.id, "kind": kind, "ref": "", "path": rel, "sha256": digest,
                     "created_at": now}
                )  # fmt: skip
        upsert(conn, CAMPAIGN_DOCUMENT, rows, ("campaign_id", "kind", "ref"))
    verdict = assess(content)
    local_file = storage.file if isinstance(storage, LocalStorage) else None
    return ClosingDocuments(
        report_key=report,
        table_key=table,
        chart_key=chart,
        report=local_file(report) if local_file else None,
        table=local_file(table) if local_file else None,
        chart=local_file(chart) if local_file else None,
        version=version.number,
        to_verify=[u.code for u in content.units_to_verify],
        met=[u.code for u in verdict.met],
        not_met=[u.code for u in verdict.not_met],
        missing=[u.code for u in verdict.missing],
        no_value=[u.code for u in verdict.no_value],
    )


# ---------------------------------------------------------------- emails


def queue_closing_emails(engine: Engine, settings: Settings, code: str, *, now: datetime) -> int:
    """Queue the closing report (DOCX and XLSX attached) to the administrators and every enrolled unit with
    an address, one email per address, reply-to the campaign contact. Returns how many were new.

    Once per version of the report (tasks/close/versions.py): the first under the dedupe key
    close:<CODE>:<address>; a later version, which says what it replaces and why, under
    close:<CODE>:v<N>:<fingerprint>:<address>. A run whose report says what the last version sent said
    queues nothing."""
    content, version = versioned_content(engine, code, now=now, tz=settings.tz)
    with transaction(engine) as s:
        # One closing run at a time numbers the next version.
        campaign = get_campaign(s, content.campaign_code, lock=True)
        assert campaign.id is not None
        defn = definition_from_json(campaign.definition_json)
        version = report_version(s.connection(), campaign.id, content, settings.tz)
        content = settle(content, version)
        documents = _version_documents(s, campaign, settings, version.number)
        if not version.issued:
            digests = {kind.value: digest for kind, (_path, digest) in documents.items()}
            record_issued(s, campaign.id, version, now=now, documents=digests)
        context = _email_context(content, defn, version)
        attachments = [documents[DocumentKind.CLOSING_REPORT][0], documents[DocumentKind.CLOSING_TABLE][0]]
        key = f"close:{campaign.code}"
        if version.number > 1:
            key += f":v{version.number}:{version.fingerprint[:12]}"
        rows = []
        for address, (name, unit_code) in _recipients(s, campaign.id, defn).items():
            # With a public portal a unit gets a link to its documents page instead of ~1.1 MB of files;
            # the administrators, who have no unit page, keep the attachments.
            link = _documents_link(settings, unit_code, campaign.code)
            extra = {"recipient_name": name, "documents_link": link}
            subject, text, html = render_email(EMAIL_KIND, {**context, **extra})
            rows.append(
                {
                    "dedupe_key": f"{key}:{address}",
                    "kind": EMAIL_KIND,
                    "recipient": address,
                    "recipient_name": name,
                    "subject": subject,
                    "text": text,
                    "html": html,
                    "attachments": [] if link else attachments,
                    "reply_to": defn.issuer.contact.email,
                    "campaign_id": campaign.id,
                }
            )
        return enqueue_many(s, rows, now, storage=storage_for(settings))


def _version_documents(
    s: Session, campaign: Campaign, settings: Settings, version: int
) -> dict[DocumentKind, tuple[str, str]]:
    """The recorded report and table (path, SHA-256) of this version; CampaignNotClosed before they exist."""
    documents = {
        DocumentKind(kind): (path, digest)
        for kind, path, digest in s.execute(
            select(
                col(CampaignDocument.kind), col(CampaignDocument.path), col(CampaignDocument.sha256)
            ).where(
                col(CampaignDocument.campaign_id) == campaign.id,
                col(CampaignDocument.kind).in_([DocumentKind.CLOSING_REPORT, DocumentKind.CLOSING_TABLE]),
                col(CampaignDocument.ref) == "",
            )
        ).tuples()
    }
    report, table, _chart = closing_keys(campaign.code, version)
    wanted = {DocumentKind.CLOSING_REPORT: report, DocumentKind.CLOSING_TABLE: table}
    if any(documents.get(kind, ("", ""))[0] != path for kind, path in wanted.items()):
        lan = f" lần {version}" if version > 1 else ""
        raise CampaignNotClosed(
            f"Phong trào “{campaign.code}” chưa có báo cáo tổng kết{lan} để gửi.",
            hint=f"Chạy `thidua close {campaign.code}`.",
        )
    return documents


def _documents_link(settings: Settings, unit_code: str | None, code: str) -> str | None:
    """The unit's documents page on the portal (deploy/web/pages.py), when the portal has a public address."""
    if not settings.public_url or unit_code is None:
        return None
    return f"{settings.public_url.rstrip('/')}/don-vi/{unit_code}/{code}/tai-lieu"


def _recipients(s: Session, campaign_id: int, defn: CampaignDefinition) -> dict[str, tuple[str, str | None]]:
    """Address → (name, unit code): the campaign's administrators (no unit), then every enrolled unit with
    an address."""
    units = s.execute(
        select(col(EnrolledUnit.unit_name), col(EnrolledUnit.email), col(EnrolledUnit.unit_code))
        .where(col(EnrolledUnit.campaign_id) == campaign_id, col(EnrolledUnit.email).is_not(None))
        .order_by(col(EnrolledUnit.unit_code))
    ).tuples()
    recipients: dict[str, tuple[str, str | None]] = {}
    for address in defn.issuer.administrators:
        recipients.setdefault(address.lower(), ("Bộ phận theo dõi phong trào", None))
    for name, email, unit_code in units:
        address = (nfc(email) or "").lower()
        if address:
            recipients.setdefault(address, (name, unit_code))
    return recipients


def _email_context(
    content: ClosingContent, defn: CampaignDefinition, version: ReportVersion
) -> dict[str, Any]:
    verdict = assess(content)
    main = content.main
    total = content.total.results.get(main.key)
    contact = defn.issuer.contact
    return {
        "campaign_title": content.campaign_title,
        "campaign_code": content.campaign_code,
        "kind_label": content.kind_label,
        "issuer_agency": defn.issuer.agency_short_name,
        "closed_on": fmt_date(content.closed_on),
        "period_start": fmt_date(content.period_start),
        "period_end": fmt_date(content.period_end),
        "data_label": content.data_label,
        "main_label": main.label,
        "target_text": fmt_target(main.comparison, main.target),
        "total_text": fmt_percent(total.value) if total is not None else "—",
        "total_met": "đạt" if total is not None and total.met else "không đạt",
        "reporting": verdict.reporting,
        "met": [u.short_name for u in verdict.met],
        "not_met": [u.short_name for u in verdict.not_met],
        "missing": [u.short_name for u in verdict.missing],
        "contact_department": contact.department,
        "contact_email": contact.email,
        "version": version.number,
        "replaces": version.replaces,
        "replaced_date": fmt_date(version.replaced_date) if version.replaced_date else "",
        "reason": version.reason or "",
        "ledger_date": fmt_date(content.ledger_at) if content.ledger_at else "",
        "to_verify": [
            f"{u.short_name}: {u.ledger.differences_text()}" for u in content.units_to_verify if u.ledger
        ],
    }
