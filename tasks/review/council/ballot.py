"""The secret ballot: one vote per member and nominee, counted without recording the choice of anyone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from thidua.models.campaign import CampaignStatus
from thidua.models.council import (
    quorum_met,
    quorum_statement,
)
from thidua.models.db import insert_ignore, transaction
from thidua.models.definition import Council as CouncilRules
from thidua.models.review import (
    BallotCast,
    Council,
    CouncilMember,
    EligibilityResult,
    MeetingStatus,
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.models.text import nfc
from thidua.tasks.core.events import record_event
from thidua.tasks.review.council.errors import QuorumNotMet, VoteAlreadyCast, VoteRefused
from thidua.tasks.review.council.lookups import _Campaign, _members, reviewed_awards
from thidua.tasks.review.council.meetings import _attendance, _check_campaign, _meeting
from thidua.tasks.review.council.shared import BALLOT_TALLY, CHOICES


@dataclass(frozen=True)
class BallotReceipt:
    """What a voter may be told: that their ballot was counted (never what it said)."""

    meeting_id: int
    member: str
    nomination_id: int
    written: bool


def cast_vote(
    engine: Engine,
    meeting_id: int,
    member_person_code: str,
    nomination_id: int,
    choice: str,
    *,
    now: datetime,
    written: bool = False,
) -> BallotReceipt:
    """Record one member's secret ballot on one nominee: approve, reject or abstain. Once, and for good.

    In one transaction: the BallotCast guard row (unique per meeting, member, nominee: the database refuses
    a second ballot, also from two sessions at once) and the increment of the nominee's tally. Refused with
    the reason when the meeting is closed or without quorum, the nominee is not eligible or not for this
    council, the member votes on themselves or their own unit, or is absent without a written ballot.
    """
    if choice not in CHOICES:
        raise VoteRefused(f"Lựa chọn “{choice}” không hợp lệ; chọn approve (đồng ý), reject (không đồng ý) "
                          "hoặc abstain (không ý kiến).")  # fmt: skip
    with transaction(engine) as s:
        # Shared lock: ballots go in side by side, but not while the meeting is being closed.
        meeting = _meeting(s, meeting_id, lock="share")
        if meeting.status != MeetingStatus.OPEN:
            raise VoteRefused(f"Cuộc họp số {meeting_id} đã kết thúc: không nhận thêm phiếu.")
        camp = _check_campaign(s, meeting, None)
        camp.require(CampaignStatus.IN_REVIEW)
        council = s.get(Council, meeting.council_id)
        assert council is not None and council.id is not None
        _refuse_after_paper_count(s, meeting_id)
        member = _voter(s, meeting_id, council, nfc(member_person_code), camp.definition.council, written)
        nom = _nominee_on_ballot(s, camp, council, nomination_id)
        _check_recusal(member, nom, camp.definition.council)
        _count_ballot(s, meeting_id, member, nom, choice, written)
        record_event(
            s,
            campaign_id=camp.id,
            kind="ballot.cast",
            now=now,
            actor=member.person_code,
            subject=f"nomination:{nomination_id}",
            # Who and on whom, never how: the choice lives only in the tally's counters.
            payload={
                "before": None,
                "after": {
                    "meeting": meeting_id,
                    "member": member.person_code,
                    "nomination": nomination_id,
                    "written": written,
                },
            },
        )
        return BallotReceipt(meeting_id, member.person_code, nomination_id, written)


def _voter(
    s: Session, meeting_id: int, council: Council, person: str, rules: CouncilRules, written: bool
) -> CouncilMember:
    """The member casting the ballot, once quorum holds and their presence matches the kind of ballot."""
    assert council.id is not None
    members = _members(s, council.id)
    attended = _attendance(s, meeting_id)
    here = sum(1 for m in members if attended.get(m.id or 0))
    if not quorum_met(len(members), here, rules):
        raise QuorumNotMet(f"Không bỏ phiếu được: {quorum_statement(len(members), here, rules)}")
    member = next((m for m in members if m.person_code == person), None)
    if member is None or member.id is None:
        raise VoteRefused(f"“{person}” không phải thành viên {council.name}.")
    if attended.get(member.id):
        if written:
            raise VoteRefused(
                f"{member.full_name} có mặt tại cuộc họp: bỏ phiếu kín trực tiếp, "
                "không dùng phiếu bằng văn bản."
            )
    elif not written:
        raise VoteRefused(
            f"{member.full_name} vắng mặt: chỉ nhận phiếu bằng văn bản do Thư ký nhập "
            "gửi trước khi kết thúc họp."
        )
    elif not rules.written_votes_allowed:
        raise VoteRefused(
            f"{member.full_name} vắng mặt, và quy chế của Hội đồng không nhận phiếu bằng văn bản."
        )
    return member


def _nominee_on_ballot(s: Session, camp: _Campaign, council: Council, nomination_id: int) -> Nomination:
    """The nomination, when it is on this council's ballot: its award, complete and found eligible."""
    nom = s.get(Nomination, nomination_id)
    if nom is None or nom.campaign_id != camp.id:
        raise VoteRefused(f"Không có đề nghị khen thưởng số {nomination_id} trong phong trào {camp.code}.")
    named = f"Đề nghị số {nomination_id} ({nom.subject_name})"
    awards = {a.key for a in reviewed_awards(camp.definition, council.unit_code)}
    if nom.award_key not in awards:
        raise VoteRefused(
            f"{named} là cho loại khen thưởng “{nom.award_key}”, "
            f"không thuộc thẩm quyền xét của {council.name}."
        )
    if NominationStatus(nom.status) in (NominationStatus.WITHDRAWN, NominationStatus.INCOMPLETE):
        state = "đã rút" if nom.status == NominationStatus.WITHDRAWN else "hồ sơ không đầy đủ"
        raise VoteRefused(f"{named} {state}: không đưa ra bỏ phiếu.")
    eligible = s.execute(
        select(col(EligibilityResult.eligible)).where(col(EligibilityResult.nomination_id) == nomination_id)
    ).scalar_one_or_none()
    if eligible is None:
        raise VoteRefused(f"{named} chưa được xét điều kiện khen thưởng.")
    if not eligible:
        raise VoteRefused(f"{named} không đủ điều kiện khen thưởng: không đưa ra bỏ phiếu.")
    return nom


