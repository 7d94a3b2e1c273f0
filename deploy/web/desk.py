"""The administrators' desk: campaigns, their dashboard, the actions of the CLI, the outbox, the documents.

Pages under /quan-tri, JSON under /api/v1/admin; both only for a signed-in administrator (a person, never an
API token: tokens act for one unit). Every action calls what the CLI calls — the same Prefect flows (launch,
close, review, award; real flow runs, visible in Prefect) and the same work functions (exempt, reopen,
record a higher authority's decision, revoke, resend) — with the administrator as the actor of the audit
rows. Route handlers are plain functions, so FastAPI runs them (and the flows) in its thread pool, off the
event loop.

GET  /quan-tri                                     campaigns, and the upload of a definition
POST /quan-tri/dinh-nghia                          upload a definition (checked; stored only if usable)
GET  /quan-tri/dinh-nghia/{id}                     a checked definition: scope, calendar; the launch button
POST /quan-tri/dinh-nghia/{id}/phat-dong           the launch flow
GET  /quan-tri/phong-trao/{code}                   state, calendar, enrolment, documents, the actions
GET  /quan-tri/phong-trao/{code}/tinh-hinh         the dashboard (the figures of `campaign status`)
GET  …/tinh-hinh/bieu-do.png                       its chart (the same drawing as `campaign status --chart`)
GET  /quan-tri/phong-trao/{code}/hop-thu           the campaign's outbox; POST …/hop-thu/{id}/gui-lai
GET  /quan-tri/phong-trao/{code}/tai-lieu/{id}     one generated document
POST /quan-tri/phong-trao/{code}/{mien-nop|ket-thuc|mo-lai|xet-khen-thuong|khen-thuong|quyet-dinh-cap-tren}
POST /quan-tri/phong-trao/{code}/thu-hoi/{grant}   revoke one award
"""

from __future__ import annotations

import base64
import json
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from thidua.deploy.timeparse import parse_as_of
from thidua.deploy.web.api import ErrorOut
from thidua.deploy.web.errors import AdminOnly, error_body
from thidua.deploy.web.portal import Portal
from thidua.deploy.web.security import Caller, portal_of, require_caller
from thidua.deploy.web.service import download
from thidua.errors import InvalidInput, ThiduaError
from thidua.models.definition import DefinitionError
from thidua.models.indicators import DASH, fmt_int, fmt_percent, fmt_target, met_label
from thidua.models.labels import campaign_status as status_label
from thidua.models.labels import unit_level
from thidua.models.states import OutboxStatus
from thidua.models.storage import storage_for
from thidua.tasks.award.awards import STATUS_LABELS, SUBJECT_LABELS
from thidua.tasks.collect.status_report import on_time_text, reported_text, short_name
from thidua.tasks.collect.status_table import StatusRow, StatusTable
from thidua.tasks.core.campaigns import campaign_code
from thidua.tasks.portal import desk

MAX_UPLOAD = desk.MAX_DEFINITION_BYTES


# ---------------------------------------------------------------- who may


def require_admin(request: Request) -> Caller:
    """The signed-in administrator (a person with a session, not an API token), else 401/403."""
    found = require_caller(request)
    if found.bearer or not found.principal.admin:
        raise AdminOnly()
    return found


async def admin_change(request: Request) -> Caller:
    """An administrator's state-changing request with its session's CSRF token."""
    from thidua.deploy.web.security import check_csrf

    require_admin(request)
    return await check_csrf(request)


PortalDep = Annotated[Portal, Depends(portal_of)]
AdminDep = Annotated[Caller, Depends(require_admin)]
ChangeDep = Annotated[Caller, Depends(admin_change)]
CodePath = Annotated[str, PathParam(description="Mã phong trào", min_length=1, max_length=60)]
MailId = Annotated[int, PathParam(description="Số của thư bị giữ lại", ge=1, le=2**31 - 1)]


# ---------------------------------------------------------------- the work, shared by pages and API


def _flows(portal: Portal) -> None:
    """Point Prefect at its server before the first flow import (as a CLI command does)."""
    from thidua.deploy.prefect_env import configure_prefect

    configure_prefect(portal.settings)


def _day(portal: Portal, text: str | None) -> date | None:
    if not text or not text.strip():
        return None
    try:
        return parse_as_of(text, portal.settings.tz).astimezone(portal.settings.tz).date()
    except InvalidInput as exc:
        raise InvalidInput(
            f"“{text.strip()[:40]}” không phải ngày hợp lệ.", hint="Viết dd/mm/yyyy, ví dụ 19/07/2024."
        ) from exc


def _known(portal: Portal, code: str) -> str:
    """The campaign's code as stored; NotFound before any flow starts for a code that is not one."""
    from thidua.tasks.core.queries import campaign_details

    return campaign_details(portal.engine, code).code


