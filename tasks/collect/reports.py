"""Unit reports: write the template a unit fills in, ingest filled files, process the campaign's inbox.

The rules (layout, reading, checks) are pure, in models/report_rows.py; this module does the I/O around them.

- `write_template` renders the XLSX (or CSV) template of one unit and period.
- `ingest_files` takes each file on its own, all or nothing within it: accepted → a Submission revision (the
  previous one kept, no longer current) and a copy under `<data>/reports/<CODE>/<unit>/<period>/`; rejected →
  a RejectedFile row, a copy under `<data>/reports/<CODE>/rejected/` and an email to the unit (outbox; the
  caller dispatches). A file byte-identical to the current revision changes nothing, which also makes a
  re-run after a crash between the database commit and the inbox move harmless.
- `process_inbox` ingests every .xlsx/.csv in `<data>/inbox/<CODE>/` and moves it to `processed/` or
  `rejected/` (with `<name>.errors.txt` beside it).
- `report_history` lists the revisions of one unit's report for one period.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from thidua.errors import InvalidInput, ThiduaError
from thidua.models.campaign import Campaign, Deadline, DeadlineKind, DomainEvent, EnrolledPerson, EnrolledUnit
from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition, definition_from_json
from thidua.models.directory import Unit
from thidua.models.files import NotARegularFile, read_regular_file, shown_name
from thidua.models.reminders import KIND_REMINDER, reminder_key_prefix
from thidua.models.report_rows import (
    CLOSED_STATUSES,
    META_SHEET,
    Cell,
    CheckedReport,
    OfficerInfo,
    PeriodInfo,
    PreviousReport,
    RawReport,
    ReportContext,
    ReportError,
    TemplateInfo,
    TemplateLayout,
    UnitInfo,
    build_layout,
    changes_between,
    check_report,
    csv_rows,
    normalise_period,
    read_csv_report,
    read_xlsx_report,
    split_ref,
)
from thidua.models.reporting import RejectedFile, Submission
from thidua.models.settings import Settings
from thidua.models.storage import LocalStorage, Storage, storage_for, storage_key
from thidua.models.text import fmt_date, nfc
from thidua.notifications.documents.sheets import csv_text, write_csv, write_xlsx
from thidua.notifications.outbox import cancel_unsent, enqueue
from thidua.notifications.templating import render_email
from thidua.tasks.collect.collection import FINAL_KEY, outstanding_final_reports
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.core.events import CAMPAIGN_CLOSED, CLOSE_EARLY_LABEL, emit_domain_event

__all__ = [
    "FROZEN_MESSAGE",
    "MAX_REPORT_BYTES",
    "HistoryEntry",
    "InboxResult",
    "IngestResult",
    "MailReply",
    "ReportsError",
    "TemplateError",
    "ingest_files",
    "ingest_mail",
    "ingest_upload",
    "normalise_key",
    "process_inbox",
    "read_report_file",
    "report_history",
    "report_identity",
    "template_info",
    "write_template",
]

log = logging.getLogger(__name__)

# A filled template is a few dozen KB; anything far larger is not one (and openpyxl would load it all).
MAX_REPORT_BYTES = 10 * 1024 * 1024
# A filled template is a few hundred cells and tens of KB once unzipped; the national officer table of one
# unit stays under a few thousand rows. Far beyond these a file is a mistake or an attack (a zip bomb, a sheet
# whose rows were copied down a million times) and is refused before it is expanded.
MAX_UNZIPPED_BYTES = 25 * 1024 * 1024
MAX_CELLS = 100_000
MAX_CSV_ROWS = 20_000
MAX_LISTED_ERRORS = 50  # the rejection email and the .errors.txt list these, then how many more
REPORT_SUFFIXES = (".xlsx", ".csv")
_REPORT_KINDS = (DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT)


class ReportsError(ThiduaError):
    """Base of this module's errors."""


class TemplateError(ReportsError, InvalidInput):
    """A template cannot be made for this unit or period."""


# ---------------------------------------------------------------- shared look-ups


def _report_deadlines(session: Session, campaign_id: int) -> list[Deadline]:
    return list(
        session.scalars(
            select(Deadline).where(
                col(Deadline.campaign_id) == campaign_id, col(Deadline.kind).in_(list(_REPORT_KINDS))
            )
        )
    )


def _period_order(d: Deadline) -> tuple[date, int, str]:
    # "final" covers the same span as the last month and comes after it.
    return (d.period_end or d.due_date, int(d.kind == DeadlineKind.FINAL_REPORT), d.key)


# ---------------------------------------------------------------- templates


def template_info(
    engine: Engine, code: str, unit_code: str, period_key: str, *, officers: bool | None = None
) -> TemplateInfo:
    """What a template shows; officers=None: listed if an indicator applies to people."""
    with Session(engine) as s:
        campaign = get_campaign(s, code)
        assert campaign.id is not None
        defn = definition_from_json(campaign.definition_json)
        unit_code = nfc(unit_code)
        unit = s.scalars(
            select(EnrolledUnit).where(
                col(EnrolledUnit.campaign_id) == campaign.id, col(EnrolledUnit.unit_code) == unit_code
            )
        ).first()
        if unit is None:
            raise TemplateError(f"Đơn vị “{unit_code}” không tham gia phong trào {campaign.code}.")
        if not unit.reports:
            raise TemplateError(
                f"Đơn vị “{unit_code}” ({unit.unit_name}) không thuộc diện gửi báo cáo định kỳ "
                f"của phong trào {campaign.code}."
            )
        key = normalise_key(period_key)
        deadlines = {d.key: d for d in _report_deadlines(s, campaign.id)}
        deadline = deadlines.get(key)
        if deadline is None or deadline.period_start is None or deadline.period_end is None:
            known = ", ".join(d.key for d in sorted(deadlines.values(), key=_period_order))
            raise TemplateError(f"Kỳ báo cáo “{key}” không có trong lịch của phong trào (các kỳ: {known}).")
        with_officers = (
            any("person" in ind.applies_to for ind in defn.indicators) if officers is None else officers
        )
        people: list[OfficerInfo] = []
        if with_officers:
            people = [
                OfficerInfo(p.person_code, p.full_name, p.title)
                for p in s.scalars(
                    select(EnrolledPerson)
                    .where(
                        col(EnrolledPerson.campaign_id) == campaign.id,
                        col(EnrolledPerson.unit_code) == unit_code,
                    )
                    .order_by(col(EnrolledPerson.person_code))
                )
            ]
        contact = defn.issuer.contact
        return TemplateInfo(
            campaign_code=campaign.code,
            campaign_title=campaign.title,
            definition_hash=campaign.definition_hash,
            unit_code=unit.unit_code,
            unit_name=unit.unit_name,
            period_key=deadline.key,
            period_label=deadline.label,
            period_start=deadline.period_start,
            period_end=deadline.period_end,
            due_date=deadline.due_date,
            contact=f"{contact.department} – {contact.email}",
            fields=defn.fields,
            indicators=defn.indicators,
            officers=people,
        )


