"""The council on the portal: who sits on which council, the meetings a member sees, the papers of each
nominee, the member's one ballot, and what the secretary and the chair do — each a thin call into the
council's work layer (tasks/review/council), with the signed-in person's seat checked first.

A person signs in with their directory email; their council seats are the CouncilMember rows of their
person code. A meeting of a council they do not sit on is NotFound, exactly as one that does not exist, and a
machine client (an API token, which acts for a unit) sits on no council. What a member can learn here is what
the schema keeps: that someone voted, never how; the tallies once the meeting is closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from thidua.errors import InvalidInput, NotFound, Problem, RuleRefused
from thidua.models.campaign import Campaign
from thidua.models.definition import definition_from_json
from thidua.models.directory import Person
from thidua.models.eligibility import Reason
from thidua.models.reconciliation import VERIFY, LedgerCheck
from thidua.models.review import (
    BallotCast,
    BallotTally,
    Council,
    CouncilMeeting,
    CouncilMember,
    CouncilRole,
    DossierFile,
    EligibilityResult,
    MeetingStatus,
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.models.text import nfc
from thidua.models.workdays import WorkCalendar
from thidua.tasks.close.closing import final_ledger_checks
from thidua.tasks.portal.dossier import PartLine, nominee_dossier
from thidua.tasks.portal.identity import Principal
from thidua.tasks.review.council import (
    ROLE_LABELS,
    PaperCount,
    ReviewSummary,
    ballot_paper,
    break_tie,
    cast_ballot,
    close_meeting,
    enter_paper_count,
    meeting_summary,
    open_meeting,
    reviewed_awards,
    write_minutes,
)
from thidua.tasks.review.council.minutes import minutes_key
from thidua.tasks.review.council.shared import KIND_WORDS

#: The choices of the ballot form, as the member reads them.
CHOICE_LABELS: dict[str, str] = {"approve": "Đồng ý", "reject": "Không đồng ý", "abstain": "Không ý kiến"}


class NotOnCouncil(NotFound):
    """A meeting (or a file of one) of a council the caller does not sit on: answered as if it were not."""

    def __init__(self, what: str) -> None:
        super().__init__(f"Không có {what} trong các Hội đồng bạn tham gia.")


class RoleRequired(RuleRefused):
    """A secretary's or chair's action asked by another member (403 on the portal)."""


@dataclass(frozen=True)
class Seat:
    council_id: int
    member_id: int
    person_code: str
    full_name: str
    role: CouncilRole
    council_name: str
    council_unit: str
    campaign_id: int
    campaign_code: str
    campaign_title: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


def person_code_of(s: Session, principal: Principal) -> str | None:
    """The directory person behind a signed-in address; None for a machine client or a unit's mailbox."""
    if principal.token_id is not None:
        return None
    return s.execute(
        select(col(Person.code)).where(
            func.lower(col(Person.email)) == principal.email.lower(), col(Person.active).is_(True)
        )
    ).scalar()


def _seats(s: Session, principal: Principal) -> list[Seat]:
    person = person_code_of(s, principal)
    if person is None:
        return []
    rows = s.execute(
        select(CouncilMember, Council, col(Campaign.code), col(Campaign.title))
        .join(Council, col(Council.id) == col(CouncilMember.council_id))
        .join(Campaign, col(Campaign.id) == col(Council.campaign_id))
        .where(col(CouncilMember.person_code) == person)
        .order_by(col(Council.id))
    ).all()
    out = []
    for member, council, code, title in rows:
        assert member.id is not None and council.id is not None
        out.append(
            Seat(
                council.id,
                member.id,
                member.person_code,
                member.full_name,
                CouncilRole(member.role),
                council.name,
                council.unit_code,
                council.campaign_id,
                code,
                title,
            )
        )
    return out


def seats(engine: Engine, principal: Principal) -> list[Seat]:
    """The councils the signed-in person sits on, with their role."""
    with Session(engine) as s:
        return _seats(s, principal)


def sits_on_council(engine: Engine, principal: Principal) -> bool:
    return bool(seats(engine, principal))


def council_members(engine: Engine, council_id: int) -> list[tuple[str, str]]:
    """(person code, name) of a council's members, in the order they were set up."""
    with Session(engine) as s:
        rows = s.execute(
            select(col(CouncilMember.person_code), col(CouncilMember.full_name))
            .where(col(CouncilMember.council_id) == council_id)
            .order_by(col(CouncilMember.id))
        ).all()
    return [(r.person_code, r.full_name) for r in rows]


