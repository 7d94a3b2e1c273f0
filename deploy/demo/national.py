"""The second demo: the Ministry's 2026 campaign (seed 000) at national size, from launch to awards.

1. the national demo directory (Bộ, Cục Quản lý THADS and its 7 Ban, 34 provincial bodies with their 136
   departments and 355 regional offices: 534 units, ~10,000 staff) is imported;
2. the plan 1058/KH-BTP is launched on 25/02/2026 through the launch flow (plan DOCX, one email per unit);
3. the demo case ledger (1,000,000 cases) is imported and the reporting periods are replayed: the 34
   provincial bodies send each period's figures as the ledger gives them (the CSV form of the template), half
   of them three working days before the due date and half the day before; HCM, CBG and NAN each send one
   period late through the inbox, DBN never sends April; the reminder sweep runs on every working morning
   that has something to send and the collection flow the morning after each due date;
4. the close flow on 11/06/2026; nominations on 12/06: the three provinces ranked first on the main
   indicator propose themselves and their head and deputy for the Minister's Bằng khen (the Cục's council
   reviews them and proposes them to the Bộ), every other province proposes itself and its two best officers
   (by the main indicator when people are measured, else its head and deputy) for the Cục trưởng's Giấy khen;
   two Ban of the Cục propose themselves (CQL-NV for the Bằng khen; CQL-TKDL with its head for the Giấy
   khen); every proposing unit sends its Tờ trình, Biên bản and one Báo cáo thành tích per nominee, the
   system drafts the Danh sách; KHA forgets its Biên bản and DBN sends one achievement report late;
5. the review flow screens every nominee; the Cục's council meets on 22/06/2026 (8 of 9 present, one written
   ballot), every member votes on every eligible nominee — the vote of CQL-NV's head on that Ban is
   refused by the rules, and one officer is not approved — and the review flow closes the meeting;
6. the award flow on 26/06/2026: the Cục trưởng's decision with its certificates and money, and the Tờ trình
   to the Bộ for the Bằng khen; the Minister's decision 1234/QĐ-BTP of 10/07/2026 is recorded, so its
   certificates and emails go out;
7. an account with the seconds each stage took, and where every document and email is.

Everything goes through the flows and tasks a real deployment uses; only the clock is replayed.
"""

from __future__ import annotations

import json
import time as clock
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Engine, select
from sqlmodel import col

from thidua.deploy.demo.directory import write_demo
from thidua.deploy.demo.ledger import write_demo_ledger
from thidua.deploy.demo.months import MonthLog, launched_on
from thidua.deploy.demo.review import _paper, eligible_ids, print_account, review_outcomes
from thidua.models.campaign import Campaign, Deadline, DeadlineKind, EnrolledPerson, EnrolledUnit
from thidua.models.db import ensure_schema, make_engine
from thidua.models.directory import UnitLevel
from thidua.models.report_rows import csv_rows
from thidua.models.review import (
    Council,
    CouncilMeeting,
    CouncilMember,
    FinalResult,
    MeetingStatus,
    Nomination,
    NominationStatus,
    ReviewOutcome,
    ReviewResult,
)
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.models.workdays import load_calendar
from thidua.notifications.documents.sheets import write_csv
from thidua.tasks.collect.ledger import import_ledger, ledger_figures
from thidua.tasks.collect.progress import period_status
from thidua.tasks.collect.reports import inbox_key, ingest_files, template_info
from thidua.tasks.core.directory import import_directory

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"  # a link to the top-level examples/
NATIONAL_DIRECTORY = "national-2026"
NATIONAL_CAMPAIGN = EXAMPLES_DIR / "national-2026.yaml"
NATIONAL_LAUNCH = "25/02/2026"

BANG_KHEN = "bang_khen_bo_truong"
GIAY_KHEN = "giay_khen_cuc_truong"
COUNCIL_UNIT = "CQL"
TOP_PROVINCES = 3  # ranked first on the main indicator: proposed for the Minister's Bằng khen

# The cast of the reporting months: (province, period key).
LATE = (("HCM", "2026-03"), ("CBG", "2026-04"), ("NAN", "2026-05"))  # sent to the inbox on the due day
MISSING = (("DBN", "2026-04"),)
# The Ban of the Cục that nominate: (unit, award, with its head).
CQL_NOMINATIONS: tuple[tuple[str, str, bool], ...] = (
    ("CQL-NV", BANG_KHEN, False),
    ("CQL-TKDL", GIAY_KHEN, True),
)
NO_MINUTES = ("KHA", "QNG")  # the first of these that proposes for the Giấy khen forgets its Biên bản
LATE_DOSSIER = ("DBN", "LCU")  # the first of these sends one Báo cáo thành tích after the deadline
REJECTING_MEMBERS = 5  # of 9: the officer they reject is not approved (more than half of all is needed)
TIE_REASON = "Chủ tịch Hội đồng xếp theo thứ tự đề nghị của đơn vị, đơn vị nộp hồ sơ sớm hơn xếp trước."

