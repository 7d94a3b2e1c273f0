"""The end of the Tuyên Quang campaign replayed: nominations and dossiers, the close, the screening, the
council's secret ballot, the decision and the certificates.

The cast exercises the seed-003 rules: TQ-SD and TQ-CH are excluded as collectives by one member's
discipline inside the window; TQ-CH-07 (reprimanded 12/03/2024) and the head of TQ-CH (clean himself, but
his unit is not) are excluded as individuals; TQ-YS passes although TQ-YS-04 was reprimanded on
30/09/2023, one day before the window; TQ-NH forgets its council minutes (incomplete); TQ-LB sends its
dossier two days late. In the council, TQ-NV's head recuses himself from his own unit, one member votes in
writing, TQ-YS-07 is not approved, three collectives compete for two seats, and TQ-TP-06 and TQ-HY-03 tie
for the third individual seat: the chair breaks the tie with a recorded reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document
from sqlalchemy import Engine, select
from sqlmodel import col

from thidua.deploy.demo.council import demo_council
from thidua.models.labels import campaign_status
from thidua.models.review import CouncilMember, Nomination, ReviewOutcome
from thidua.models.settings import Settings
from thidua.models.storage import storage_for, storage_key
from thidua.tasks.review.council import (
    VoteRefused,
    break_tie,
    cast_vote,
    meeting_summary,
    minutes_path,
    open_meeting,
    write_minutes,
)
from thidua.tasks.review.nominations import (
    NominationError,
    NominationInput,
    add_dossier_file,
    draft_documents,
    nominate,
)

AWARD = "giay_khen_cuc_truong"
COUNCIL_UNIT = "TQ"

# (subject kind, subject, proposing unit)
NOMINATIONS: list[tuple[str, str, str]] = [
    ("collective", "TQ-TP", "TQ-TP"),
    ("collective", "TQ-NV", "TQ-NV"),
    ("collective", "TQ-YS", "TQ-YS"),
    ("collective", "TQ-SD", "TQ-SD"),
    ("collective", "TQ-CH", "TQ-CH"),
    ("collective", "TQ-NH", "TQ-NH"),
    ("individual", "TQ-SD-08", "TQ-SD"),
    ("individual", "TQ-TP-05", "TQ-TP"),
    ("individual", "TQ-TP-06", "TQ-TP"),
    ("individual", "TQ-HY-03", "TQ-HY"),
    ("individual", "TQ-YS-07", "TQ-YS"),
    ("individual", "TQ-CH-07", "TQ-CH"),
    ("individual", "TQ-CH-01", "TQ-CH"),
]
LATE_NOMINATION = ("individual", "TQ-LB-04", "TQ-LB")
NO_MINUTES = "TQ-NH"  # forgets the Biên bản of its own review
ABSENT_WRITTEN = "TQ-KT-01"  # away on 10/07, votes in writing the day before
NOT_APPROVED = "TQ-YS-07"
REJECTING_MEMBERS = 5  # the first five members present reject TQ-YS-07
TIE_WINNER, TIE_LOSER = "TQ-HY-03", "TQ-TP-06"
TIE_REASON = (
    "Ưu tiên Chi cục THADS huyện Hàm Yên: đơn vị chưa có cá nhân nào được đề nghị khen thưởng trong đợt thi "
    "đua này, trong khi Chi cục THADS thành phố Tuyên Quang đã có cá nhân được chọn."
)


@dataclass
class ReviewLog:
    nominations: str = ""
    dossier_files: int = 0
    drafts: int = 0
    close: dict[str, Any] = field(default_factory=dict)
    review: dict[str, Any] = field(default_factory=dict)
    meeting_id: int | None = None
    ballots: int = 0
    refused: list[str] = field(default_factory=list)
    minutes: Path | str | None = None  # the local file, or its URL in a bucket
    tie: str | None = None
    award: dict[str, Any] = field(default_factory=dict)


def _moment(day: date, hour: int, tz: ZoneInfo, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tz)


def _paper(path: Path, title: str, lines: list[str]) -> Path:
    """A unit's own document (its Tờ trình, the minutes of its review, an achievement report) as DOCX."""
    doc = Document()
    doc.add_heading(title, level=1)
    for line in lines:
        doc.add_paragraph(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def submit_nominations(settings: Settings, engine: Engine, code: str, log: ReviewLog) -> None:
    tz = settings.tz
    work = settings.data_dir / "demo" / "dossiers"
    rows = [NominationInput(AWARD, kind, subject, by) for kind, subject, by in NOMINATIONS]
    try:
        result = nominate(engine, code, rows, now=_moment(date(2024, 7, 2), 9, tz), actor="demo")
        log.nominations = str(result)
    except NominationError as exc:  # a second run: the campaign has gone past its nominations
        log.nominations = f"không nộp lại ({exc})"
        return
    units = sorted({by for _, _, by in NOMINATIONS})
    for unit in units:
        at = _moment(date(2024, 7, 2), 14, tz)
        log.dossier_files += _unit_files(settings, engine, code, unit, work, at)
        log.drafts += len(draft_documents(engine, settings, code, unit, now=at).files)
    # TQ-LB proposes one of its officers after the dossier deadline (03/07): recorded, marked late.
    late_at = _moment(date(2024, 7, 5), 10, tz)
    kind, subject, by = LATE_NOMINATION
    late = nominate(engine, code, [NominationInput(AWARD, kind, subject, by)], now=late_at, actor="demo")
    log.nominations += f"; gửi muộn: {late}"
    log.dossier_files += _unit_files(settings, engine, code, by, work, late_at, [subject])
    log.drafts += len(draft_documents(engine, settings, code, by, now=late_at).files)


def _unit_files(
    settings: Settings,
    engine: Engine,
    code: str,
    unit: str,
    work: Path,
    at: datetime,
    nominees: list[str] | None = None,
) -> int:
    """The proposing unit's own papers: its Tờ trình, the minutes of its review and one achievement report
    per nominee (the Danh sách and the Tổng hợp kết quả are drafted by the system)."""
    subjects = nominees or [subject for _, subject, by in NOMINATIONS if by == unit]
    folder = work / unit
    count = 0

    def add(part: str, path: Path, nominee: str | None = None) -> None:
        nonlocal count
        add_dossier_file(
            engine, settings, code, unit_code=unit, part_key=part, source=path, original_name=path.name,
            nominee=nominee, award_key=AWARD if nominee else None, now=at, actor=f"demo:{unit}",
        )  # fmt: skip
        count += 1

    listed = ", ".join(subjects)
    add("to_trinh", _paper(folder / "to-trinh.docx", "TỜ TRÌNH", [f"Đề nghị tặng Giấy khen cho: {listed}."]))
    if unit != NO_MINUTES:
        add("bien_ban", _paper(folder / "bien-ban.docx", "BIÊN BẢN", [f"Họp bình xét thi đua của {unit}."]))
    for subject in subjects:
        report = _paper(
            folder / f"bao-cao-thanh-tich-{subject}.docx",
            "BÁO CÁO THÀNH TÍCH",
            [f"Thành tích của {subject} trong phong trào giảm án có điều kiện trên một năm."],
        )
        add("bao_cao_thanh_tich", report, subject)
    return count


def _nomination_ids(engine: Engine, code: str) -> dict[str, int]:
    from thidua.models.campaign import Campaign

    with engine.connect() as conn:
        cid = conn.scalar(select(col(Campaign.id)).where(col(Campaign.code) == code))
        rows = conn.execute(
            select(col(Nomination.subject_code), col(Nomination.id)).where(col(Nomination.campaign_id) == cid)
        ).all()
    return {subject: int(nid) for subject, nid in rows if nid is not None}


def hold_council(
    settings: Settings,
    engine: Engine,
    code: str,
    log: ReviewLog,
    review: Callable[[datetime, int | None], dict[str, Any]],
) -> None:
    """The council of the Cục meets on 10/07/2024; its chair breaks the tie the same day."""
    tz = settings.tz
    setup_at = _moment(date(2024, 7, 8), 9, tz)
    demo_council(engine, code, COUNCIL_UNIT, now=setup_at, size=9, actor="demo")
    with engine.connect() as conn:
        members = list(
            conn.execute(select(col(CouncilMember.person_code)).order_by(col(CouncilMember.id))).scalars()
        )
    present = [m for m in members if m != ABSENT_WRITTEN]
    held_at = _moment(date(2024, 7, 10), 8, tz, 30)
    log.meeting_id = open_meeting(
        engine, code, COUNCIL_UNIT, held_at=held_at, present=present, place="Hội trường Cục THADS tỉnh",
        actor="TQ-TCCB-02", now=held_at,
    )  # fmt: skip
    review(held_at, None)  # the screening as of the meeting: only eligible nominees are on the ballot
    if meeting_closed(engine, log.meeting_id):  # a second run: the ballot is over, its result stands
        log.review = {"meeting": {"lines": meeting_summary(engine, code, log.meeting_id).text_lines(tz)}}
        log.minutes = minutes_path(settings, code, COUNCIL_UNIT, log.meeting_id)
        return
    eligible = eligible_ids(engine)
    ids = _nomination_ids(engine, code)
    rejecters = set(present[:REJECTING_MEMBERS])
    ballot_at = _moment(date(2024, 7, 10), 9, tz)
    for member in members:
        written = member == ABSENT_WRITTEN
        for subject, nid in sorted(ids.items()):
            if nid not in eligible:
                continue
            choice = "reject" if subject == NOT_APPROVED and member in rejecters else "approve"
            try:
                cast_vote(engine, log.meeting_id, member, nid, choice, now=ballot_at, written=written)
                log.ballots += 1
            except VoteRefused as exc:  # a recusal: the rule refuses it, the demo reports it
                log.refused.append(f"{member} → {subject}: {exc}")
    close_at = _moment(date(2024, 7, 10), 11, tz)
    log.review = review(close_at, log.meeting_id)
    outcomes = review_outcomes(engine, log.meeting_id)
    if outcomes.get(TIE_WINNER) == ReviewOutcome.TIE:
        chair = members[0]
        break_tie(
            engine, log.meeting_id, [ids[TIE_WINNER]], reason=TIE_REASON, actor=chair, now=close_at, code=code
        )
        log.tie = f"Chủ tịch Hội đồng ({chair}) chọn {TIE_WINNER} thay vì {TIE_LOSER}: {TIE_REASON}"
        log.minutes = write_minutes(engine, settings, code, log.meeting_id, now=close_at)
    else:
        log.minutes = Path(str(log.review.get("meeting", {}).get("minutes", "")))


def review_outcomes(engine: Engine, meeting_id: int) -> dict[str, ReviewOutcome]:
    from thidua.models.review import ReviewResult

    with engine.connect() as conn:
        rows = conn.execute(
            select(col(Nomination.subject_code), col(ReviewResult.outcome))
            .join(Nomination, col(Nomination.id) == col(ReviewResult.nomination_id))
            .where(col(ReviewResult.meeting_id) == meeting_id)
        ).all()
    return {subject: ReviewOutcome(outcome) for subject, outcome in rows}


def eligible_ids(engine: Engine) -> set[int]:
    from thidua.models.review import EligibilityResult

    with engine.connect() as conn:
        return set(
            conn.execute(
                select(col(EligibilityResult.nomination_id)).where(col(EligibilityResult.eligible).is_(True))
            ).scalars()
        )


def run_review(settings: Settings, engine: Engine, code: str, echo: Callable[[str], None]) -> ReviewLog:
    """Stages 5–9 of the demo, each at the moment the scheduler or a person would act."""
    from thidua.flows.award import award_flow
    from thidua.flows.close import close_flow
    from thidua.flows.review import review_flow

    tz = settings.tz
    log = ReviewLog()
    submit_nominations(settings, engine, code, log)
    echo(f"   02–05/07/2024 Đề nghị khen thưởng: {log.nominations}")
    echo(f"   Hồ sơ: {log.dossier_files} tệp đơn vị nộp, {log.drafts} tệp hệ thống dự thảo")

    close_at = _moment(date(2024, 7, 4), 7, tz, 30)
    log.close = close_flow(code, close_at, settings)
    echo(f"   04/07/2024 07:30 Tổng kết: {_close_line(log.close)}")

    def review(moment: datetime, meeting_id: int | None) -> dict[str, Any]:
        return review_flow(code, moment, settings, meeting_id=meeting_id, actor="demo")

    screened = review(_moment(date(2024, 7, 5), 8, tz), None)
    echo(f"   05/07/2024 Xét điều kiện: {screened['screening']} · hồ sơ: {screened['completeness']}")
    for line in screened.get("to_verify", []):
        echo(f"     ⚠ {line}")
    hold_council(settings, engine, code, log, review)
    echo(
        f"   10/07/2024 Họp Hội đồng (cuộc họp số {log.meeting_id}): {log.ballots} phiếu kín; "
        f"{len(log.refused)} phiếu bị từ chối theo quy định"
    )
    for line in log.refused:
        echo(f"     {line}")
    for line in log.review.get("meeting", {}).get("lines", []):
        echo(f"     {line}")
    if log.tie:
        echo(f"     {log.tie}")
    echo(f"     Biên bản: {log.minutes}")

    decided_on = date(2024, 7, 19)  # the 78th anniversary of THADS, when the campaign is celebrated
    log.award = award_flow(code, _moment(decided_on, 9, tz), settings, decided_on=decided_on, actor="demo")
    echo("   19/07/2024 Khen thưởng:")
    for lines in log.award["decisions"]:
        for line in lines:
            echo(f"     {line}")
    for waiting in log.award["waiting"]:
        echo(f"     Chưa ban hành: {waiting}")
    return log


def _close_line(summary: dict[str, Any]) -> str:
    docs = summary.get("documents", {})
    met = ", ".join(summary.get("units_met", [])) or "không"
    not_met = ", ".join(summary.get("units_not_met", [])) or "không"
    verify = ", ".join(summary.get("units_to_verify", []))
    verify_text = f"cần xác minh (chênh lệch với sổ thụ lý): {verify} · " if verify else ""
    return (
        f"{summary.get('status_label', summary.get('status'))} · đạt chỉ tiêu: {met} · chưa đạt: {not_met} · "
        f"{verify_text}báo cáo tổng kết {docs.get('report')}, bảng số liệu {docs.get('table')}, "
        f"biểu đồ {docs.get('chart')} · "
        f"{summary.get('emails_queued', 0)} thư gửi quản trị và đơn vị"
    )


DOCUMENT_LABELS: dict[str, str] = {
    "plan": "Kế hoạch",
    "closing_report": "Báo cáo tổng kết",
    "closing_table": "Bảng số liệu tổng kết",
    "closing_chart": "Biểu đồ tổng kết",
    "draft_list": "Danh sách đề nghị (dự thảo)",
    "draft_summary": "Tổng hợp kết quả (dự thảo)",
    "minutes": "Biên bản họp Hội đồng",
    "decision": "Quyết định khen thưởng",
    "certificate": "Giấy khen",
    "proposal": "Tờ trình",
    "proposal_list": "Danh sách kèm Tờ trình",
}


def print_account(settings: Settings, engine: Engine, code: str, echo: Callable[[str], None]) -> None:
    """What happened, and where every document and email is."""
    from sqlalchemy import func

    from thidua.models.campaign import Campaign
    from thidua.models.outbox import OutboxMessage
    from thidua.models.review import CampaignDocument

    with engine.connect() as conn:
        cid, status, plan = conn.execute(
            select(col(Campaign.id), col(Campaign.status), col(Campaign.plan_document)).where(
                col(Campaign.code) == code
            )
        ).one()
        emails = conn.execute(
            select(col(OutboxMessage.kind), col(OutboxMessage.status), func.count())
            .where(col(OutboxMessage.campaign_id) == cid)
            .group_by(col(OutboxMessage.kind), col(OutboxMessage.status))
            .order_by(col(OutboxMessage.kind))
        ).all()
        documents = conn.execute(
            select(col(CampaignDocument.kind), col(CampaignDocument.path))
            .where(col(CampaignDocument.campaign_id) == cid)
            .order_by(col(CampaignDocument.id))
        ).all()
    echo(f"   Phong trào {code}: trạng thái “{campaign_status(status)}”.")
    echo("   Thư theo loại: " + ", ".join(f"{kind} {state} {n}" for kind, state, n in emails))
    where = (
        f"máy chủ SMTP {settings.smtp_host}"
        if settings.uses_smtp
        else f"thư mục {settings.outbox_dir} (mỗi thư một tệp .eml, mở được bằng trình đọc thư)"
    )
    echo(f"   Thư đã gửi qua: {where}")
    by_kind: dict[str, list[str]] = {"plan": [plan]} if plan else {}
    for doc_kind, path in documents:
        by_kind.setdefault(str(doc_kind), []).append(path)
    storage = storage_for(settings)
    echo(f"   Tài liệu (trong {storage.url}):")
    for kind_key, paths in by_kind.items():
        label = DOCUMENT_LABELS.get(kind_key, kind_key)
        shown = paths[0] if len(paths) == 1 else f"{len(paths)} tệp, ví dụ {paths[0]}"
        echo(f"     {label}: {shown}")
    echo(f"   Hồ sơ đề nghị do đơn vị nộp: {storage.show(storage_key('dossiers', code))}")
    print_ledger_account(engine, code, echo, by_kind)


def print_ledger_account(
    engine: Engine, code: str, echo: Callable[[str], None], documents: dict[str, list[str]]
) -> None:
    """Where the reports and the case ledger disagree; where the closing report and the screening say so."""
    from thidua.models.text import fmt_date
    from thidua.tasks.close.closing import final_ledger_checks
    from thidua.tasks.review.nominations import list_nominations

    checks = final_ledger_checks(engine, code)
    if not checks:
        return
    at = fmt_date(next(iter(checks.values())).at)
    flagged = [(key, check) for key, check in sorted(checks.items()) if check.to_verify]
    echo(f"   Đối chiếu báo cáo với sổ thụ lý (tính đến hết ngày {at}): {len(flagged)} cần xác minh")
    for (kind, subject), check in flagged:
        who = "Đơn vị" if kind == "unit" else "Cá nhân"
        echo(f"     {who} {subject}: {check.differences_text()}")
    report = documents.get("closing_report", ["?"])[0]
    table = documents.get("closing_table", ["?"])[0]
    echo(f"     Báo cáo tổng kết {report}: mục I.2, đánh dấu (*); xếp hạng theo số liệu đơn vị báo cáo")
    echo(f"     Bảng số liệu {table}: cột “Đối chiếu sổ thụ lý” (trang Đơn vị, Cá nhân)")
    for view in list_nominations(engine, code):
        for reason in view.reasons:
            if reason.verify:
                echo(f"     Xét điều kiện – {view.subject_name} ({view.subject_code}): {reason.text}")


def meeting_closed(engine: Engine, meeting_id: int) -> bool:
    from thidua.models.review import CouncilMeeting, MeetingStatus

    with engine.connect() as conn:
        status = conn.scalar(select(col(CouncilMeeting.status)).where(col(CouncilMeeting.id) == meeting_id))
    return status == MeetingStatus.CLOSED