def do_launch(portal: Portal, who: Caller, ident: str) -> dict[str, Any]:
    desk.staged_definition(portal.engine, portal.settings, ident, calendar=portal.calendar)  # checks again
    _flows(portal)
    from thidua.flows.launch import launch_flow

    # The flow keeps the definition in the database; the local copy only lives for the run.
    with storage_for(portal.settings).local_copy(desk.staged_key(ident)) as path:
        summary: dict[str, Any] = launch_flow(
            str(path), portal.now(), portal.settings, actor=who.principal.actor
        )
    return summary


def do_close(portal: Portal, who: Caller, code: str, reason: str) -> dict[str, Any]:
    known = _known(portal, code)
    _flows(portal)
    from thidua.flows.close import close_flow

    summary: dict[str, Any] = close_flow(
        known, portal.now(), portal.settings, actor=who.principal.actor, reason=reason, only_if_open=True
    )
    if not summary["closed_now"]:
        from thidua.errors import Conflict

        raise Conflict(
            f"Phong trào {summary['code']} đã ở trạng thái “{summary['status_label']}”: "
            "không kết thúc lại, không gửi thêm thư.",
            hint="Có thể một quản trị viên khác vừa kết thúc phong trào; tải lại trang để xem.",
        )
    return summary


def do_reopen(portal: Portal, who: Caller, code: str, reason: str) -> str:
    from thidua.tasks.close.closing import reopen

    result = reopen(portal.engine, code, now=portal.now(), actor=who.principal.actor, reason=reason)
    if not result.changed:
        return f"Phong trào {result.code} đang nhận báo cáo: không cần mở lại."
    return (
        f"Đã mở lại kỳ báo cáo của phong trào {result.code} "
        f"({status_label(result.before)} → {status_label(result.status)})."
    )


def do_exempt(portal: Portal, who: Caller, code: str, unit: str, deadline: str, reason: str) -> str:
    from thidua.tasks.remind.reminders import grant_exemption

    created, cancelled = grant_exemption(
        portal.engine, code, unit, deadline, reason, granted_by=who.principal.actor, now=portal.now()
    )
    state = "Đã miễn nộp" if created else "Đơn vị đã được miễn từ trước"
    return f"{state}: đơn vị {unit.strip()}, hạn {deadline.strip()}. Đã huỷ {cancelled} thư nhắc chờ gửi."


def do_review(portal: Portal, who: Caller, code: str, meeting: int | None) -> list[str]:
    from thidua.models.labels import nomination_counts

    known = _known(portal, code)
    _flows(portal)
    from thidua.flows.review import review_flow

    summary: dict[str, Any] = review_flow(
        known, portal.now(), portal.settings, meeting_id=meeting, actor=who.principal.actor
    )
    lines = [
        f"Phong trào {summary['code']}: {status_label(summary['status'])}.",
        f"Hồ sơ: {nomination_counts(summary['completeness'])}",
        str(summary["screening"]),
        *summary.get("declined", []),
        *summary.get("to_verify", []),
        *summary.get("meeting", {}).get("lines", []),
    ]
    return lines


def do_award_run(portal: Portal, who: Caller, code: str, day: str | None) -> list[str]:
    known = _known(portal, code)
    decided_on = _day(portal, day)
    _flows(portal)
    from thidua.flows.award import award_flow

    summary: dict[str, Any] = award_flow(
        known, portal.now(), portal.settings, decided_on=decided_on, actor=who.principal.actor
    )
    lines = [line for lines in summary["decisions"] for line in lines]
    lines += [f"Chưa ban hành: {w}" for w in summary["waiting"]]
    emails = summary["emails"] or {}
    lines.append(f"Thư đã gửi: {emails.get('sent', 0)} · lỗi: {emails.get('failed', 0)}")
    return lines


def do_record_decision(
    portal: Portal, who: Caller, code: str, award_key: str, number: int, symbol: str, day: str
) -> list[str]:
    from thidua.tasks.award.awards import record_external_decision

    decided_on = _day(portal, day)
    if decided_on is None:
        raise InvalidInput("Cần ngày ký quyết định của cấp trên.", hint="Viết dd/mm/yyyy.")
    result = record_external_decision(
        portal.engine,
        portal.settings,
        code,
        award_key.strip(),
        number=number,
        symbol=symbol.strip(),
        decided_on=decided_on,
        now=portal.now(),
        actor=who.principal.actor,
    )
    return list(result.lines())