# When things happen (Vietnam time).
CLOSE_ON = date(2026, 6, 11)  # at 07:30, after the last collection run
NOMINATE_ON = date(2026, 6, 12)
SCREEN_ON = date(2026, 6, 16)
LATE_FILE_ON = date(2026, 6, 17)
SETUP_ON = date(2026, 6, 19)
MEETING_ON = date(2026, 6, 22)
DECIDED_ON = date(2026, 6, 26)  # the Cục trưởng's decision and the Tờ trình to the Bộ
MINISTRY_DECISION = (1234, "QĐ-BTP", date(2026, 7, 10))
RECORDED_ON = date(2026, 7, 13)

STAGE_LABELS: dict[str, str] = {
    "directory": "Danh bạ",
    "launch": "Phát động",
    "ledger": "Sổ thụ lý",
    "reports": "Báo cáo các kỳ, nhắc hạn, thu thập",
    "close": "Tổng kết",
    "nominations": "Đề nghị khen thưởng và hồ sơ",
    "review": "Xét điều kiện",
    "council": "Họp Hội đồng",
    "awards": "Khen thưởng",
}


@dataclass
class NationalLog:
    """What the national demo did: the facts its account prints and its test checks."""

    code: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall-clock seconds
    detail: dict[str, float] = field(default_factory=dict)  # where the reporting months' time went
    directory: str = ""
    launch: dict[str, Any] = field(default_factory=dict)
    ledger: str = ""
    ledger_rows: int = 0
    months: list[MonthLog] = field(default_factory=list)
    reports_accepted: int = 0
    collect_runs: int = 0
    remind_runs: int = 0
    sweeps: int = 0
    close: dict[str, Any] = field(default_factory=dict)
    top_provinces: list[str] = field(default_factory=list)
    nominations: str = ""
    nominated: dict[str, int] = field(default_factory=dict)  # award key -> nominations
    proposing_units: int = 0
    dossier_files: int = 0
    drafts: int = 0
    no_minutes: str = ""
    late_dossier: str = ""
    screening: dict[str, Any] = field(default_factory=dict)
    meeting_id: int | None = None
    members: list[str] = field(default_factory=list)
    absent: str = ""
    ballots: int = 0
    refused: list[str] = field(default_factory=list)
    not_approved: str = ""
    ties: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # outcome -> nominees
    minutes: str = ""
    award: dict[str, Any] = field(default_factory=dict)
    ministry: list[str] = field(default_factory=list)
    emails_after_ministry: dict[str, Any] = field(default_factory=dict)


def _moment(day: date, hour: int, tz: ZoneInfo, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tz)


@contextmanager
def _timed(seconds: dict[str, float], key: str) -> Iterator[None]:
    started = clock.perf_counter()
    try:
        yield
    finally:
        seconds[key] = seconds.get(key, 0.0) + clock.perf_counter() - started


def _stage(log: NationalLog, key: str) -> Any:
    return _timed(log.seconds, key)


