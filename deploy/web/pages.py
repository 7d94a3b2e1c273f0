"""The portal's HTML pages (Vietnamese, server-rendered, plain forms that work without a script).

GET  /                                   → the unit's home, or the list of one's units
GET  /dang-nhap, POST /dang-nhap         ask for a sign-in link (emailed through the outbox)
GET  /dang-nhap/xac-nhan?t=…             the link's page: one button, so a mail scanner that opens links
POST /dang-nhap/xac-nhan                 does not use them up; the POST starts the session
POST /dang-xuat                          sign out (the server forgets the session)
GET  /don-vi/{unit}                      the unit's campaigns and what each period stands at
GET  /don-vi/{unit}/{code}/{period}      one period: template, upload form, revisions, rejected files
GET  …/{period}/mau.xlsx                 the pre-filled template
POST …/{period}/nop                      upload a report: the inbox's answer on the page, at once
GET  …/{period}/lan/{revision}           the file of one revision
GET  /don-vi/{unit}/{code}/de-nghi/{id}  one nominee's dossier: parts, what is missing, deadline, files
GET  …/de-nghi/tep/{id}                  one of the unit's dossier files (drafts included)
POST …/de-nghi/du-thao                   the system drafts the unit's Danh sách and Tổng hợp kết quả; the
                                         nominations page answers with what was made and why not
GET  /don-vi/{unit}/{code}/tai-lieu      the unit's documents (plan, closing report, decisions, certificates)
GET  …/tai-lieu/{id}                     one of them, read from storage by the key the database holds
GET/POST /don-vi/{unit}/ma-truy-cap      the unit's API tokens; POST …/{id}/thu-hoi revokes one
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from thidua.deploy.web import service
from thidua.deploy.web.charts import line_chart
from thidua.deploy.web.portal import Portal
from thidua.deploy.web.security import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Caller,
    caller,
    check_csrf,
    check_pre_csrf,
    client_of,
    cookie_flags,
    portal_of,
    pre_token,
    require_caller,
)
from thidua.errors import NotFound
from thidua.models.indicators import fmt_percent, fmt_ratio, fmt_target, met_label
from thidua.tasks.collect.reports import MAX_REPORT_BYTES, IngestResult
from thidua.tasks.core.campaigns import campaign_code
from thidua.tasks.portal.dossier import nominee_dossier
from thidua.tasks.portal.identity import (
    SESSION_IDLE,
    create_api_token,
    end_session,
    list_api_tokens,
    redeem_signin,
    request_signin,
    revoke_api_token,
    units_named,
)
from thidua.tasks.portal.units import (
    CampaignLine,
    PeriodLine,
    rejected_uploads,
    unit_indicators,
    unit_nominations,
    unit_overview,
    unit_period,
)
from thidua.tasks.review.nominations.drafts import DraftResult

router = APIRouter(include_in_schema=False)
PortalDep = Annotated[Portal, Depends(portal_of)]
CallerDep = Annotated[Caller, Depends(require_caller)]
ChangeDep = Annotated[Caller, Depends(check_csrf)]


def _days(period: PeriodLine) -> str:
    if period.state in ("accepted", "accepted_late", "exempt"):
        return ""  # nothing owed: counting days to (or past) the due date would only alarm
    return _days_text(period.working_days_left)


def _days_text(n: int) -> str:
    if n > 0:
        return f"còn {n} ngày làm việc"
    if n == 0:
        return "hôm nay là hạn"
    return f"quá hạn {-n} ngày làm việc"


def _render(
    portal: Portal, request: Request, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    return portal.templates.TemplateResponse(
        request,
        name,
        {"caller": caller(request), "days": _days, "days_text": _days_text, **context},
        status_code=status,
    )


def _link_base(portal: Portal, request: Request) -> str:
    return portal.settings.public_url or str(request.base_url)


# ---------------------------------------------------------------- sign-in


@router.get("/")
def home(request: Request, portal: PortalDep) -> Response:
    found = caller(request)
    if found is None:
        return RedirectResponse("/dang-nhap", status_code=303)
    units = sorted(found.principal.units)
    if len(units) == 1 and not found.principal.admin:
        return RedirectResponse(f"/don-vi/{units[0]}", status_code=303)
    names = units_named(portal.engine, units)
    return _render(portal, request, "choose.html", {"units": [(u, names.get(u, u)) for u in units]})


def _with_pre_cookie(request: Request, response: Response, token: str) -> Response:
    if request.cookies.get(PRE_COOKIE) != token:
        response.set_cookie(PRE_COOKIE, token, max_age=3600, **cookie_flags(request))
    return response


@router.get("/dang-nhap")
def signin_form(request: Request, portal: PortalDep) -> Response:
    token = pre_token(request)
    return _with_pre_cookie(
        request, _render(portal, request, "signin.html", {"pre": token, "sent": None}), token
    )


@router.post("/dang-nhap", dependencies=[Depends(check_pre_csrf)])
def signin_request(
    request: Request, portal: PortalDep, tasks: BackgroundTasks, email: Annotated[str, Form(max_length=300)]
) -> Response:
    asked = request_signin(
        portal.engine,
        portal.settings,
        email,
        client_of(request),
        now=portal.now(),
        link_base=_link_base(portal, request),
    )
    if asked.sent:
        tasks.add_task(service.send_outbox, portal)
    token = pre_token(request)
    # The same page whether the address is known or not: the form does not tell who has an account.
    return _render(portal, request, "signin.html", {"pre": token, "sent": asked.email, "email": asked.email})


@router.get("/dang-nhap/xac-nhan")
def signin_confirm(request: Request, portal: PortalDep, t: str = "") -> Response:
    token = pre_token(request)
    page = _render(portal, request, "signin_confirm.html", {"pre": token, "token": t[:200]})
    page.headers["Referrer-Policy"] = "no-referrer"  # the link's token must not leak to another site
    return _with_pre_cookie(request, page, token)


@router.post("/dang-nhap/xac-nhan", dependencies=[Depends(check_pre_csrf)])
def signin_redeem(request: Request, portal: PortalDep, t: Annotated[str, Form(max_length=200)]) -> Response:
    new = redeem_signin(portal.engine, portal.settings, t, client_of(request), now=portal.now())
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, new.token, max_age=int(SESSION_IDLE.total_seconds()), **cookie_flags(request)
    )
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/dang-xuat")
def signout(request: Request, portal: PortalDep, who: ChangeDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_session(portal.engine, cookie, now=portal.now())
    response = RedirectResponse("/dang-nhap", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- the unit's side


@router.get("/don-vi")
def unit_by_code(ma: str, who: CallerDep) -> Response:
    return RedirectResponse(f"/don-vi/{ma.strip()}", status_code=303)


@router.get("/don-vi/{unit}")
def unit_home(request: Request, portal: PortalDep, who: CallerDep, unit: str) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    campaigns = unit_overview(portal.engine, scope.code, today=portal.today(), calendar=portal.calendar)
    return _render(
        portal, request, "unit.html", {"unit": scope.code, "unit_name": scope.name, "campaigns": campaigns}
    )


def _period_page(
    request: Request,
    portal: Portal,
    who: Caller,
    unit: str,
    code: str,
    period: str,
    result: IngestResult | None = None,
    status: int = 200,
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    campaign, line = unit_period(
        portal.engine, scope.code, code, period, today=portal.today(), calendar=portal.calendar
    )
    context = {
        "unit": scope.code,
        "unit_name": scope.name,
        "campaign": campaign,
        "period": line,
        "result": result,
        "history": service.history(portal, scope, campaign.code, line.key),
        "rejected": rejected_uploads(portal.engine, scope.code, campaign.code, line.key),
        "labels": service.field_labels(portal, campaign.code),
        "max_mb": MAX_REPORT_BYTES // (1024 * 1024),
    }
    return _render(portal, request, "period.html", context, status)


@router.get("/don-vi/{unit}/{code}/chi-so")
def indicators_page(request: Request, portal: PortalDep, who: CallerDep, unit: str, code: str) -> Response:
    """The unit's main indicator against its target over the periods, beside the province's total."""
    scope = service.unit_scope(portal, who.principal, unit)
    series = unit_indicators(portal.engine, scope.code, code, today=portal.today(), tz=portal.settings.tz)
    campaign = _campaign_of(portal, scope.code, code)
    target_value = next((p.unit or p.total for p in series.points if (p.unit or p.total)), None)
    chart = line_chart(
        [p.period_key[-2:] if p.period_key[:4].isdigit() else "TK" for p in series.points],
        [
            # The unit last, so its line is drawn over the total's where they meet.
            (series.total_name, "#57606a", [p.total.value if p.total else None for p in series.points]),
            (scope.name, "#8b0000", [p.unit.value if p.unit else None for p in series.points]),
        ],
        target_value.target if target_value else None,
        title=f"{series.label}: {scope.name}",
    )
    context = {
        "unit": scope.code,
        "unit_name": scope.name,
        "campaign": campaign,
        "series": series,
        "chart": chart,
        "pct": lambda r: fmt_percent(r.value) if r else "—",
        "ratio": fmt_ratio,
        "met": met_label,
        "target": lambda r: fmt_target(r.comparison, r.target) if r else "—",
    }
    return _render(portal, request, "indicators.html", context)


def _campaign_of(portal: Portal, unit: str, code: str) -> CampaignLine:
    for line in unit_overview(portal.engine, unit, today=portal.today(), calendar=portal.calendar):
        if line.code == campaign_code(code):
            return line
    raise NotFound(f"Đơn vị {unit} không tham gia phong trào “{code}”.")


@router.get("/don-vi/{unit}/{code}/de-nghi/{nomination_id:int}")
def nominee_page(
    request: Request, portal: PortalDep, who: CallerDep, unit: str, code: str, nomination_id: int
) -> Response:
    """One nominee's dossier: its parts with what is missing, the deadline, each file and the drafts."""
    scope = service.unit_scope(portal, who.principal, unit)
    campaign = _campaign_of(portal, scope.code, code)
    view = nominee_dossier(
        portal.engine, scope.code, code, nomination_id, today=portal.today(), calendar=portal.calendar
    )
    context = {"unit": scope.code, "unit_name": scope.name, "campaign": campaign, "view": view}
    return _render(portal, request, "nominee.html", context)


