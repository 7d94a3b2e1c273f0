"""The minutes of a meeting (biên bản): their content and the document written from it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.models.council import (
    quota_phrase,
)
from thidua.models.db import transaction, upsert
from thidua.models.definition import KIND_LABELS
from thidua.models.directory import Unit
from thidua.models.review import (
    CampaignDocument,
    DocumentKind,
    MeetingStatus,
    ReviewOutcome,
)
from thidua.models.settings import Settings
from thidua.models.storage import storage_for, storage_key
from thidua.notifications.documents.decree30 import DocumentHeader
from thidua.notifications.documents.minutes import (
    MinutesContent,
    MinutesGroup,
    MinutesMember,
    MinutesVote,
    Signer,
    render_minutes,
)
from thidua.tasks.core.declines import declined_units
from thidua.tasks.review.council.errors import MeetingError
from thidua.tasks.review.council.lookups import _campaign, _role_label
from thidua.tasks.review.council.meetings import _check_campaign, _meeting
from thidua.tasks.review.council.results import AttendanceLine, ReviewSummary, _summary
from thidua.tasks.review.council.shared import CAMPAIGN_DOCUMENT, KIND_WORDS, MINUTES_SYMBOL


def minutes_key(code: str, council_unit: str, meeting_id: int) -> str:
    """The storage key of a meeting's minutes."""
    return storage_key("documents", code, f"bien-ban-hop-hoi-dong-{council_unit.lower()}-{meeting_id}.docx")


def minutes_path(settings: Settings, code: str, council_unit: str, meeting_id: int) -> Path | str:
    """Where a meeting's minutes are (models/storage.Storage.location)."""
    return storage_for(settings).location(minutes_key(code, council_unit, meeting_id))


def _long_date(moment: datetime) -> str:
    month = f"{moment.month:02d}" if moment.month <= 2 else str(moment.month)
    return f"ngày {moment.day:02d} tháng {month} năm {moment.year}"


def _clock(moment: datetime) -> str:
    return f"{moment.hour:02d} giờ {moment.minute:02d} phút"