def run_national_demo(
    settings: Settings,
    *,
    as_of: datetime,
    ledger_rows: int | None = None,
    echo: Callable[[str], None] = typer.echo,
    remind_flows: bool = True,
    range_sweeps: bool = True,
) -> NationalLog:
    """The whole national campaign; `ledger_rows` None = the demo ledger's full size (1,000,000 cases).

    `remind_flows` False runs each morning's sweep as the remind flow's three steps called directly (the same
    code, without the ~1 s of a flow run): for a test whose subject is not the reminder flow. `range_sweeps`
    False runs one remind flow per morning that has something to send instead of one per stretch of mornings
    (as the demo did before `--until`; bench/bench_engine.py compares the two)."""
    from thidua.deploy.cli_campaign import print_launch_summary, run_launch

    tz = settings.tz
    log = NationalLog()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    echo(f"Thư mục dữ liệu: {settings.data_dir}")
    echo(f"Cơ sở dữ liệu: {engine.url.render_as_string(hide_password=True)}")

    with _stage(log, "directory"):
        directory_dir = settings.data_dir / "demo" / NATIONAL_DIRECTORY
        files = write_demo(NATIONAL_DIRECTORY, directory_dir)
        ensure_schema(engine)
        log.directory = str(import_directory(engine, files, now=as_of))
    echo(f"1. Danh bạ mẫu {NATIONAL_DIRECTORY} ({directory_dir}): {log.directory}")

    echo(f"2. Phát động phong trào từ {NATIONAL_CAMPAIGN.name} (ngày {as_of:%d/%m/%Y})")
    with _stage(log, "launch"):
        log.launch = run_launch(settings, NATIONAL_CAMPAIGN, as_of)
    print_launch_summary(settings, log.launch)
    log.code = code = log.launch["code"]

    echo("3. Sổ thụ lý và các kỳ báo cáo: THADS 34 tỉnh, thành phố báo cáo số liệu từ sổ thụ lý")
    work = settings.data_dir / "demo" / "national"
    with _stage(log, "ledger"):
        _import_ledger(engine, code, work, ledger_rows, log, tz)
    echo(
        f"   Sổ thụ lý mẫu: {log.ledger} Lập tệp {_seconds(log.detail['ledger_write'])} giây, nhập "
        f"{_seconds(log.detail['ledger_import'])} giây."
    )
    with _stage(log, "reports"):
        _run_periods(settings, engine, code, work, log, echo, remind_flows, range_sweeps)

    from thidua.flows.close import close_flow

    echo("4. Tổng kết")
    with _stage(log, "close"):
        log.close = close_flow(code, _moment(CLOSE_ON, 7, tz, 30), settings)
    echo(f"   {CLOSE_ON:%d/%m/%Y} 07:30 {_close_line(log.close)}")

    echo("5. Đề nghị khen thưởng, xét điều kiện, Hội đồng")
    with _stage(log, "nominations"):
        _nominate(settings, engine, code, work, log)
    echo(
        f"   {NOMINATE_ON:%d/%m/%Y} {log.nominations} · đơn vị đề nghị: {log.proposing_units} · "
        + ", ".join(f"{_award_word(k)}: {n}" for k, n in log.nominated.items())
    )
    echo(f"   Tỉnh xếp đầu về chỉ tiêu chính (đề nghị Bằng khen): {', '.join(log.top_provinces)}")
    echo(
        f"   Hồ sơ: {log.dossier_files} tệp đơn vị nộp, {log.drafts} tệp hệ thống dự thảo; "
        f"{log.no_minutes} thiếu Biên bản, {log.late_dossier} nộp một Báo cáo thành tích sau hạn"
    )

    from thidua.flows.review import review_flow

    def review(moment: datetime, meeting_id: int | None) -> dict[str, Any]:
        return review_flow(code, moment, settings, meeting_id=meeting_id, actor="demo")

    with _stage(log, "review"):
        log.screening = review(_moment(SCREEN_ON, 8, tz), None)
    files = log.screening["completeness"]
    echo(
        f"   {SCREEN_ON:%d/%m/%Y} Xét điều kiện: {log.screening['screening']} · hồ sơ đầy đủ "
        f"{files.get('complete', 0)}, không đầy đủ {files.get('incomplete', 0)}"
    )
    for line in _ineligible_lines(engine, code):
        echo(f"     {line}")
    with _stage(log, "council"):
        _hold_council(settings, engine, code, log, review)
    _print_council(log, echo)

    echo("6. Khen thưởng")
    with _stage(log, "awards"):
        _award(settings, engine, code, log)
    _print_awards(log, echo)

    echo("7. Tóm lại")
    print_account(settings, engine, code, echo)
    total = sum(log.seconds.values())
    echo("   Thời gian từng giai đoạn (giây):")
    for key, label in STAGE_LABELS.items():
        echo(f"     {label:<36} {_seconds(log.seconds.get(key, 0.0)):>8}")
    echo(f"     {'Tổng cộng':<36} {_seconds(total):>8}")
    engine.dispose()
    echo(
        f"Xem lại: thidua campaign show {code} · thidua campaign status {code} · thidua outbox list · "
        f"thidua nomination list {code} · thidua council result {code} {log.meeting_id} · "
        f"thidua award list {code}"
    )
    return log


def _seconds(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _award_word(key: str) -> str:
    return {BANG_KHEN: "Bằng khen của Bộ trưởng", GIAY_KHEN: "Giấy khen của Cục trưởng"}.get(key, key)


# ---------------------------------------------------------------- ledger and reporting periods


def _import_ledger(
    engine: Engine, code: str, work: Path, rows: int | None, log: NationalLog, tz: ZoneInfo
) -> None:
    last_end = _deadlines(engine, code)[-1][1]
    name = "so-thu-ly-national-2026.csv" if rows is None else f"so-thu-ly-national-2026-{rows}.csv"
    with _timed(log.detail, "ledger_write"):
        ledger = write_demo_ledger(NATIONAL_DIRECTORY, work / name, rows=rows)
    with _timed(log.detail, "ledger_import"):
        result = import_ledger(engine, code, ledger, as_of=last_end, now=_moment(last_end, 17, tz))
    log.ledger, log.ledger_rows = result.summary(), result.rows


def _deadlines(engine: Engine, code: str) -> list[tuple[str, date, date]]:
    """The report deadlines: (period key, period end, due date), by due date."""
    with engine.connect() as conn:
        campaign_id = conn.execute(select(col(Campaign.id)).where(col(Campaign.code) == code)).scalar_one()
        rows = conn.execute(
            select(col(Deadline.key), col(Deadline.period_end), col(Deadline.due_date))
            .where(col(Deadline.campaign_id) == campaign_id)
            .where(col(Deadline.kind).in_([DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT]))
            .order_by(col(Deadline.due_date), col(Deadline.key))
        ).all()
    return [(key, end, due) for key, end, due in rows if end is not None]


def _reporting_units(engine: Engine, code: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(col(EnrolledUnit.unit_code))
                .join(Campaign, col(Campaign.id) == col(EnrolledUnit.campaign_id))
                .where(col(Campaign.code) == code, col(EnrolledUnit.reports).is_(True))
                .order_by(col(EnrolledUnit.unit_code))
            ).scalars()
        )