def write_template(
    engine: Engine,
    code: str,
    unit_code: str,
    period_key: str,
    path: Path,
    *,
    fmt: Literal["xlsx", "csv"] | None = None,
    officers: bool | None = None,
) -> Path:
    """Write the template of one unit and period to `path` (XLSX, or CSV when fmt="csv" or path ends .csv)."""
    info = template_info(engine, code, unit_code, period_key, officers=officers)
    path = Path(path)
    kind = fmt or ("csv" if path.suffix.lower() == ".csv" else "xlsx")
    if kind == "csv":
        return write_csv(path, csv_rows(info))
    return write_xlsx(_render_xlsx(build_layout(info)), path)


def _render_xlsx(layout: TemplateLayout) -> Any:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
    from openpyxl.workbook.protection import WorkbookProtection
    from openpyxl.worksheet.datavalidation import DataValidation

    thin = Side(style="thin", color="808080")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    fonts = {
        "title": Font(name="Times New Roman", size=14, bold=True),
        "subtitle": Font(name="Times New Roman", size=13, bold=True),
        "label": Font(name="Times New Roman", size=12, bold=True),
        "header": Font(name="Times New Roman", size=12, bold=True),
        "value": Font(name="Times New Roman", size=12),
        "note": Font(name="Times New Roman", size=11, italic=True),
    }
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = layout.sheet
    for ref, value in layout.cells.items():
        cell = ws[ref]
        cell.value = value
        style = layout.styles.get(ref, "value")
        cell.font = fonts[style]
        cell.alignment = Alignment(
            wrap_text=True,
            vertical="center",
            horizontal="center" if style in ("title", "subtitle", "header") else None,
        )
        if style == "header":
            cell.fill = PatternFill("solid", fgColor="D9E1F2")
        if style in ("header", "value"):
            cell.border = box
    for rng in layout.merges:
        ws.merge_cells(rng)
    for letter, width in layout.column_widths.items():
        ws.column_dimensions[letter].width = width
    for row_number, height in _row_heights(layout).items():
        ws.row_dimensions[row_number].height = height
    # One page wide, as the office prints it.
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if layout.officer_columns else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    yellow = PatternFill("solid", fgColor="FFF2CC")
    numbers = DataValidation(
        type="whole",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorTitle="Số liệu không hợp lệ",
        error="Chỉ nhập số nguyên không âm (0, 1, 2, …), không có phần thập phân.",
        promptTitle="Số liệu",
        prompt="Nhập số nguyên không âm.",
    )
    mark = DataValidation(
        type="list",
        formula1='"x"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Đính chính số liệu",
        error="Chỉ ghi “x” (đính chính số liệu) hoặc để trống.",
    )
    ws.add_data_validation(numbers)
    ws.add_data_validation(mark)
    for ref in layout.input_cells:
        cell = ws[ref]
        cell.protection = Protection(locked=False)
        cell.fill = yellow
        cell.border = box
        cell.font = fonts["value"]
        if ref == layout.correction_cell:
            cell.alignment = Alignment(horizontal="center")
            mark.add(ref)
        else:
            cell.number_format = "#,##0"
            numbers.add(ref)
    ws.protection.sheet = True  # no password: the fingerprint, not the lock, detects edits

    meta = wb.create_sheet(META_SHEET)
    for i, (key, value, extra) in enumerate(layout.meta, start=1):
        for j, text in enumerate((key, value, extra), start=1):
            if text:
                meta.cell(row=i, column=j, value=text)
    meta.sheet_state = "veryHidden"
    meta.protection.sheet = True
    wb.security = WorkbookProtection(lockStructure=True)
    wb.active = 0
    return wb


_LINE_POINTS = {"title": 20.0, "subtitle": 18.0}