@dataclass(frozen=True)
class MeetingLine:
    id: int
    seat: Seat
    held_at: datetime
    place: str | None
    open: bool
    voted: bool  # the caller has cast their ballot (never how)

    @property
    def status_label(self) -> str:
        return "Đang họp" if self.open else "Đã kết thúc"


@dataclass(frozen=True)
class CouncilHome:
    seats: list[Seat]
    meetings: list[MeetingLine]


def council_home(engine: Engine, principal: Principal) -> CouncilHome:
    """The caller's councils and their meetings, newest first."""
    with Session(engine) as s:
        mine = _seats(s, principal)
        by_council = {seat.council_id: seat for seat in mine}
        if not mine:
            return CouncilHome([], [])
        meetings = s.scalars(
            select(CouncilMeeting)
            .where(col(CouncilMeeting.council_id).in_(list(by_council)))
            .order_by(col(CouncilMeeting.held_at).desc(), col(CouncilMeeting.id).desc())
        ).all()
        voted = set(
            s.execute(
                select(col(BallotCast.meeting_id))
                .where(col(BallotCast.member_id).in_([seat.member_id for seat in mine]))
                .distinct()
            ).scalars()
        )
        lines = [
            MeetingLine(
                m.id or 0,
                by_council[m.council_id],
                m.held_at,
                m.place,
                m.status == MeetingStatus.OPEN,
                m.id in voted,
            )
            for m in meetings
        ]
    return CouncilHome(mine, lines)


def seat_at(engine: Engine, principal: Principal, meeting_id: int) -> Seat:
    """The caller's seat on the council holding meeting `meeting_id`; NotOnCouncil otherwise."""
    with Session(engine) as s:
        return _seat_at(s, principal, meeting_id)


def _seat_at(s: Session, principal: Principal, meeting_id: int) -> Seat:
    council_id = s.execute(
        select(col(CouncilMeeting.council_id)).where(col(CouncilMeeting.id) == meeting_id)
    ).scalar()
    seat = next((x for x in _seats(s, principal) if x.council_id == council_id), None)
    if council_id is None or seat is None:
        raise NotOnCouncil(f"cuộc họp số {meeting_id}")
    return seat


def _require(seat: Seat, role: CouncilRole, doing: str) -> None:
    if seat.role != role:
        raise RoleRequired(
            f"Chỉ {ROLE_LABELS[role]} Hội đồng {doing}; bạn là {seat.role_label}.",
            hint="Không có gì thay đổi.",
        )


# ---------------------------------------------------------------- the papers of a meeting


@dataclass(frozen=True)
class FileLine:
    id: int
    part: str
    name: str
    generated: bool


@dataclass(frozen=True)
class NomineeCard:
    """One nominee as a member reads it before voting: the screening, the ledger check, the papers."""

    nomination_id: int
    award_name: str
    kind_word: str
    subject_name: str
    subject_title: str | None
    unit_code: str
    nominated_by: str
    eligible: bool
    reasons: list[Reason]
    ledger_verdict: str | None  # "Khớp" / "Cần xác minh"; None: no ledger to compare with
    ledger_lines: list[str]
    files: list[FileLine]
    summary_files: list[FileLine]  # the proposing unit's Tổng hợp kết quả
    votable: bool = False
    not_votable: str | None = None  # why the caller does not vote on this nominee


@dataclass(frozen=True)
class MemberLine:
    person_code: str
    full_name: str
    role_label: str
    present: bool
    voted: bool  # has a ballot in the system (never how)


@dataclass(frozen=True)
class MeetingView:
    seat: Seat
    meeting_id: int
    held_at: datetime
    place: str | None
    open: bool
    quorum_met: bool
    quorum_text: str
    approval_text: str
    present: bool  # the caller attends
    voted: bool
    ballot: list[NomineeCard]  # the eligible nominees, in ballot order
    ineligible: list[NomineeCard]
    members: list[MemberLine]
    ballots: int
    paper_counted: bool
    summary: ReviewSummary | None  # the results, once the meeting is closed
    written_allowed: bool
    has_minutes: bool = False
    ties: list[int] = field(default_factory=list)

    @property
    def can_vote(self) -> bool:
        return (
            self.open
            and self.quorum_met
            and self.present
            and not self.voted
            and not self.paper_counted
            and any(c.votable for c in self.ballot)
        )

    @property
    def absent_members(self) -> list[MemberLine]:
        return [m for m in self.members if not m.present]

    @property
    def is_secretary(self) -> bool:
        return self.seat.role == CouncilRole.SECRETARY

    @property
    def is_chair(self) -> bool:
        return self.seat.role == CouncilRole.CHAIR