def minutes_content(s: Session, summary: ReviewSummary, tz: ZoneInfo) -> MinutesContent:
    camp = _campaign(s, summary.campaign_code)
    defn = camp.definition
    if summary.council_unit == defn.issuer.unit_code:
        agency, place = defn.issuer.agency, defn.issuer.place
    else:
        unit = s.execute(
            select(col(Unit.name), col(Unit.place_name)).where(col(Unit.code) == summary.council_unit)
        ).first()
        agency = unit.name if unit is not None else summary.council_unit
        place = (unit.place_name if unit is not None else None) or defn.issuer.place
    held = summary.held_at.astimezone(tz)
    header = DocumentHeader(
        parent_agency=agency,
        agency="HỘI ĐỒNG THI ĐUA - KHEN THƯỞNG",
        number=None,
        symbol=MINUTES_SYMBOL,
        place=place,
        date=held.date(),
    )
    kind_label = KIND_LABELS.get(defn.kind, "Phong trào thi đua")
    campaign_words = kind_label[:1].lower() + kind_label[1:]
    subject = f"Họp Hội đồng Thi đua – Khen thưởng xét khen thưởng {campaign_words} “{camp.title}”"
    where = f", tại {summary.place}" if summary.place else ""
    opening = (
        f"Vào hồi {_clock(held)}, {_long_date(held)}{where}, {summary.council_name} họp xét, "
        f"bình chọn các tập thể, cá nhân được đề nghị khen thưởng trong {campaign_words} “{camp.title}”."
    )
    codes = [a.unit_code for a in summary.attendance if a.unit_code and a.unit_code != summary.council_unit]
    unit_names = dict(
        s.execute(select(col(Unit.code), col(Unit.name)).where(col(Unit.code).in_(codes))).tuples().all()
    )

    def position(a: AttendanceLine) -> str:
        # "Trưởng phòng" alone does not say which one: the department follows, as minutes write it.
        where = unit_names.get(a.unit_code or "")
        return f"{a.title or ''}, {where}" if where else (a.title or "")

    members = [
        MinutesMember(a.full_name, position(a), _role_label(a.role), a.present, a.written)
        for a in summary.attendance
    ]
    votes = [
        MinutesVote(
            line.subject_name,
            line.unit_name,
            f"{line.award_name} – {KIND_WORDS.get(line.subject_kind, line.subject_kind)}",
            line.approve,
            line.reject,
            line.abstain,
            line.outcome_label,
        )
        for line in summary.lines
    ]
    groups = []
    decisions = []
    chair = summary.chair
    for award_key, kind, lines in summary.groups():
        quota = summary.quotas.get((award_key, kind))
        limit = f"chỉ tiêu {quota_phrase(quota, kind)}" if quota is not None else "không giới hạn chỉ tiêu"
        heading = f"{lines[0].award_name} – {KIND_WORDS.get(kind, kind)} ({limit})"
        groups.append(MinutesGroup(heading, [(line.subject_name, line.explanation) for line in lines]))
        decided = [line for line in lines if line.tie_reason]
        if decided:
            picked = [line.subject_name for line in decided if line.outcome == ReviewOutcome.SELECTED]
            left = [line.subject_name for line in decided if line.outcome != ReviewOutcome.SELECTED]
            who = chair.full_name if chair else "Chủ tịch Hội đồng"
            decisions.append(
                f"{heading}: Chủ tịch Hội đồng {who} quyết định chọn {', '.join(picked) or 'không ai'}"
                + (f" (không chọn {', '.join(left)})" if left else "")
                + f". Lý do: {decided[0].tie_reason}"
            )
    pending = [
        f"{line.subject_name} ({line.award_name} – {KIND_WORDS[line.subject_kind]})" for line in summary.ties
    ]
    closed = summary.closed_at.astimezone(tz) if summary.closed_at else None
    if closed is None:
        closing = "Biên bản được lập khi cuộc họp đang diễn ra."
    else:
        day = "cùng ngày" if closed.date() == held.date() else _long_date(closed)
        closing = (
            f"Cuộc họp kết thúc vào hồi {_clock(closed)} {day}. Biên bản đã được thông qua tại cuộc họp "
            "và được các thành viên dự họp nhất trí./."
        )
    secretary = summary.secretary
    return MinutesContent(
        header=header,
        subject=subject,
        opening=opening,
        members=members,
        quorum_met=summary.quorum_met,
        quorum_text=summary.quorum_text,
        voting_rule=(
            "Hình thức biểu quyết: bỏ phiếu kín; đề nghị được Hội đồng thông qua khi có "
            f"{summary.approval_text}; thành viên không bỏ phiếu cho chính mình"
            + (" và cho tập thể, cá nhân thuộc đơn vị mình" if defn.council.recuse_own_unit else "")
            + "."
        ),
        chair=Signer("CHỦ TỊCH HỘI ĐỒNG", chair.full_name if chair else ""),
        secretary=Signer("THƯ KÝ HỘI ĐỒNG", secretary.full_name if secretary else ""),
        votes=votes,
        groups=groups,
        decisions=decisions,
        pending=pending,
        closing=closing,
        declined=[d.text() for d in declined_units(s, camp.id)],
    )


def write_minutes(
    engine: Engine, settings: Settings, code: str, meeting_id: int, *, now: datetime
) -> Path | str:
    """'BIÊN BẢN họp Hội đồng Thi đua – Khen thưởng' as DOCX; recorded as the campaign's document of kind
    minutes, ref = meeting id (a re-run rewrites the file and updates the record, never duplicates it).
    Stored under `minutes_key`; returns where it is (the local file, or its URL in a bucket)."""
    with transaction(engine) as s:
        meeting = _meeting(s, meeting_id)
        camp = _check_campaign(s, meeting, code)
        summary = _summary(s, camp, meeting)
        if summary.status != MeetingStatus.CLOSED:
            raise MeetingError(
                f"Cuộc họp số {meeting_id} chưa kết thúc: biên bản lập sau khi kết thúc cuộc họp."
            )
        content = minutes_content(s, summary, settings.tz)
        relative = minutes_key(camp.code, summary.council_unit, meeting_id)
        storage = storage_for(settings)
        data = storage.put_rendered(relative, lambda path: render_minutes(content, path))
        digest = hashlib.sha256(data).hexdigest()
        existing = s.execute(
            select(col(CampaignDocument.path), col(CampaignDocument.sha256)).where(
                col(CampaignDocument.campaign_id) == camp.id,
                col(CampaignDocument.kind) == DocumentKind.MINUTES,
                col(CampaignDocument.ref) == str(meeting_id),
            )
        ).first()
        if existing is None or (existing.path, existing.sha256) != (relative, digest):
            upsert(
                s,
                CAMPAIGN_DOCUMENT,
                [
                    {
                        "campaign_id": camp.id,
                        "kind": DocumentKind.MINUTES,
                        "ref": str(meeting_id),
                        "path": relative,
                        "sha256": digest,
                        "created_at": now,
                    }
                ],
                ["campaign_id", "kind", "ref"],
            )
        return storage.location(relative)