@router.get("/don-vi/{unit}/{code}/de-nghi/tep/{file_id:int}")
def dossier_file(portal: PortalDep, who: CallerDep, unit: str, code: str, file_id: int) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.dossier_download(portal, scope, code, file_id)


@router.post("/don-vi/{unit}/{code}/de-nghi/du-thao")
def dossier_drafts(request: Request, portal: PortalDep, who: ChangeDep, unit: str, code: str) -> Response:
    """Have the system draft the unit's Danh sách and Tổng hợp kết quả from its data (a part the unit
    uploaded itself is kept); the nominations page answers with what was drafted and, in Vietnamese, why any
    part was not."""
    scope = service.unit_scope(portal, who.principal, unit)
    drafted = service.drafts(portal, scope, code)
    return _nominations_page(request, portal, who, scope.code, code, drafted)


@router.get("/don-vi/{unit}/{code}/tai-lieu")
def documents_page(request: Request, portal: PortalDep, who: CallerDep, unit: str, code: str) -> Response:
    """The unit's documents: the plan, the closing report, the decisions and certificates that concern it."""
    scope = service.unit_scope(portal, who.principal, unit)
    docs = service.documents(portal, scope, code)
    campaign = _campaign_of(portal, scope.code, code)
    context = {"unit": scope.code, "unit_name": scope.name, "campaign": campaign, "documents": docs}
    return _render(portal, request, "documents.html", context)


