"""What a unit sees on its portal home: the campaigns it takes part in and, for each report it owes, the due
date in working days (the reminders' calendar), what was received, accepted or rejected, and what is late.

A handful of queries per unit, whatever the number of periods; nothing here changes anything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.errors import NotFound
from thidua.models.campaign import Campaign, CampaignStatus, Deadline, DeadlineKind, EnrolledUnit
from thidua.models.indicators import IndicatorResult
from thidua.models.reminders import working_days_left
from thidua.models.report_rows import opens_on
from thidua.models.reporting import Exemption, RejectedFile, Submission
from thidua.models.review import DossierFile
from thidua.models.workdays import WorkCalendar, load_calendar
from thidua.tasks.collect.reports import normalise_key
from thidua.tasks.core.campaigns import campaign_code
from thidua.tasks.core.declines import Decline, declined_units
from thidua.tasks.core.dossiers import dossier_gaps
from thidua.tasks.review.nominations.listing import NominationView, list_nominations
from thidua.tasks.review.nominations.lookups import campaign_and_definition, dossier_deadline

_REPORTS = (DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT)

#: What a unit's report for one period stands at, in the words the pages show.
STATE_LABELS = {
    "accepted": "Đã tiếp nhận",
    "accepted_late": "Đã tiếp nhận (quá hạn)",
    "rejected": "Bị từ chối — cần nộp lại",
    "late": "Quá hạn, chưa nộp",
    "due": "Chưa nộp",
    "exempt": "Được miễn",
    "not_open": "Chưa đến kỳ",
}


@dataclass(frozen=True)
class PeriodLine:
    key: str
    label: str
    period_start: date | None
    period_end: date | None
    due_date: date
    working_days_left: int  # positive ahead, 0 on the day, negative overdue (the reminders' count)
    state: str  # a key of STATE_LABELS
    revision: int | None  # the current accepted revision
    received_at: datetime | None
    rejected_files: int  # rejected uploads since the current revision (or ever, when none was accepted)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class CampaignLine:
    code: str
    title: str
    status: CampaignStatus
    reports: bool  # the unit is expected to send periodic reports
    periods: list[PeriodLine]

    @property
    def owed(self) -> int:
        return sum(p.state in ("late", "rejected", "due") and p.working_days_left <= 0 for p in self.periods)


_VISIBLE = [s for s in CampaignStatus if s is not CampaignStatus.DRAFT]


def unit_overview(
    engine: Engine, unit_code: str, *, today: date, calendar: WorkCalendar | None = None
) -> list[CampaignLine]:
    """The unit's campaigns, newest first, each with its report periods in calendar order."""
    calendar = calendar or load_calendar()
    with Session(engine) as s:
        enrolled = s.execute(
            select(Campaign, col(EnrolledUnit.reports))
            .join(EnrolledUnit, col(EnrolledUnit.campaign_id) == col(Campaign.id))
            .where(col(EnrolledUnit.unit_code) == unit_code, col(Campaign.status).in_(_VISIBLE))
            .order_by(col(Campaign.start_date).desc(), col(Campaign.code))
        ).all()
        ids = [c.id for c, _ in enrolled]
        if not ids:
            return []
        deadlines = s.scalars(
            select(Deadline).where(col(Deadline.campaign_id).in_(ids), col(Deadline.kind).in_(list(_REPORTS)))
        ).all()
        current = {
            (r.campaign_id, r.period_key): r
            for r in s.scalars(
                select(Submission).where(
                    col(Submission.campaign_id).in_(ids),
                    col(Submission.unit_code) == unit_code,
                    col(Submission.is_current).is_(True),
                )
            )
        }
        rejected = s.execute(
            select(
                col(RejectedFile.campaign_id), col(RejectedFile.period_key), col(RejectedFile.received_at)
            ).where(col(RejectedFile.campaign_id).in_(ids), col(RejectedFile.unit_code) == unit_code)
        ).all()
        exempt = set(
            s.execute(
                select(col(Exemption.campaign_id), col(Exemption.deadline_key)).where(
                    col(Exemption.campaign_id).in_(ids), col(Exemption.unit_code) == unit_code
                )
            )
            .tuples()
            .all()
        )
    by_campaign: dict[int, list[Deadline]] = defaultdict(list)
    for d in deadlines:
        by_campaign[d.campaign_id].append(d)
    lines = []
    for campaign, reports in enrolled:
        assert campaign.id is not None
        periods = []
        for d in sorted(
            by_campaign[campaign.id], key=lambda d: (d.period_end or d.due_date, d.kind != _REPORTS[0])
        ):
            sub = current.get((campaign.id, d.key))
            since = sub.received_at if sub else None
            refused = sum(
                1
                for cid, key, at in rejected
                if cid == campaign.id and key == d.key and (since is None or at > since)
            )
            left = working_days_left(d.due_date, today, calendar)
            if (campaign.id, d.key) in exempt:
                state = "exempt"
            elif sub is not None:
                state = "accepted" if sub.on_time else "accepted_late"
            elif refused:
                state = "rejected"
            elif (
                d.period_start is not None
                and d.period_end is not None
                and today < opens_on(d.period_start, d.period_end)
            ):
                state = "not_open"  # the ingest's own rule: a period opens on the first day of its month
            else:
                state = "late" if today > d.due_date else "due"
            periods.append(
                PeriodLine(
                    d.key,
                    d.label,
                    d.period_start,
                    d.period_end,
                    d.due_date,
                    left,
                    state,
                    sub.revision if sub else None,
                    since,
                    refused,
                )
            )
        lines.append(CampaignLine(campaign.code, campaign.title, campaign.status, bool(reports), periods))
    return lines