def write_csv_report(
    engine: Engine, code: str, unit: str, period: str, path: Path, values: dict[str, int]
) -> Path:
    """The CSV form of the unit's template with its figures typed in (the unit's row; no officer rows)."""
    info = template_info(engine, code, unit, period)
    rows = csv_rows(info)
    first_field = len(rows[0]) - len(info.fields) - 1
    for i, fdef in enumerate(info.fields):
        rows[1][first_field + i] = str(values.get(fdef.key, 0))
    return write_csv(path, rows)


def _run_periods(
    settings: Settings,
    engine: Engine,
    code: str,
    work: Path,
    log: NationalLog,
    echo: Callable[[str], None],
    remind_flows: bool = True,
    range_sweeps: bool = True,
) -> None:
    """Every reporting period replayed in time order: the provinces' reports, the reminder sweep of every
    working morning (one flow run for each stretch of mornings between two other events, when one of them
    has something to send) and the collection flow at 07:00 the morning after each due date, as the
    scheduler would run them."""
    from thidua.flows.collect import collect_flow
    from thidua.flows.remind import remind_flow
    from thidua.notifications.outbox import dispatch
    from thidua.tasks.remind.reminders import plan_reminders, queue_reminders

    tz = settings.tz
    calendar = load_calendar()
    provinces = _reporting_units(engine, code)
    swept_until = _moment(launched_on(engine, code), 9, tz)

    def remind(month: MonthLog, moments: list[datetime]) -> None:
        """The sweeps of consecutive mornings with nothing else in between: one remind flow run for all of
        them (if any has something to send), as `thidua remind --as-of D1 --until D2` would run them."""
        log.sweeps += len(moments)
        with _timed(log.detail, "sweep"):
            due = [m for m in moments if plan_reminders(engine, code, m, calendar=calendar, tz=tz).emails]
        if not due:
            return
        if remind_flows and not range_sweeps:
            for moment in due:
                log.remind_runs += 1
                with _timed(log.detail, "remind"):
                    one: dict[str, int] = remind_flow(code, moment, settings).get("queue") or {}
                month.reminders += int(one.get("queued", 0))
            return
        log.remind_runs += 1
        with _timed(log.detail, "remind"):
            if remind_flows:
                # From the first morning with something to send: the mornings before it have nothing to do.
                first = moments.index(due[0])
                queue: dict[str, int] = (
                    remind_flow(code, moments[first], settings, until=moments[-1]).get("queue") or {}
                )
            else:  # the flow's steps for each morning with something to send, as separate runs would do
                queue = {"queued": 0}
                for moment in due:
                    plan = plan_reminders(engine, code, moment, calendar=calendar, tz=tz)
                    queue["queued"] += int(queue_reminders(engine, settings, plan, now=moment)["queued"])
                    dispatch(engine, settings, worker_id="remind")
        month.reminders += int(queue.get("queued", 0))

    def submit(month: MonthLog, moment: datetime, files: list[Path]) -> None:
        with _timed(log.detail, "submit"):
            results = ingest_files(engine, settings, code, files, now=moment, submitted_by="demo")
        month.accepted += sum(1 for r in results if r.status == "accepted")

    def to_inbox(month: MonthLog, unit: str, key: str, values: dict[str, int]) -> None:
        # Sent after the day's sweep to the inbox: the next collection run takes it in, marked late.
        storage_for(settings).put_rendered(
            f"{inbox_key(code)}/{unit}-{key}.csv",
            lambda path: write_csv_report(engine, code, unit, key, path, values),
        )
        month.late.append(unit)

    def collect(month: MonthLog, moment: datetime) -> None:
        with _timed(log.detail, "collect"):
            month.collect = collect_flow(code, moment, settings)
        log.collect_runs += 1

    by_due: dict[date, list[tuple[str, date]]] = {}
    for key, period_end, due in _deadlines(engine, code):
        by_due.setdefault(due, []).append((key, period_end))
    for due, group in by_due.items():
        events: list[tuple[datetime, int, Callable[[], None] | None]] = []  # None: a reminder sweep
        months = [MonthLog(key, due) for key, _ in group]
        early = _moment(calendar.add_working_days(due, -3), 9, tz)
        brisk = _moment(calendar.add_working_days(due, -1), 9, tz)
        for month, (key, period_end) in zip(months, group, strict=True):
            with _timed(log.detail, "figures"):
                figures = ledger_figures(engine, code, at=period_end, by="unit")
            batches: dict[datetime, list[Path]] = {}
            for index, unit in enumerate(provinces):
                values = dict(figures.get(unit, {}))
                if (unit, key) in MISSING:
                    month.missing.append(unit)
                elif (unit, key) in LATE:
                    events.append((_moment(due, 16, tz), 1, partial(to_inbox, month, unit, key, values)))
                else:
                    moment = early if index % 2 == 0 else brisk
                    path = write_csv_report(
                        engine, code, unit, key, work / "reports" / key / f"{unit}.csv", values
                    )
                    batches.setdefault(moment, []).append(path)
            for moment, paths in batches.items():
                events.append((moment, 1, partial(submit, month, moment, paths)))
        run_at = datetime.combine(due + timedelta(days=1), time(7), tz)
        day = swept_until.date() + timedelta(days=1)
        while day <= run_at.date():
            if calendar.is_working_day(day):
                moment = _moment(day, 8, tz)
                events.append((moment, 0, None))
            day += timedelta(days=1)
        swept_until = run_at
        events.append((run_at, 2, partial(collect, months[0], run_at)))
        sweeps: list[datetime] = []
        for moment, _, action in sorted(events, key=lambda e: (e[0], e[1])):
            if action is None:
                sweeps.append(moment)
                continue
            if sweeps:
                remind(months[0], sweeps)
                sweeps = []
            action()
        if sweeps:
            remind(months[0], sweeps)
        for month in months:
            month.status = period_status(engine, code, month.period, as_of=run_at.date(), tz=tz).summary()
            log.reports_accepted += month.accepted + len(month.late)
            log.months.append(month)
            echo(_month_line(month))
    detail = {k: _seconds(v) for k, v in log.detail.items()}
    echo(
        f"   {log.sweeps} buổi sáng quét nhắc hạn ({detail.get('sweep', '0')} giây), {log.remind_runs} lượt "
        f"chạy luồng nhắc hạn ({detail.get('remind', '0')} giây; các buổi khác không có gì phải gửi), "
        f"{log.collect_runs} lượt thu thập ({detail.get('collect', '0')} giây); số liệu từ sổ thụ lý "
        f"{detail.get('figures', '0')} giây, tiếp nhận báo cáo {detail.get('submit', '0')} giây"
    )


