"""Naming a nominee the way people do: by the unit or person code, resolved to the nomination of a meeting.

A council member votes on “TQ-PHONG-1” or “CB0042”, not on an internal row number. The number is still
accepted, for scripts, when it cannot be read as a code of the meeting's campaign.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlmodel import col

from thidua.errors import InvalidInput, NotFound
from thidua.models.review import CouncilMeeting, Nomination, NominationStatus
from thidua.models.text import nfc


def resolve_nominee(engine: Engine, meeting_id: int, nominee: str) -> int:
    """The nomination id `nominee` (a unit or person code, or a nomination number) names in the meeting's
    campaign.

    InvalidInput when the code names several nominations (one per award), listing the numbers to use instead;
    NotFound when it names none.
    """
    text = nfc(nominee).strip()
    with engine.connect() as conn:
        campaign_id = conn.execute(
            select(col(CouncilMeeting.campaign_id)).where(col(CouncilMeeting.id) == meeting_id)
        ).scalar_one_or_none()
        if campaign_id is None:
            raise NotFound(
                f"Không có cuộc họp số {meeting_id}.",
                hint="Mở cuộc họp bằng `thidua council open`; số cuộc họp được in khi mở.",
            )
        rows = conn.execute(
            select(col(Nomination.id), col(Nomination.award_key), col(Nomination.subject_name))
            .where(
                col(Nomination.campaign_id) == campaign_id,
                func.upper(col(Nomination.subject_code)) == text.upper(),
                col(Nomination.status) != NominationStatus.WITHDRAWN.value,
            )
            .order_by(col(Nomination.id))
        ).all()
        if len(rows) == 1:
            return int(rows[0][0] or 0)
        if len(rows) > 1:
            raise InvalidInput(
                f"Mã “{text}” có {len(rows)} đề nghị khen thưởng trong phong trào này.",
                [f"số {nid}: {name} — {award}" for nid, award, name in rows],
                hint="Ghi số đề nghị: --nominee SỐ.",
            )
        if text.isdigit():
            found = conn.execute(
                select(col(Nomination.id)).where(
                    col(Nomination.id) == int(text), col(Nomination.campaign_id) == campaign_id
                )
            ).scalar_one_or_none()
            if found is not None:
                return int(found)
    raise NotFound(
        f"Không có đề nghị khen thưởng nào cho “{text}” trong phong trào của cuộc họp số {meeting_id}.",
        hint="Xem danh sách đề nghị: `thidua nomination list MÃ_PHONG_TRÀO`.",
    )