def _files(parts: Sequence[PartLine], *, summary: bool) -> list[FileLine]:
    return [
        FileLine(p.file.id, p.name, p.file.original_name, p.file.generated)
        for p in parts
        if p.file is not None and p.key.startswith("tong_hop") == summary
    ]


def meeting_view(
    engine: Engine,
    settings: Settings,
    principal: Principal,
    meeting_id: int,
    *,
    today: date,
    calendar: WorkCalendar | None = None,
) -> MeetingView:
    """Everything a member sees of a meeting of their council (NotOnCouncil for any other)."""
    with Session(engine) as s:
        seat = _seat_at(s, principal, meeting_id)
        meeting = s.get(CouncilMeeting, meeting_id)
        assert meeting is not None
        defn = definition_from_json(
            s.execute(
                select(col(Campaign.definition_json)).where(col(Campaign.id) == seat.campaign_id)
            ).scalar_one()
        )
        awards = {a.key: a.name for a in defn.awards}
        keys = [a.key for a in reviewed_awards(defn, seat.council_unit)]
        nominations = s.scalars(
            select(Nomination).where(
                col(Nomination.campaign_id) == seat.campaign_id,
                col(Nomination.award_key).in_(keys),
                col(Nomination.status).not_in([NominationStatus.WITHDRAWN, NominationStatus.INCOMPLETE]),
            )
        ).all()
        screenings = {
            r.nomination_id: r
            for r in s.scalars(
                select(EligibilityResult).where(col(EligibilityResult.campaign_id) == seat.campaign_id)
            )
        }
        voted_members = set(
            s.execute(
                select(col(BallotCast.member_id)).where(col(BallotCast.meeting_id) == meeting_id).distinct()
            ).scalars()
        )
        members = s.scalars(
            select(CouncilMember).where(col(CouncilMember.council_id) == seat.council_id)
        ).all()
        ballots = s.execute(
            select(func.count()).select_from(BallotCast).where(col(BallotCast.meeting_id) == meeting_id)
        ).scalar_one()
        tallied = s.execute(
            select(func.count()).select_from(BallotTally).where(col(BallotTally.meeting_id) == meeting_id)
        ).scalar_one()
    summary = meeting_summary(engine, seat.campaign_code, meeting_id)
    paper = ballot_paper(engine, meeting_id, seat.person_code)
    recused = dict(paper.recused)
    checks = final_ledger_checks(engine, seat.campaign_code)
    cards: list[NomineeCard] = []
    for n in nominations:
        assert n.id is not None
        screening = screenings.get(n.id)
        reasons = [Reason.from_json(d) for d in json.loads(screening.reasons_json)] if screening else []
        kind = SubjectKind(n.subject_kind).value
        check = checks.get(("unit" if kind == SubjectKind.COLLECTIVE.value else "person", n.subject_code))
        dossier = nominee_dossier(
            engine, n.nominated_by, seat.campaign_code, n.id, today=today, calendar=calendar
        )
        cards.append(
            NomineeCard(
                nomination_id=n.id,
                award_name=awards.get(n.award_key, n.award_key),
                kind_word=KIND_WORDS.get(kind, kind),
                subject_name=n.subject_name,
                subject_title=n.subject_title,
                unit_code=n.unit_code,
                nominated_by=n.nominated_by,
                eligible=bool(screening and screening.eligible),
                reasons=reasons,
                ledger_verdict=_verdict(check, reasons),
                ledger_lines=_ledger_lines(check, reasons),
                files=_files(dossier.parts, summary=False),
                summary_files=_files(dossier.parts, summary=True),
                votable=n.id in paper.votable,
                not_votable=recused.get(n.id),
            )
        )
    order = {nid: i for i, nid in enumerate([*paper.votable, *recused])}
    ballot = sorted((c for c in cards if c.eligible), key=lambda c: order.get(c.nomination_id, 10**9))
    ineligible = [c for c in cards if not c.eligible]
    me = next(a for a in summary.attendance if a.person_code == seat.person_code)
    member_lines = [
        MemberLine(
            a.person_code,
            a.full_name,
            ROLE_LABELS[a.role],
            a.present,
            any(m.id in voted_members for m in members if m.person_code == a.person_code),
        )
        for a in summary.attendance
    ]
    closed = summary.status == MeetingStatus.CLOSED
    storage = storage_for(settings)
    return MeetingView(
        seat=seat,
        meeting_id=meeting_id,
        held_at=summary.held_at,
        place=summary.place,
        open=not closed,
        quorum_met=summary.quorum_met,
        quorum_text=summary.quorum_text,
        approval_text=summary.approval_text,
        present=me.present,
        voted=paper.voted,
        ballot=ballot,
        ineligible=ineligible,
        members=member_lines,
        ballots=int(ballots),
        paper_counted=bool(tallied) and not ballots,
        summary=summary if closed else None,
        written_allowed=defn.council.written_votes_allowed,
        has_minutes=closed and storage.exists(minutes_key(seat.campaign_code, seat.council_unit, meeting_id)),
        ties=[line.nomination_id for line in summary.ties] if closed else [],
    )