def _check_recusal(member: CouncilMember, nom: Nomination, rules: CouncilRules) -> None:
    """No ballot on oneself, nor (when the council's rules say so) on one's own unit or its people."""
    kind = SubjectKind(nom.subject_kind)
    if kind == SubjectKind.INDIVIDUAL and nom.subject_code == member.person_code:
        raise VoteRefused(f"{member.full_name} không bỏ phiếu cho chính mình (đề nghị số {nom.id}).")
    if rules.recuse_own_unit and member.unit_code:
        own = nom.subject_code if kind == SubjectKind.COLLECTIVE else nom.unit_code
        if own == member.unit_code:
            whom = "tập thể đơn vị mình" if kind == SubjectKind.COLLECTIVE else "cá nhân thuộc đơn vị mình"
            raise VoteRefused(
                f"{member.full_name} không bỏ phiếu cho {whom} ({member.unit_code}, đề nghị số "
                f"{nom.id}): quy chế Hội đồng yêu cầu thành viên không xét đơn vị mình."
            )


def _count_ballot(
    s: Session, meeting_id: int, member: CouncilMember, nom: Nomination, choice: str, written: bool
) -> None:
    """The guard row that makes the ballot once-only, and one more on the nominee's counter for `choice`."""
    refused = (
        f"{member.full_name} đã bỏ phiếu cho đề nghị số {nom.id} ({nom.subject_name}) "
        f"tại cuộc họp số {meeting_id}: phiếu đã bỏ không thể thay đổi hay bỏ lại."
    )
    cast_before = s.execute(
        select(col(BallotCast.id)).where(
            col(BallotCast.meeting_id) == meeting_id,
            col(BallotCast.member_id) == member.id,
            col(BallotCast.nomination_id) == nom.id,
        )
    ).first()
    if cast_before is not None:
        raise VoteAlreadyCast(refused)
    try:
        s.execute(
            insert(BallotCast).values(
                meeting_id=meeting_id, member_id=member.id, nomination_id=nom.id, written=written
            )
        )
    except IntegrityError as exc:
        # Another session cast the same ballot between our check and our insert.
        raise VoteAlreadyCast(refused) from exc
    row = {"meeting_id": meeting_id, "nomination_id": nom.id, "approve": 0, "reject": 0, "abstain": 0}
    insert_ignore(s, BALLOT_TALLY, row, ["meeting_id", "nomination_id"])
    counter = BALLOT_TALLY.c[choice]
    s.execute(
        update(BALLOT_TALLY)
        .where(BALLOT_TALLY.c.meeting_id == meeting_id, BALLOT_TALLY.c.nomination_id == nom.id)
        .values({counter: counter + 1})
    )


