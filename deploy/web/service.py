"""What the pages and the API share: the unit in scope, the upload checks, one report ingestion, file
downloads. Each is a thin call into the work layer; nothing here decides about reports itself."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import BackgroundTasks, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session

from thidua.deploy.web.errors import WrongFileType
from thidua.deploy.web.portal import Portal
from thidua.errors import NotFound
from thidua.models.definition import definition_from_json
from thidua.models.storage import storage_for
from thidua.notifications.outbox import dispatch
from thidua.tasks.collect.reports import (
    MAX_REPORT_BYTES,
    REPORT_SUFFIXES,
    HistoryEntry,
    IngestResult,
    ingest_upload,
    normalise_key,
    report_history,
    write_template,
)
from thidua.tasks.core.campaigns import campaign_code, get_campaign
from thidua.tasks.portal.documents import UnitDocument, unit_document, unit_documents
from thidua.tasks.portal.dossier import FileRef, file_ref
from thidua.tasks.portal.identity import Principal, scoped_unit
from thidua.tasks.portal.units import unit_period
from thidua.tasks.review.nominations import add_dossier_file, decline_nominations
from thidua.tasks.review.nominations.declines import DeclineResult
from thidua.tasks.review.nominations.drafts import DraftResult, draft_documents

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_TYPES = {
    ".xlsx": XLSX_TYPE,
    ".csv": "text/csv; charset=utf-8",
    ".docx": DOCX_TYPE,
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".eml": "message/rfc822",
}


@dataclass(frozen=True)
class UnitScope:
    code: str
    name: str


def unit_scope(portal: Portal, principal: Principal, unit_code: str) -> UnitScope:
    code, name = scoped_unit(portal.engine, principal, unit_code)
    return UnitScope(code, name)


def field_labels(portal: Portal, code: str) -> dict[str, str]:
    with Session(portal.engine) as s:
        defn = definition_from_json(get_campaign(s, code).definition_json)
    return {f.key: f.label for f in defn.fields}


def check_upload(name: str, data: bytes) -> None:
    """Refuse, before anything is read or stored, what cannot be a report: wrong extension or content."""
    suffix = Path(name.replace("\\", "/")).suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise WrongFileType(
            f"Tệp “{Path(name).name[:120]}” không phải tệp báo cáo; không có gì được lưu.",
            hint="Hãy nộp tệp mẫu .xlsx đã điền (hoặc tệp .csv UTF-8 theo mẫu).",
        )
    if len(data) > MAX_REPORT_BYTES:
        from thidua.deploy.web.errors import TooLarge

        raise TooLarge()
    looks_right = data.startswith(b"PK\x03\x04") if suffix == ".xlsx" else b"\x00" not in data[:8192]
    if not data or not looks_right:
        raise WrongFileType(
            f"Nội dung tệp “{Path(name).name[:120]}” không phải {suffix}; không có gì được lưu.",
            hint="Hãy nộp đúng tệp mẫu đã điền, không đổi đuôi tệp.",
        )


async def ingest_file(
    portal: Portal,
    principal: Principal,
    unit: UnitScope,
    code: str,
    file: UploadFile,
    tasks: BackgroundTasks,
) -> IngestResult:
    """`ingest` of an uploaded file, read up to one byte past the limit (so an oversized one is refused)."""
    data = await file.read(MAX_REPORT_BYTES + 1)
    # In the thread pool: the ingest reads the workbook and waits on the database, and the event loop
    # must keep serving the other units meanwhile.
    return await run_in_threadpool(ingest, portal, principal, unit, code, file.filename or "", data, tasks)


def ingest(
    portal: Portal,
    principal: Principal,
    unit: UnitScope,
    code: str,
    name: str,
    data: bytes,
    tasks: BackgroundTasks,
) -> IngestResult:
    """The inbox's answer for one uploaded file, recorded in the name of the signed-in person; the emails it
    queues (a rejection to the unit) leave in the background."""
    check_upload(name, data)
    result = ingest_upload(
        portal.engine,
        portal.settings,
        code,
        name,
        data,
        now=portal.now(),
        submitted_by=principal.actor,
        unit_code=unit.code,
    )
    if result.notified:  # only a rejection queues an email; an accepted report leaves the outbox alone
        tasks.add_task(send_outbox, portal)
    return result


def send_outbox(portal: Portal) -> None:
    """Send what the request queued (a sign-in link, a rejection email) without making the request wait."""
    dispatch(portal.engine, portal.settings, worker_id="web")


def template_download(portal: Portal, unit: UnitScope, code: str, period_key: str) -> Response:
    unit_period(portal.engine, unit.code, code, period_key, today=portal.today(), calendar=portal.calendar)
    key = normalise_key(period_key)
    with tempfile.TemporaryDirectory(prefix="thidua-web-") as tmp:
        path = write_template(portal.engine, code, unit.code, key, Path(tmp) / "mau.xlsx")
        data = path.read_bytes()
    return download(data, f"bao-cao-{code.upper()}-{unit.code}-{key}.xlsx")


def history(portal: Portal, unit: UnitScope, code: str, period_key: str) -> list[HistoryEntry]:
    unit_period(portal.engine, unit.code, code, period_key, today=portal.today(), calendar=portal.calendar)
    return report_history(portal.engine, code, unit.code, period_key)


def revision_download(portal: Portal, unit: UnitScope, code: str, period_key: str, revision: int) -> Response:
    """The stored file of one revision, under a name the system makes (never the sender's)."""
    entry = next((h for h in history(portal, unit, code, period_key) if h.revision == revision), None)
    if entry is None or not entry.stored_path:
        raise NotFound(f"Không có lần nộp {revision} của đơn vị {unit.code}, kỳ {normalise_key(period_key)}.")
    storage = storage_for(portal.settings)  # the data dir or a bucket (models/storage.py)
    if not storage.exists(entry.stored_path):
        raise NotFound(f"Tệp của lần nộp {revision} không còn trong kho lưu trữ.")
    suffix = Path(entry.stored_path).suffix.lower()
    suffix = suffix if suffix in _TYPES else ".xlsx"
    name = f"bao-cao-{code.upper()}-{unit.code}-{normalise_key(period_key)}-lan-{revision}{suffix}"
    return download(storage.get(entry.stored_path), name)


def documents(portal: Portal, unit: UnitScope, code: str) -> list[UnitDocument]:
    """The unit's documents in a campaign it takes part in (NotFound otherwise, as for any other unit)."""
    campaign_line(portal, unit, code)
    return unit_documents(portal.engine, unit.code, code)


def campaign_line(portal: Portal, unit: UnitScope, code: str) -> None:
    """NotFound unless the unit takes part in campaign `code` (as for any other unit's campaign)."""
    from thidua.tasks.portal.units import unit_overview

    lines = unit_overview(portal.engine, unit.code, today=portal.today(), calendar=portal.calendar)
    if not any(line.code == campaign_code(code) for line in lines):
        raise NotFound(f"Đơn vị {unit.code} không tham gia phong trào “{code}”.")


def document_download(portal: Portal, unit: UnitScope, code: str, doc_id: str) -> Response:
    """One of the unit's documents, read from storage by the key the database holds; the download's name is
    the stored file's own (made by our code), never anything the request carried."""
    campaign_line(portal, unit, code)
    doc = unit_document(portal.engine, unit.code, code, doc_id)
    storage = storage_for(portal.settings)
    try:
        data = storage.get(doc.key)
    except FileNotFoundError as exc:
        raise NotFound("Tệp của tài liệu này không còn trong kho lưu trữ.") from exc
    return download(data, doc.key.rsplit("/", 1)[-1])


def dossier_download(portal: Portal, unit: UnitScope, code: str, file_id: int) -> Response:
    """One of the unit's dossier files (any revision, drafts included) from storage, under a name the system
    makes from its part and revision."""
    from thidua.tasks.portal.dossier import dossier_file

    campaign_line(portal, unit, code)
    found = dossier_file(portal.engine, unit.code, code, file_id)
    try:
        data = storage_for(portal.settings).get(found.key)
    except FileNotFoundError as exc:
        raise NotFound("Tệp hồ sơ này không còn trong kho lưu trữ.") from exc
    return download(data, found.download_name)


async def dossier_upload(
    portal: Portal,
    principal: Principal,
    unit: UnitScope,
    code: str,
    file: UploadFile,
    *,
    part: str,
    nominee: str | None = None,
    award_key: str | None = None,
) -> FileRef:
    """One dossier file of the unit (its whole dossier's, or nominee `nominee`'s own part), for the page and
    the API alike: the checks and records of `thidua nomination dossier` (the campaign's types by extension
    and content, its size limit, revisions), in the signed-in person's name. The body was already bounded by
    the largest limit a campaign may set (security.BodyLimit); the sender's name is shown, never a path."""
    return await run_in_threadpool(
        _dossier_upload, portal, principal, unit, code, file, part, nominee, award_key
    )


def _dossier_upload(
    portal: Portal,
    principal: Principal,
    unit: UnitScope,
    code: str,
    file: UploadFile,
    part: str,
    nominee: str | None,
    award_key: str | None,
) -> FileRef:
    # In the thread pool: copying up to a few hundred MB and hashing it must not hold the event loop.
    with tempfile.TemporaryDirectory(prefix="thidua-web-") as tmp:
        source = Path(tmp) / "upload"
        with source.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        row = add_dossier_file(
            portal.engine,
            portal.settings,
            code,
            unit_code=unit.code,
            part_key=part,
            source=source,
            original_name=file.filename or "tệp",
            nominee=nominee or None,
            award_key=award_key,
            now=portal.now(),
            actor=principal.actor,
        )
    return file_ref(row)


def drafts(portal: Portal, unit: UnitScope, code: str) -> DraftResult:
    """Have the system draft the unit's Danh sách and Tổng hợp kết quả from its data; a part the unit
    uploaded itself is kept, and the result says why (in Vietnamese) for every part not drafted."""
    campaign_line(portal, unit, code)
    return draft_documents(portal.engine, portal.settings, campaign_code(code), unit.code, now=portal.now())


def decline(
    portal: Portal, principal: Principal, unit: UnitScope, code: str, reason: str | None
) -> DeclineResult:
    """The unit proposes nobody: recorded once, in the signed-in person's name; its dossier reminders stop."""
    return decline_nominations(
        portal.engine, code, unit.code, reason=reason or None, now=portal.now(), actor=principal.actor
    )


def download(data: bytes, filename: str) -> Response:
    suffix = Path(filename).suffix.lower()
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(
        data,
        media_type=_TYPES.get(suffix, "application/octet-stream"),
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )
