"""The council's pages and API: a member's meetings, the nominees' papers, the one secret ballot, and the
secretary's and the chair's work.

GET  /hoi-dong                               the councils one sits on and their meetings
POST /hoi-dong/{council}/mo-hop              the secretary opens a meeting, recording who attends
GET  /hoi-dong/hop/{meeting}                 the meeting: papers, the ballot form, the results once closed
POST /hoi-dong/hop/{meeting}/phieu           the member's whole ballot, once
POST …/phieu-van-ban                         the secretary enters an absent member's written ballot
GET  …/kiem-phieu/mau.xlsx                   the paper count's template
POST …/kiem-phieu, …/kiem-phieu/xlsx         the secretary enters the paper ballots' count (form or XLSX)
POST …/ket-thuc                              the secretary closes the meeting (the minutes are written)
POST …/bang-nhau                             the chair breaks a tie at the quota's edge, with the reason
GET  …/bien-ban.docx, …/ho-so/{file}         the minutes; a nominee's dossier file

GET  /api/v1/council/meetings, /api/v1/council/meetings/{meeting}; POST …/{meeting}/ballot (JSON)

Secrecy: the choices travel only in a POST body, which nothing logs; no URL carries them; after a ballot the
answer is a redirect to the meeting's page (or `{"voted": true}`), which shows that the member voted and never
how; pages are `no-store`, so a shared computer's back button shows no filled-in form. Every route checks
the caller's seat on the meeting's council (tasks/portal/council.py), and every form the session's CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from thidua.deploy.web import service
from thidua.deploy.web.errors import _OVERRIDES
from thidua.deploy.web.portal import Portal
from thidua.deploy.web.security import Caller, caller, check_csrf, portal_of, require_caller
from thidua.errors import InvalidInput, NotFound
from thidua.models.review import CouncilRole
from thidua.models.storage import storage_for
from thidua.models.text import nfc
from thidua.tasks.portal import council as work
from thidua.tasks.portal.council import CHOICE_LABELS, MeetingView, NomineeCard
from thidua.tasks.review.council import paper_count_template, read_paper_count

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/council", tags=["council"])
PortalDep = Annotated[Portal, Depends(portal_of)]
CallerDep = Annotated[Caller, Depends(require_caller)]
ChangeDep = Annotated[Caller, Depends(check_csrf)]
MeetingId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Số cuộc họp")]


def _seated(portal: PortalDep, who: CallerDep, meeting_id: MeetingId) -> None:
    """The caller sits on the meeting's council (404 otherwise), checked before any body is read or
    validated: someone else learns nothing of a form, not even which fields it wants."""
    work.seat_at(portal.engine, who.principal, meeting_id)


SEATED = [Depends(_seated)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_PAPER_XLSX = 2 * 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def _render(
    portal: Portal, request: Request, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    page = portal.templates.TemplateResponse(
        request, name, {"caller": caller(request), "labels": CHOICE_LABELS, **context}, status_code=status
    )
    page.headers.update(NO_STORE)
    return page


def _meeting_url(meeting_id: int, anchor: str = "") -> str:
    return f"/hoi-dong/hop/{meeting_id}{anchor}"


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: nfc(v) or "" for k, v in form.items() if isinstance(v, str)}


# ---------------------------------------------------------------- pages


@pages.get("/hoi-dong")
def council_home(request: Request, portal: PortalDep, who: CallerDep) -> Response:
    home = work.council_home(portal.engine, who.principal)
    if not home.seats:
        raise work.NotOnCouncil("Hội đồng thi đua – khen thưởng nào")
    # The secretary opens the meetings: their page lists the members to tick as present.
    members = {
        s.council_id: work.council_members(portal.engine, s.council_id)
        for s in home.seats
        if s.role == CouncilRole.SECRETARY
    }
    return _render(portal, request, "council_home.html", {"home": home, "members": members})


@pages.post("/hoi-dong/{council_id:int}/mo-hop")
async def open_page(request: Request, portal: PortalDep, who: ChangeDep, council_id: RowId) -> Response:
    form = await request.form()
    present = [v for k, v in form.multi_items() if k == "co_mat" and isinstance(v, str)]
    place = form.get("dia_diem")
    meeting_id = await run_in_threadpool(
        work.open_council_meeting,
        portal.engine,
        who.principal,
        council_id,
        present,
        place=nfc(place) if isinstance(place, str) and place.strip() else None,
        now=portal.now(),
    )
    return RedirectResponse(_meeting_url(meeting_id), status_code=303)


def _view(portal: Portal, who: Caller, meeting_id: int) -> MeetingView:
    return work.meeting_view(
        portal.engine,
        portal.settings,
        who.principal,
        meeting_id,
        today=portal.today(),
        calendar=portal.calendar,
    )


@pages.get("/hoi-dong/hop/{meeting_id:int}", dependencies=SEATED)
def meeting_page(request: Request, portal: PortalDep, who: CallerDep, meeting_id: MeetingId) -> Response:
    view = _view(portal, who, meeting_id)
    return _render(portal, request, "council_meeting.html", {"view": view})


@pages.post("/hoi-dong/hop/{meeting_id:int}/phieu", dependencies=SEATED)
async def ballot_page(request: Request, portal: PortalDep, who: ChangeDep, meeting_id: MeetingId) -> Response:
    choices = work.parse_choices(await _form(request))
    await run_in_threadpool(
        work.submit_ballot, portal.engine, who.principal, meeting_id, choices, now=portal.now()
    )
    # Nothing of the ballot comes back: the page says the member voted, not how.
    return RedirectResponse(_meeting_url(meeting_id, "#da-bo-phieu"), status_code=303)


@pages.post("/hoi-dong/hop/{meeting_id:int}/phieu-van-ban", dependencies=SEATED)
async def written_page(
    request: Request, portal: PortalDep, who: ChangeDep, meeting_id: MeetingId
) -> Response:
    form = await _form(request)
    choices = work.parse_choices(form)
    member = form.get("thanh_vien", "")
    if not member:
        raise InvalidInput("Chọn thành viên vắng mặt gửi phiếu bằng văn bản.")
    await run_in_threadpool(
        work.enter_written_ballot, portal.engine, who.principal, meeting_id, member, choices, now=portal.now()
    )
    return RedirectResponse(_meeting_url(meeting_id, "#thu-ky"), status_code=303)


@pages.get("/hoi-dong/hop/{meeting_id:int}/kiem-phieu/mau.xlsx", dependencies=SEATED)
def paper_template(portal: PortalDep, who: CallerDep, meeting_id: MeetingId) -> Response:
    work.seat_at(portal.engine, who.principal, meeting_id)
    return service.download(
        paper_count_template(portal.engine, meeting_id), f"kiem-phieu-hop-{meeting_id}.xlsx"
    )


@pages.post("/hoi-dong/hop/{meeting_id:int}/kiem-phieu", dependencies=SEATED)
async def paper_form(request: Request, portal: PortalDep, who: ChangeDep, meeting_id: MeetingId) -> Response:
    ballots, counts = work.paper_counts_from_form(await _form(request))
    await run_in_threadpool(
        work.enter_paper_tallies, portal.engine, who.principal, meeting_id, ballots, counts, now=portal.now()
    )
    return RedirectResponse(_meeting_url(meeting_id, "#thu-ky"), status_code=303)


@pages.post("/hoi-dong/hop/{meeting_id:int}/kiem-phieu/xlsx", dependencies=SEATED)
async def paper_upload(
    portal: PortalDep,
    who: ChangeDep,
    meeting_id: MeetingId,
    file: UploadFile,
    so_phieu: Annotated[int, Form(ge=0, le=10_000)],
) -> Response:
    work.seat_at(portal.engine, who.principal, meeting_id)
    data = await file.read(MAX_PAPER_XLSX + 1)
    name = (file.filename or "tệp").replace("\\", "/").rsplit("/", 1)[-1]
    if len(data) > MAX_PAPER_XLSX or not data.startswith(b"PK\x03\x04"):
        raise InvalidInput(
            f"Tệp “{name[:120]}” không phải bảng tính .xlsx (tối đa 2 MB); không có gì thay đổi.",
            hint="Tải tệp mẫu kiểm phiếu, điền số phiếu rồi gửi lại.",
        )
    counts = await run_in_threadpool(read_paper_count, data, name)
    await run_in_threadpool(
        work.enter_paper_tallies, portal.engine, who.principal, meeting_id, so_phieu, counts, now=portal.now()
    )
    return RedirectResponse(_meeting_url(meeting_id, "#thu-ky"), status_code=303)


@pages.post("/hoi-dong/hop/{meeting_id:int}/ket-thuc", dependencies=SEATED)
async def close_page(portal: PortalDep, who: ChangeDep, meeting_id: MeetingId) -> Response:
    await run_in_threadpool(
        work.close, portal.engine, portal.settings, who.principal, meeting_id, now=portal.now()
    )
    return RedirectResponse(_meeting_url(meeting_id, "#ket-qua"), status_code=303)


@pages.post("/hoi-dong/hop/{meeting_id:int}/bang-nhau", dependencies=SEATED)
async def tie_page(request: Request, portal: PortalDep, who: ChangeDep, meeting_id: MeetingId) -> Response:
    form = await request.form()
    chosen = [(k, v) for k, v in form.items() if k.startswith("thu_tu_") and isinstance(v, str) and v.strip()]
    order: list[tuple[int, int]] = []
    for key, value in chosen:
        if not value.strip().isdigit() or not key[7:].isdigit() or len(key[7:]) > 9:
            raise InvalidInput("Thứ tự được chọn phải là số 1, 2, 3…")
        order.append((int(value), int(key[7:])))
    reason = form.get("ly_do")
    await run_in_threadpool(
        work.decide_tie,
        portal.engine,
        portal.settings,
        who.principal,
        meeting_id,
        [nid for _, nid in sorted(order)],
        nfc(reason) if isinstance(reason, str) else "",
        now=portal.now(),
    )
    return RedirectResponse(_meeting_url(meeting_id, "#ket-qua"), status_code=303)


def _stored(portal: Portal, found: work.StoredFile) -> Response:
    try:
        data = storage_for(portal.settings).get(found.key)
    except FileNotFoundError as exc:
        raise NotFound("Tệp này không còn trong kho lưu trữ.") from exc
    return service.download(data, found.name)


@pages.get("/hoi-dong/hop/{meeting_id:int}/bien-ban.docx", dependencies=SEATED)
def minutes_download(portal: PortalDep, who: CallerDep, meeting_id: MeetingId) -> Response:
    return _stored(portal, work.minutes_file(portal.engine, portal.settings, who.principal, meeting_id))


@pages.get("/hoi-dong/hop/{meeting_id:int}/ho-so/{file_id:int}", dependencies=SEATED)
def dossier_download(portal: PortalDep, who: CallerDep, meeting_id: MeetingId, file_id: RowId) -> Response:
    return _stored(portal, work.council_dossier_file(portal.engine, who.principal, meeting_id, file_id))


# ---------------------------------------------------------------- API


class MeetingOut(BaseModel):
    id: int
    council: str
    campaign: str
    held_at: datetime
    place: str | None
    open: bool
    voted: bool = Field(
        description="Bạn đã bỏ phiếu tại cuộc họp này (không bao giờ cho biết bỏ phiếu thế nào)."
    )
    role: str


class NomineeOut(BaseModel):
    nomination_id: int
    award: str
    kind: str
    name: str
    title: str | None
    unit: str
    eligible: bool
    reasons: list[str]
    ledger: str | None = Field(description="Khớp / Cần xác minh (kết quả thực chất so với sổ thụ lý).")
    ledger_differences: list[str]
    files: list[str] = Field(description="Đường dẫn tải các tệp hồ sơ.")
    votable: bool
    not_votable: str | None


class ResultOut(BaseModel):
    nomination_id: int
    name: str
    approve: int
    reject: int
    abstain: int
    outcome: str
    explanation: str


class MeetingDetail(MeetingOut):
    quorum: str
    present: bool
    ballot: list[NomineeOut]
    ineligible: list[NomineeOut]
    results: list[ResultOut] | None = Field(description="Chỉ có khi cuộc họp đã kết thúc.")


class ChoiceIn(BaseModel):
    nomination_id: int = Field(ge=1, le=2**31 - 1)
    choice: Literal["approve", "reject", "abstain"]


class BallotIn(BaseModel):
    choices: list[ChoiceIn] = Field(max_length=1000)


class BallotOut(BaseModel):
    voted: bool
    nominees: int


class ErrorOut(BaseModel):
    kind: str
    title: str
    message: str
    hint: str | None
    problems: list[dict[str, Any]]


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 409, 413, 422, 503)
}


def _nominee_out(meeting_id: int, c: NomineeCard) -> NomineeOut:
    return NomineeOut(
        nomination_id=c.nomination_id,
        award=c.award_name,
        kind=c.kind_word,
        name=c.subject_name,
        title=c.subject_title,
        unit=c.unit_code,
        eligible=c.eligible,
        reasons=[f"{r.mark} {r.text}" for r in c.reasons],
        ledger=c.ledger_verdict,
        ledger_differences=c.ledger_lines,
        files=[f"/hoi-dong/hop/{meeting_id}/ho-so/{f.id}" for f in [*c.summary_files, *c.files]],
        votable=c.votable,
        not_votable=c.not_votable,
    )


@api.get("/meetings", responses=_ERRORS)
def api_meetings(portal: PortalDep, who: CallerDep) -> list[MeetingOut]:
    """Các cuộc họp của những Hội đồng bạn là thành viên (404 cho người không ở Hội đồng nào)."""
    home = work.council_home(portal.engine, who.principal)
    if not home.seats:
        # As the page: someone on no council learns nothing, not even an empty list.
        raise work.NotOnCouncil("Hội đồng thi đua – khen thưởng nào")
    return [
        MeetingOut(
            id=m.id,
            council=m.seat.council_name,
            campaign=m.seat.campaign_code,
            held_at=m.held_at,
            place=m.place,
            open=m.open,
            voted=m.voted,
            role=m.seat.role_label,
        )
        for m in home.meetings
    ]


@api.get("/meetings/{meeting_id}", responses=_ERRORS, dependencies=SEATED)
def api_meeting(portal: PortalDep, who: CallerDep, meeting_id: MeetingId) -> Response:
    """Một cuộc họp: hồ sơ các đề nghị, việc bạn đã bỏ phiếu hay chưa; kết quả khi đã kết thúc."""
    view = _view(portal, who, meeting_id)
    results = None
    if view.summary is not None:
        results = [
            ResultOut(
                nomination_id=line.nomination_id,
                name=line.subject_name,
                approve=line.approve,
                reject=line.reject,
                abstain=line.abstain,
                outcome=line.outcome_label,
                explanation=line.explanation,
            )
            for line in view.summary.lines
        ]
    body = MeetingDetail(
        id=view.meeting_id,
        council=view.seat.council_name,
        campaign=view.seat.campaign_code,
        held_at=view.held_at,
        place=view.place,
        open=view.open,
        voted=view.voted,
        role=view.seat.role_label,
        quorum=view.quorum_text,
        present=view.present,
        ballot=[_nominee_out(meeting_id, c) for c in view.ballot],
        ineligible=[_nominee_out(meeting_id, c) for c in view.ineligible],
        results=results,
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=NO_STORE)


@api.post("/meetings/{meeting_id}/ballot", status_code=201, responses=_ERRORS, dependencies=SEATED)
async def api_ballot(portal: PortalDep, who: ChangeDep, meeting_id: MeetingId, ballot: BallotIn) -> BallotOut:
    """Phiếu kín của bạn cho mọi đề nghị trên phiếu, gửi một lần (ghi tất cả hoặc không ghi gì).
    Câu trả lời không nhắc lại lựa chọn."""
    work.seat_at(portal.engine, who.principal, meeting_id)  # another council's meeting: 404 before anything
    choices: dict[int, str] = {}
    for item in ballot.choices:
        if item.nomination_id in choices:
            raise InvalidInput(f"Đề nghị số {item.nomination_id} có hai lựa chọn trên cùng một phiếu.")
        choices[item.nomination_id] = item.choice
    count = await run_in_threadpool(
        work.submit_ballot, portal.engine, who.principal, meeting_id, choices, now=portal.now()
    )
    return BallotOut(voted=True, nominees=count)


# ---------------------------------------------------------------- wiring


def install(app: FastAPI) -> None:
    """Add the council's pages and API, its role refusal (403), and the nav link's test to the templates."""
    # A secretary's or chair's action asked by another member is "forbidden", like a refused CSRF token.
    _OVERRIDES[work.RoleRequired] = 403
    app.include_router(pages)
    app.include_router(api)
    portal: Portal = app.state.portal

    def on_council(found: Caller | None) -> bool:
        return found is not None and not found.bearer and work.sits_on_council(portal.engine, found.principal)

    portal.templates.env.globals["on_council"] = on_council