@dataclass(frozen=True)
class BallotPaper:
    """What a member's ballot at a meeting holds (never the choices): the nominees on it, those the member
    may not vote on with the reason, and whether the member has voted already."""

    meeting_id: int
    member: str
    votable: tuple[int, ...]
    recused: tuple[tuple[int, str], ...]  # (nomination id, why the member does not vote on it)
    voted: bool


def ballot_paper(engine: Engine, meeting_id: int, member_person_code: str) -> BallotPaper:
    """The nominees `member_person_code` votes on at the meeting, in order, by the rules `cast_vote` applies
    (eligible nominees of the council's awards; not oneself nor, when the rules say so, one's own unit)."""
    with Session(engine) as s:
        meeting = _meeting(s, meeting_id)
        camp = _check_campaign(s, meeting, None)
        council = s.get(Council, meeting.council_id)
        assert council is not None and council.id is not None
        person = nfc(member_person_code)
        member = next((m for m in _members(s, council.id) if m.person_code == person), None)
        if member is None or member.id is None:
            raise VoteRefused(f"“{person}” không phải thành viên {council.name}.")
        votable: list[int] = []
        recused: list[tuple[int, str]] = []
        for nom in ballot_nominees(s, camp, council):
            assert nom.id is not None
            try:
                _check_recusal(member, nom, camp.definition.council)
            except VoteRefused as exc:
                recused.append((nom.id, exc.message))
            else:
                votable.append(nom.id)
        voted = (
            s.execute(
                select(col(BallotCast.id)).where(
                    col(BallotCast.meeting_id) == meeting_id, col(BallotCast.member_id) == member.id
                )
            ).first()
            is not None
        )
        return BallotPaper(meeting_id, person, tuple(votable), tuple(recused), voted)


def ballot_nominees(s: Session, camp: _Campaign, council: Council) -> list[Nomination]:
    """The nominations on the council's ballot: its awards, neither withdrawn nor incomplete, found eligible;
    in the order of the definition's awards, collectives first, then by number."""
    awards = [a.key for a in reviewed_awards(camp.definition, council.unit_code)]
    rows = s.scalars(
        select(Nomination)
        .join(EligibilityResult, col(EligibilityResult.nomination_id) == col(Nomination.id))
        .where(
            col(Nomination.campaign_id) == camp.id,
            col(Nomination.award_key).in_(awards),
            col(EligibilityResult.eligible).is_(True),
            col(Nomination.status).not_in([NominationStatus.WITHDRAWN, NominationStatus.INCOMPLETE]),
        )
    ).all()
    order = {key: i for i, key in enumerate(awards)}
    kinds = {SubjectKind.COLLECTIVE.value: 0, SubjectKind.INDIVIDUAL.value: 1}
    return sorted(
        rows, key=lambda n: (order[n.award_key], kinds[SubjectKind(n.subject_kind).value], n.id or 0)
    )