def do_revoke(portal: Portal, who: Caller, code: str, grant_id: int, reason: str) -> str:
    from thidua.models.money import vn_money
    from thidua.tasks.award.awards import list_awards, revoke_award

    if not any(g.id == grant_id for d in list_awards(portal.engine, code) for g in d.grants):
        from thidua.errors import NotFound

        raise NotFound(f"Không có khen thưởng mã số {grant_id} trong phong trào này.")
    grant = revoke_award(
        portal.engine, portal.settings, grant_id, reason=reason, now=portal.now(), actor=who.principal.actor
    )
    return (
        f"Đã thu hồi khen thưởng #{grant.id} ({grant.subject_name}); lý do: {grant.revoke_reason}; "
        f"số tiền phải nộp lại: {vn_money(grant.amount_to_recover or 0)}."
    )


def document_file(portal: Portal, code: str, doc_id: str) -> Response:
    """A generated document, read by the key the database holds; its download name is the stored file's."""
    from thidua.errors import NotFound

    doc = desk.campaign_document(portal.engine, code, doc_id)
    try:
        data = storage_for(portal.settings).get(doc.key)
    except FileNotFoundError as exc:
        raise NotFound("Tệp của tài liệu này không còn trong kho lưu trữ.") from exc
    return download(data, doc.file_name)


def held_original(portal: Portal, mail_id: int) -> Response:
    """A reply refused because of its sender, as it arrived: an .eml to open in a mail client."""
    from thidua.tasks.collect.mailbox import held_original as original

    return download(original(portal.engine, portal.settings, mail_id), f"thu-bi-giu-{mail_id}.eml")


def chart_png(portal: Portal, code: str, period: str | None) -> Response:
    from thidua.tasks.collect.status_report import write_status_chart

    board = desk.dashboard(portal.engine, code, as_of=portal.today(), tz=portal.settings.tz, period=period)
    with tempfile.TemporaryDirectory(prefix="thidua-web-") as tmp:
        data = write_status_chart(board.table, Path(tmp) / "bieu-do.png").read_bytes()
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- the status table as cells


def status_cells(row: StatusRow, table: StatusTable) -> dict[str, Any]:
    """One row of the dashboard, in the words and numbers `thidua campaign status` prints."""
    indicators = []
    for ind in table.indicators:
        r = row.results[ind.key]
        indicators.append(
            {
                "key": ind.key,
                "figures": f"{fmt_int(r.num)}/{fmt_int(r.den)}" if r.den or r.num else DASH,
                "percent": fmt_percent(r.value),
                "value": None if r.value is None else str(r.value),
                "target": fmt_target(r.comparison, r.target),
                "met": r.met,
                "met_label": met_label(r.met),
            }
        )
    return {
        "code": row.code,
        "name": short_name(row.name),
        "depth": row.depth,
        "is_total": row.is_total,
        "reports": row.reports,
        "reported": reported_text(row),
        "on_time": on_time_text(row, table),
        "received_on": row.received_on,
        "revision": row.revision,
        "indicators": indicators,
    }


def _board_rows(table: StatusTable) -> list[dict[str, Any]]:
    rows = [status_cells(r, table) for r in table.rows]
    if table.separate_total:
        rows.append(status_cells(table.total, table))
    return rows


# ---------------------------------------------------------------- pages

pages = APIRouter(prefix="/quan-tri", include_in_schema=False)