def _month_line(month: MonthLog) -> str:
    parts = [f"   {month.period:<8} hạn {month.due:%d/%m/%Y}: {month.accepted} báo cáo trước hạn"]
    if month.late:
        parts.append("nộp muộn (qua hộp thư): " + ", ".join(month.late))
    if month.missing:
        parts.append("không nộp: " + ", ".join(month.missing))
    if month.reminders:
        parts.append(f"{month.reminders} thư nhắc hạn")
    return " · ".join(parts) + f"\n{'':13}{month.status}"


def _close_line(summary: dict[str, Any]) -> str:
    docs = summary.get("documents", {})
    return (
        f"{summary.get('status_label', summary.get('status'))} · đạt chỉ tiêu chính: "
        f"{len(summary.get('units_met', []))} đơn vị, chưa đạt: {len(summary.get('units_not_met', []))} · "
        f"báo cáo tổng kết {docs.get('report')}, bảng số liệu {docs.get('table')}, "
        f"biểu đồ {docs.get('chart')} · "
        f"{summary.get('emails_queued', 0)} thư gửi quản trị và đơn vị"
    )


# ---------------------------------------------------------------- nominations and dossiers


@dataclass(frozen=True)
class _Proposal:
    unit: str  # the proposing unit
    award: str
    collective: str
    people: tuple[str, ...]


def _ranked_provinces(engine: Engine, campaign_id: int, provinces: list[str]) -> list[str]:
    """Provinces by their rank on the main indicator (the close run's), unranked last, then by code."""
    with engine.connect() as conn:
        ranks: dict[str, int | None] = {
            subject: rank
            for subject, rank in conn.execute(
                select(col(FinalResult.subject_code), col(FinalResult.rank)).where(
                    col(FinalResult.campaign_id) == campaign_id, col(FinalResult.subject_kind) == "unit"
                )
            ).all()
        }
    return sorted(provinces, key=lambda p: (ranks.get(p) is None, ranks.get(p) or 0, p))


def _best_people(engine: Engine, campaign_id: int, units: list[str]) -> dict[str, tuple[str, ...]]:
    """Each unit's two best officers on the main indicator (anyone in its subtree), when people are
    measured; otherwise its head and first deputy."""
    with engine.connect() as conn:
        parents = dict(
            conn.execute(
                select(col(EnrolledUnit.unit_code), col(EnrolledUnit.parent_code)).where(
                    col(EnrolledUnit.campaign_id) == campaign_id
                )
            )
            .tuples()
            .all()
        )
        ranked = conn.execute(
            select(col(FinalResult.subject_code), col(FinalResult.unit_code))
            .where(
                col(FinalResult.campaign_id) == campaign_id,
                col(FinalResult.subject_kind) == "person",
                col(FinalResult.rank).is_not(None),
            )
            .order_by(col(FinalResult.rank), col(FinalResult.subject_code))
        ).all()
        own = conn.execute(
            select(col(EnrolledPerson.unit_code), col(EnrolledPerson.person_code))
            .where(col(EnrolledPerson.campaign_id) == campaign_id, col(EnrolledPerson.unit_code).in_(units))
            .order_by(
                col(EnrolledPerson.unit_code),
                col(EnrolledPerson.is_head).desc(),
                col(EnrolledPerson.person_code),
            )
        ).all()

    def top(unit_code: str | None) -> str | None:
        while unit_code is not None and unit_code not in units:
            unit_code = parents.get(unit_code)
        return unit_code

    out: dict[str, list[str]] = {u: [] for u in units}
    for person, unit_code in ranked:
        home = top(unit_code)
        if home is not None and len(out[home]) < 2:
            out[home].append(person)
    if not ranked:  # the campaign measures units only (seed 000): the head and the first deputy
        for unit_code, person in own:
            if len(out[unit_code]) < 2:
                out[unit_code].append(person)
    return {u: tuple(p) for u, p in out.items()}