@router.get("/don-vi/{unit}/{code}/tai-lieu/{doc_id}")
def document_file(portal: PortalDep, who: CallerDep, unit: str, code: str, doc_id: str) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.document_download(portal, scope, code, doc_id)


@router.get("/don-vi/{unit}/{code}/de-nghi")
def nominations_page(request: Request, portal: PortalDep, who: CallerDep, unit: str, code: str) -> Response:
    """The unit's nominations, their screening, what the dossier still lacks, and “không đề nghị”."""
    return _nominations_page(request, portal, who, unit, code)


def _nominations_page(
    request: Request, portal: Portal, who: Caller, unit: str, code: str, drafted: DraftResult | None = None
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    view = unit_nominations(portal.engine, scope.code, code, today=portal.today(), calendar=portal.calendar)
    context = {"unit": scope.code, "unit_name": scope.name, "view": view, "drafted": drafted}
    return _render(portal, request, "nominations.html", context)


@router.post("/don-vi/{unit}/{code}/de-nghi/khong-de-nghi")
def nominations_decline(
    portal: PortalDep,
    who: ChangeDep,
    unit: str,
    code: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """The unit proposes nobody: recorded once, in the signed-in person's name; its dossier reminders stop."""
    scope = service.unit_scope(portal, who.principal, unit)
    service.decline(portal, who.principal, scope, code, reason)
    return RedirectResponse(f"/don-vi/{scope.code}/{campaign_code(code)}/de-nghi", status_code=303)


@router.post("/don-vi/{unit}/{code}/de-nghi/ho-so")
async def dossier_upload(
    portal: PortalDep,
    who: ChangeDep,
    unit: str,
    code: str,
    file: UploadFile,
    part: Annotated[str, Form(max_length=60)],
    nominee: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """One dossier file (the unit's whole dossier, or one nominee's own part): service.dossier_upload, the
    one path the API takes too."""
    scope = service.unit_scope(portal, who.principal, unit)
    await service.dossier_upload(portal, who.principal, scope, code, file, part=part, nominee=nominee or None)
    return RedirectResponse(f"/don-vi/{scope.code}/{campaign_code(code)}/de-nghi", status_code=303)


@router.get("/don-vi/{unit}/{code}/{period}")
def period_page(
    request: Request, portal: PortalDep, who: CallerDep, unit: str, code: str, period: str
) -> Response:
    return _period_page(request, portal, who, unit, code, period)


@router.get("/don-vi/{unit}/{code}/{period}/mau.xlsx")
def template(portal: PortalDep, who: CallerDep, unit: str, code: str, period: str) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.template_download(portal, scope, code, period)


@router.get("/don-vi/{unit}/{code}/{period}/lan/{revision}")
def revision_file(
    portal: PortalDep, who: CallerDep, unit: str, code: str, period: str, revision: int
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.revision_download(portal, scope, code, period, revision)


@router.post("/don-vi/{unit}/{code}/{period}/nop")
async def upload(
    request: Request,
    portal: PortalDep,
    who: ChangeDep,
    tasks: BackgroundTasks,
    unit: str,
    code: str,
    period: str,
    file: UploadFile,
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    result = await service.ingest_file(portal, who.principal, scope, code, file, tasks)
    status = 200 if result.accepted else 422
    return _period_page(request, portal, who, unit, code, period, result, status)


@router.get("/don-vi/{unit}/ma-truy-cap")
def tokens_page(request: Request, portal: PortalDep, who: CallerDep, unit: str) -> Response:
    return _tokens(request, portal, who, unit)


def _tokens(
    request: Request, portal: Portal, who: Caller, unit: str, new: tuple[int, str] | None = None
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    context = {
        "unit": scope.code,
        "unit_name": scope.name,
        "tokens": list_api_tokens(portal.engine, who.principal, scope.code),
        "new_id": new[0] if new else None,
        "new_token": new[1] if new else None,
    }
    page = _render(portal, request, "tokens.html", context)
    page.headers["Cache-Control"] = "no-store"  # the new token is shown once, and must not stay in a cache
    return page


@router.post("/don-vi/{unit}/ma-truy-cap")
def token_create(
    request: Request,
    portal: PortalDep,
    who: ChangeDep,
    unit: str,
    label: Annotated[str, Form(max_length=200)],
) -> Response:
    new = create_api_token(portal.engine, who.principal, unit, label, now=portal.now())
    return _tokens(request, portal, who, unit, new)


@router.post("/don-vi/{unit}/ma-truy-cap/{token_id}/thu-hoi")
def token_revoke(portal: PortalDep, who: ChangeDep, unit: str, token_id: int) -> Response:
    revoke_api_token(portal.engine, who.principal, unit, token_id, now=portal.now())
    scope = service.unit_scope(portal, who.principal, unit)
    return RedirectResponse(f"/don-vi/{scope.code}/ma-truy-cap", status_code=303)