def cast_ballot(
    engine: Engine,
    meeting_id: int,
    member_person_code: str,
    choices: Mapping[int, str],
    *,
    now: datetime,
    written: bool = False,
    entered_by: str | None = None,
) -> int:
    """Record a member's whole ballot at a meeting — one choice for every nominee on it — all or nothing.

    The rules are `cast_vote`'s (quorum, presence or a written ballot, the nominee on this council's ballot,
    no vote on oneself or one's own unit, once only); in addition the ballot must name exactly the nominees
    the member votes on: none left out, none the member may not vote on. One transaction: a refused nominee,
    or a second ballot racing this one, leaves nothing written. `entered_by` is the secretary who entered an
    absent member's written ballot (the audit names them). Returns the number of nominees voted on.
    """
    wanted = {int(k): v for k, v in choices.items()}
    if any(v not in CHOICES for v in wanted.values()):
        # The value is not repeated: even a mistyped choice must not end up in a message or a log.
        raise VoteRefused(
            "Phiếu có lựa chọn không hợp lệ; mỗi đề nghị chọn: đồng ý, không đồng ý hoặc không ý kiến."
        )
    with transaction(engine) as s:
        meeting = _meeting(s, meeting_id, lock="share")
        if meeting.status != MeetingStatus.OPEN:
            raise VoteRefused(f"Cuộc họp số {meeting_id} đã kết thúc: không nhận thêm phiếu.")
        camp = _check_campaign(s, meeting, None)
        camp.require(CampaignStatus.IN_REVIEW)
        council = s.get(Council, meeting.council_id)
        assert council is not None and council.id is not None
        _refuse_after_paper_count(s, meeting_id)
        rules = camp.definition.council
        member = _voter(s, meeting_id, council, nfc(member_person_code), rules, written)
        on_ballot: list[Nomination] = []
        for nom in ballot_nominees(s, camp, council):
            try:
                _check_recusal(member, nom, rules)
            except VoteRefused:
                continue
            on_ballot.append(nom)
        expected = {n.id for n in on_ballot}
        extra = sorted(set(wanted) - expected)
        if extra:
            for nid in extra:  # the precise reason of the first one: not on the ballot, or recused
                nom = _nominee_on_ballot(s, camp, council, nid)
                _check_recusal(member, nom, rules)
            raise VoteRefused(f"Đề nghị số {extra[0]} không có trên phiếu của {member.full_name}.")
        missing = [n for n in on_ballot if n.id not in wanted]
        if missing:
            names = ", ".join(f"{n.subject_name} (số {n.id})" for n in missing[:5])
            more = f" và {len(missing) - 5} đề nghị khác" if len(missing) > 5 else ""
            raise VoteRefused(
                f"Phiếu chưa đủ: cần chọn cho mọi đề nghị trên phiếu; còn thiếu {names}{more}. "
                "Không có phiếu nào được ghi."
            )
        if not on_ballot:
            raise VoteRefused(f"Không có đề nghị nào trên phiếu của {member.full_name} tại cuộc họp này.")
        for nom in on_ballot:
            assert nom.id is not None
            _count_ballot(s, meeting_id, member, nom, wanted[nom.id], written)
            record_event(
                s,
                campaign_id=camp.id,
                kind="ballot.cast",
                now=now,
                actor=entered_by or member.person_code,
                subject=f"nomination:{nom.id}",
                # Who and on whom, never how: the choice lives only in the tally's counters.
                payload={
                    "before": None,
                    "after": {
                        "meeting": meeting_id,
                        "member": member.person_code,
                        "nomination": nom.id,
                        "written": written,
                    },
                },
            )
        return len(on_ballot)


def _refuse_after_paper_count(s: Session, meeting_id: int) -> None:
    """No ballot through the system once the secretary entered the paper ballots' count: the tallies would
    mix two counts. Electronic tallies always sum to the ballots cast; paper ones have no BallotCast rows."""
    # One statement, so one snapshot: under READ COMMITTED two separate reads could see another member's
    # ballot committed between them (its tally counted, its cast not) and take it for a paper count.
    tallied = (
        select(
            func.coalesce(
                func.sum(BALLOT_TALLY.c.approve + BALLOT_TALLY.c.reject + BALLOT_TALLY.c.abstain), 0
            )
        )
        .where(BALLOT_TALLY.c.meeting_id == meeting_id)
        .scalar_subquery()
    )
    casts = (
        select(func.count())
        .select_from(BallotCast)
        .where(col(BallotCast.meeting_id) == meeting_id)
        .scalar_subquery()
    )
    counted, cast = s.execute(select(tallied, casts)).one()
    if int(counted) != int(cast):
        raise VoteRefused(
            f"Cuộc họp số {meeting_id} đã được Thư ký nhập kết quả kiểm phiếu giấy: "
            "không nhận phiếu trên hệ thống."
        )