def _proposals(engine: Engine, code: str, log: NationalLog) -> list[_Proposal]:
    with engine.connect() as conn:
        found = conn.execute(select(col(Campaign.id)).where(col(Campaign.code) == code)).scalar_one()
        assert found is not None, "the campaign is launched before its nominations"
        campaign_id = found
        provinces = list(
            conn.execute(
                select(col(EnrolledUnit.unit_code))
                .where(
                    col(EnrolledUnit.campaign_id) == campaign_id, col(EnrolledUnit.level) == UnitLevel.TINH
                )
                .order_by(col(EnrolledUnit.unit_code))
            ).scalars()
        )
    ranked = _ranked_provinces(engine, campaign_id, provinces)
    log.top_provinces = ranked[:TOP_PROVINCES]
    people = _best_people(engine, campaign_id, provinces)
    out = [_Proposal(p, BANG_KHEN if p in log.top_provinces else GIAY_KHEN, p, people[p]) for p in provinces]
    for unit, award, with_head in CQL_NOMINATIONS:
        out.append(_Proposal(unit, award, unit, (f"{unit}-01",) if with_head else ()))
    return out


def _nominate(settings: Settings, engine: Engine, code: str, work: Path, log: NationalLog) -> None:
    from thidua.tasks.review.nominations import (
        NominationError,
        NominationInput,
        add_dossier_file,
        draft_documents,
        nominate,
    )

    tz = settings.tz
    proposals = _proposals(engine, code, log)
    rows: list[NominationInput] = []
    for p in proposals:
        rows.append(NominationInput(p.award, "collective", p.collective, p.unit))
        rows += [NominationInput(p.award, "individual", person, p.unit) for person in p.people]
        log.nominated[p.award] = log.nominated.get(p.award, 0) + 1 + len(p.people)
    log.proposing_units = len(proposals)
    units = {p.unit for p in proposals}
    log.no_minutes = next(u for u in NO_MINUTES if u in units and u not in log.top_provinces)
    log.late_dossier = next(u for u in LATE_DOSSIER if u in units and u != log.no_minutes)
    try:
        log.nominations = str(nominate(engine, code, rows, now=_moment(NOMINATE_ON, 9, tz), actor="demo"))
    except NominationError as exc:
        # A second run of the demo: the campaign is awarded and takes no more nominations; the first run's
        # nominations and dossiers stand.
        log.nominations = str(exc)
        return
    at = _moment(NOMINATE_ON, 14, tz)
    late: tuple[_Proposal, str] | None = None

    def add(p: _Proposal, part: str, path: Path, moment: datetime, nominee: str | None = None) -> None:
        add_dossier_file(
            engine, settings, code, unit_code=p.unit, part_key=part, source=path, original_name=path.name,
            nominee=nominee, award_key=p.award if nominee else None, now=moment, actor=f"demo:{p.unit}",
        )  # fmt: skip
        log.dossier_files += 1

    for p in proposals:
        folder = work / "dossiers" / p.unit
        subjects = [p.collective, *p.people]
        award = _award_word(p.award)
        to_whom = (
            "Cục trưởng Cục Quản lý THADS" if p.award == GIAY_KHEN else "Cục Quản lý THADS trình Bộ trưởng"
        )
        letter = [f"Đề nghị {to_whom} xét tặng {award} cho: {', '.join(subjects)}."]
        add(p, "to_trinh", _paper(folder / "to-trinh.docx", "TỜ TRÌNH", letter), at)
        if p.unit != log.no_minutes:
            minutes = [f"Họp Hội đồng Thi đua - Khen thưởng của {p.unit} bình xét khen thưởng phong trào."]
            add(p, "bien_ban", _paper(folder / "bien-ban.docx", "BIÊN BẢN", minutes), at)
        for subject in subjects:
            if p.unit == log.late_dossier and subject == subjects[-1]:
                late = (p, subject)
                continue
            add(p, "bao_cao_thanh_tich", _achievement(folder, subject), at, subject)
        log.drafts += len(draft_documents(engine, settings, code, p.unit, now=at).files)
    if late is not None:
        p, subject = late
        path = _achievement(work / "dossiers" / p.unit, subject)
        add(p, "bao_cao_thanh_tich", path, _moment(LATE_FILE_ON, 10, tz), subject)


def _achievement(folder: Path, subject: str) -> Path:
    return _paper(
        folder / f"bao-cao-thanh-tich-{subject}.docx",
        "BÁO CÁO THÀNH TÍCH",
        [
            f"Thành tích của {subject} trong phong trào thi đua lập thành tích xuất sắc chào mừng kỷ niệm "
            "80 năm Ngày truyền thống Thi hành án dân sự (19/7/1946 - 19/7/2026).",
        ],
    )