def unit_period(
    engine: Engine,
    unit_code: str,
    code: str,
    period_key: str,
    *,
    today: date,
    calendar: WorkCalendar | None = None,
) -> tuple[CampaignLine, PeriodLine]:
    """One period of one campaign of the unit; NotFound when the unit is not in it or the period is not."""
    key = normalise_key(period_key)
    for line in unit_overview(engine, unit_code, today=today, calendar=calendar):
        if line.code == campaign_code(code):
            for period in line.periods:
                if period.key == key:
                    return line, period
            raise NotFound(f"Phong trào {line.code} không có kỳ báo cáo “{key}”.")
    raise NotFound(f"Đơn vị {unit_code} không tham gia phong trào “{code}”.")


def rejected_uploads(
    engine: Engine, unit_code: str, code: str, period_key: str
) -> list[tuple[datetime, str, list[str]]]:
    """The unit's rejected files for one period, newest first: (received, file name, errors)."""
    import json

    with Session(engine) as s:
        rows = s.execute(
            select(
                col(RejectedFile.received_at), col(RejectedFile.source_name), col(RejectedFile.errors_json)
            )
            .join(Campaign, col(Campaign.id) == col(RejectedFile.campaign_id))
            .where(
                col(Campaign.code) == campaign_code(code),
                col(RejectedFile.unit_code) == unit_code,
                col(RejectedFile.period_key) == normalise_key(period_key),
            )
            .order_by(col(RejectedFile.received_at).desc())
        ).all()
    out = []
    for at, name, errors_json in rows:
        errors = [e.get("text") or e.get("problem") or str(e) for e in json.loads(errors_json)]
        out.append((at, name, errors))
    return out


@dataclass(frozen=True)
class IndicatorPoint:
    period_key: str
    period_label: str
    unit: IndicatorResult | None  # None: the unit has no line in that period's table
    total: IndicatorResult | None  # the province's (the tree's root) or the sum of several roots


@dataclass(frozen=True)
class IndicatorSeries:
    key: str
    label: str
    comparison: str
    total_name: str
    points: list[IndicatorPoint]


