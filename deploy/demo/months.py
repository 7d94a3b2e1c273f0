"""The months of the Tuyên Quang campaign replayed: units report each month what their case ledger says.

Most units report on time through `report submit` (the figures come from the demo case ledger, so reports are
"thực chất"); one reports March late through the inbox; one never sends May; one sends April with an error, is
rejected by email and corrects it the next day; one inflates its June figures, which reconciliation shows;
one answers February's reminder by email, with the filled template attached (when there is a mailbox: see
demo/mailbox.py), and the next collection run reads it from the mailbox.
After each due date the collection flow runs, as the scheduler would at 07:00 the next morning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlmodel import col

from thidua.deploy.demo.ledger import write_demo_ledger
from thidua.deploy.demo.mailbox import DemoMailbox
from thidua.models.campaign import Campaign, Deadline, DeadlineKind, EnrolledUnit
from thidua.models.report_rows import build_layout
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.models.workdays import load_calendar
from thidua.notifications.documents.sheets import write_xlsx
from thidua.tasks.collect.ledger import import_ledger, ledger_figures
from thidua.tasks.collect.progress import period_status
from thidua.tasks.collect.reports import (
    IngestResult,
    inbox_key,
    ingest_files,
    template_info,
    write_template,
)

LATE = ("TQ-HY", "2024-03")
MISSING = ("TQ-LB", "2024-05")
REJECTED_THEN_CORRECTED = ("TQ-SD", "2024-04")
INFLATED = ("TQ-CH", "2024-06")
EMAILED = ("TQ-YS", "2024-02")


@dataclass
class MonthLog:
    period: str
    due: date
    label: str = ""  # as people read it: "Báo cáo tháng 02/2024"
    accepted: int = 0
    late: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    collect: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    reminders: int = 0  # reminder, escalation and digest emails sent during the period
    emailed: list[str] = field(default_factory=list)  # units that answered by email (read by collection)


def _figures_for(
    engine: Engine, code: str, period_end: date
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    units = ledger_figures(engine, code, at=period_end, by="unit", rollup=False)
    officers = ledger_figures(engine, code, at=period_end, by="officer")
    return units, officers


def fill_template(
    engine: Engine,
    code: str,
    unit: str,
    period: str,
    path: Path,
    unit_values: dict[str, int],
    officer_values: dict[str, dict[str, int]],
) -> Path:
    """Write the unit's template and type its figures into the input cells, as a clerk would in Excel."""
    write_template(engine, code, unit, period, path)
    layout = build_layout(template_info(engine, code, unit, period))
    book = load_workbook(path)
    sheet = book[layout.sheet]
    for ref, key in layout.inputs.items():
        sheet[ref] = unit_values.get(key, 0)
    for slot in layout.officer_slots:
        figures = officer_values.get(slot.person_code, {})
        for key, ref in slot.cells.items():
            sheet[ref] = figures.get(key, 0)
    return write_xlsx(book, path)


def run_months(
    settings: Settings,
    engine: Engine,
    code: str,
    collect: Callable[[datetime], dict[str, Any]],
    echo: Callable[[str], None],
    remind: Callable[[datetime], int] | None = None,
    mailbox: DemoMailbox | None = None,
) -> list[MonthLog]:
    tz: ZoneInfo = settings.tz
    calendar = load_calendar()
    work = settings.data_dir / "demo" / "reports"
    with engine.connect() as conn:
        campaign_id = conn.execute(select(col(Campaign.id)).where(col(Campaign.code) == code)).scalar_one()
        reporting = list(
            conn.execute(
                select(col(EnrolledUnit.unit_code))
                .where(col(EnrolledUnit.campaign_id) == campaign_id, col(EnrolledUnit.reports).is_(True))
                .order_by(col(EnrolledUnit.unit_code))
            ).scalars()
        )
        rows = conn.execute(
            select(col(Deadline.key), col(Deadline.period_end), col(Deadline.due_date), col(Deadline.label))
            .where(col(Deadline.campaign_id) == campaign_id)
            .where(col(Deadline.kind).in_([DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT]))
            .order_by(col(Deadline.due_date), col(Deadline.key))
        ).all()
    # Report deadlines always carry a period end; the type allows None for the dossier deadline.
    deadlines: list[tuple[str, date, date]] = [(k, end, due) for k, end, due, _ in rows if end is not None]
    labels: dict[str, str] = {key: label for key, _, _, label in rows}

    ledger = write_demo_ledger("tuyen-quang-2024", work / "so-thu-ly-tuyen-quang-2024.csv")
    last_end = max(end for _, end, _ in deadlines)
    result = import_ledger(engine, code, ledger, as_of=last_end, now=datetime.combine(last_end, time(17), tz))
    echo(f"   Sổ thụ lý mẫu: {result.summary()}")

    logs: list[MonthLog] = []
    swept_until = datetime.combine(launched_on(engine, code), time(9), tz)
    # Deadlines due the same day (June and the final report, 03/07) are replayed together: their reports,
    # reminders and collection share the same mornings.
    by_due: dict[date, list[tuple[str, date]]] = {}
    for key, period_end, due in deadlines:
        by_due.setdefault(due, []).append((key, period_end))
    for due, group in by_due.items():
        # What happens until the due date, replayed in time order: the units' reports, the reminder sweep of
        # every working morning, and the scheduler's collection run at 07:00 the morning after the due date.
        events: list[tuple[datetime, Callable[[], None]]] = []
        # A brisk unit reports two working days before the due date, at 09:00.
        on_time_moment = datetime.combine(calendar.add_working_days(due, -2), time(9), tz)
        group_logs = [MonthLog(key, due, label=labels[key]) for key, _ in group]
        for log, (key, period_end) in zip(group_logs, group, strict=True):
            units, officers = _figures_for(engine, code, period_end)
            for unit in reporting:
                figures = dict(units.get(unit, {}))
                events += _unit_events(
                    settings, engine, code, log, unit, key, figures, officers, on_time_moment, work, mailbox
                )
        run_at = datetime.combine(due + timedelta(days=1), time(7), tz)
        if remind is not None:
            day = swept_until.date() + timedelta(days=1)
            while day <= run_at.date():
                if calendar.is_working_day(day):
                    moment = datetime.combine(day, time(8), tz)
                    events.append((moment, partial(_remind, group_logs[0], remind, moment)))
                day += timedelta(days=1)
            swept_until = run_at

        def collect_run(at: datetime = run_at, log: MonthLog = group_logs[0]) -> None:
            log.collect = collect(at)

        events.append((run_at, collect_run))
        for _, action in sorted(events, key=lambda e: e[0]):
            action()
        for log in group_logs:
            log.status = period_status(engine, code, log.period, as_of=run_at.date(), tz=tz).summary()
            logs.append(log)
            echo(_line(log))
    return logs