def _verdict(check: LedgerCheck | None, reasons: Sequence[Reason]) -> str | None:
    """Khớp / Cần xác minh from the ledger today, else from what the screening recorded against it."""
    if check is not None:
        return check.verdict()
    return VERIFY if any(r.verify for r in reasons) else None


def _ledger_lines(check: LedgerCheck | None, reasons: Sequence[Reason]) -> list[str]:
    """Each figure that differs from the ledger, with both figures; when the ledger cannot be compared
    again (no final figures yet, or no ledger imported now), the differences the screening recorded."""
    if check is not None:
        return [f.text() for f in check.differences]
    return [r.text for r in reasons if r.verify]


# ---------------------------------------------------------------- acting


def parse_choices(form: Mapping[str, str], prefix: str = "n") -> dict[int, str]:
    """The choices of the ballot form: fields `n<nomination id>` = approve | reject | abstain."""
    out: dict[int, str] = {}
    for key, value in form.items():
        number = key[len(prefix) :]
        if key.startswith(prefix) and number.isdigit() and value:  # blank: not on this member's ballot
            if len(number) > 9:  # not a row id (they fit in 32 bits): no such nominee on any ballot
                raise InvalidInput(f"Đề nghị số {number[:12]}… không có trên phiếu.")
            out[int(number)] = value
    return out


def submit_ballot(
    engine: Engine, principal: Principal, meeting_id: int, choices: Mapping[int, str], *, now: datetime
) -> int:
    """The caller's whole ballot at the meeting, all or nothing (tasks/review/council cast_ballot)."""
    seat = seat_at(engine, principal, meeting_id)
    return cast_ballot(engine, meeting_id, seat.person_code, choices, now=now)


def enter_written_ballot(
    engine: Engine,
    principal: Principal,
    meeting_id: int,
    member_code: str,
    choices: Mapping[int, str],
    *,
    now: datetime,
) -> int:
    """The secretary enters the written ballot an absent member sent before the close."""
    seat = seat_at(engine, principal, meeting_id)
    _require(seat, CouncilRole.SECRETARY, "nhập phiếu bằng văn bản của thành viên vắng mặt")
    return cast_ballot(
        engine, meeting_id, nfc(member_code), choices, now=now, written=True, entered_by=principal.actor
    )


def enter_paper_tallies(
    engine: Engine,
    principal: Principal,
    meeting_id: int,
    ballots: int,
    counts: Mapping[int, PaperCount],
    *,
    now: datetime,
) -> int:
    seat = seat_at(engine, principal, meeting_id)
    _require(seat, CouncilRole.SECRETARY, "nhập kết quả kiểm phiếu")
    return enter_paper_count(engine, meeting_id, ballots, counts, actor=principal.actor, now=now)


def paper_counts_from_form(form: Mapping[str, str]) -> tuple[int, dict[int, PaperCount]]:
    """The secretary's form: `so_phieu`, and per nominee `a<id>`, `r<id>`, `b<id>` (blank = 0)."""
    problems: list[Problem] = []

    def number(key: str, label: str) -> int:
        text = (form.get(key) or "").strip()
        if not text:
            return 0
        if not text.isdigit() or len(text) > 6:
            problems.append(Problem("không phải số nguyên không âm", column=label))
            return 0
        return int(text)

    ballots = number("so_phieu", "Số phiếu thu về")
    ids = sorted({int(k[1:]) for k in form if k[:1] in "arb" and k[1:].isdigit() and len(k) <= 10})
    counts = {
        nid: PaperCount(
            number(f"a{nid}", f"Đồng ý (số {nid})"),
            number(f"r{nid}", f"Không đồng ý (số {nid})"),
            number(f"b{nid}", f"Không ý kiến (số {nid})"),
        )
        for nid in ids
    }
    if problems:
        raise InvalidInput("Kết quả kiểm phiếu chưa được ghi; không có gì thay đổi.", problems)
    return ballots, counts


