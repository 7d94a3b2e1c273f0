"""The date a decision may carry: not before what it rests on, not after the moment the command acts at."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session

from thidua.models.review import AwardDecision, Council, CouncilMeeting
from thidua.models.settings import Settings
from thidua.models.text import fmt_date
from thidua.tasks.award.awards.errors import DecisionDateRefused
from thidua.tasks.award.awards.numbering import decision_reference
from thidua.tasks.award.awards.selection import _Campaign
from thidua.tasks.core.campaigns import last_closed_at


def _local_day(moment: datetime, settings: Settings) -> date:
    # Stored times are UTC; a driver may hand them back naive.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(settings.tz).date()


def check_decision_date(
    session: Session,
    settings: Settings,
    ctx: _Campaign,
    council: Council,
    meeting: CouncilMeeting,
    decided_on: date,
    *,
    now: datetime,
    proposal: AwardDecision | None = None,
) -> None:
    """Refuse (DecisionDateRefused) a decision dated after `now` (the command's --as-of) or before any of:
    the council meeting whose result it carries, the campaign's (last) close, the Tờ trình it answers."""
    held = _local_day(meeting.held_at, settings)
    today = now.astimezone(settings.tz).date()
    floors = [(held, f"ngày họp của {council.name} ({fmt_date(held)})")]
    closed = last_closed_at(session, ctx.id)
    if closed is not None:
        day = _local_day(closed, settings)
        floors.append((day, f"ngày phong trào kết thúc ({fmt_date(day)})"))
    if proposal is not None:
        reference = decision_reference(proposal.number, proposal.symbol)
        what = f"ngày Tờ trình số {reference} ({fmt_date(proposal.decided_on)})"
        floors.append((proposal.decided_on, what))
    if decided_on > today:
        problem = f"sau ngày hiện tại ({fmt_date(today)}): không ghi quyết định cho một ngày chưa đến"
    else:
        problem = next((f"trước {what}" for day, what in floors if decided_on < day), "")
    if not problem:
        return
    earliest = max(day for day, _ in floors)
    window = (
        f"Chọn ngày quyết định từ {fmt_date(earliest)} đến {fmt_date(today)} (--date)."
        if earliest <= today
        else f"Chỉ ghi được quyết định từ ngày {fmt_date(earliest)} trở đi."
    )
    raise DecisionDateRefused(
        f"Phong trào {ctx.code}: ngày quyết định {fmt_date(decided_on)} {problem}. Quyết định về "
        f"“{ctx.award.name}” thực hiện kết quả phiên họp ngày {fmt_date(held)} của {council.name}.",
        hint=window,
    )