# ---------------------------------------------------------------- the council


def _ineligible_lines(engine: Engine, code: str) -> list[str]:
    """Who failed the screening, with the first reason that failed."""
    from thidua.models.review import EligibilityResult

    with engine.connect() as conn:
        rows = conn.execute(
            select(col(Nomination.subject_code), col(EligibilityResult.reasons_json))
            .join(EligibilityResult, col(EligibilityResult.nomination_id) == col(Nomination.id))
            .join(Campaign, col(Campaign.id) == col(Nomination.campaign_id))
            .where(col(Campaign.code) == code, col(EligibilityResult.eligible).is_(False))
            .order_by(col(Nomination.subject_code))
        ).all()
    out: list[str] = []
    for subject, reasons in rows:
        failed = [r["reason"] for r in json.loads(reasons or "[]") if not r.get("passed")]
        out.append(f"{subject}: {failed[0] if failed else 'không đủ điều kiện'}")
    return out


def _hold_council(
    settings: Settings,
    engine: Engine,
    code: str,
    log: NationalLog,
    review: Callable[[datetime, int | None], dict[str, Any]],
) -> None:
    """The Cục's council: set up on 19/06, meets on 22/06 with 8 of its 9 members; the absent one votes in
    writing; every ballot on every eligible nominee; the review flow closes the meeting."""
    from thidua.deploy.demo.council import demo_council
    from thidua.tasks.review.council import break_tie, open_meeting, write_minutes

    tz = settings.tz
    demo_council(engine, code, COUNCIL_UNIT, now=_moment(SETUP_ON, 9, tz), size=9, actor="demo")
    with engine.connect() as conn:
        log.members = list(
            conn.execute(
                select(col(CouncilMember.person_code))
                .join(Council, col(Council.id) == col(CouncilMember.council_id))
                .join(Campaign, col(Campaign.id) == col(Council.campaign_id))
                .where(col(Campaign.code) == code, col(Council.unit_code) == COUNCIL_UNIT)
                .order_by(col(CouncilMember.id))
            ).scalars()
        )
    log.absent = log.members[-1]
    present = [m for m in log.members if m != log.absent]
    held_at = _moment(MEETING_ON, 8, tz, 30)
    log.meeting_id = open_meeting(
        engine, code, COUNCIL_UNIT, held_at=held_at, present=present, place="Hội trường Cục Quản lý THADS",
        actor=present[0], now=held_at,
    )  # fmt: skip
    with engine.connect() as conn:
        status = conn.execute(
            select(col(CouncilMeeting.status)).where(col(CouncilMeeting.id) == log.meeting_id)
        ).scalar_one()
    if status == MeetingStatus.OPEN:
        _ballots(settings, engine, code, log, review, present)
    close_at = _moment(MEETING_ON, 11, tz)
    closed = review(close_at, log.meeting_id)
    log.minutes = str(closed.get("meeting", {}).get("minutes", ""))
    outcomes = review_outcomes(engine, log.meeting_id)
    by_id = _outcomes_by_id(engine, log.meeting_id)
    tied = sorted(nid for nid, outcome in by_id.items() if outcome == ReviewOutcome.TIE)
    if tied:
        # The chair keeps the order in which the units proposed (nomination ids): a recorded reason.
        log.ties = len(tied)
        break_tie(
            engine, log.meeting_id, tied, reason=TIE_REASON, actor=log.members[0], now=close_at, code=code
        )
        log.minutes = str(write_minutes(engine, settings, code, log.meeting_id, now=close_at))
        outcomes = review_outcomes(engine, log.meeting_id)
    for outcome in outcomes.values():
        log.outcomes[outcome.value] = log.outcomes.get(outcome.value, 0) + 1


def _outcomes_by_id(engine: Engine, meeting_id: int) -> dict[int, ReviewOutcome]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(col(ReviewResult.nomination_id), col(ReviewResult.outcome)).where(
                col(ReviewResult.meeting_id) == meeting_id
            )
        ).all()
    return {int(nid): ReviewOutcome(outcome) for nid, outcome in rows}


