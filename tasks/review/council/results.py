"""The results of a meeting: the tallies against the quota, who is selected, the summary after closing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from thidua.models.campaign import CampaignStatus, EnrolledUnit
from thidua.models.council import (
    Candidate,
    approval_statement,
    approvals_needed,
    is_approved,
    quorum_met,
    quorum_statement,
    quota_phrase,
    select_within_quota,
)
from thidua.models.db import transaction, upsert
from thidua.models.definition import Award, CampaignDefinition
from thidua.models.directory import Unit
from thidua.models.review import (
    BallotCast,
    BallotTally,
    Council,
    CouncilMeeting,
    CouncilRole,
    EligibilityResult,
    FinalResult,
    MeetingStatus,
    Nomination,
    NominationStatus,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)
from thidua.models.text import nfc
from thidua.tasks.core.events import record_event
from thidua.tasks.review.council.lookups import _Campaign, _members, reviewed_awards
from thidua.tasks.review.council.meetings import _attendance, _check_campaign, _meeting, _when
from thidua.tasks.review.council.shared import KIND_WORDS, OUTCOME_LABELS, REVIEW_RESULT


@dataclass(frozen=True)
class ReviewLine:
    """The council's result for one nominee: tallies, outcome and the reason (never a member's choice)."""

    nomination_id: int
    award_key: str
    award_name: str
    subject_kind: str
    subject_code: str
    subject_name: str
    unit_code: str
    unit_name: str
    approve: int
    reject: int
    abstain: int
    approved: bool
    outcome: ReviewOutcome
    position: int | None
    explanation: str
    tie_reason: str | None = None
    decided_by: str | None = None
    meeting_id: int | None = None

    @property
    def outcome_label(self) -> str:
        if self.tie_reason and self.outcome == ReviewOutcome.SELECTED:
            return "Được chọn (Chủ tịch quyết định)"
        return OUTCOME_LABELS[self.outcome]


@dataclass(frozen=True)
class AttendanceLine:
    person_code: str
    full_name: str
    title: str | None
    role: CouncilRole
    present: bool
    written: bool  # absent, sent at least one written ballot
    unit_code: str | None = None


@dataclass(frozen=True)
class ReviewSummary:
    campaign_code: str
    campaign_title: str
    campaign_kind: str
    meeting_id: int
    council_name: str
    council_unit: str
    held_at: datetime
    place: str | None
    status: MeetingStatus
    closed_at: datetime | None
    quorum_met: bool
    quorum_text: str
    approval_text: str
    attendance: list[AttendanceLine]
    lines: list[ReviewLine]
    quotas: dict[tuple[str, str], int | None] = field(default_factory=dict)
    ballots: int = 0  # ballots cast, all nominees together

    @property
    def members(self) -> int:
        return len(self.attendance)

    @property
    def present(self) -> int:
        return sum(1 for a in self.attendance if a.present)

    @property
    def written_voters(self) -> int:
        return sum(1 for a in self.attendance if not a.present and a.written)

    @property
    def ties(self) -> list[ReviewLine]:
        return [line for line in self.lines if line.outcome == ReviewOutcome.TIE]

    @property
    def chair(self) -> AttendanceLine | None:
        return next((a for a in self.attendance if a.role == CouncilRole.CHAIR), None)

    @property
    def secretary(self) -> AttendanceLine | None:
        return next((a for a in self.attendance if a.role == CouncilRole.SECRETARY), None)

    def groups(self) -> list[tuple[str, str, list[ReviewLine]]]:
        """(award key, subject kind, lines) in the definition's order, collectives first, best first."""
        out: dict[tuple[str, str], list[ReviewLine]] = {}
        for line in self.lines:
            out.setdefault((line.award_key, line.subject_kind), []).append(line)
        return [(k[0], k[1], v) for k, v in out.items()]

    def text_lines(self, tz: ZoneInfo) -> list[str]:
        """What `thidua council result` prints: attendance, quorum, tallies, outcomes and reasons."""
        place = f", tại {self.place}" if self.place else ""
        out = [
            f"{self.council_name} — cuộc họp số {self.meeting_id}, {_when(self.held_at, tz)}{place}",
            f"Phong trào {self.campaign_code}: {self.campaign_title}",
            f"Thành viên: {self.members} · có mặt {self.present} · vắng {self.members - self.present} "
            f"(gửi phiếu bằng văn bản: {self.written_voters})",
            self.quorum_text,
            f"Biểu quyết: bỏ phiếu kín; được thông qua khi có {self.approval_text}.",
        ]
        if self.status == MeetingStatus.OPEN:
            out.append(
                f"Cuộc họp đang diễn ra ({self.ballots} phiếu đã bỏ): "
                "kết quả chỉ công bố khi kết thúc cuộc họp."
            )
            return out
        if not self.quorum_met:
            out.append("Cuộc họp đã kết thúc, không bỏ phiếu: không có kết quả.")
            return out
        if not self.lines:
            out.append("Không có đề nghị nào đủ điều kiện đưa ra Hội đồng xét.")
        for award_key, kind, lines in self.groups():
            quota = self.quotas.get((award_key, kind))
            limit = (
                f"chỉ tiêu {quota_phrase(quota, kind)}" if quota is not None else "không giới hạn chỉ tiêu"
            )
            out.append("")
            out.append(f"{lines[0].award_name} – {KIND_WORDS.get(kind, kind)} ({limit}):")
            for line in lines:
                out.append(
                    f"  [{line.nomination_id}] {line.subject_name} ({line.unit_name}): "
                    f"{line.approve} đồng ý · {line.reject} không đồng ý · {line.abstain} không ý kiến "
                    f"→ {line.outcome_label}"
                )
                out.append(f"      {line.explanation}")
        if self.ties:
            out.append("")
            out.append(
                f"Còn {len(self.ties)} đề nghị bằng nhau tại giới hạn chỉ tiêu "
                "chờ Chủ tịch Hội đồng quyết định (thidua council tie ...)."
            )
        return out