def _row_heights(layout: TemplateLayout) -> dict[int, float]:
    """Heights for rows whose wrapped text needs more than one line: spreadsheet programs do not grow
    merged rows by themselves, and an explicit height is the same in Excel and LibreOffice."""
    from openpyxl.utils import column_index_from_string, get_column_letter

    def width(letter: str) -> float:
        return layout.column_widths.get(letter, 8.43)

    spans: dict[str, float] = {}
    for rng in layout.merges:
        first, last = rng.split(":")
        a, b = column_index_from_string(split_ref(first)[0]), column_index_from_string(split_ref(last)[0])
        spans[first] = sum(width(get_column_letter(i)) for i in range(a, b + 1))
    heights: dict[int, float] = {}
    for ref, value in layout.cells.items():
        if not isinstance(value, str):
            continue
        letter, row = split_ref(ref)
        per_line = max(int(spans.get(ref, width(letter)) * 1.2), 1)  # Times 12 characters per width unit
        lines = max(-(-len(value) // per_line), 1)
        points = _LINE_POINTS.get(layout.styles.get(ref, ""), 16.0)
        heights[row] = max(heights.get(row, 0.0), lines * points)
    return {row: h for row, h in heights.items() if h > 16.0}


# ---------------------------------------------------------------- reading files


def read_report_file(name: str, data: bytes, defn: CampaignDefinition) -> RawReport:
    """The report in a file's bytes (XLSX template or CSV form); unreadable files come back with an error."""
    suffix = Path(name).suffix.lower()
    if len(data) > MAX_REPORT_BYTES:
        return _unreadable(name, f"tệp quá lớn ({len(data) // 1024} KB); mẫu báo cáo chỉ vài chục KB")
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _unreadable(
                name,
                "tệp CSV không ở bảng mã UTF-8; trong Excel hãy chọn Lưu thành “CSV UTF-8 (Comma delimited)”",
            )
        first = next((line for line in text.splitlines() if line.strip()), "")
        # The header decides the separator: Excel in a Vietnamese locale writes ';'.
        delimiter = max((",", ";", "\t"), key=first.count)
        rows: list[list[Cell]] = []
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(rows) >= MAX_CSV_ROWS:
                return _unreadable(name, f"tệp có hơn {_n(MAX_CSV_ROWS)} dòng; mẫu báo cáo chỉ vài trăm dòng")
            rows.append([csv_text(value) for value in row])
        return read_csv_report(name, rows, defn.fields)
    if suffix == ".xlsx":
        try:
            workbook = _xlsx_cells(data)
        except _TooLarge as exc:
            return _unreadable(name, str(exc))
        except Exception as exc:
            # The per-file edge: whatever a malformed workbook makes openpyxl raise (BadZipFile, KeyError,
            # ValueError ...), the file is rejected with a reason and the other files go on.
            log.info("report %s: unreadable workbook", name, exc_info=True)
            return _unreadable(
                name, f"không đọc được tệp Excel ({type(exc).__name__}); tệp có bị hỏng không?"
            )
        return read_xlsx_report(name, workbook)
    return _unreadable(
        name,
        f"định dạng “{suffix or '(không có đuôi)'}” không được nhận; hãy gửi tệp mẫu .xlsx hoặc .csv (UTF-8)",
    )


def _unreadable(name: str, problem: str) -> RawReport:
    raw = RawReport(file=name, fmt="csv", errors=[ReportError(name, problem)])
    raw.unusable = True
    return raw


class _TooLarge(Exception):
    """A workbook past the bounds above; its message is the Vietnamese reason."""


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _xlsx_cells(data: bytes) -> dict[str, dict[str, Cell]]:
    import zipfile

    from openpyxl import load_workbook  # only the XLSX path pays for importing openpyxl

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    if unzipped > MAX_UNZIPPED_BYTES:
        mb, limit = unzipped // (1024 * 1024), MAX_UNZIPPED_BYTES // (1024 * 1024)
        raise _TooLarge(
            f"tệp giải nén ra {_n(mb)} MB (tối đa {limit} MB); mẫu báo cáo chỉ vài chục KB — "
            "hãy gửi lại đúng tệp mẫu"
        )
    # read_only streams the sheets; data_only gives a formula's value as Excel last computed it.
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        out: dict[str, dict[str, Cell]] = {}
        seen = 0
        for ws in wb.worksheets:
            # The declared size may be small while the sheet holds more rows: read what is really there.
            ws.reset_dimensions()
            cells: dict[str, Cell] = {}
            for row in ws.iter_rows():
                seen += len(row)
                if seen > MAX_CELLS:
                    raise _TooLarge(f"tệp có hơn {_n(MAX_CELLS)} ô; mẫu báo cáo chỉ vài trăm ô")
                for cell in row:
                    if cell.value is not None:
                        cells[cell.coordinate] = cast(Cell, cell.value)
            out[ws.title] = cells
        return out
    finally:
        wb.close()


# ---------------------------------------------------------------- ingest


@dataclass(frozen=True)
class IngestResult:
    """What became of one file. status: accepted (a new revision), unchanged (identical to the current
    revision: nothing done) or rejected."""

    path: Path
    source_name: str
    status: Literal["accepted", "unchanged", "rejected"]
    sha256: str
    unit_code: str | None = None
    period_key: str | None = None
    revision: int | None = None
    on_time: bool | None = None
    is_correction: bool = False
    changes: dict[str, list[int | None]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stored_path: Path | None = None  # the local file, when the storage is the data dir
    stored_key: str | None = None  # where the file is kept (models/storage.py)
    unsafe: bool = False  # a link or special file: refused unread, moved aside as it is
    notified: bool = False  # a rejection email was queued

    @property
    def accepted(self) -> bool:
        return self.status != "rejected"


@dataclass(frozen=True)
class _CampaignView:
    id: int
    code: str
    title: str
    defn: CampaignDefinition


def ingest_files(
    engine: Engine,
    settings: Settings,
    code: str,
    paths: Sequence[Path],
    *,
    now: datetime,
    submitted_by: str | None = None,
    within: Path | None = None,
) -> list[IngestResult]:
    """Ingest report files of a campaign, each on its own; raises CampaignNotFound for an unknown code.

    Only regular files are read, never through a symbolic link; with `within`, only files directly in that
    folder (the inbox)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    with Session(engine) as s:
        campaign = get_campaign(s, code)
        assert campaign.id is not None
        view = _CampaignView(
            campaign.id, campaign.code, campaign.title, definition_from_json(campaign.definition_json)
        )
    return [
        _ingest_one(engine, settings, view, Path(p), now=now, submitted_by=submitted_by, within=within)
        for p in paths
    ]


def _ingest_one(
    engine: Engine,
    settings: Settings,
    view: _CampaignView,
    path: Path,
    *,
    now: datetime,
    submitted_by: str | None,
    within: Path | None = None,
    stored: str | None = None,
) -> IngestResult:
    """One file: a local `path` (read only as a regular file, inside `within` when given) or, with
    `stored`, the file of that storage key (the inbox), `path` then being its name as received."""
    source_name = (shown_name(nfc(path.name)) or "tệp")[:300]
    try:
        data = storage_for(settings).get(stored) if stored else read_regular_file(path, within=within)
    except NotARegularFile as exc:
        return IngestResult(path, source_name, "rejected", "", errors=[str(exc)], unsafe=True)
    except OSError as exc:
        problem = f"không đọc được tệp ({exc.strerror or type(exc).__name__})"
        return IngestResult(path, source_name, "rejected", "", errors=[f"{source_name}: {problem}"])
    return _ingest_data(engine, settings, view, path, source_name, data, now=now, submitted_by=submitted_by)


def ingest_upload(
    engine: Engine,
    settings: Settings,
    code: str,
    name: str,
    data: bytes,
    *,
    now: datetime,
    submitted_by: str,
    unit_code: str,
) -> IngestResult:
    """Ingest one report sent through the portal by someone acting for `unit_code`: the same checks, records,
    emails and answer as a file in the inbox, except that a file naming another unit is refused before
    anything is stored (the sender may not report for it, and that unit is not emailed about it).

    `name` is the sender's file name: shown in answers and records, never used as a path."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    with Session(engine) as s:
        campaign = get_campaign(s, code)
        assert campaign.id is not None
        view = _CampaignView(
            campaign.id, campaign.code, campaign.title, definition_from_json(campaign.definition_json)
        )
    source_name = (shown_name(nfc(Path(name.replace("\\", "/")).name)) or "tệp")[:300]
    path = Path(source_name)
    raw = read_report_file(source_name, data, view.defn)
    if raw.unit_code is not None and raw.unit_code != nfc(unit_code):
        problem = (
            f"{source_name}: tệp là báo cáo của đơn vị “{raw.unit_code}”, không phải của đơn vị "
            f"{nfc(unit_code)}; chỉ nộp được báo cáo của đơn vị mình"
        )
        return IngestResult(path, source_name, "rejected", "", unit_code=nfc(unit_code), errors=[problem])
    return _ingest_data(
        engine, settings, view, path, source_name, data, now=now, submitted_by=submitted_by, raw=raw
    )


@dataclass(frozen=True)
class MailReply:
    """A report that came by email: every answer goes to its sender as a reply in the same thread."""

    sender: str  # the From address, lower-cased (checked to belong to the unit before the ingest)
    message_key: str  # the message's Message-ID (or its digest): one answer per message
    subject: str  # the message's subject
    message_id: str | None = None
    references: str = ""  # the message's own References header

    @property
    def dedupe_key(self) -> str:
        return "mail-reply:" + hashlib.sha256(self.message_key.encode("utf-8")).hexdigest()[:40]

    def subject_line(self) -> str:
        """ "Re: " and their subject, as mail programs thread a reply."""
        subject = " ".join(self.subject.split()) or "(không có tiêu đề)"
        return subject if re.match(r"(?i)^(re|tr|aw|sv)\s*:", subject) else f"Re: {subject}"

    def headers(self) -> dict[str, str]:
        if not self.message_id:
            return {}
        chain = " ".join([*self.references.split()[-10:], self.message_id])
        return {"In-Reply-To": self.message_id, "References": chain}


def report_identity(name: str, data: bytes) -> tuple[str | None, str | None]:
    """(campaign code, unit code) a report file names, read before its campaign is known (None: unreadable).
    The checks proper happen in the ingest; this only says where the file is meant to go."""
    from thidua.models.report_rows import read_csv_report as _read_csv

    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".xlsx":
            raw = read_xlsx_report(name, _xlsx_cells(data))
        elif suffix == ".csv":
            text = data.decode("utf-8-sig")
            first = next((line for line in text.splitlines() if line.strip()), "")
            delimiter = max((",", ";", "\t"), key=first.count)
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))[:MAX_CSV_ROWS]
            raw = _read_csv(name, [[csv_text(v) for v in row] for row in rows], [])
        else:
            return None, None
    except Exception:
        log.info("report %s: identity unreadable", name, exc_info=True)
        return None, None
    return raw.campaign_code, raw.unit_code


def ingest_mail(
    s: Session,
    settings: Settings,
    code: str,
    name: str,
    data: bytes,
    *,
    now: datetime,
    reply: MailReply,
) -> IngestResult:
    """Ingest one report attached to an email, inside the caller's transaction (which also records the
    message): the same checks, records and emails as the inbox folder and the portal, every answer going to
    the sender in the thread of their message (an acceptance too, since nobody watches a page)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    campaign = get_campaign(s, code)
    assert campaign.id is not None
    view = _CampaignView(
        campaign.id, campaign.code, campaign.title, definition_from_json(campaign.definition_json)
    )
    source_name = (shown_name(nfc(Path(name.replace("\\", "/")).name)) or "tệp")[:300]
    raw = read_report_file(source_name, data, view.defn)
    sha = hashlib.sha256(data).hexdigest()
    return _ingest_in(
        s, settings, view, Path(source_name), source_name, data, sha, raw, now, reply.sender, reply
    )


def _ingest_data(
    engine: Engine,
    settings: Settings,
    view: _CampaignView,
    path: Path,
    source_name: str,
    data: bytes,
    *,
    now: datetime,
    submitted_by: str | None,
    raw: RawReport | None = None,
) -> IngestResult:
    sha = hashlib.sha256(data).hexdigest()
    raw = raw or read_report_file(source_name, data, view.defn)
    with transaction(engine) as s:
        return _ingest_in(s, settings, view, path, source_name, data, sha, raw, now, submitted_by, None)


def _ingest_in(
    s: Session,
    settings: Settings,
    view: _CampaignView,
    path: Path,
    source_name: str,
    data: bytes,
    sha: str,
    raw: RawReport,
    now: datetime,
    submitted_by: str | None,
    reply: MailReply | None,
) -> IngestResult:
    """The one ingest of every way in (inbox folder, portal, email), inside the caller's transaction: the
    campaign row is locked, so two ingests of one campaign run one after the other."""
    received_on = now.astimezone(settings.tz).date()
    campaign = get_campaign(s, view.code, lock=True)
    same = s.scalars(
        select(Submission).where(
            col(Submission.campaign_id) == view.id,
            col(Submission.file_sha256) == sha,
            col(Submission.is_current).is_(True),
        )
    ).first()
    if same is not None:
        unchanged = IngestResult(
            path,
            source_name,
            "unchanged",
            sha,
            unit_code=same.unit_code,
            period_key=same.period_key,
            revision=same.revision,
            on_time=same.on_time,
            is_correction=same.is_correction,
            stored_path=_local_file(settings, same.stored_path),
            stored_key=same.stored_path,
        )
        if reply is not None:
            _queue_acceptance(s, settings, view, unchanged, _report_deadlines(s, view.id), reply, now)
        return unchanged
    deadlines = _report_deadlines(s, view.id)
    ctx = _context(s, campaign, view, raw, deadlines, received_on)
    frozen = ctx.status in CLOSED_STATUSES
    checked = _frozen(s, campaign, raw, settings) if frozen else check_report(raw, ctx)
    if checked.ok:
        accepted = _accept(
            s, settings, view, path, source_name, data, sha, checked, deadlines, now, submitted_by
        )
        if reply is not None:
            _queue_acceptance(s, settings, view, accepted, deadlines, reply, now)
        return accepted
    return _reject(
        s, settings, view, path, source_name, data, sha, raw, checked, deadlines, now, submitted_by, reply
    )


def _close_early_labels(s: Session, view: _CampaignView, period_key: str) -> dict[str, str]:
    """The label that starts the early close (deploy/prefect.yaml, on-final-reports) when this report is the
    last final report a campaign that allows it was waiting for."""
    if period_key != FINAL_KEY or not view.defn.close_early_when_complete:
        return {}
    s.flush()  # this report counts
    return {CLOSE_EARLY_LABEL: "true"} if not outstanding_final_reports(s, view.id) else {}


def _context(
    s: Session,
    campaign: Campaign,
    view: _CampaignView,
    raw: RawReport,
    deadlines: list[Deadline],
    received_on: date,
) -> ReportContext:
    units = {
        u.unit_code: UnitInfo(u.unit_code, u.unit_name, u.reports)
        for u in s.scalars(select(EnrolledUnit).where(col(EnrolledUnit.campaign_id) == view.id))
    }
    known: frozenset[str] = frozenset()
    if raw.unit_code is not None and raw.unit_code not in units:
        found = s.execute(select(col(Unit.code)).where(col(Unit.code) == raw.unit_code)).scalar_one_or_none()
        known = frozenset({found}) if found else frozenset()
    people: dict[str, str] = {}
    codes = sorted({o.person_code for o in raw.officers})
    for start in range(0, len(codes), 500):
        people.update(
            s.execute(
                select(col(EnrolledPerson.person_code), col(EnrolledPerson.unit_code)).where(
                    col(EnrolledPerson.campaign_id) == view.id,
                    col(EnrolledPerson.person_code).in_(codes[start : start + 500]),
                )
            )
            .tuples()
            .all()
        )
    periods = {
        d.key: PeriodInfo(d.key, d.label, d.period_start, d.period_end, d.due_date)
        for d in deadlines
        if d.period_start is not None and d.period_end is not None
    }
    return ReportContext(
        campaign_code=view.code,
        definition_hash=campaign.definition_hash,
        status=str(campaign.status.value if hasattr(campaign.status, "value") else campaign.status),
        fields=view.defn.fields,
        indicators=view.defn.indicators,
        units=units,
        known_units=known,
        people=people,
        periods=periods,
        received_on=received_on,
        previous=_previous(s, view.id, raw.unit_code, raw.period_key, deadlines),
    )


FROZEN_MESSAGE = (
    "Phong trào đã kết thúc ngày {day}; báo cáo không được nhận. Liên hệ quản trị để mở lại kỳ báo cáo."
)


def _frozen(s: Session, campaign: Campaign, raw: RawReport, settings: Settings) -> CheckedReport:
    """The one error of any file sent after the close (tasks/close), whatever else it holds: the figures
    are frozen, so the rest of the file does not matter until an administrator reopens the reporting."""
    closed_at = s.execute(
        select(func.max(col(DomainEvent.at))).where(
            col(DomainEvent.campaign_id) == campaign.id, col(DomainEvent.kind) == CAMPAIGN_CLOSED
        )
    ).scalar_one_or_none()
    if closed_at is None:
        day = campaign.end_date  # closed outside the close stage: its end date is the best answer
    else:
        aware = closed_at if closed_at.tzinfo is not None else closed_at.replace(tzinfo=UTC)
        day = aware.astimezone(settings.tz).date()
    error = raw.period_where.error(raw.file, FROZEN_MESSAGE.format(day=fmt_date(day)))
    return CheckedReport(raw.unit_code, raw.period_key, {}, [], False, [error], [])


def _previous(
    s: Session, campaign_id: int, unit_code: str | None, period_key: str | None, deadlines: list[Deadline]
) -> PreviousReport | None:
    """The unit's current report of the latest period before this one (a skipped month is skipped)."""
    by_key = {d.key: d for d in deadlines}
    this = by_key.get(period_key or "")
    if unit_code is None or this is None:
        return None
    earlier = {d.key: d for d in deadlines if _period_order(d) < _period_order(this)}
    if not earlier:
        return None
    rows = s.execute(
        select(col(Submission.period_key), col(Submission.values_json)).where(
            col(Submission.campaign_id) == campaign_id,
            col(Submission.unit_code) == unit_code,
            col(Submission.is_current).is_(True),
            col(Submission.period_key).in_(list(earlier)),
        )
    ).all()
    if not rows:
        return None
    key, values_json = max(rows, key=lambda r: _period_order(earlier[r[0]]))
    return PreviousReport(key, earlier[key].label, json.loads(values_json))


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""


def _accept(
    s: Session,
    settings: Settings,
    view: _CampaignView,
    path: Path,
    source_name: str,
    data: bytes,
    sha: str,
    checked: CheckedReport,
    deadlines: list[Deadline],
    now: datetime,
    submitted_by: str | None,
) -> IngestResult:
    unit, key = checked.unit_code, checked.period_key
    assert unit is not None and key is not None
    deadline = next(d for d in deadlines if d.key == key)
    where = (
        col(Submission.campaign_id) == view.id,
        col(Submission.unit_code) == unit,
        col(Submission.period_key) == key,
    )
    last = s.execute(select(func.max(col(Submission.revision))).where(*where)).scalar_one_or_none()
    revision = int(last or 0) + 1
    current = s.scalars(select(Submission).where(*where, col(Submission.is_current).is_(True))).first()
    changes: dict[str, list[int | None]] = {}
    if current is not None:
        changes = changes_between(
            json.loads(current.values_json),
            checked.values,
            json.loads(current.officers_json or "[]"),
            checked.officers,
        )
        current.is_current = False
        s.add(current)
        s.flush()

    # Never the sender's file name in a path: codes checked against the campaign, a revision and a digest.
    rel = storage_key("reports", view.code, unit, key, f"r{revision}-{sha[:8]}{_suffix(source_name)}")
    storage_for(settings).put(rel, data)

    received_on = now.astimezone(settings.tz).date()
    on_time = received_on <= deadline.due_date
    warnings = [str(w) for w in checked.warnings]
    s.add(
        Submission(
            campaign_id=view.id,
            unit_code=unit,
            period_key=key,
            revision=revision,
            is_current=True,
            received_at=now,
            submitted_by=(nfc(submitted_by) or "")[:254] or None if submitted_by else None,
            due_date=deadline.due_date,
            on_time=on_time,
            is_correction=checked.is_correction,
            source_name=source_name,
            stored_path=rel,
            file_sha256=sha,
            values_json=json.dumps(checked.values, ensure_ascii=False),
            officers_json=json.dumps(
                [{"person_code": o.person_code, "values": o.values} for o in checked.officers],
                ensure_ascii=False,
            ),
            changes_json=json.dumps(changes, ensure_ascii=False),
            note="\n".join(warnings) or None,
        )
    )
    emit_domain_event(
        s,
        campaign_code=view.code,
        campaign_id=view.id,
        kind="report.accepted",
        now=now,
        unit_code=unit,
        actor=(submitted_by or "")[:100] or None,
        labels=_close_early_labels(s, view, key),
        payload={
            "period": key,
            "revision": revision,
            "on_time": on_time,
            "correction": checked.is_correction,
            "sha256": sha,
            "file": source_name,
            "changes": changes,
        },
    )
    # The unit no longer owes this period: reminders still waiting in the outbox must not go out.
    cancel_unsent(s, view.id, kind=KIND_REMINDER, key_prefix=reminder_key_prefix(view.code, key, unit))
    return IngestResult(
        path,
        source_name,
        "accepted",
        sha,
        unit_code=unit,
        period_key=key,
        revision=revision,
        on_time=on_time,
        is_correction=checked.is_correction,
        changes=changes,
        warnings=warnings,
        stored_path=_local_file(settings, rel),
        stored_key=rel,
    )


def _reject(
    s: Session,
    settings: Settings,
    view: _CampaignView,
    path: Path,
    source_name: str,
    data: bytes,
    sha: str,
    raw: RawReport,
    checked: CheckedReport,
    deadlines: list[Deadline],
    now: datetime,
    submitted_by: str | None,
    reply: MailReply | None = None,
) -> IngestResult:
    listed = list(checked.errors[:MAX_LISTED_ERRORS])
    if len(checked.errors) > MAX_LISTED_ERRORS:
        more = len(checked.errors) - MAX_LISTED_ERRORS
        summary = f"… và {_n(more)} lỗi khác (chỉ liệt kê {MAX_LISTED_ERRORS} lỗi đầu)"
        listed.append(ReportError(source_name, summary))
    errors = [str(e) for e in listed]
    unit = (raw.unit_code or "")[:40] or None
    key = (raw.period_key or "")[:40] or None
    rel = storage_key("reports", view.code, "rejected", f"{sha[:16]}{_suffix(source_name)}")
    known = s.scalars(
        select(RejectedFile).where(
            col(RejectedFile.campaign_id) == view.id, col(RejectedFile.file_sha256) == sha
        )
    ).first()
    base = IngestResult(
        path,
        source_name,
        "rejected",
        sha,
        unit_code=unit,
        period_key=key,
        errors=errors,
        stored_path=_local_file(settings, rel),
        stored_key=rel,
    )
    if known is not None:
        # The same bytes were rejected before (a re-run, or the sender tried again): one record, one email
        # per file; a new email message still gets its answer (one per message: its dedupe key).
        if reply is not None:
            _queue_rejection(
                s, settings, view, unit, key, deadlines, source_name, sha, errors, rel, now, reply
            )
        return base
    storage_for(settings).put(rel, data)
    s.add(
        RejectedFile(
            campaign_id=view.id,
            unit_code=unit,
            period_key=key,
            received_at=now,
            source_name=source_name,
            stored_path=rel,
            file_sha256=sha,
            errors_json=json.dumps([e.as_dict() for e in listed], ensure_ascii=False),
        )
    )
    notified = _queue_rejection(
        s, settings, view, unit, key, deadlines, source_name, sha, errors, rel, now, reply
    )
    emit_domain_event(
        s,
        campaign_code=view.code,
        campaign_id=view.id,
        kind="report.rejected",
        now=now,
        unit_code=unit,
        actor=(submitted_by or "")[:100] or None,
        payload={
            "period": key,
            "sha256": sha,
            "file": source_name,
            "errors": len(errors),
            "notified": notified,
        },
    )
    return IngestResult(
        path,
        source_name,
        "rejected",
        sha,
        unit_code=unit,
        period_key=key,
        errors=errors,
        stored_path=_local_file(settings, rel),
        stored_key=rel,
        notified=notified,
    )


def _period_link(
    settings: Settings, unit_code: str, code: str, period_key: str | None, labels: dict[str, str]
) -> str | None:
    """The period's upload page on the portal, when the portal has a public address and the period is one of
    the campaign's (a rejected file may name a period that does not exist)."""
    if not settings.public_url or not period_key or period_key not in labels:
        return None
    return f"{settings.public_url.rstrip('/')}/don-vi/{unit_code}/{code}/{period_key}"


def _queue_rejection(
    s: Session,
    settings: Settings,
    view: _CampaignView,
    unit_code: str | None,
    period_key: str | None,
    deadlines: list[Deadline],
    source_name: str,
    sha: str,
    errors: list[str],
    attachment: str,
    now: datetime,
    reply: MailReply | None = None,
) -> bool:
    """Email the unit's contact the list of errors (when the unit is known and has an address); a report
    that came by email is answered to its sender instead, in the thread of their message."""
    if unit_code is None and reply is None:
        return False
    enrolled = s.execute(
        select(col(EnrolledUnit.unit_name), col(EnrolledUnit.email)).where(
            col(EnrolledUnit.campaign_id) == view.id, col(EnrolledUnit.unit_code) == unit_code
        )
    ).first()
    row = (
        enrolled
        or s.execute(select(col(Unit.name), col(Unit.email)).where(col(Unit.code) == unit_code)).first()
    )
    if reply is not None:
        # The sender is an address of this unit (checked before the ingest): the answer goes back to them.
        name, email = (str(row[0]) if row is not None else reply.sender), reply.sender
    elif row is None or not row[1]:
        return False
    else:
        name, email = row
    labels = {d.key: d.label for d in deadlines}
    contact = view.defn.issuer.contact
    subject, text, html = render_email(
        "report_rejected",
        {
            "unit_name": name,
            "unit_code": unit_code,
            "campaign_title": view.title,
            "campaign_code": view.code,
            "period_label": labels.get(period_key or "", f"Kỳ {period_key}" if period_key else "Báo cáo"),
            "source_name": source_name,
            "received_at": now.astimezone(settings.tz).strftime("%H:%M ngày %d/%m/%Y"),
            "errors": errors,
            "contact_department": contact.department,
            "contact_email": contact.email,
            "portal_link": _period_link(settings, unit_code, view.code, period_key, labels)
            if unit_code
            else None,
        },
    )
    return enqueue(
        s,
        dedupe_key=reply.dedupe_key if reply else f"report-rejected:{view.code}:{sha}",
        kind="report_rejected",
        recipient=email,
        recipient_name=name,
        subject=reply.subject_line() if reply else subject,
        text=text,
        html=html,
        attachments=[attachment],
        reply_to=contact.email,
        campaign_id=view.id,
        now=now,
        storage=storage_for(settings),
        headers=reply.headers() if reply else None,
    )


def _queue_acceptance(
    s: Session,
    settings: Settings,
    view: _CampaignView,
    result: IngestResult,
    deadlines: list[Deadline],
    reply: MailReply,
    now: datetime,
) -> bool:
    """Answer a report that came by email: received (or identical to the current revision), in the thread."""
    name = s.execute(
        select(col(EnrolledUnit.unit_name)).where(
            col(EnrolledUnit.campaign_id) == view.id, col(EnrolledUnit.unit_code) == result.unit_code
        )
    ).scalar_one_or_none()
    by_key = {d.key: d for d in deadlines}
    deadline = by_key.get(result.period_key or "")
    contact = view.defn.issuer.contact
    _subject, text, html = render_email(
        "report_accepted",
        {
            "unit_name": name or result.unit_code or "",
            "campaign_title": view.title,
            "campaign_code": view.code,
            "period_label": deadline.label if deadline else f"Kỳ {result.period_key}",
            "source_name": result.source_name,
            "received_at": now.astimezone(settings.tz).strftime("%H:%M ngày %d/%m/%Y"),
            "unchanged": result.status == "unchanged",
            "revision": result.revision,
            "correction": result.is_correction,
            "on_time": bool(result.on_time),
            "due_date": fmt_date(deadline.due_date) if deadline else "",
            "warnings": result.warnings,
            "contact_department": contact.department,
            "contact_email": contact.email,
        },
    )
    return enqueue(
        s,
        dedupe_key=reply.dedupe_key,
        kind="report_accepted",
        recipient=reply.sender,
        recipient_name=name,
        subject=reply.subject_line(),
        text=text,
        html=html,
        reply_to=contact.email,
        campaign_id=view.id,
        now=now,
        headers=reply.headers(),
    )


# ---------------------------------------------------------------- inbox


@dataclass(frozen=True)
class InboxResult:
    inbox: str  # where the inbox is, as an operator finds it (a folder or an s3:// URL)
    results: list[IngestResult]
    moved: list[tuple[str, str]]  # (from, to) storage keys

    @property
    def accepted(self) -> int:
        return sum(r.status == "accepted" for r in self.results)

    @property
    def unchanged(self) -> int:
        return sum(r.status == "unchanged" for r in self.results)

    @property
    def rejected(self) -> int:
        return sum(r.status == "rejected" for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able summary (for a flow's return value or an audit payload)."""
        return {
            "inbox": self.inbox,
            "accepted": self.accepted,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "files": [
                {
                    "file": r.source_name,
                    "status": r.status,
                    "unit": r.unit_code,
                    "period": r.period_key,
                    "revision": r.revision,
                    "on_time": r.on_time,
                    "errors": r.errors,
                    "warnings": r.warnings,
                }
                for r in self.results
            ],
        }


def inbox_key(code: str) -> str:
    """The storage folder (key prefix) of a campaign's inbox: inbox/<CODE>."""
    return storage_key("inbox", nfc(code).upper())


def inbox_dir(settings: Settings, code: str) -> Path:
    """The inbox's local folder, when the storage is the data dir."""
    return settings.inbox_dir / nfc(code).upper()


def _local_file(settings: Settings, rel: str | None) -> Path | None:
    storage = storage_for(settings)
    return storage.file(rel) if rel and isinstance(storage, LocalStorage) else None


def process_inbox(engine: Engine, settings: Settings, code: str, *, now: datetime) -> InboxResult:
    """Ingest every .xlsx/.csv dropped in the campaign's inbox (`inbox/<CODE>/` in the storage: a folder of
    the data dir, or a bucket's prefix), then move it to processed/ or rejected/.

    Safe to run twice: a moved file is not seen again, and a file ingested but not moved (crash) is
    byte-identical to the revision it created, so the second run changes nothing and moves it.
    """
    with Session(engine) as s:
        campaign_code = get_campaign(s, code).code
    storage = storage_for(settings)
    inbox = inbox_key(campaign_code)
    if isinstance(storage, LocalStorage):
        for folder in (inbox, f"{inbox}/processed", f"{inbox}/rejected"):
            storage.file(folder).mkdir(parents=True, exist_ok=True)  # where units and clerks drop files
    # One inbox run at a time per campaign: a second run waits, then finds it empty. SQLite cannot lock
    # the campaign row as PostgreSQL does, so two runs ingesting the same file would race for its revision.
    with storage.lock(inbox):
        return _process_inbox(engine, settings, storage, campaign_code, inbox, now)


def _process_inbox(
    engine: Engine, settings: Settings, storage: Storage, campaign_code: str, inbox: str, now: datetime
) -> InboxResult:
    names = [
        name
        for name in storage.names(inbox)
        if Path(name).suffix.lower() in REPORT_SUFFIXES and not name.startswith(("~$", "."))
    ]
    with Session(engine) as s:
        campaign = get_campaign(s, campaign_code)
        assert campaign.id is not None
        view = _CampaignView(
            campaign.id, campaign.code, campaign.title, definition_from_json(campaign.definition_json)
        )
    results: list[IngestResult] = []
    moved: list[tuple[str, str]] = []
    for name in names:
        source = f"{inbox}/{name}"
        result = _ingest_one(engine, settings, view, Path(name), now=now, submitted_by="inbox", stored=source)
        results.append(result)
        if result.sha256 == "" and not result.unsafe:
            continue  # unreadable right now (locked, vanished): leave it for the next run
        folder = f"{inbox}/processed" if result.accepted else f"{inbox}/rejected"
        target = _free_name(storage, folder, name, result.sha256 or "link")
        if not result.accepted:
            # Written before the move: a crash in between leaves the file in the inbox, to be redone whole.
            storage.put(target + ".errors.txt", ("\n".join(result.errors) + "\n").encode("utf-8"))
        try:
            storage.move(source, target)
        except FileNotFoundError:
            continue  # another inbox run moved it first; that run's result stands
        moved.append((source, target))
    return InboxResult(storage.show(inbox), results, moved)


def _free_name(storage: Storage, folder: str, name: str, sha: str) -> str:
    target = f"{folder}/{name}"
    if not storage.exists(target) and not _is_link(storage, target):
        return target
    stem, suffix = Path(name).stem, Path(name).suffix
    return f"{folder}/{stem}-{sha[:8]}{suffix}"


def _is_link(storage: Storage, k: str) -> bool:
    return isinstance(storage, LocalStorage) and storage.file(k).is_symlink()


# ---------------------------------------------------------------- history


@dataclass(frozen=True)
class HistoryEntry:
    revision: int
    is_current: bool
    received_at: datetime
    submitted_by: str | None
    due_date: date
    on_time: bool
    is_correction: bool
    source_name: str
    stored_path: str | None
    values: dict[str, int]
    changes: dict[str, list[int | None]]
    note: str | None


def report_history(engine: Engine, code: str, unit_code: str, period_key: str) -> list[HistoryEntry]:
    """Every revision of one unit's report for one period, oldest first."""
    with Session(engine) as s:
        campaign = get_campaign(s, code)
        rows = s.scalars(
            select(Submission)
            .where(
                col(Submission.campaign_id) == campaign.id,
                col(Submission.unit_code) == nfc(unit_code),
                col(Submission.period_key) == normalise_key(period_key),
            )
            .order_by(col(Submission.revision))
        ).all()
        return [
            HistoryEntry(
                revision=r.revision,
                is_current=r.is_current,
                received_at=r.received_at,
                submitted_by=r.submitted_by,
                due_date=r.due_date,
                on_time=r.on_time,
                is_correction=r.is_correction,
                source_name=r.source_name,
                stored_path=r.stored_path,
                values=json.loads(r.values_json),
                changes=json.loads(r.changes_json or "{}"),
                note=r.note,
            )
            for r in rows
        ]


def normalise_key(period_key: str) -> str:
    """A period as people type it ("03/2024", "tổng kết") → the Deadline key ("2024-03", "final")."""
    return normalise_period(period_key) or (nfc(period_key) or "")