def _ballots(
    settings: Settings,
    engine: Engine,
    code: str,
    log: NationalLog,
    review: Callable[[datetime, int | None], dict[str, Any]],
    present: list[str],
) -> None:
    """Every member's secret ballot on every eligible nominee; a refusal by the rules is reported."""
    from thidua.tasks.review.council import VoteRefused, cast_vote

    assert log.meeting_id is not None
    tz = settings.tz
    review(_moment(MEETING_ON, 8, tz, 30), None)  # the screening as of the meeting: who is on the ballot
    eligible = eligible_ids(engine)
    with engine.connect() as conn:
        nominees = conn.execute(
            select(
                col(Nomination.id),
                col(Nomination.subject_code),
                col(Nomination.subject_kind),
                col(Nomination.award_key),
            )
            .join(Campaign, col(Campaign.id) == col(Nomination.campaign_id))
            .where(col(Campaign.code) == code, col(Nomination.status) != NominationStatus.WITHDRAWN)
            .order_by(col(Nomination.award_key), col(Nomination.subject_code))
        ).all()
    on_ballot = [(nid, subject) for nid, subject, _kind, _award in nominees if nid in eligible]
    individuals = [
        s
        for nid, s, kind, award in nominees
        if nid in eligible and kind == "individual" and award == GIAY_KHEN
    ]
    log.not_approved = individuals[-1] if individuals else ""
    rejecters = set(present[:REJECTING_MEMBERS])
    ballot_at = _moment(MEETING_ON, 9, tz)
    written_at = _moment(MEETING_ON - timedelta(days=1), 16, tz)
    for member in log.members:
        written = member == log.absent
        for nid, subject in on_ballot:
            choice = "reject" if subject == log.not_approved and member in rejecters else "approve"
            try:
                at = written_at if written else ballot_at
                cast_vote(engine, log.meeting_id, member, nid, choice, now=at, written=written)
                log.ballots += 1
            except VoteRefused as exc:  # a recusal: the rules refuse it, the demo reports it
                log.refused.append(f"{member} → {subject}: {exc}")


def _print_council(log: NationalLog, echo: Callable[[str], None]) -> None:
    labels = {
        ReviewOutcome.SELECTED.value: "được chọn",
        ReviewOutcome.NOT_APPROVED.value: "không đủ phiếu",
        ReviewOutcome.OVER_QUOTA.value: "vượt chỉ tiêu",
        ReviewOutcome.TIE.value: "bằng nhau",
    }
    echo(
        f"   {MEETING_ON:%d/%m/%Y} Họp Hội đồng Thi đua - Khen thưởng Cục Quản lý THADS (cuộc họp số "
        f"{log.meeting_id}): {len(log.members) - 1}/{len(log.members)} thành viên có mặt, {log.absent} gửi "
        f"phiếu bằng văn bản; {log.ballots} phiếu kín; {len(log.refused)} phiếu bị từ chối theo quy định"
    )
    for line in log.refused:
        echo(f"     {line}")
    echo(
        "     Kết quả: "
        + ", ".join(f"{labels.get(k, k)} {n}" for k, n in sorted(log.outcomes.items()))
        + (f" · không được thông qua: {log.not_approved}" if log.not_approved else "")
        + (f" · {log.ties} trường hợp bằng nhau do Chủ tịch quyết định" if log.ties else "")
    )
    echo(f"     Biên bản: {log.minutes}")


# ---------------------------------------------------------------- awards


def _award(settings: Settings, engine: Engine, code: str, log: NationalLog) -> None:
    """The award flow on 26/06 (the Cục trưởng's decision; the Tờ trình for the Bằng khen), then the
    Minister's decision recorded and its emails sent."""
    from thidua.flows.award import award_flow
    from thidua.notifications.outbox import dispatch
    from thidua.tasks.award.awards import record_external_decision

    tz = settings.tz
    log.award = award_flow(code, _moment(DECIDED_ON, 9, tz), settings, decided_on=DECIDED_ON, actor="demo")
    number, symbol, decided_on = MINISTRY_DECISION
    recorded_at = _moment(RECORDED_ON, 9, tz)
    result = record_external_decision(
        engine, settings, code, BANG_KHEN, number=number, symbol=symbol, decided_on=decided_on,
        now=recorded_at, actor="demo",
    )  # fmt: skip
    log.ministry = result.lines()
    sent = dispatch(engine, settings, worker_id="award")
    log.emails_after_ministry = {"sent": sent.sent, "failed": sent.failed}


def _print_awards(log: NationalLog, echo: Callable[[str], None]) -> None:
    echo(f"   {DECIDED_ON:%d/%m/%Y} Luồng khen thưởng:")
    for lines in log.award.get("decisions", []):
        for line in _compact(lines):
            echo(f"     {line}")
    for waiting in log.award.get("waiting", []):
        echo(f"     Chưa ban hành: {waiting}")
    echo(f"   {RECORDED_ON:%d/%m/%Y} Ghi nhận Quyết định của Bộ trưởng Bộ Tư pháp:")
    for line in _compact(log.ministry):
        echo(f"     {line}")
    echo(f"     Thư đã gửi: {log.emails_after_ministry.get('sent', 0)}")


def _compact(lines: list[str]) -> list[str]:
    """An issuance's lines with its certificates (one PDF per awardee, a hundred at national size) counted
    rather than listed."""
    marker = "  Tài liệu: "
    pdfs = [line[len(marker) :] for line in lines if line.startswith(marker) and line.endswith(".pdf")]
    out = [line for line in lines if not (line.startswith(marker) and line.endswith(".pdf"))]
    if pdfs:
        at = max((i for i, line in enumerate(out) if line.startswith(marker)), default=len(out) - 1) + 1
        out.insert(at, f"  Giấy chứng nhận (PDF): {len(pdfs)} tệp, ví dụ {pdfs[0]}")
    return out