def _value_of(indicators_json: str | None, key: str) -> Fraction | None:
    import json

    if not indicators_json:
        return None
    data = json.loads(indicators_json).get(key)
    if not isinstance(data, dict):
        return None
    if data.get("value") is not None:
        return Fraction(str(data["value"]))
    den = int(data.get("den") or 0)
    return Fraction(int(data.get("num") or 0), den) if den else None


def _value_label(defn: CampaignDefinition, kind: str) -> str | None:
    main = defn.main_indicator
    applies = "person" if kind == SubjectKind.INDIVIDUAL.value else "unit"
    if applies not in main.applies_to:
        return None  # the indicator is not measured for this kind of subject: it does not rank it
    label = nfc(main.label)
    return label[:1].lower() + label[1:]


def _quota(award: Award, kind: str) -> int | None:
    return award.quota.collective if kind == SubjectKind.COLLECTIVE.value else award.quota.individual


def _reviewable(s: Session, camp: _Campaign, award_keys: Sequence[str]) -> list[Any]:
    return list(
        s.execute(
            select(
                col(Nomination.id),
                col(Nomination.award_key),
                col(Nomination.subject_kind),
                col(Nomination.subject_code),
                col(Nomination.subject_name),
                col(Nomination.subject_title),
                col(Nomination.unit_code),
            )
            .join(EligibilityResult, col(EligibilityResult.nomination_id) == col(Nomination.id))
            .where(
                col(Nomination.campaign_id) == camp.id,
                col(Nomination.award_key).in_(list(award_keys)),
                col(EligibilityResult.eligible).is_(True),
                col(Nomination.status).not_in([NominationStatus.WITHDRAWN, NominationStatus.INCOMPLETE]),
            )
            .order_by(col(Nomination.id))
        ).all()
    )


def close_meeting(engine: Engine, code: str, meeting_id: int, *, now: datetime, actor: str) -> ReviewSummary:
    """Close the meeting and write the council's result for every eligible nominee (idempotent).

    Per award type and subject kind: approved per the rules, then ranked and fitted into the quota
    (models.council.select_within_quota). Without quorum: closed with `quorum_met` False and no results.
    """
    with transaction(engine) as s:
        # Exclusive lock: waits for ballots being written, and keeps new ones out until the close commits.
        meeting = _meeting(s, meeting_id, lock="update")
        camp = _check_campaign(s, meeting, code)
        if meeting.status == MeetingStatus.CLOSED:
            return _summary(s, camp, meeting)
        camp.require(CampaignStatus.IN_REVIEW)
        council = s.get(Council, meeting.council_id)
        assert council is not None and council.id is not None
        rules = camp.definition.council
        members = _members(s, council.id)
        attended = _attendance(s, meeting_id)
        present = sum(1 for m in members if attended.get(m.id or 0))
        met = quorum_met(len(members), present, rules)
        counts: dict[str, int] = defaultdict(int)
        if met:
            rows = _result_rows(s, camp, council, meeting_id, len(members), present)
            upsert(s, REVIEW_RESULT, rows, ["meeting_id", "nomination_id"])
            for r in rows:
                counts[ReviewOutcome(r["outcome"]).value] += 1
        meeting.status = MeetingStatus.CLOSED
        meeting.closed_at = now
        meeting.quorum_met = met
        s.add(meeting)
        record_event(
            s,
            campaign_id=camp.id,
            kind="council.meeting_closed",
            now=now,
            actor=actor,
            subject=f"meeting:{meeting_id}",
            payload={
                "before": {"status": MeetingStatus.OPEN.value},
                "after": {"status": MeetingStatus.CLOSED.value, "quorum_met": met, "outcomes": dict(counts)},
            },
        )
        s.flush()
        return _summary(s, camp, meeting)