def open_council_meeting(
    engine: Engine,
    principal: Principal,
    council_id: int,
    present: Sequence[str],
    *,
    place: str | None,
    now: datetime,
) -> int:
    """The secretary opens a meeting of their council now, recording who attends."""
    seat = next((x for x in seats(engine, principal) if x.council_id == council_id), None)
    if seat is None:
        raise NotOnCouncil(f"Hội đồng số {council_id}")
    _require(seat, CouncilRole.SECRETARY, "mở cuộc họp và ghi danh sách dự họp")
    return open_meeting(
        engine,
        seat.campaign_code,
        seat.council_unit,
        held_at=now,
        present=list(present),
        place=place,
        actor=principal.actor,
        now=now,
    )


def close(
    engine: Engine, settings: Settings, principal: Principal, meeting_id: int, *, now: datetime
) -> None:
    """The secretary closes the meeting; the minutes are written at once."""
    seat = seat_at(engine, principal, meeting_id)
    _require(seat, CouncilRole.SECRETARY, "kết thúc cuộc họp")
    summary = close_meeting(engine, seat.campaign_code, meeting_id, now=now, actor=principal.actor)
    if summary.quorum_met:
        write_minutes(engine, settings, seat.campaign_code, meeting_id, now=now)


def decide_tie(
    engine: Engine,
    settings: Settings,
    principal: Principal,
    meeting_id: int,
    order: Sequence[int],
    reason: str,
    *,
    now: datetime,
) -> None:
    """The chair breaks a tie at the quota's edge, with the reason; the minutes are rewritten."""
    seat = seat_at(engine, principal, meeting_id)
    _require(seat, CouncilRole.CHAIR, "quyết định trường hợp bằng nhau")
    break_tie(
        engine, meeting_id, order, reason=reason, actor=seat.person_code, now=now, code=seat.campaign_code
    )
    write_minutes(engine, settings, seat.campaign_code, meeting_id, now=now)


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str


def minutes_file(engine: Engine, settings: Settings, principal: Principal, meeting_id: int) -> StoredFile:
    seat = seat_at(engine, principal, meeting_id)
    key = minutes_key(seat.campaign_code, seat.council_unit, meeting_id)
    if not storage_for(settings).exists(key):
        raise NotFound(f"Cuộc họp số {meeting_id} chưa có biên bản (biên bản lập khi kết thúc cuộc họp).")
    return StoredFile(key, key.rsplit("/", 1)[-1])


def council_dossier_file(engine: Engine, principal: Principal, meeting_id: int, file_id: int) -> StoredFile:
    """A dossier file of a nominee this meeting reviews (or its proposing unit's whole-dossier file)."""
    seat = seat_at(engine, principal, meeting_id)
    with Session(engine) as s:
        row = s.get(DossierFile, file_id)
        defn = definition_from_json(
            s.execute(
                select(col(Campaign.definition_json)).where(col(Campaign.id) == seat.campaign_id)
            ).scalar_one()
        )
        keys = [a.key for a in reviewed_awards(defn, seat.council_unit)]
        nominations = s.execute(
            select(col(Nomination.id), col(Nomination.nominated_by)).where(
                col(Nomination.campaign_id) == seat.campaign_id, col(Nomination.award_key).in_(keys)
            )
        ).all()
    ours = {n.id for n in nominations}
    units = {n.nominated_by for n in nominations}
    if (
        row is None
        or row.campaign_id != seat.campaign_id
        or not (row.nomination_id in ours or (row.nomination_id is None and row.unit_code in units))
    ):
        raise NotOnCouncil(f"tệp hồ sơ số {file_id} của cuộc họp số {meeting_id}")
    suffix = row.stored_path.rsplit(".", 1)[-1].lower() if "." in row.stored_path else "bin"
    who = f"-de-nghi-{row.nomination_id}" if row.nomination_id is not None else ""
    name = f"ho-so-{seat.campaign_code}-{row.unit_code}{who}-{row.part_key}-lan-{row.revision}.{suffix}"
    return StoredFile(row.stored_path, name)
