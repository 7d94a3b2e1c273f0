"""The chair's decision on a tie at a quota's edge, and the results of the campaign once ties are broken."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from thidua.models.campaign import CampaignStatus
from thidua.models.council import (
    Selection,
    TieBreakError,
)
from thidua.models.council import break_tie as apply_tie_break
from thidua.models.db import transaction
from thidua.models.review import (
    Council,
    CouncilMeeting,
    CouncilMember,
    CouncilRole,
    MeetingStatus,
    ReviewOutcome,
)
from thidua.models.text import nfc
from thidua.tasks.core.events import record_event
from thidua.tasks.review.council.errors import TieBreakRefused
from thidua.tasks.review.council.lookups import _Campaign, _campaign, _members
from thidua.tasks.review.council.meetings import _check_campaign, _meeting
from thidua.tasks.review.council.results import ReviewLine, ReviewSummary, _lines, _quota, _summary
from thidua.tasks.review.council.shared import KIND_WORDS, REVIEW_RESULT


def break_tie(
    engine: Engine,
    meeting_id: int,
    ordered_nomination_ids: Sequence[int],
    *,
    reason: str,
    actor: str,
    now: datetime,
    code: str | None = None,
) -> ReviewSummary:
    """The chair decides a tie at a quota's edge: the listed nominees fill the seats left, in this order; the
    other tied nominees are over the quota. Only the chair (`actor` = the chair's person code), only TIE
    rows, always with a reason, recorded on the rows and in the audit trail. A repeat of the same decision
    changes nothing."""
    ids = [int(i) for i in ordered_nomination_ids]
    text = nfc(reason)
    with transaction(engine) as s:
        meeting = _meeting(s, meeting_id, lock="update")
        camp = _check_campaign(s, meeting, code)
        council = s.get(Council, meeting.council_id)
        assert council is not None and council.id is not None
        if meeting.status != MeetingStatus.CLOSED or not meeting.quorum_met:
            raise TieBreakRefused(
                f"Cuộc họp số {meeting_id} chưa có kết quả (chưa kết thúc hoặc không đủ số lượng dự họp)."
            )
        chair = _chair(s, council.id, actor)
        if not text:
            raise TieBreakRefused("Cần ghi lý do quyết định của Chủ tịch Hội đồng (--reason).")
        if not ids:
            raise TieBreakRefused("Cần chỉ ra thứ tự các đề nghị được chọn (--order).")
        lines = {line.nomination_id: line for line in _lines(s, camp, [meeting_id])}
        unknown = [i for i in ids if i not in lines]
        if unknown:
            raise TieBreakRefused(
                f"Đề nghị {', '.join(map(str, unknown))} không có kết quả tại cuộc họp số {meeting_id}."
            )
        if all(
            lines[i].outcome != ReviewOutcome.TIE
            and lines[i].tie_reason == text
            and lines[i].decided_by == chair.person_code
            for i in ids
        ):
            return _summary(s, camp, meeting)  # the same decision, already recorded
        camp.require(CampaignStatus.IN_REVIEW)
        changes = _tie_changes(camp, lines, ids, text)
        for sel in changes:
            s.execute(
                update(REVIEW_RESULT)
                .where(
                    REVIEW_RESULT.c.meeting_id == meeting_id,
                    REVIEW_RESULT.c.nomination_id == sel.nomination_id,
                )
                .values(
                    outcome=sel.outcome,
                    position=sel.position,
                    explanation=sel.explanation,
                    decided_by=chair.person_code,
                    tie_reason=text,
                )
            )
        record_event(
            s,
            campaign_id=camp.id,
            kind="council.tie_broken",
            now=now,
            actor=chair.person_code,
            subject=f"meeting:{meeting_id}",
            payload={
                "before": {str(c.nomination_id): ReviewOutcome.TIE.value for c in changes},
                "after": {str(c.nomination_id): c.outcome.value for c in changes},
                "order": ids,
                "reason": text,
            },
        )
        s.flush()
        return _summary(s, camp, meeting)


def _chair(s: Session, council_id: int, actor: str) -> CouncilMember:
    """The council's chair, who must be the one acting."""
    chair = next((m for m in _members(s, council_id) if m.role == CouncilRole.CHAIR), None)
    if chair is None or nfc(actor) != chair.person_code:
        who = f"{chair.full_name} ({chair.person_code})" if chair else "Chủ tịch Hội đồng"
        raise TieBreakRefused(
            f"Chỉ Chủ tịch Hội đồng — {who} — quyết định trường hợp bằng nhau; "
            f"“{nfc(actor)}” không có quyền này."
        )
    return chair


def _tie_changes(
    camp: _Campaign, lines: dict[int, ReviewLine], ids: list[int], reason: str
) -> list[Selection]:
    """The new outcomes of the tied nominees, per award and kind, with the chair's order filling the seats."""
    by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in ids:
        by_group[(lines[i].award_key, lines[i].subject_kind)].append(i)
    awards = {a.key: a for a in camp.definition.awards}
    changes: list[Selection] = []
    for (award_key, kind), chosen in by_group.items():
        group = [x for x in lines.values() if (x.award_key, x.subject_kind) == (award_key, kind)]
        quota = _quota(awards[award_key], kind)
        if quota is None:
            raise TieBreakRefused("Loại khen thưởng không giới hạn chỉ tiêu: không có trường hợp bằng nhau.")
        selections = [Selection(x.nomination_id, x.outcome, x.position, x.explanation) for x in group]
        names = {x.nomination_id: x.subject_name for x in group}
        try:
            changes += apply_tie_break(selections, chosen, quota, reason=reason, names=names)
        except TieBreakError as exc:
            raise TieBreakRefused(f"{awards[award_key].name} – {KIND_WORDS[kind]}: {exc}.") from exc
    return changes


def _effective_meetings(s: Session, campaign_id: int) -> list[int]:
    """Per council, its latest closed meeting that had quorum: the one whose results stand."""
    rows = s.execute(
        select(col(CouncilMeeting.id), col(CouncilMeeting.council_id), col(CouncilMeeting.held_at))
        .where(
            col(CouncilMeeting.campaign_id) == campaign_id,
            col(CouncilMeeting.status) == MeetingStatus.CLOSED,
            col(CouncilMeeting.quorum_met).is_(True),
        )
        .order_by(col(CouncilMeeting.held_at), col(CouncilMeeting.id))
    ).all()
    latest: dict[int, int] = {}
    for r in rows:
        latest[r.council_id] = r.id
    return sorted(latest.values())


def final_results(engine: Engine, code: str) -> list[ReviewLine]:
    """The standing results of the campaign: each council's latest closed meeting with quorum."""
    with Session(engine) as s:
        camp = _campaign(s, code)
        return _lines(s, camp, _effective_meetings(s, camp.id))


def unresolved_ties(engine: Engine, code: str) -> list[ReviewLine]:
    """Ties at a quota's edge the chair has not decided yet; award issuance refuses while any remain."""
    return [line for line in final_results(engine, code) if line.outcome == ReviewOutcome.TIE]