def _render(
    portal: Portal, request: Request, who: Caller, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    page = portal.templates.TemplateResponse(
        request, name, {"caller": who, "status_label": status_label, **context}, status_code=status
    )
    page.headers["Cache-Control"] = "no-store"
    return page


def _home(
    portal: Portal, request: Request, who: Caller, problem: dict[str, Any] | None = None, status: int = 200
) -> Response:
    from thidua.tasks.collect.mailbox import held_messages
    from thidua.tasks.core.queries import list_campaigns

    context = {
        "campaigns": list_campaigns(portal.engine),
        "held": held_messages(portal.engine),
        "problem": problem,
        "max_kb": MAX_UPLOAD // 1024,
    }
    return _render(portal, request, who, "desk_home.html", context, status)


@pages.get("")
def home(request: Request, portal: PortalDep, who: AdminDep) -> Response:
    return _home(portal, request, who)


@pages.post("/dinh-nghia")
async def upload_definition(
    request: Request, portal: PortalDep, who: ChangeDep, file: UploadFile
) -> Response:
    from fastapi.concurrency import run_in_threadpool

    data = await file.read(MAX_UPLOAD + 1)
    try:
        staged = await run_in_threadpool(
            desk.stage_definition,
            portal.engine,
            portal.settings,
            file.filename or "",
            data,
            calendar=portal.calendar,
        )
    except InvalidInput as exc:
        # The page keeps the form and lists every problem with its line and path; nothing was stored.
        problem = error_body(exc)
        if isinstance(exc, DefinitionError):
            problem["lines"] = [{"line": p.line, "path": p.path, "message": p.message} for p in exc.problems]
        return _home(portal, request, who, problem, 422)
    return RedirectResponse(f"/quan-tri/dinh-nghia/{staged.id}", status_code=303)


@pages.get("/dinh-nghia/{ident}")
def definition_page(request: Request, portal: PortalDep, who: AdminDep, ident: str) -> Response:
    staged = desk.staged_definition(portal.engine, portal.settings, ident, calendar=portal.calendar)
    return _render(portal, request, who, "desk_definition.html", {"staged": staged})


@pages.post("/dinh-nghia/{ident}/phat-dong")
def launch_page(portal: PortalDep, who: ChangeDep, ident: str) -> Response:
    summary = do_launch(portal, who, ident)
    return RedirectResponse(f"/quan-tri/phong-trao/{summary['code']}", status_code=303)


def _campaign_page(
    portal: Portal,
    request: Request,
    who: Caller,
    code: str,
    notice: list[str] | None = None,
    problem: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    from thidua.tasks.award.awards import list_awards
    from thidua.tasks.core.queries import campaign_details

    details = campaign_details(portal.engine, code)
    context = {
        "c": details,
        "level_label": unit_level,
        "documents": desk.campaign_documents(portal.engine, details.code),
        "awards": list_awards(portal.engine, details.code),
        "award_status": STATUS_LABELS,
        "subject_label": SUBJECT_LABELS,
        "outbox": desk.outbox_counts(portal.engine, details.code),
        "outbox_labels": desk.OUTBOX_LABELS,
        "units": desk.enrolled_units(portal.engine, details.code),
        "notice": notice,
        "problem": problem,
    }
    return _render(portal, request, who, "desk_campaign.html", context, status)


#: What an action did, carried across its redirect (post, redirect, get: reloading the page repeats nothing).
FLASH_COOKIE = "thidua_ket_qua"


def _after(request: Request, location: str, lines: list[str]) -> Response:
    """Redirect to `location` with the action's lines for the next page (a minute at most, this path only)."""
    response = RedirectResponse(location, status_code=303)
    value = base64.urlsafe_b64encode(json.dumps(lines, ensure_ascii=False).encode()).decode()
    response.set_cookie(
        FLASH_COOKIE,
        value,
        max_age=60,
        path="/quan-tri",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _flash(request: Request) -> list[str] | None:
    """The lines an action left for this page, if any (unreadable ones are ignored: only a notice)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        lines = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(lines, list):
        return None
    return [str(line)[:2000] for line in lines[:50]]


def _shown(request: Request, page: Response) -> Response:
    if FLASH_COOKIE in request.cookies:
        page.delete_cookie(FLASH_COOKIE, path="/quan-tri")
    return page


@pages.get("/phong-trao/{code}")
def campaign_page(request: Request, portal: PortalDep, who: AdminDep, code: str) -> Response:
    return _shown(request, _campaign_page(portal, request, who, code, notice=_flash(request)))


def _acted(portal: Portal, request: Request, who: Caller, code: str, action: Any) -> Response:
    """Run an action; then the campaign page with what it did (after a redirect), or at once with why it
    was refused (nothing changed), the form as it was."""
    from thidua.deploy.web.errors import status_of

    try:
        result = action()
    except ThiduaError as exc:
        # An unknown campaign raises again while the page is built, and gets the plain error page.
        return _campaign_page(portal, request, who, code, problem=error_body(exc), status=status_of(exc))
    lines = result if isinstance(result, list) else [result]
    return _after(request, f"/quan-tri/phong-trao/{campaign_code(code)}", [str(line) for line in lines])


Reason = Annotated[str, Form(max_length=1000)]


@pages.post("/phong-trao/{code}/mien-nop")
def exempt_page(
    request: Request,
    portal: PortalDep,
    who: ChangeDep,
    code: str,
    unit: Annotated[str, Form(max_length=40)],
    deadline: Annotated[str, Form(max_length=40)],
    reason: Reason,
) -> Response:
    return _acted(portal, request, who, code, lambda: do_exempt(portal, who, code, unit, deadline, reason))


@pages.post("/phong-trao/{code}/ket-thuc")
def close_page(
    request: Request, portal: PortalDep, who: ChangeDep, code: str, reason: Reason = ""
) -> Response:
    def run() -> list[str]:
        summary = do_close(portal, who, code, reason)
        return [
            f"Phong trào {summary['code']} vừa kết thúc.",
            f"Đơn vị đạt chỉ tiêu: {len(summary['units_met'])} · không đạt: {len(summary['units_not_met'])}"
            f" · không có báo cáo tổng kết: {len(summary['units_missing'])}.",
            f"Thư mới vào hộp thư đi: {summary['emails_queued']}.",
        ]

    return _acted(portal, request, who, code, run)


@pages.post("/phong-trao/{code}/mo-lai")
def reopen_page(request: Request, portal: PortalDep, who: ChangeDep, code: str, reason: Reason) -> Response:
    return _acted(portal, request, who, code, lambda: do_reopen(portal, who, code, reason))


@pages.post("/phong-trao/{code}/xet-khen-thuong")
def review_page(
    request: Request,
    portal: PortalDep,
    who: ChangeDep,
    code: str,
    meeting: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    number = int(meeting) if meeting.strip().isdigit() else None
    return _acted(portal, request, who, code, lambda: do_review(portal, who, code, number))


@pages.post("/phong-trao/{code}/khen-thuong")
def award_page(
    request: Request,
    portal: PortalDep,
    who: ChangeDep,
    code: str,
    day: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _acted(portal, request, who, code, lambda: do_award_run(portal, who, code, day or None))


@pages.post("/phong-trao/{code}/quyet-dinh-cap-tren")
def decision_page(
    request: Request,
    portal: PortalDep,
    who: ChangeDep,
    code: str,
    award: Annotated[str, Form(max_length=80)],
    number: Annotated[int, Form(ge=1, le=1_000_000)],
    symbol: Annotated[str, Form(max_length=40)],
    day: Annotated[str, Form(max_length=20)],
) -> Response:
    return _acted(
        portal, request, who, code, lambda: do_record_decision(portal, who, code, award, number, symbol, day)
    )


@pages.post("/phong-trao/{code}/thu-hoi/{grant_id}")
def revoke_page(
    request: Request, portal: PortalDep, who: ChangeDep, code: str, grant_id: int, reason: Reason
) -> Response:
    return _acted(portal, request, who, code, lambda: do_revoke(portal, who, code, grant_id, reason))


@pages.get("/phong-trao/{code}/tinh-hinh")
def dashboard_page(
    request: Request,
    portal: PortalDep,
    who: AdminDep,
    code: str,
    ky: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    board = desk.dashboard(
        portal.engine, code, as_of=portal.today(), tz=portal.settings.tz, period=ky or None
    )
    context = {"board": board, "t": board.table, "rows": _board_rows(board.table), "period": ky or ""}
    return _render(portal, request, who, "desk_dashboard.html", context)


@pages.get("/phong-trao/{code}/tinh-hinh/bieu-do.png")
def dashboard_chart(
    portal: PortalDep, who: AdminDep, code: str, ky: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    return chart_png(portal, code, ky or None)


def _outbox_page(
    portal: Portal,
    request: Request,
    who: Caller,
    code: str,
    status: str | None,
    notice: list[str] | None = None,
) -> Response:
    from thidua.tasks.core.queries import campaign_details

    details = campaign_details(portal.engine, code)
    wanted = _outbox_status(status)
    context = {
        "c": details,
        "emails": desk.campaign_outbox(portal.engine, details.code, status=wanted),
        "counts": desk.outbox_counts(portal.engine, details.code),
        "labels": desk.OUTBOX_LABELS,
        "wanted": wanted,
        "notice": notice,
    }
    return _render(portal, request, who, "desk_outbox.html", context)


def _outbox_status(value: str | None) -> OutboxStatus | None:
    if not value:
        return None
    try:
        return OutboxStatus(value.strip().lower())
    except ValueError as exc:
        raise InvalidInput(
            "Trạng thái thư không hợp lệ.", hint="Chọn một trạng thái trong danh sách."
        ) from exc


@pages.get("/phong-trao/{code}/hop-thu")
def outbox_page(
    request: Request,
    portal: PortalDep,
    who: AdminDep,
    code: str,
    trang_thai: Annotated[str | None, Query(alias="trang-thai", max_length=20)] = None,
) -> Response:
    return _shown(request, _outbox_page(portal, request, who, code, trang_thai, _flash(request)))


@pages.post("/phong-trao/{code}/hop-thu/{email_id}/gui-lai")
def outbox_retry_page(
    request: Request, portal: PortalDep, who: ChangeDep, code: str, email_id: int
) -> Response:
    count = desk.retry_email(portal.engine, code, email_id)
    notice = f"Đã đưa thư số {email_id} trở lại hàng chờ gửi." if count else "Không có thư nào để gửi lại."
    return _after(request, f"/quan-tri/phong-trao/{campaign_code(code)}/hop-thu", [notice])


@pages.get("/thu-bi-giu/{mail_id}/thu-goc.eml")
def held_mail_page(portal: PortalDep, who: AdminDep, mail_id: MailId) -> Response:
    return held_original(portal, mail_id)


@pages.get("/phong-trao/{code}/tai-lieu/{doc_id}")
def document_page(portal: PortalDep, who: AdminDep, code: str, doc_id: str) -> Response:
    return document_file(portal, code, doc_id)


# ---------------------------------------------------------------- API

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 409, 413, 415, 422, 503)
}
api = APIRouter(prefix="/api/v1/admin", responses=_ERRORS, tags=["quản trị"])


class CampaignRowOut(BaseModel):
    code: str
    title: str
    status: str
    status_label: str
    start: date
    end: date
    units: int


class DeadlineOut(BaseModel):
    key: str
    label: str
    nominal_due: date
    due_date: date


class LevelOut(BaseModel):
    level: str
    level_label: str
    units: int
    reporting: int


class CampaignOut(BaseModel):
    code: str
    title: str
    status: str
    status_label: str
    start: date
    end: date
    people: int
    levels: list[LevelOut]
    deadlines: list[DeadlineOut]


class StagedOut(BaseModel):
    id: str = Field(description="Số hiệu của định nghĩa đã kiểm tra, để phát động")
    code: str
    title: str
    units: int = Field(description="Số đơn vị trong danh bạ thuộc phạm vi")
    deadlines: list[DeadlineOut]


class LaunchOut(BaseModel):
    code: str
    launched: bool = Field(description="false: đã phát động từ trước, không thay đổi gì")
    units: int
    people: int
    deadlines: int
    emails_queued: int


class IndicatorCellOut(BaseModel):
    key: str
    figures: str
    percent: str
    value: str | None
    target: str
    met: bool | None
    met_label: str


class StatusRowOut(BaseModel):
    code: str
    name: str
    depth: int
    is_total: bool
    reports: bool
    reported: str
    on_time: str
    received_on: date | None
    revision: int | None
    indicators: list[IndicatorCellOut]


class TimelinessOut(BaseModel):
    expected: int
    received: int
    on_time: int
    late: int
    missing: list[str]
    pending: list[str]
    late_units: list[str]
    reporting_rate: str | None
    on_time_rate: str | None
    reporting_rate_text: str
    on_time_rate_text: str
    summary: str


class ReconOut(BaseModel):
    unit: str
    field: str
    reported: int | None
    computed: int
    difference: int | None


class RemindersOut(BaseModel):
    sent: int
    pending: int
    failed: int
    cancelled: int


class DashboardOut(BaseModel):
    code: str
    period: str
    period_label: str
    due_date: date
    as_of: date
    indicators: list[str]
    rows: list[StatusRowOut]
    total: StatusRowOut
    timeliness: TimelinessOut
    reconciliation: list[ReconOut] | None = Field(description="null: chưa nhập sổ thụ lý để đối chiếu")
    reminders: RemindersOut


class EmailOut(BaseModel):
    id: int
    status: str
    status_label: str
    kind: str
    recipient: str
    subject: str
    attempts: int
    last_error: str | None
    created_at: Any
    sent_at: Any


class HeldMailOut(BaseModel):
    id: int = Field(description="Số của thư, để tải thư gốc")
    received_at: datetime
    sender: str
    subject: str
    campaign: str | None
    unit_code: str | None
    attachment: str | None = Field(description="Tên tệp đính kèm thư gửi (chỉ để xem)")
    reason: str


class DocumentOut(BaseModel):
    id: str
    kind: str
    label: str
    file: str
    created_at: Any


OutboxState = Literal["pending", "sending", "sent", "failed", "cancelled"]


class DoneOut(BaseModel):
    lines: list[str]


class ExemptIn(BaseModel):
    unit: str = Field(min_length=1, max_length=40)
    deadline: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=1000)


class ReasonIn(BaseModel):
    reason: str = Field("", max_length=1000)


class ReviewIn(BaseModel):
    meeting: int | None = Field(None, ge=1, le=2**31 - 1)


class AwardRunIn(BaseModel):
    date: str | None = Field(None, max_length=20, description="Ngày quyết định dd/mm/yyyy; mặc định hôm nay")


class DecisionIn(BaseModel):
    award: str = Field(min_length=1, max_length=80)
    number: int = Field(ge=1, le=1_000_000)
    symbol: str = Field(min_length=1, max_length=40)
    date: str = Field(min_length=1, max_length=20)


class RequiredReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


def _deadlines(items: Any) -> list[DeadlineOut]:
    return [
        DeadlineOut(key=d.key, label=d.label, nominal_due=d.nominal_due, due_date=d.due_date) for d in items
    ]


@api.get("/campaigns", response_model=list[CampaignRowOut], summary="Các phong trào")
def api_campaigns(portal: PortalDep, who: AdminDep) -> list[CampaignRowOut]:
    from thidua.tasks.core.queries import list_campaigns

    return [
        CampaignRowOut(
            code=r.code,
            title=r.title,
            status=r.status.value,
            status_label=status_label(r.status),
            start=r.start,
            end=r.end,
            units=r.units,
        )
        for r in list_campaigns(portal.engine)
    ]


@api.post("/definitions", response_model=StagedOut, status_code=201, summary="Tải lên và kiểm tra định nghĩa")
async def api_upload(portal: PortalDep, who: ChangeDep, file: UploadFile) -> StagedOut:
    from fastapi.concurrency import run_in_threadpool

    data = await file.read(MAX_UPLOAD + 1)
    staged = await run_in_threadpool(
        desk.stage_definition,
        portal.engine,
        portal.settings,
        file.filename or "",
        data,
        calendar=portal.calendar,
    )
    d = staged.definition
    return StagedOut(
        id=staged.id, code=d.code, title=d.title, units=staged.units, deadlines=_deadlines(staged.calendar)
    )


@api.post(
    "/definitions/{ident}/launch", response_model=LaunchOut, summary="Phát động (luồng Prefect “launch”)"
)
def api_launch(
    portal: PortalDep, who: ChangeDep, ident: Annotated[str, PathParam(min_length=1, max_length=64)]
) -> LaunchOut:
    s = do_launch(portal, who, ident)
    return LaunchOut(
        code=s["code"],
        launched=s["launched"],
        units=s["units"],
        people=s["people"],
        deadlines=s["deadlines"],
        emails_queued=s["emails_queued"],
    )


@api.get("/campaigns/{code}", response_model=CampaignOut, summary="Một phong trào: lịch, đơn vị tham gia")
def api_campaign(portal: PortalDep, who: AdminDep, code: CodePath) -> CampaignOut:
    from thidua.tasks.core.queries import campaign_details

    c = campaign_details(portal.engine, code)
    return CampaignOut(
        code=c.code,
        title=c.title,
        status=c.status.value,
        status_label=status_label(c.status),
        start=c.start,
        end=c.end,
        people=c.people,
        levels=[
            LevelOut(level=lv.level, level_label=unit_level(lv.level), units=lv.units, reporting=lv.reporting)
            for lv in c.levels
        ],
        deadlines=_deadlines(c.deadlines),
    )


def _row_out(cells: dict[str, Any]) -> StatusRowOut:
    return StatusRowOut(**{**cells, "indicators": [IndicatorCellOut(**i) for i in cells["indicators"]]})


@api.get("/campaigns/{code}/status", response_model=DashboardOut, summary="Tình hình (như `campaign status`)")
def api_status(
    portal: PortalDep,
    who: AdminDep,
    code: CodePath,
    period: Annotated[str | None, Query(max_length=40, description="Kỳ: yyyy-mm hoặc final")] = None,
) -> DashboardOut:
    board = desk.dashboard(
        portal.engine, code, as_of=portal.today(), tz=portal.settings.tz, period=period or None
    )
    t = board.table
    tl = t.timeliness.as_dict()
    return DashboardOut(
        code=t.code,
        period=t.period_key,
        period_label=t.period_label,
        due_date=t.due_date,
        as_of=t.as_of,
        indicators=[i.label for i in t.indicators],
        rows=[_row_out(status_cells(r, t)) for r in t.rows],
        total=_row_out(status_cells(t.total, t)),
        timeliness=TimelinessOut(
            **{k: tl[k] for k in TimelinessOut.model_fields if k in tl}, summary=t.timeliness.summary()
        ),
        reconciliation=None
        if board.reconciliation is None
        else [
            ReconOut(
                unit=r.unit_code,
                field=r.field,
                reported=r.reported,
                computed=r.computed,
                difference=r.difference,
            )
            for r in board.reconciliation
        ],
        reminders=RemindersOut(**board.reminders.__dict__),
    )


@api.get("/campaigns/{code}/outbox", response_model=list[EmailOut], summary="Hộp thư đi của phong trào")
def api_outbox(
    portal: PortalDep,
    who: AdminDep,
    code: CodePath,
    status: Annotated[OutboxState | None, Query(description="Trạng thái thư")] = None,
) -> list[EmailOut]:
    return [
        EmailOut(
            id=e.id,
            status=e.status.value,
            status_label=e.status_label,
            kind=e.kind,
            recipient=e.recipient,
            subject=e.subject,
            attempts=e.attempts,
            last_error=e.last_error,
            created_at=e.created_at,
            sent_at=e.sent_at,
        )
        for e in desk.campaign_outbox(portal.engine, code, status=_outbox_status(status))
    ]


@api.post(
    "/campaigns/{code}/outbox/{email_id}/retry", response_model=DoneOut, summary="Gửi lại một thư thất bại"
)
def api_retry(
    portal: PortalDep, who: ChangeDep, code: CodePath, email_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]
) -> DoneOut:
    desk.retry_email(portal.engine, code, email_id)
    return DoneOut(lines=[f"Đã đưa thư số {email_id} trở lại hàng chờ gửi."])


@api.get("/held-mail", response_model=list[HeldMailOut], summary="Thư trả lời bị giữ lại vì người gửi")
def api_held_mail(portal: PortalDep, who: AdminDep) -> list[HeldMailOut]:
    from thidua.tasks.collect.mailbox import held_messages

    return [
        HeldMailOut(
            id=m.id,
            received_at=m.received_at,
            sender=m.sender,
            subject=m.subject,
            campaign=m.campaign,
            unit_code=m.unit_code,
            attachment=m.source_name,
            reason=m.reason,
        )
        for m in held_messages(portal.engine)
    ]


@api.get(
    "/held-mail/{mail_id}/original",
    response_class=Response,
    responses={200: {"content": {"message/rfc822": {}}}},
    summary="Thư gốc bị giữ lại (.eml)",
)
def api_held_original(portal: PortalDep, who: AdminDep, mail_id: MailId) -> Response:
    return held_original(portal, mail_id)


@api.get("/campaigns/{code}/documents", response_model=list[DocumentOut], summary="Mọi tài liệu đã lập")
def api_documents(portal: PortalDep, who: AdminDep, code: CodePath) -> list[DocumentOut]:
    return [
        DocumentOut(id=d.id, kind=d.kind.value, label=d.label, file=d.file_name, created_at=d.created_at)
        for d in desk.campaign_documents(portal.engine, code)
    ]


@api.get(
    "/campaigns/{code}/documents/{doc_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "Tệp tài liệu"}},
    summary="Tải một tài liệu",
)
def api_document(
    portal: PortalDep,
    who: AdminDep,
    code: CodePath,
    doc_id: Annotated[str, PathParam(min_length=1, max_length=40)],
) -> Response:
    return document_file(portal, code, doc_id)


@api.post("/campaigns/{code}/exemptions", response_model=DoneOut, summary="Miễn nộp một hạn cho một đơn vị")
def api_exempt(portal: PortalDep, who: ChangeDep, code: CodePath, body: ExemptIn) -> DoneOut:
    return DoneOut(lines=[do_exempt(portal, who, code, body.unit, body.deadline, body.reason)])


@api.post("/campaigns/{code}/close", response_model=DoneOut, summary="Kết thúc (luồng Prefect “close”)")
def api_close(portal: PortalDep, who: ChangeDep, code: CodePath, body: ReasonIn) -> DoneOut:
    s = do_close(portal, who, code, body.reason)
    return DoneOut(
        lines=[f"Phong trào {s['code']} vừa kết thúc.", f"Thư mới vào hộp thư đi: {s['emails_queued']}."]
    )


@api.post("/campaigns/{code}/reopen", response_model=DoneOut, summary="Mở lại kỳ báo cáo (có lý do)")
def api_reopen(portal: PortalDep, who: ChangeDep, code: CodePath, body: RequiredReasonIn) -> DoneOut:
    return DoneOut(lines=[do_reopen(portal, who, code, body.reason)])


@api.post(
    "/campaigns/{code}/review", response_model=DoneOut, summary="Xét khen thưởng (luồng Prefect “review”)"
)
def api_review(portal: PortalDep, who: ChangeDep, code: CodePath, body: ReviewIn) -> DoneOut:
    return DoneOut(lines=do_review(portal, who, code, body.meeting))


@api.post(
    "/campaigns/{code}/awards/run", response_model=DoneOut, summary="Ban hành khen thưởng (luồng “award”)"
)
def api_award_run(portal: PortalDep, who: ChangeDep, code: CodePath, body: AwardRunIn) -> DoneOut:
    return DoneOut(lines=do_award_run(portal, who, code, body.date))


@api.post("/campaigns/{code}/awards/decisions", response_model=DoneOut, summary="Ghi quyết định của cấp trên")
def api_decision(portal: PortalDep, who: ChangeDep, code: CodePath, body: DecisionIn) -> DoneOut:
    return DoneOut(
        lines=do_record_decision(portal, who, code, body.award, body.number, body.symbol, body.date)
    )


@api.post(
    "/campaigns/{code}/grants/{grant_id}/revoke", response_model=DoneOut, summary="Thu hồi một khen thưởng"
)
def api_revoke(
    portal: PortalDep,
    who: ChangeDep,
    code: CodePath,
    grant_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    body: RequiredReasonIn,
) -> DoneOut:
    return DoneOut(lines=[do_revoke(portal, who, code, grant_id, body.reason)])


__all__ = ["api", "pages", "require_admin"]
