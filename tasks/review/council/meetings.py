"""Opening a council meeting: the attendance, the quorum, the nominations it reviews."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Literal

from sqlalchemy import Engine, insert, select
from sqlmodel import Session, col

from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.council import (
    quorum_met,
)
from thidua.models.db import transaction
from thidua.models.review import (
    Attendance,
    Council,
    CouncilMeeting,
    CouncilMember,
    MeetingStatus,
)
from thidua.models.text import nfc
from thidua.tasks.core.events import record_event
from thidua.tasks.review.council.errors import MeetingError
from thidua.tasks.review.council.lookups import _Campaign, _campaign, _council, _members


def _meeting(
    s: Session, meeting_id: int, *, lock: Literal["share", "update"] | None = None
) -> CouncilMeeting:
    query = select(CouncilMeeting).where(col(CouncilMeeting.id) == meeting_id)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock == "update":
        query = query.with_for_update()
    meeting = s.scalars(query).first()
    if meeting is None:
        raise MeetingError(f"Không có cuộc họp số {meeting_id}.")
    return meeting


def _check_campaign(s: Session, meeting: CouncilMeeting, code: str | None) -> _Campaign:
    if code is not None:
        camp = _campaign(s, code)
        if camp.id != meeting.campaign_id:
            raise MeetingError(f"Cuộc họp số {meeting.id} không thuộc phong trào {camp.code}.")
        return camp
    row = s.execute(select(col(Campaign.code)).where(col(Campaign.id) == meeting.campaign_id)).scalar_one()
    return _campaign(s, row)


def _attendance(s: Session, meeting_id: int) -> dict[int, bool]:
    rows = s.execute(
        select(col(Attendance.member_id), col(Attendance.present)).where(
            col(Attendance.meeting_id) == meeting_id
        )
    ).all()
    return {r.member_id: bool(r.present) for r in rows}


def open_meeting(
    engine: Engine,
    code: str,
    council_unit: str,
    *,
    held_at: datetime,
    present: Sequence[str],
    place: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Open a meeting and record who attends (every member, present or not); returns the meeting id.

    Without quorum the meeting still opens — the attendance is a fact — but no vote is taken. Opening the
    same meeting again (same council, time and attendance) returns the same id.
    """
    if held_at.utcoffset() is None:
        raise MeetingError("Thời điểm họp cần có múi giờ.")
    with transaction(engine) as s:
        camp = _campaign(s, code)
        council = _council(s, camp.id, nfc(council_unit))
        assert council.id is not None
        members = _members(s, council.id)
        here = _present(council, members, present)
        same = _same_or_open_meeting(s, council, members, held_at, here)
        if same is not None:
            return same
        camp.require(CampaignStatus.IN_REVIEW)
        meeting = CouncilMeeting(
            council_id=council.id,
            campaign_id=camp.id,
            held_at=held_at,
            place=nfc(place) if place else None,
            status=MeetingStatus.OPEN,
        )
        s.add(meeting)
        s.flush()
        assert meeting.id is not None
        s.execute(
            insert(Attendance),
            [
                {"meeting_id": meeting.id, "member_id": m.id, "present": m.person_code in here}
                for m in members
            ],
        )
        met = quorum_met(len(members), len(here), camp.definition.council)
        record_event(
            s,
            campaign_id=camp.id,
            kind="council.meeting_opened",
            now=now or held_at,
            actor=actor,
            subject=f"meeting:{meeting.id}",
            payload={
                "before": None,
                "after": {
                    "council": council.unit_code,
                    "members": len(members),
                    "present": sorted(here),
                    "quorum_met": met,
                },
            },
        )
        return meeting.id


def _present(council: Council, members: Sequence[CouncilMember], present: Sequence[str]) -> set[str]:
    """The person codes present: members of this council, each named once."""
    by_code = {m.person_code: m for m in members}
    wanted = [nfc(p) for p in present if nfc(p)]
    unknown = [p for p in wanted if p not in by_code]
    if unknown:
        raise MeetingError(
            f"Không phải thành viên {council.name}: {', '.join(unknown)} (thành viên: {', '.join(by_code)})."
        )
    dup = sorted({p for p in wanted if wanted.count(p) > 1})
    if dup:
        raise MeetingError(f"Thành viên bị ghi trùng trong danh sách có mặt: {', '.join(dup)}.")
    return set(wanted)


def _same_or_open_meeting(
    s: Session, council: Council, members: Sequence[CouncilMember], held_at: datetime, here: set[str]
) -> int | None:
    """The id of this very meeting if it was opened before; refused while another one is still open.

    Times in the messages are shown in the zone `held_at` was given in (the command line's: the settings')."""
    zone = held_at.tzinfo
    for other in s.scalars(
        select(CouncilMeeting)
        .where(col(CouncilMeeting.council_id) == council.id)
        .order_by(col(CouncilMeeting.id))
    ).all():
        assert other.id is not None
        if other.held_at == held_at:
            attended = _attendance(s, other.id)
            was_here = {m.person_code for m in members if attended.get(m.id or 0)}
            if was_here == here:
                return other.id
            raise MeetingError(
                f"Cuộc họp số {other.id} lúc {_when(held_at, zone)} đã được mở với danh sách có mặt khác "
                f"({', '.join(sorted(was_here)) or 'không ai'}); danh sách dự họp không sửa được."
            )
        if other.status == MeetingStatus.OPEN:
            since = _when(other.held_at, zone)
            raise MeetingError(
                f"{council.name} đang có cuộc họp số {other.id} ({since}) chưa kết thúc: "
                "hãy kết thúc cuộc họp đó trước (thidua council close ...)."
            )
    return None


def _when(moment: datetime, tz: tzinfo | None) -> str:
    """A meeting time as people read it, in the zone given (a meeting's own time carries the caller's)."""
    return moment.astimezone(tz).strftime("%H:%M ngày %d/%m/%Y")