def launched_on(engine: Engine, code: str) -> date:
    with engine.connect() as conn:
        launched = conn.execute(select(col(Campaign.launch_as_of)).where(col(Campaign.code) == code)).scalar()
    assert launched is not None, "the campaign is launched before its months are replayed"
    return launched


def _remind(log: MonthLog, remind: Callable[[datetime], int], moment: datetime) -> None:
    log.reminders += remind(moment)


def _unit_events(
    settings: Settings,
    engine: Engine,
    code: str,
    log: MonthLog,
    unit: str,
    key: str,
    values: dict[str, int],
    officers: dict[str, dict[str, int]],
    on_time_moment: datetime,
    work: Path,
    mailbox: DemoMailbox | None = None,
) -> list[tuple[datetime, Callable[[], None]]]:
    """The moments one unit acts in one period, and what it does then."""
    if (unit, key) == MISSING:
        log.missing.append(unit)
        return []
    if (unit, key) == INFLATED or (unit == INFLATED[0] and key == "final"):
        values["finished"] = values.get("finished", 0) + 6  # "kết quả" that the ledger does not back
    path = work / key / f"{unit}.xlsx"

    def submit(at: datetime, file: Path) -> list[IngestResult]:
        return ingest_files(engine, settings, code, [file], now=at, submitted_by="demo")

    if (unit, key) == LATE:
        # Sent to the inbox after the due date: the next collection run picks it up, marked late.
        def late() -> None:
            name = f"{unit}-{key}.xlsx"
            storage_for(settings).put_rendered(
                f"{inbox_key(code)}/{name}",
                lambda path: fill_template(engine, code, unit, key, path, values, officers),
            )
            log.late.append(unit)

        due = log.due
        return [(datetime.combine(due, time(16), on_time_moment.tzinfo), late)]
    if (unit, key) == EMAILED and mailbox is not None:
        # A reply to the reminder with the file attached; the collection run after the due date reads it.
        def by_email() -> None:
            fill_template(engine, code, unit, key, path, values, officers)
            mailbox.reply(engine, code, unit, key, path, when=on_time_moment)
            log.emailed.append(unit)

        return [(on_time_moment, by_email)]
    if (unit, key) == REJECTED_THEN_CORRECTED:

        def wrong() -> None:
            too_many = values.get("carried_over", 0) + values.get("arising", 0) + 10
            bad_path = work / key / f"{unit}-loi.xlsx"
            bad = fill_template(engine, code, unit, key, bad_path, dict(values, finished=too_many), officers)
            log.rejected.extend(unit for r in submit(on_time_moment, bad) if r.status == "rejected")

        def fixed() -> None:
            fill_template(engine, code, unit, key, path, values, officers)
            _count(log, submit(on_time_moment + timedelta(days=1), path))

        return [(on_time_moment, wrong), (on_time_moment + timedelta(days=1), fixed)]

    def on_time() -> None:
        fill_template(engine, code, unit, key, path, values, officers)
        _count(log, submit(on_time_moment, path))

    return [(on_time_moment, on_time)]


def _count(log: MonthLog, results: list[IngestResult]) -> None:
    log.accepted += sum(1 for r in results if r.status == "accepted")


def _line(log: MonthLog) -> str:
    parts = [f"   {log.label or log.period} (hạn {log.due:%d/%m/%Y}): {log.accepted} báo cáo đúng hạn"]
    if log.emailed:
        mail = log.collect.get("mail") or {}
        parts.append(
            "trả lời thư nhắc kèm báo cáo (IMAP): "
            + ", ".join(log.emailed)
            + f", đọc khi thu thập: {mail.get('accepted', 0)} tiếp nhận"
        )
    if log.late:
        parts.append("nộp muộn (qua hộp thư): " + ", ".join(log.late))
    if log.rejected:
        parts.append("bị trả lại rồi sửa: " + ", ".join(log.rejected))
    if log.missing:
        parts.append("không nộp: " + ", ".join(log.missing))
    if log.reminders:
        parts.append(f"{log.reminders} thư nhắc hạn")
    return " · ".join(parts) + f"\n{'':13}{log.status}"
