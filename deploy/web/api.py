"""The JSON API, /api/v1 (OpenAPI at /api/v1/openapi.json): what the unit pages do, for machine clients.

A client authenticates with `Authorization: Bearer thd_…` (a unit's API token) or, from a signed-in browser,
with the session cookie plus the `X-CSRF-Token` header on every change. Errors are JSON
({"kind", "title", "message", "hint", "problems"}) with the status of their kind (see errors.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Path, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from thidua.deploy.web import service
from thidua.deploy.web.portal import Portal
from thidua.deploy.web.security import Caller, check_csrf, portal_of, require_caller
from thidua.models.indicators import IndicatorResult, fmt_percent
from thidua.models.labels import NOMINATION_STATUS
from thidua.tasks.collect.reports import MAX_REPORT_BYTES, IngestResult
from thidua.tasks.core.declines import Decline
from thidua.tasks.portal.dossier import (
    FileRef,
    PartState,
    file_ref,
    nominee_dossier,
    unit_drafts,
    unit_nomination,
)
from thidua.tasks.portal.identity import create_api_token, list_api_tokens, revoke_api_token, units_named
from thidua.tasks.portal.units import DossierFileLine, unit_indicators, unit_nominations, unit_overview
from thidua.tasks.review.nominations.listing import NominationView

PortalDep = Annotated[Portal, Depends(portal_of)]
CallerDep = Annotated[Caller, Depends(require_caller)]
ChangeDep = Annotated[Caller, Depends(check_csrf)]
UnitPath = Annotated[str, Path(description="Mã đơn vị", min_length=1, max_length=40)]
CodePath = Annotated[str, Path(description="Mã phong trào", min_length=1, max_length=60)]
PeriodPath = Annotated[str, Path(description="Kỳ báo cáo: yyyy-mm hoặc final", min_length=1, max_length=40)]


class ErrorOut(BaseModel):
    kind: str
    title: str
    message: str
    hint: str | None = None
    problems: list[dict[str, Any]] = []


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)


class UnitOut(BaseModel):
    code: str
    name: str


class MeOut(BaseModel):
    email: str
    name: str
    admin: bool
    units: list[UnitOut]
    token: int | None = Field(None, description="Số của mã truy cập, khi yêu cầu dùng mã truy cập")


class PeriodOut(BaseModel):
    key: str
    label: str
    period_start: date | None
    period_end: date | None
    due_date: date
    working_days_left: int
    state: str
    state_label: str
    revision: int | None
    received_at: datetime | None
    rejected_files: int


class CampaignOut(BaseModel):
    code: str
    title: str
    status: str
    reports: bool
    periods: list[PeriodOut]


class IngestOut(BaseModel):
    status: Literal["accepted", "unchanged", "rejected"]
    file: str
    unit: str | None
    period: str | None
    revision: int | None
    on_time: bool | None
    correction: bool
    changes: dict[str, list[int | None]]
    errors: list[str]
    warnings: list[str]


class RevisionOut(BaseModel):
    revision: int
    current: bool
    received_at: datetime
    submitted_by: str | None
    due_date: date
    on_time: bool
    correction: bool
    file: str
    values: dict[str, int]
    changes: dict[str, list[int | None]]
    note: str | None


class TokenIn(BaseModel):
    label: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    id: int
    unit: str
    label: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(BaseModel):
    id: int
    token: str = Field(description="Chỉ hiện một lần; hệ thống chỉ lưu mã băm")


_XLSX: dict[int | str, dict[str, Any]] = {
    200: {"content": {service.XLSX_TYPE: {}}, "description": "Tệp XLSX"}
}


@router.get("/me", response_model=MeOut, summary="Tài khoản đang dùng")
def me(portal: PortalDep, who: CallerDep) -> MeOut:
    p = who.principal
    names = units_named(portal.engine, p.units)
    units = [UnitOut(code=u, name=names.get(u, u)) for u in sorted(p.units)]
    return MeOut(email=p.email, name=p.name, admin=p.admin, units=units, token=p.token_id)


@router.get(
    "/units/{unit}/campaigns", response_model=list[CampaignOut], summary="Phong trào và các kỳ báo cáo"
)
def campaigns(portal: PortalDep, who: CallerDep, unit: UnitPath) -> list[CampaignOut]:
    scope = service.unit_scope(portal, who.principal, unit)
    lines = unit_overview(portal.engine, scope.code, today=portal.today(), calendar=portal.calendar)
    return [
        CampaignOut(
            code=c.code,
            title=c.title,
            status=c.status.value,
            reports=c.reports,
            periods=[PeriodOut(**{**p.__dict__, "state_label": p.state_label}) for p in c.periods],
        )
        for c in lines
    ]


class IndicatorOut(BaseModel):
    num: int
    den: int
    value: str | None = Field(description="Giá trị chính xác dạng phân số, ví dụ 1/10")
    percent: str = Field(description="Như trên trang: 10,00%")
    target: str
    comparison: str
    met: bool | None


class IndicatorPointOut(BaseModel):
    period: str
    label: str
    unit: IndicatorOut | None
    total: IndicatorOut | None


class IndicatorsOut(BaseModel):
    key: str
    label: str
    total_name: str
    points: list[IndicatorPointOut]


def _indicator(result: IndicatorResult | None) -> IndicatorOut | None:
    if result is None:
        return None
    return IndicatorOut(
        num=result.num,
        den=result.den,
        value=None if result.value is None else str(result.value),
        percent=fmt_percent(result.value),
        target=format(result.target, "f"),
        comparison=result.comparison,
        met=result.met,
    )


@router.get(
    "/units/{unit}/campaigns/{code}/indicators",
    response_model=IndicatorsOut,
    summary="Chỉ tiêu chính của đơn vị qua các kỳ, bên cạnh tổng của tỉnh",
)
def indicators(portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath) -> IndicatorsOut:
    scope = service.unit_scope(portal, who.principal, unit)
    series = unit_indicators(portal.engine, scope.code, code, today=portal.today(), tz=portal.settings.tz)
    return IndicatorsOut(
        key=series.key,
        label=series.label,
        total_name=series.total_name,
        points=[
            IndicatorPointOut(
                period=p.period_key, label=p.period_label, unit=_indicator(p.unit), total=_indicator(p.total)
            )
            for p in series.points
        ],
    )


@router.get(
    "/units/{unit}/campaigns/{code}/periods/{period}/template",
    response_class=Response,
    responses=_XLSX,
    summary="Mẫu báo cáo XLSX đã điền sẵn",
)
def template(
    portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath, period: PeriodPath
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.template_download(portal, scope, code, period)


def _ingest_out(result: IngestResult) -> IngestOut:
    return IngestOut(
        status=result.status,
        file=result.source_name,
        unit=result.unit_code,
        period=result.period_key,
        revision=result.revision,
        on_time=result.on_time,
        correction=result.is_correction,
        changes=result.changes,
        errors=result.errors,
        warnings=result.warnings,
    )


@router.post(
    "/units/{unit}/campaigns/{code}/reports",
    response_model=IngestOut,
    responses={
        422: {
            "model": IngestOut | ErrorOut,
            "description": "Báo cáo không được tiếp nhận (mọi lỗi theo ô), hoặc yêu cầu thiếu tệp",
        }
    },
    summary="Nộp báo cáo đã điền (như hộp thư đến)",
    description=f"Tệp .xlsx (mẫu đã điền) hoặc .csv UTF-8, tối đa {MAX_REPORT_BYTES // (1024 * 1024)} MB.",
)
async def submit(
    portal: PortalDep,
    who: ChangeDep,
    tasks: BackgroundTasks,
    unit: UnitPath,
    code: CodePath,
    file: UploadFile,
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    result = await service.ingest_file(portal, who.principal, scope, code, file, tasks)
    body = _ingest_out(result).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if result.accepted else 422)


@router.get(
    "/units/{unit}/campaigns/{code}/periods/{period}/revisions",
    response_model=list[RevisionOut],
    summary="Các lần nộp của một kỳ",
)
def revisions(
    portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath, period: PeriodPath
) -> list[RevisionOut]:
    scope = service.unit_scope(portal, who.principal, unit)
    return [
        RevisionOut(
            revision=h.revision,
            current=h.is_current,
            received_at=h.received_at,
            submitted_by=h.submitted_by,
            due_date=h.due_date,
            on_time=h.on_time,
            correction=h.is_correction,
            file=h.source_name,
            values=h.values,
            changes=h.changes,
            note=h.note,
        )
        for h in service.history(portal, scope, code, period)
    ]


@router.get(
    "/units/{unit}/campaigns/{code}/periods/{period}/revisions/{revision}/file",
    response_class=Response,
    responses={200: {"content": {service.XLSX_TYPE: {}, "text/csv": {}}, "description": "Tệp đã nộp"}},
    summary="Tệp của một lần nộp",
)
def revision_file(
    portal: PortalDep,
    who: CallerDep,
    unit: UnitPath,
    code: CodePath,
    period: PeriodPath,
    revision: Annotated[int, Path(ge=1, le=1_000_000)],
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.revision_download(portal, scope, code, period, revision)


@router.get("/units/{unit}/tokens", response_model=list[TokenOut], summary="Mã truy cập của đơn vị")
def tokens(portal: PortalDep, who: CallerDep, unit: UnitPath) -> list[TokenOut]:
    return [
        TokenOut(
            id=t.id,
            unit=t.unit_code,
            label=t.label,
            created_by=t.created_by,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
        for t in list_api_tokens(portal.engine, who.principal, unit)
    ]


@router.post("/units/{unit}/tokens", response_model=NewTokenOut, status_code=201, summary="Tạo mã truy cập")
def token_create(portal: PortalDep, who: ChangeDep, unit: UnitPath, body: TokenIn) -> NewTokenOut:
    token_id, token = create_api_token(portal.engine, who.principal, unit, body.label, now=portal.now())
    return NewTokenOut(id=token_id, token=token)


@router.delete("/units/{unit}/tokens/{token_id}", status_code=204, summary="Thu hồi mã truy cập")
def token_revoke(
    portal: PortalDep, who: ChangeDep, unit: UnitPath, token_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    revoke_api_token(portal.engine, who.principal, unit, token_id, now=portal.now())
    return Response(status_code=204)


class DocumentOut(BaseModel):
    id: str = Field(description="Số hiệu tài liệu để tải về")
    kind: str
    label: str
    file: str = Field(description="Tên tệp")
    created_at: datetime | None


_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            service.DOCX_TYPE: {},
            service.XLSX_TYPE: {},
            "application/pdf": {},
            "image/png": {},
        },
        "description": "Tệp tài liệu",
    }
}
DocPath = Annotated[str, Path(description="Số hiệu tài liệu", min_length=1, max_length=40)]


@router.get(
    "/units/{unit}/campaigns/{code}/documents",
    response_model=list[DocumentOut],
    summary="Tài liệu của đơn vị: kế hoạch, báo cáo tổng kết, quyết định và giấy chứng nhận khen thưởng",
)
def documents(portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath) -> list[DocumentOut]:
    scope = service.unit_scope(portal, who.principal, unit)
    return [
        DocumentOut(
            id=d.id, kind=d.kind.value, label=d.label, file=d.key.rsplit("/", 1)[-1], created_at=d.created_at
        )
        for d in service.documents(portal, scope, code)
    ]


@router.get(
    "/units/{unit}/campaigns/{code}/documents/{doc_id}",
    response_class=Response,
    responses=_DOCUMENT,
    summary="Tải một tài liệu của đơn vị",
)
def document_file(
    portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath, doc_id: DocPath
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.document_download(portal, scope, code, doc_id)


# ---------------------------------------------------------------- nominations and the dossier

NominationPath = Annotated[int, Path(description="Số của đề nghị (từ danh sách đề nghị)", ge=1, le=2**31 - 1)]
FilePath = Annotated[int, Path(description="Số của tệp hồ sơ", ge=1, le=2**31 - 1)]


class ReasonOut(BaseModel):
    passed: bool
    text: str
    verify: bool = Field(description="Cần xác minh: để hội đồng xem, tự nó không làm trượt")


class NominationOut(BaseModel):
    id: int
    award: str = Field(description="Mã hình thức khen thưởng")
    award_name: str
    subject_kind: Literal["collective", "individual"]
    subject_code: str
    subject_name: str
    subject_title: str | None
    submitted_at: datetime
    late: bool
    status: Literal["submitted", "complete", "incomplete", "withdrawn"]
    status_label: str = Field(description="Trạng thái hồ sơ, như người đọc thấy")
    missing_parts: list[str]
    eligible: bool | None = Field(description="null: chưa xét điều kiện")
    reasons: list[ReasonOut]


class DossierPartOut(BaseModel):
    key: str
    name: str
    required: bool


class DossierFileOut(BaseModel):
    id: int = Field(description="Số của tệp, để tải về")
    part: str
    nomination: int | None = Field(description="Số đề nghị; null: tệp chung cho hồ sơ của đơn vị")
    revision: int
    file: str = Field(description="Tên tệp như người gửi đặt (chỉ để hiển thị)")
    uploaded_at: datetime
    on_time: bool
    generated: bool = Field(description="Bản dự thảo do hệ thống lập")


class DeclineOut(BaseModel):
    unit: str
    reason: str | None
    declined_by: str | None
    declined_at: datetime


class NominationsOut(BaseModel):
    campaign: str
    dossier_label: str
    deadline: date
    working_days_left: int
    declined: DeclineOut | None = Field(description="Đơn vị đã báo không đề nghị khen thưởng")
    nominations: list[NominationOut]
    gaps: list[str] = Field(description="Hồ sơ còn thiếu, một dòng cho mỗi đối tượng")
    parts: list[DossierPartOut]
    files: list[DossierFileOut] = Field(description="Các tệp hồ sơ hiện hành của đơn vị")
    allowed_types: list[str]
    max_file_mb: int


class NomineePartOut(BaseModel):
    key: str
    name: str
    required: bool
    missing: bool
    state: PartState
    state_label: str
    file: DossierFileOut | None


class NomineeDossierOut(BaseModel):
    nomination: NominationOut
    label: str
    deadline: date
    working_days_left: int
    missing: list[str] = Field(description="Tên các thành phần bắt buộc còn thiếu")
    parts: list[NomineePartOut]
    drafts: list[DossierFileOut]


class DraftsOut(BaseModel):
    files: list[DossierFileOut] = Field(description="Các bản dự thảo vừa lập")
    skipped: list[str] = Field(description="Vì sao một thành phần không được lập dự thảo")


class DeclineIn(BaseModel):
    reason: str | None = Field(None, max_length=1000)


class DeclinedOut(BaseModel):
    created: bool = Field(description="false: đơn vị đã báo từ trước, không có gì thay đổi")
    cancelled_reminders: int
    decline: DeclineOut


def _nomination_out(n: NominationView) -> NominationOut:
    return NominationOut(
        id=n.id,
        award=n.award_key,
        award_name=n.award_name,
        subject_kind=n.subject_kind.value,
        subject_code=n.subject_code,
        subject_name=n.subject_name,
        subject_title=n.subject_title,
        submitted_at=n.submitted_at,
        late=n.is_late,
        status=n.status.value,
        status_label=NOMINATION_STATUS[n.status.value],
        missing_parts=n.missing_parts,
        eligible=n.eligible,
        reasons=[ReasonOut(passed=r.passed, text=r.text, verify=r.verify) for r in n.reasons],
    )


def _file_out(f: FileRef | DossierFileLine) -> DossierFileOut:
    return DossierFileOut(
        id=f.id if isinstance(f, FileRef) else f.file_id,
        part=f.part_key,
        nomination=f.nomination_id,
        revision=f.revision,
        file=f.original_name,
        uploaded_at=f.uploaded_at,
        on_time=f.on_time,
        generated=f.generated,
    )


def _decline_out(d: Decline) -> DeclineOut:
    return DeclineOut(unit=d.unit_code, reason=d.reason, declined_by=d.declined_by, declined_at=d.declined_at)


@router.get(
    "/units/{unit}/campaigns/{code}/nominations",
    response_model=NominationsOut,
    summary="Đề nghị khen thưởng của đơn vị, kết quả xét điều kiện và hồ sơ còn thiếu",
)
def nominations(portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath) -> NominationsOut:
    scope = service.unit_scope(portal, who.principal, unit)
    view = unit_nominations(portal.engine, scope.code, code, today=portal.today(), calendar=portal.calendar)
    return NominationsOut(
        campaign=view.campaign.code,
        dossier_label=view.dossier_label,
        deadline=view.deadline,
        working_days_left=view.working_days_left,
        declined=_decline_out(view.declined) if view.declined else None,
        nominations=[_nomination_out(n) for n in view.nominations],
        gaps=view.gaps,
        parts=[DossierPartOut(key=k, name=n, required=r) for k, n, r in view.parts],
        files=[_file_out(f) for f in view.files],
        allowed_types=view.allowed_types,
        max_file_mb=view.max_file_mb,
    )


@router.get(
    "/units/{unit}/campaigns/{code}/nominations/{nomination_id}/dossier",
    response_model=NomineeDossierOut,
    summary="Hồ sơ của một đối tượng: các thành phần, phần còn thiếu, hạn nộp, các tệp",
)
def nominee(
    portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath, nomination_id: NominationPath
) -> NomineeDossierOut:
    scope = service.unit_scope(portal, who.principal, unit)
    service.campaign_line(portal, scope, code)
    view = nominee_dossier(
        portal.engine, scope.code, code, nomination_id, today=portal.today(), calendar=portal.calendar
    )
    return NomineeDossierOut(
        nomination=_nomination_out(view.nomination),
        label=view.label,
        deadline=view.deadline,
        working_days_left=view.working_days_left,
        missing=view.missing,
        parts=[
            NomineePartOut(
                key=p.key,
                name=p.name,
                required=p.required,
                missing=p.missing,
                state=p.state,
                state_label=p.state_label,
                file=_file_out(p.file) if p.file else None,
            )
            for p in view.parts
        ],
        drafts=[_file_out(d) for d in view.drafts],
    )


@router.post(
    "/units/{unit}/campaigns/{code}/dossier/files",
    response_model=DossierFileOut,
    status_code=201,
    summary="Nộp một tệp hồ sơ",
    description=(
        "Tệp của hồ sơ chung của đơn vị, hoặc (với `nomination`) tài liệu riêng của một đối tượng "
        "như Báo cáo thành tích. Kiểm tra như trang nộp hồ sơ: loại tệp phong trào cho phép "
        "(theo đuôi và nội dung), giới hạn dung lượng của phong trào; nộp lại tệp khác thành lần nộp mới."
    ),
)
async def dossier_file_upload(
    portal: PortalDep,
    who: ChangeDep,
    unit: UnitPath,
    code: CodePath,
    file: UploadFile,
    part: Annotated[str, Form(min_length=1, max_length=60, description="Mã thành phần hồ sơ")],
    nomination: Annotated[
        int | None, Form(ge=1, le=2**31 - 1, description="Số đề nghị, với tài liệu riêng của một đối tượng")
    ] = None,
) -> DossierFileOut:
    scope = service.unit_scope(portal, who.principal, unit)
    nominee, award = None, None
    if nomination is not None:
        # By the unit's own list: another unit's nomination answers as one that does not exist.
        found = unit_nomination(portal.engine, scope.code, code, nomination)
        nominee, award = found.subject_code, found.award_key
    stored = await service.dossier_upload(
        portal, who.principal, scope, code, file, part=part, nominee=nominee, award_key=award
    )
    return _file_out(stored)


@router.get(
    "/units/{unit}/campaigns/{code}/dossier/files/{file_id}",
    response_class=Response,
    responses=_DOCUMENT,
    summary="Tải một tệp hồ sơ của đơn vị (mọi lần nộp, cả bản dự thảo)",
)
def dossier_file(
    portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath, file_id: FilePath
) -> Response:
    scope = service.unit_scope(portal, who.principal, unit)
    return service.dossier_download(portal, scope, code, file_id)


@router.get(
    "/units/{unit}/campaigns/{code}/dossier/drafts",
    response_model=list[DossierFileOut],
    summary="Các bản dự thảo hệ thống đã lập cho hồ sơ của đơn vị",
)
def drafts(portal: PortalDep, who: CallerDep, unit: UnitPath, code: CodePath) -> list[DossierFileOut]:
    scope = service.unit_scope(portal, who.principal, unit)
    service.campaign_line(portal, scope, code)
    return [_file_out(f) for f in unit_drafts(portal.engine, scope.code, code)]


@router.post(
    "/units/{unit}/campaigns/{code}/dossier/drafts",
    response_model=DraftsOut,
    summary="Yêu cầu hệ thống lập Danh sách và Tổng hợp kết quả",
    description="Tệp đơn vị tự nộp cho thành phần đó được giữ nguyên; `skipped` nói vì sao.",
)
def drafts_create(portal: PortalDep, who: ChangeDep, unit: UnitPath, code: CodePath) -> DraftsOut:
    scope = service.unit_scope(portal, who.principal, unit)
    result = service.drafts(portal, scope, code)
    return DraftsOut(files=[_file_out(file_ref(f)) for f in result.files], skipped=result.skipped)


@router.post(
    "/units/{unit}/campaigns/{code}/nominations/decline",
    response_model=DeclinedOut,
    summary="Báo đơn vị không đề nghị khen thưởng",
    description="Ghi một lần; đơn vị không nhận thêm thư nhắc hồ sơ. Bị từ chối khi đơn vị đã có đề nghị.",
)
def decline(
    portal: PortalDep, who: ChangeDep, unit: UnitPath, code: CodePath, body: DeclineIn | None = None
) -> DeclinedOut:
    scope = service.unit_scope(portal, who.principal, unit)
    result = service.decline(portal, who.principal, scope, code, body.reason if body else None)
    return DeclinedOut(
        created=result.created, cancelled_reminders=result.cancelled, decline=_decline_out(result.decline)
    )