def _result_rows(
    s: Session, camp: _Campaign, council: Council, meeting_id: int, members: int, present: int
) -> list[dict[str, Any]]:
    defn = camp.definition
    rules = defn.council
    awards = {a.key: a for a in reviewed_awards(defn, council.unit_code)}
    nominees = _reviewable(s, camp, list(awards))
    tallies = {
        r.nomination_id: (int(r.approve), int(r.reject), int(r.abstain))
        for r in s.execute(
            select(
                col(BallotTally.nomination_id),
                col(BallotTally.approve),
                col(BallotTally.reject),
                col(BallotTally.abstain),
            ).where(col(BallotTally.meeting_id) == meeting_id)
        ).all()
    }
    main_key = defn.main_indicator.key
    finals = {
        (r.subject_kind, r.subject_code): _value_of(r.indicators_json, main_key)
        for r in s.execute(
            select(
                col(FinalResult.subject_kind), col(FinalResult.subject_code), col(FinalResult.indicators_json)
            ).where(col(FinalResult.campaign_id) == camp.id)
        ).all()
    }
    need = approvals_needed(members, present, rules)
    groups: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for n in nominees:
        kind = SubjectKind(n.subject_kind).value
        approve, _, _ = tallies.get(n.id, (0, 0, 0))
        final_kind = "person" if kind == SubjectKind.INDIVIDUAL.value else "unit"
        groups[(n.award_key, kind)].append(
            Candidate(
                nomination_id=n.id,
                name=n.subject_name,
                subject_kind=kind,
                approve=approve,
                approved=is_approved(approve, members, present, rules),
                title=n.subject_title,
                value=finals.get((final_kind, n.subject_code)),
            )
        )
    rows: list[dict[str, Any]] = []
    for (award_key, kind), candidates in groups.items():
        label = _value_label(defn, kind)
        selections = select_within_quota(
            candidates,
            _quota(awards[award_key], kind),
            defn.eligibility.priority_titles,
            value_label=label,
            members=members,
            approvals_needed=need,
        )
        for sel in selections:
            approve, reject, abstain = tallies.get(sel.nomination_id, (0, 0, 0))
            rows.append(
                {
                    "meeting_id": meeting_id,
                    "nomination_id": sel.nomination_id,
                    "approve": approve,
                    "reject": reject,
                    "abstain": abstain,
                    "approved": sel.outcome != ReviewOutcome.NOT_APPROVED,
                    "outcome": sel.outcome,
                    "position": sel.position,
                    "explanation": sel.explanation,
                    "decided_by": None,
                    "tie_reason": None,
                }
            )
    return rows


def _summary(s: Session, camp: _Campaign, meeting: CouncilMeeting) -> ReviewSummary:
    assert meeting.id is not None
    council = s.get(Council, meeting.council_id)
    assert council is not None and council.id is not None
    defn = camp.definition
    rules = defn.council
    members = _members(s, council.id)
    attended = _attendance(s, meeting.id)
    written_by = set(
        s.execute(
            select(col(BallotCast.member_id))
            .where(col(BallotCast.meeting_id) == meeting.id, col(BallotCast.written).is_(True))
            .distinct()
        ).scalars()
    )
    ballots = s.execute(
        select(func.count()).select_from(BallotCast).where(col(BallotCast.meeting_id) == meeting.id)
    ).scalar_one()
    attendance = [
        AttendanceLine(
            m.person_code,
            m.full_name,
            m.title,
            CouncilRole(m.role),
            bool(attended.get(m.id or 0)),
            (m.id in written_by) and not attended.get(m.id or 0),
            m.unit_code,
        )
        for m in members
    ]
    present = sum(1 for a in attendance if a.present)
    met = quorum_met(len(members), present, rules) if meeting.quorum_met is None else bool(meeting.quorum_met)
    lines = _lines(s, camp, [meeting.id]) if meeting.status == MeetingStatus.CLOSED else []
    awards = reviewed_awards(defn, council.unit_code)
    quotas = {
        (a.key, k): _quota(a, k)
        for a in awards
        for k in (SubjectKind.COLLECTIVE.value, SubjectKind.INDIVIDUAL.value)
    }
    return ReviewSummary(
        campaign_code=camp.code,
        campaign_title=camp.title,
        campaign_kind=str(getattr(defn.kind, "value", defn.kind)),
        meeting_id=meeting.id,
        council_name=council.name,
        council_unit=council.unit_code,
        held_at=meeting.held_at,
        place=meeting.place,
        status=MeetingStatus(meeting.status),
        closed_at=meeting.closed_at,
        quorum_met=met,
        quorum_text=quorum_statement(len(members), present, rules),
        approval_text=approval_statement(len(members), present, rules),
        attendance=attendance,
        lines=lines,
        quotas=quotas,
        ballots=int(ballots),
    )