def unit_indicators(
    engine: Engine, unit_code: str, code: str, *, today: date, tz: ZoneInfo
) -> IndicatorSeries:
    """The unit's main indicator against its target, period by period, beside the province's total: the
    figures of `thidua campaign status` for each period opened by `today`, from reports received by then."""
    from thidua.tasks.collect.progress import campaign_status

    lines = {line.code: line for line in unit_overview(engine, unit_code, today=today)}
    line = lines.get(campaign_code(code))
    if line is None:
        raise NotFound(f"Đơn vị {unit_code} không tham gia phong trào “{code}”.")
    points: list[IndicatorPoint] = []
    key = label = comparison = total_name = ""
    for period in line.periods:
        if period.state == "not_open":
            continue
        table = campaign_status(engine, line.code, as_of=today, period=period.key, tz=tz)
        main = table.main
        key, label, comparison, total_name = main.key, main.label, main.comparison, table.total.name
        row = next((r for r in table.rows if r.code == unit_code), None)
        points.append(
            IndicatorPoint(
                period.key,
                period.label,
                row.results.get(main.key) if row else None,
                table.total.results.get(main.key),
            )
        )
    return IndicatorSeries(key, label, comparison, total_name, points)


@dataclass(frozen=True)
class DossierFileLine:
    part_name: str
    nominee: str | None  # None: a part of the unit's whole dossier
    revision: int
    original_name: str
    uploaded_at: datetime
    on_time: bool
    generated: bool
    file_id: int = 0  # for the download link (deploy/web/pages.py)
    part_key: str = ""
    nomination_id: int | None = None  # None: a part of the unit's whole dossier


@dataclass(frozen=True)
class UnitNominations:
    """What a unit proposed in one campaign and where its dossier stands (read-only)."""

    campaign: CampaignLine
    dossier_label: str
    deadline: date
    working_days_left: int
    declined: Decline | None
    nominations: list[NominationView]
    gaps: list[str]  # “Nguyễn Văn A: Báo cáo thành tích”, one line per nominee still lacking a part
    parts: list[tuple[str, str, bool]]  # (key, name, required)
    files: list[DossierFileLine]
    allowed_types: list[str]
    max_file_mb: int


def unit_nominations(
    engine: Engine, unit_code: str, code: str, *, today: date, calendar: WorkCalendar | None = None
) -> UnitNominations:
    """The unit's nominations with their screening, what its dossier still lacks (computed now, as the
    dossier reminders do), its current dossier files and its “không đề nghị” declaration, if any."""
    calendar = calendar or load_calendar()
    line = next(
        (
            c
            for c in unit_overview(engine, unit_code, today=today, calendar=calendar)
            if c.code == campaign_code(code)
        ),
        None,
    )
    if line is None:
        raise NotFound(f"Đơn vị {unit_code} không tham gia phong trào “{code}”.")
    nominations = list_nominations(engine, line.code, unit_code=unit_code)
    names = {n.id: n.subject_name for n in nominations}
    with Session(engine) as s:
        campaign, defn = campaign_and_definition(s, line.code)
        assert campaign.id is not None
        deadline = dossier_deadline(s, campaign.id, defn)
        gaps = dossier_gaps(s, campaign.id, defn).get(unit_code, [])
        declined = next((d for d in declined_units(s, campaign.id) if d.unit_code == unit_code), None)
        part_names = {p.key: p.name for p in defn.dossier.parts}
        rows = s.scalars(
            select(DossierFile)
            .where(
                col(DossierFile.campaign_id) == campaign.id,
                col(DossierFile.unit_code) == unit_code,
                col(DossierFile.is_current).is_(True),
            )
            .order_by(col(DossierFile.part_key), col(DossierFile.nomination_id))
        ).all()
        files = [
            DossierFileLine(
                part_names.get(r.part_key, r.part_key),
                names.get(r.nomination_id) if r.nomination_id is not None else None,
                r.revision,
                r.original_name,
                r.uploaded_at,
                r.on_time,
                r.generated,
                r.id or 0,
                r.part_key,
                r.nomination_id,
            )
            for r in rows
        ]
        parts = [(p.key, p.name, p.required) for p in defn.dossier.parts]
        label, allowed, max_mb = defn.dossier.label, defn.dossier.allowed_types, defn.dossier.max_file_mb
    return UnitNominations(
        line,
        label,
        deadline,
        working_days_left(deadline, today, calendar),
        declined,
        nominations,
        gaps,
        parts,
        files,
        allowed,
        max_mb,
    )