def _lines(s: Session, camp: _Campaign, meeting_ids: Sequence[int]) -> list[ReviewLine]:
    if not meeting_ids:
        return []
    rows = s.execute(
        select(
            col(ReviewResult.meeting_id),
            col(ReviewResult.nomination_id),
            col(ReviewResult.approve),
            col(ReviewResult.reject),
            col(ReviewResult.abstain),
            col(ReviewResult.approved),
            col(ReviewResult.outcome),
            col(ReviewResult.position),
            col(ReviewResult.explanation),
            col(ReviewResult.tie_reason),
            col(ReviewResult.decided_by),
            col(Nomination.award_key),
            col(Nomination.subject_kind),
            col(Nomination.subject_code),
            col(Nomination.subject_name),
            col(Nomination.unit_code),
        )
        .join(Nomination, col(Nomination.id) == col(ReviewResult.nomination_id))
        .where(col(ReviewResult.meeting_id).in_(list(meeting_ids)))
    ).all()
    unit_names = _unit_names(s, camp.id, rows)
    award_order = {a.key: i for i, a in enumerate(camp.definition.awards)}
    award_names = {a.key: a.name for a in camp.definition.awards}
    kind_order = {SubjectKind.COLLECTIVE.value: 0, SubjectKind.INDIVIDUAL.value: 1}
    lines = [
        ReviewLine(
            nomination_id=r.nomination_id,
            award_key=r.award_key,
            award_name=award_names.get(r.award_key, r.award_key),
            subject_kind=SubjectKind(r.subject_kind).value,
            subject_code=r.subject_code,
            subject_name=r.subject_name,
            unit_code=r.unit_code,
            unit_name=unit_names[(SubjectKind(r.subject_kind).value, r.unit_code)],
            approve=r.approve,
            reject=r.reject,
            abstain=r.abstain,
            approved=bool(r.approved),
            outcome=ReviewOutcome(r.outcome),
            position=r.position,
            explanation=r.explanation,
            tie_reason=r.tie_reason,
            decided_by=r.decided_by,
            meeting_id=r.meeting_id,
        )
        for r in rows
    ]
    return sorted(
        lines,
        key=lambda x: (
            award_order.get(x.award_key, 99),
            kind_order.get(x.subject_kind, 9),
            x.position is None,
            x.position or 0,
            x.nomination_id,
        ),
    )


def _unit_names(s: Session, campaign_id: int, rows: Sequence[Any]) -> dict[tuple[str, str], str]:
    """(subject kind, unit code) -> the 'Đơn vị' shown: a person's unit; for a collective, the unit it
    belongs to (a Chi cục shows its Cục), since its own name is already the nominee's name."""
    codes = {r.unit_code for r in rows}
    units = s.execute(
        select(col(Unit.id), col(Unit.code), col(Unit.name), col(Unit.parent_id))
    ).all()  # the directory is small (~400 units nationally): one read beats a recursive join
    by_id = {u.id: u for u in units}
    names = {u.code: u.name for u in units}
    parents = {u.code: by_id[u.parent_id].code for u in units if u.parent_id in by_id}
    enrolled = s.execute(
        select(col(EnrolledUnit.unit_code), col(EnrolledUnit.unit_name), col(EnrolledUnit.parent_code)).where(
            col(EnrolledUnit.campaign_id) == campaign_id
        )
    ).all()
    for e in enrolled:  # what the campaign enrolled wins over a later rename or move
        names[e.unit_code] = e.unit_name
        if e.parent_code:
            parents[e.unit_code] = e.parent_code
    out: dict[tuple[str, str], str] = {}
    for code in codes:
        own = names.get(code, code)
        parent = parents.get(code)
        out[(SubjectKind.INDIVIDUAL.value, code)] = own
        out[(SubjectKind.COLLECTIVE.value, code)] = names.get(parent, own) if parent else own
    return out


def meeting_summary(engine: Engine, code: str, meeting_id: int) -> ReviewSummary:
    """Read-only: attendance, quorum and, once the meeting is closed, tallies, outcomes and reasons."""
    with Session(engine) as s:
        meeting = _meeting(s, meeting_id)
        return _summary(s, _check_campaign(s, meeting, code), meeting)
