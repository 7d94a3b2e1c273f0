"""The emulation council: its members, its meetings, the secret ballot, the quota selection, the minutes.

A council belongs to a campaign and a unit (seed 003: the Cục's council, TQ; seed 000: the Cục Quản lý's,
CQL). It reviews the nominations for the award types whose `authority_unit_code` — or, for an award a higher
authority grants on its proposal, `proposed_by.unit_code` — is its unit.

Secrecy of the ballot. `cast_vote` writes, in one transaction, a BallotCast row (who voted on whom, never how)
and an increment of the per-nominee BallotTally counters; no row, id or timestamp ties a choice to a member,
and the audit event `ballot.cast` names the member and the nominee, never the choice. Results are shown only
once the meeting is closed, so no one can watch the tallies move vote by vote.

Recusal ("own unit", when the rules set `recuse_own_unit`): a member's unit is CouncilMember.unit_code. A
member does not vote on the collective that IS their unit, nor on an individual of that unit (a colleague
they work beside). The units above or below theirs are not "own": the Cục's leaders vote on the Chi cục.

Quorum: a meeting may open without it (the attendance is recorded as it was), but no vote is taken, and
closing it records `quorum_met` False with no results. The chair breaks a tie at a quota's edge with a
recorded reason; award issuance checks `unresolved_ties` first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col

from thidua.errors import Conflict, InvalidInput, NotFound, RuleRefused, ThiduaError
from thidua.models.campaign import Campaign, EnrolledUnit
from thidua.models.council import (
    Candidate,
    Selection,
    TieBreakError,
    approval_statement,
    approvals_needed,
    is_approved,
    quorum_met,
    quorum_statement,
    quota_phrase,
    select_within_quota,
)
from thidua.models.council import break_tie as apply_tie_break
from thidua.models.db import insert_ignore, transaction, upsert
from thidua.models.definition import KIND_LABELS, Award, CampaignDefinition, definition_from_json
from thidua.models.directory import Person, Unit
from thidua.models.review import (
    Attendance,
    BallotCast,
    BallotTally,
    CampaignDocument,
    Council,
    CouncilMeeting,
    CouncilMember,
    CouncilRole,
    DocumentKind,
    EligibilityResult,
    FinalResult,
    MeetingStatus,
    Nomination,
    NominationStatus,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.text import nfc
from thidua.notifications.documents.decree30 import DocumentHeader
from thidua.notifications.documents.minutes import (
    MinutesContent,
    MinutesGroup,
    MinutesMember,
    MinutesVote,
    Signer,
    render_minutes,
)
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.launch.campaign import record_event

VN = ZoneInfo("Asia/Ho_Chi_Minh")
Choice = Literal["approve", "reject", "abstain"]
CHOICES: tuple[str, ...] = ("approve", "reject", "abstain")

ROLE_LABELS: dict[CouncilRole, str] = {
    CouncilRole.CHAIR: "Chủ tịch",
    CouncilRole.DEPUTY: "Phó Chủ tịch",
    CouncilRole.SECRETARY: "Thư ký",
    CouncilRole.MEMBER: "Ủy viên",
}
OUTCOME_LABELS: dict[ReviewOutcome, str] = {
    ReviewOutcome.SELECTED: "Được chọn",
    ReviewOutcome.OVER_QUOTA: "Vượt chỉ tiêu",
    ReviewOutcome.NOT_APPROVED: "Không đủ phiếu",
    ReviewOutcome.TIE: "Bằng nhau, chờ Chủ tịch quyết định",
}
KIND_WORDS: dict[str, str] = {
    SubjectKind.COLLECTIVE.value: "tập thể",
    SubjectKind.INDIVIDUAL.value: "cá nhân",
}
_ROLE_ORDER = {CouncilRole.CHAIR: 0, CouncilRole.DEPUTY: 1, CouncilRole.MEMBER: 2, CouncilRole.SECRETARY: 3}
MINUTES_SYMBOL = "BB-HĐTĐKT"

BALLOT_TALLY = cast(Table, SQLModel.metadata.tables[BallotTally.__tablename__])
REVIEW_RESULT = cast(Table, SQLModel.metadata.tables[ReviewResult.__tablename__])
CAMPAIGN_DOCUMENT = cast(Table, SQLModel.metadata.tables[CampaignDocument.__tablename__])

__all__ = [
    "CHOICES",
    "ROLE_LABELS",
    "AttendanceLine",
    "BallotReceipt",
    "Choice",
    "CouncilError",
    "CouncilNotSetUp",
    "CouncilSetup",
    "CouncilSetupError",
    "MeetingError",
    "MemberInput",
    "QuorumNotMet",
    "ReviewLine",
    "ReviewSummary",
    "SetupProblem",
    "TieBreakRefused",
    "VoteAlreadyCast",
    "VoteRefused",
    "break_tie",
    "cast_vote",
    "close_meeting",
    "final_results",
    "import_council",
    "meeting_summary",
    "minutes_content",
    "minutes_path",
    "open_meeting",
    "parse_role",
    "plain_text",
    "reviewed_awards",
    "set_up_council",
    "unresolved_ties",
    "write_minutes",
]


# ---------------------------------------------------------------- errors


class CouncilError(ThiduaError):
    """Base of this module's errors."""


class CouncilNotSetUp(CouncilError, NotFound):
    """No council of that unit for the campaign, or no such unit."""


@dataclass(frozen=True)
class SetupProblem:
    row: int | None  # the file's row (1-based), or the member's position in the list given
    column: str | None
    message: str

    def where(self, in_file: bool) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"dòng {self.row}" if in_file else f"thành viên thứ {self.row}")
        if self.column:
            parts.append(f"cột “{self.column}”")
        return ", ".join(parts)


class CouncilSetupError(CouncilError, InvalidInput):
    """A membership that was not stored (nothing was written); `problems` lists every one."""

    def __init__(self, source_name: str | None, problems: Sequence[SetupProblem]) -> None:
        self.source_name = source_name
        self.problems = list(problems)
        super().__init__(str(self), self.problems)

    def __str__(self) -> str:
        prefix = f"{self.source_name}: " if self.source_name else ""
        head = f"{prefix}không lập được Hội đồng ({len(self.problems)} lỗi)"
        lines = []
        for p in self.problems:
            where = p.where(self.source_name is not None)
            lines.append(f"  {prefix}{where}: {p.message}" if where else f"  {prefix}{p.message}")
        return "\n".join([head, *lines])


class MeetingError(CouncilError, Conflict):
    """A meeting that cannot be opened, found or closed as asked."""


class VoteRefused(CouncilError, RuleRefused):
    """A ballot that was not recorded; nothing was written."""


class QuorumNotMet(VoteRefused):
    pass


class VoteAlreadyCast(VoteRefused):
    pass


class TieBreakRefused(CouncilError, RuleRefused):
    pass


# ---------------------------------------------------------------- shared look-ups


@dataclass(frozen=True)
class _Campaign:
    id: int
    code: str
    title: str
    definition: CampaignDefinition


def _campaign(s: Session, code: str) -> _Campaign:
    found = get_campaign(s, code)
    assert found.id is not None
    return _Campaign(found.id, found.code, found.title, definition_from_json(found.definition_json))


def reviewed_awards(defn: CampaignDefinition, unit_code: str) -> list[Award]:
    """The award types a council of `unit_code` reviews: those it grants, and those it proposes upward."""
    return [
        a
        for a in defn.awards
        if a.authority_unit_code == unit_code
        or (a.proposed_by is not None and a.proposed_by.unit_code == unit_code)
    ]


def _council_name(defn: CampaignDefinition, unit_code: str) -> str:
    for award in defn.awards:
        if award.proposed_by is not None and award.proposed_by.unit_code == unit_code:
            return award.proposed_by.council
    return defn.council.name


def _council(s: Session, campaign_id: int, unit_code: str) -> Council:
    council = s.scalars(
        select(Council).where(col(Council.campaign_id) == campaign_id, col(Council.unit_code) == unit_code)
    ).first()
    if council is None:
        raise CouncilNotSetUp(
            f"Hội đồng thi đua – khen thưởng của đơn vị “{unit_code}” chưa được lập cho phong trào này.",
            hint="Lập Hội đồng: `thidua council setup CODE --unit ĐƠN_VỊ TỆP`.",
        )
    return council


def _members(s: Session, council_id: int) -> list[CouncilMember]:
    rows = s.scalars(select(CouncilMember).where(col(CouncilMember.council_id) == council_id)).all()
    return sorted(rows, key=lambda m: (_ROLE_ORDER[CouncilRole(m.role)], m.id or 0))


def _role_label(role: CouncilRole | str) -> str:
    return ROLE_LABELS[CouncilRole(role)]


# ---------------------------------------------------------------- setting up the council


@dataclass(frozen=True)
class MemberInput:
    person_code: str
    role: CouncilRole = CouncilRole.MEMBER


@dataclass(frozen=True)
class CouncilSetup:
    council_id: int
    name: str
    unit_code: str
    members: int
    created: bool  # the council row was new
    changed: bool  # anything was written


def plain_text(text: object) -> str:
    """Lower case without diacritics or extra spaces: how headers and role names are matched."""
    value = unicodedata.normalize("NFD", nfc(str(text or "")) or "").replace("đ", "d").replace("Đ", "D")
    value = "".join(ch for ch in value if not unicodedata.combining(ch)).casefold()
    return " ".join(value.replace("_", " ").replace("*", " ").split())


_ROLE_NAMES: dict[str, CouncilRole] = {
    "chu tich": CouncilRole.CHAIR,
    "chu tich hoi dong": CouncilRole.CHAIR,
    "chair": CouncilRole.CHAIR,
    "pho chu tich": CouncilRole.DEPUTY,
    "pho chu tich hoi dong": CouncilRole.DEPUTY,
    "deputy": CouncilRole.DEPUTY,
    "thu ky": CouncilRole.SECRETARY,
    "uy vien thu ky": CouncilRole.SECRETARY,
    "secretary": CouncilRole.SECRETARY,
    "uy vien": CouncilRole.MEMBER,
    "thanh vien": CouncilRole.MEMBER,
    "member": CouncilRole.MEMBER,
}


def parse_role(text: str) -> CouncilRole:
    """'Chủ tịch', 'Phó Chủ tịch', 'Thư ký', 'Ủy viên' (also 'Uỷ viên', any case, with or without marks)."""
    role = _ROLE_NAMES.get(plain_text(text))
    if role is None:
        raise ValueError(
            f"vai trò “{nfc(text)}” không hợp lệ; chọn một trong: Chủ tịch, Phó Chủ tịch, Thư ký, Ủy viên"
        )
    return role


def set_up_council(
    engine: Engine,
    code: str,
    unit_code: str,
    members: Sequence[MemberInput],
    *,
    now: datetime,
    actor: str,
) -> CouncilSetup:
    """Create or update the council of `unit_code` for campaign `code`; a re-run with the same list changes
    nothing. Members are people of the directory (name, title and unit copied); exactly one chair. Once the
    council has met, its membership is fixed (the quorum of past meetings was counted on it)."""
    entries = [(i, m.person_code, m.role) for i, m in enumerate(members, start=1)]
    with transaction(engine) as s:
        return _set_up(s, code, unit_code, entries, [], source=None, now=now, actor=actor)


_CODE_COLUMN = "Mã cán bộ"
_ROLE_COLUMN = "Vai trò"
_HEADERS = {"code": ("ma can bo", "ma", "person code", "person_code"), "role": ("vai tro", "role")}
_HEADER_SEARCH_ROWS = 20


def _file_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        head = "\n".join(text.splitlines()[:_HEADER_SEARCH_ROWS])
        # Excel in a Vietnamese locale writes ';'; a title line above the header has no separator at all.
        delimiter = max((",", ";", "\t"), key=head.count)
        for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            yield n, list(row)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # only the XLSX path pays for importing openpyxl

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            for n, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
                yield n, list(values)
        finally:
            workbook.close()
    else:
        message = f"định dạng “{suffix or '(không đuôi)'}” không được nhận; dùng .csv (UTF-8) hoặc .xlsx"
        raise CouncilSetupError(path.name, [SetupProblem(None, None, message)])


def _read_members(path: Path) -> tuple[list[tuple[int, str, CouncilRole | None]], list[SetupProblem]]:
    columns: dict[str, int] | None = None
    entries: list[tuple[int, str, CouncilRole | None]] = []
    problems: list[SetupProblem] = []
    try:
        for n, cells in _file_rows(path):
            if columns is None:
                found = {
                    key: i
                    for i, cell in enumerate(cells)
                    for key, names in _HEADERS.items()
                    if plain_text(cell) in names
                }
                if len(found) == len(_HEADERS):
                    columns = found
                elif n >= _HEADER_SEARCH_ROWS:
                    break
                continue
            values = [nfc(str(c)) if c is not None else "" for c in cells]
            if not any(values):
                continue
            person = values[columns["code"]] if columns["code"] < len(values) else ""
            role_text = values[columns["role"]] if columns["role"] < len(values) else ""
            role: CouncilRole | None = None
            if not person:
                problems.append(SetupProblem(n, _CODE_COLUMN, "thiếu mã cán bộ"))
            if not role_text:
                problems.append(
                    SetupProblem(n, _ROLE_COLUMN, "thiếu vai trò (Chủ tịch, Phó Chủ tịch, Thư ký, Ủy viên)")
                )
            else:
                try:
                    role = parse_role(role_text)
                except ValueError as exc:
                    problems.append(SetupProblem(n, _ROLE_COLUMN, str(exc)))
            if person:
                entries.append((n, person, role))
    except CouncilSetupError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise CouncilSetupError(path.name, [SetupProblem(None, None, f"không đọc được tệp: {exc}")]) from exc
    except Exception as exc:
        # openpyxl raises many types on a damaged workbook; the file is refused with the reason.
        message = f"không đọc được tệp ({type(exc).__name__}): {exc}"
        raise CouncilSetupError(path.name, [SetupProblem(None, None, message)]) from exc
    if columns is None:
        message = f"không tìm thấy dòng tiêu đề có các cột “{_CODE_COLUMN}”, “{_ROLE_COLUMN}”"
        raise CouncilSetupError(path.name, [SetupProblem(None, None, message)])
    return entries, problems


def import_council(
    engine: Engine, code: str, unit_code: str, path: Path | str, *, now: datetime, actor: str
) -> CouncilSetup:
    """The council from a CSV/XLSX list (columns `Mã cán bộ`, `Vai trò`); all or nothing, every error with its
    row and column."""
    path = Path(path)
    entries, problems = _read_members(path)
    with transaction(engine) as s:
        return _set_up(s, code, unit_code, entries, problems, source=path.name, now=now, actor=actor)


def _set_up(
    s: Session,
    code: str,
    unit_code: str,
    entries: Sequence[tuple[int, str, CouncilRole | None]],
    problems: list[SetupProblem],
    *,
    source: str | None,
    now: datetime,
    actor: str,
) -> CouncilSetup:
    camp = _campaign(s, code)
    unit = nfc(unit_code)
    code_col = _CODE_COLUMN if source else None
    role_col = _ROLE_COLUMN if source else None
    if s.execute(select(col(Unit.id)).where(col(Unit.code) == unit)).first() is None:
        problems.append(SetupProblem(None, None, f"không có đơn vị mã “{unit}” trong danh bạ"))
    elif not reviewed_awards(camp.definition, unit):
        units = sorted(
            {a.authority_unit_code for a in camp.definition.awards}
            | {a.proposed_by.unit_code for a in camp.definition.awards if a.proposed_by is not None}
        )
        problems.append(
            SetupProblem(
                None,
                None,
                f"đơn vị “{unit}” không xét loại khen thưởng nào của phong trào {camp.code} "
                f"(các đơn vị xét: {', '.join(units)})",
            )
        )
    if not entries and not problems:
        problems.append(SetupProblem(None, None, "danh sách thành viên trống"))

    codes = [nfc(person) for _, person, _ in entries]
    people = {
        r.code: r
        for r in s.execute(
            select(
                col(Person.code),
                col(Person.full_name),
                col(Person.title),
                col(Person.active),
                col(Unit.code).label("unit"),
            )
            .join(Unit, col(Unit.id) == col(Person.unit_id))
            .where(col(Person.code).in_(codes))
        ).all()
    }
    seen: dict[str, int] = {}
    chairs: list[int] = []
    wanted: dict[str, dict[str, Any]] = {}
    for (row, _, role), person in zip(entries, codes, strict=True):
        if person in seen:
            problems.append(
                SetupProblem(row, code_col, f"cán bộ “{person}” đã có ở {_at(seen[person], source)}")
            )
            continue
        seen[person] = row
        info = people.get(person)
        if info is None:
            problems.append(SetupProblem(row, code_col, f"không có cán bộ mã “{person}” trong danh bạ"))
            continue
        if not info.active:
            problems.append(
                SetupProblem(row, code_col, f"cán bộ “{person}” ({info.full_name}) không còn công tác")
            )
            continue
        if role == CouncilRole.CHAIR:
            chairs.append(row)
        if role is not None:
            wanted[person] = {
                "person_code": person,
                "full_name": info.full_name,
                "title": info.title,
                "unit_code": info.unit,
                "role": role,
            }
    if entries and not chairs and not any(p.column == role_col and role_col for p in problems):
        problems.append(SetupProblem(None, role_col, "cần đúng một Chủ tịch Hội đồng, danh sách chưa có"))
    for row in chairs[1:]:
        problems.append(
            SetupProblem(row, role_col, f"Hội đồng chỉ có một Chủ tịch (đã có ở {_at(chairs[0], source)})")
        )
    if problems:
        raise CouncilSetupError(source, problems)

    name = _council_name(camp.definition, unit)
    council = s.scalars(
        select(Council).where(col(Council.campaign_id) == camp.id, col(Council.unit_code) == unit)
    ).first()
    created = council is None
    if council is None:
        council = Council(campaign_id=camp.id, unit_code=unit, name=name)
        s.add(council)
        s.flush()
    assert council.id is not None
    existing = {m.person_code: m for m in _members(s, council.id)}
    before = sorted((m.person_code, CouncilRole(m.role).value) for m in existing.values())
    after = sorted((p, CouncilRole(w["role"]).value) for p, w in wanted.items())

    def same(member: CouncilMember, w: Mapping[str, Any]) -> bool:
        return (member.full_name, member.title, member.unit_code, CouncilRole(member.role)) == (
            w["full_name"],
            w["title"],
            w["unit_code"],
            w["role"],
        )

    to_add = [w for p, w in wanted.items() if p not in existing]
    to_change = [w for p, w in wanted.items() if p in existing and not same(existing[p], w)]
    to_remove = [m for p, m in existing.items() if p not in wanted]
    changed = created or bool(to_add or to_change or to_remove) or council.name != name
    if (to_add or to_remove or before != after) and not created:
        met = s.execute(
            select(func.count())
            .select_from(CouncilMeeting)
            .where(col(CouncilMeeting.council_id) == council.id)
        ).scalar_one()
        if met:
            raise CouncilSetupError(
                source,
                [
                    SetupProblem(
                        None,
                        None,
                        f"Hội đồng đã họp ({met} cuộc họp): không thay đổi thành phần được nữa, "
                        "vì số lượng dự họp của các cuộc họp đã tính trên thành phần cũ",
                    )
                ],
            )
    if not changed:
        return CouncilSetup(council.id, council.name, unit, len(existing), created=False, changed=False)
    council.name = name
    s.add(council)
    if to_remove:
        s.execute(delete(CouncilMember).where(col(CouncilMember.id).in_([m.id for m in to_remove])))
    if to_add:
        s.execute(insert(CouncilMember), [{"council_id": council.id, **w} for w in to_add])
    for w in to_change:
        member = existing[w["person_code"]]
        member.full_name, member.title, member.unit_code, member.role = (
            w["full_name"],
            w["title"],
            w["unit_code"],
            w["role"],
        )
        s.add(member)
    record_event(
        s,
        campaign_id=camp.id,
        kind="council.set_up",
        now=now,
        actor=actor,
        subject=f"council:{unit}",
        payload={
            "before": [list(x) for x in before] if not created else None,
            "after": [list(x) for x in after],
        },
    )
    s.flush()
    return CouncilSetup(council.id, name, unit, len(wanted), created=created, changed=True)


def _at(row: int, source: str | None) -> str:
    return f"dòng {row}" if source else f"thành viên thứ {row}"


# ---------------------------------------------------------------- meetings


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
        by_code = {m.person_code: m for m in members}
        wanted = [nfc(p) for p in present if nfc(p)]
        unknown = [p for p in wanted if p not in by_code]
        if unknown:
            raise MeetingError(
                f"Không phải thành viên {council.name}: {', '.join(unknown)} "
                f"(thành viên: {', '.join(by_code)})."
            )
        dup = sorted({p for p in wanted if wanted.count(p) > 1})
        if dup:
            raise MeetingError(f"Thành viên bị ghi trùng trong danh sách có mặt: {', '.join(dup)}.")
        here = set(wanted)
        open_or_same = s.scalars(
            select(CouncilMeeting)
            .where(col(CouncilMeeting.council_id) == council.id)
            .order_by(col(CouncilMeeting.id))
        ).all()
        for other in open_or_same:
            assert other.id is not None
            if other.held_at == held_at:
                attended = _attendance(s, other.id)
                was_here = {m.person_code for m in members if attended.get(m.id or 0)}
                if was_here == here:
                    return other.id
                raise MeetingError(
                    f"Cuộc họp số {other.id} lúc {_when(held_at)} đã được mở với danh sách có mặt khác "
                    f"({', '.join(sorted(was_here)) or 'không ai'}); danh sách dự họp không sửa được."
                )
            if other.status == MeetingStatus.OPEN:
                raise MeetingError(
                    f"{council.name} đang có cuộc họp số {other.id} ({_when(other.held_at)}) chưa kết thúc: "
                    "hãy kết thúc cuộc họp đó trước (thidua council close ...)."
                )
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


def _when(moment: datetime, tz: ZoneInfo = VN) -> str:
    return moment.astimezone(tz).strftime("%H:%M ngày %d/%m/%Y")


# ---------------------------------------------------------------- the secret ballot


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
    person = nfc(member_person_code)
    with transaction(engine) as s:
        # Shared lock: ballots go in side by side, but not while the meeting is being closed.
        meeting = _meeting(s, meeting_id, lock="share")
        if meeting.status != MeetingStatus.OPEN:
            raise VoteRefused(f"Cuộc họp số {meeting_id} đã kết thúc: không nhận thêm phiếu.")
        camp = _check_campaign(s, meeting, None)
        rules = camp.definition.council
        council = s.get(Council, meeting.council_id)
        assert council is not None and council.id is not None
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
                f"{member.full_name} vắng mặt: chỉ nhận phiếu bằng văn bản (--written) "
                "gửi trước khi kết thúc họp."
            )
        elif not rules.written_votes_allowed:
            raise VoteRefused(
                f"{member.full_name} vắng mặt, và quy chế của Hội đồng không nhận phiếu bằng văn bản."
            )

        nom = s.get(Nomination, nomination_id)
        if nom is None or nom.campaign_id != camp.id:
            raise VoteRefused(
                f"Không có đề nghị khen thưởng số {nomination_id} trong phong trào {camp.code}."
            )
        awards = {a.key: a for a in reviewed_awards(camp.definition, council.unit_code)}
        if nom.award_key not in awards:
            raise VoteRefused(
                f"Đề nghị số {nomination_id} ({nom.subject_name}) là cho loại khen thưởng “{nom.award_key}”, "
                f"không thuộc thẩm quyền xét của {council.name}."
            )
        if NominationStatus(nom.status) in (NominationStatus.WITHDRAWN, NominationStatus.INCOMPLETE):
            state = "đã rút" if nom.status == NominationStatus.WITHDRAWN else "hồ sơ không đầy đủ"
            raise VoteRefused(
                f"Đề nghị số {nomination_id} ({nom.subject_name}) {state}: không đưa ra bỏ phiếu."
            )
        eligible = s.execute(
            select(col(EligibilityResult.eligible)).where(
                col(EligibilityResult.nomination_id) == nomination_id
            )
        ).scalar_one_or_none()
        if eligible is None:
            raise VoteRefused(
                f"Đề nghị số {nomination_id} ({nom.subject_name}) chưa được xét điều kiện khen thưởng."
            )
        if not eligible:
            raise VoteRefused(
                f"Đề nghị số {nomination_id} ({nom.subject_name}) không đủ điều kiện khen thưởng: "
                "không đưa ra bỏ phiếu."
            )
        kind = SubjectKind(nom.subject_kind)
        if kind == SubjectKind.INDIVIDUAL and nom.subject_code == member.person_code:
            raise VoteRefused(
                f"{member.full_name} không bỏ phiếu cho chính mình (đề nghị số {nomination_id})."
            )
        if rules.recuse_own_unit and member.unit_code:
            own = nom.subject_code if kind == SubjectKind.COLLECTIVE else nom.unit_code
            if own == member.unit_code:
                whom = (
                    "tập thể đơn vị mình" if kind == SubjectKind.COLLECTIVE else "cá nhân thuộc đơn vị mình"
                )
                raise VoteRefused(
                    f"{member.full_name} không bỏ phiếu cho {whom} ({member.unit_code}, đề nghị số "
                    f"{nomination_id}): quy chế Hội đồng yêu cầu thành viên không xét đơn vị mình."
                )

        cast_before = s.execute(
            select(col(BallotCast.id)).where(
                col(BallotCast.meeting_id) == meeting_id,
                col(BallotCast.member_id) == member.id,
                col(BallotCast.nomination_id) == nomination_id,
            )
        ).first()
        refused = (
            f"{member.full_name} đã bỏ phiếu cho đề nghị số {nomination_id} ({nom.subject_name}) "
            f"tại cuộc họp số {meeting_id}: phiếu đã bỏ không thể thay đổi hay bỏ lại."
        )
        if cast_before is not None:
            raise VoteAlreadyCast(refused)
        try:
            s.execute(
                insert(BallotCast).values(
                    meeting_id=meeting_id, member_id=member.id, nomination_id=nomination_id, written=written
                )
            )
        except IntegrityError as exc:
            # Another session cast the same ballot between our check and our insert.
            raise VoteAlreadyCast(refused) from exc
        insert_ignore(
            s,
            BALLOT_TALLY,
            {
                "meeting_id": meeting_id,
                "nomination_id": nomination_id,
                "approve": 0,
                "reject": 0,
                "abstain": 0,
            },
            ["meeting_id", "nomination_id"],
        )
        counter = BALLOT_TALLY.c[choice]
        s.execute(
            update(BALLOT_TALLY)
            .where(BALLOT_TALLY.c.meeting_id == meeting_id, BALLOT_TALLY.c.nomination_id == nomination_id)
            .values({counter: counter + 1})
        )
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


# ---------------------------------------------------------------- results


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

    def text_lines(self, tz: ZoneInfo = VN) -> list[str]:
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


# ---------------------------------------------------------------- the chair's decision on a tie


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
        chair = next((m for m in _members(s, council.id) if m.role == CouncilRole.CHAIR), None)
        if chair is None or nfc(actor) != chair.person_code:
            who = f"{chair.full_name} ({chair.person_code})" if chair else "Chủ tịch Hội đồng"
            raise TieBreakRefused(
                f"Chỉ Chủ tịch Hội đồng — {who} — quyết định trường hợp bằng nhau; "
                f"“{nfc(actor)}” không có quyền này."
            )
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
        by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i in ids:
            by_group[(lines[i].award_key, lines[i].subject_kind)].append(i)
        awards = {a.key: a for a in camp.definition.awards}
        changes: list[Selection] = []
        for (award_key, kind), chosen in by_group.items():
            group = [x for x in lines.values() if (x.award_key, x.subject_kind) == (award_key, kind)]
            quota = _quota(awards[award_key], kind)
            if quota is None:
                raise TieBreakRefused(
                    "Loại khen thưởng không giới hạn chỉ tiêu: không có trường hợp bằng nhau."
                )
            selections = [Selection(x.nomination_id, x.outcome, x.position, x.explanation) for x in group]
            names = {x.nomination_id: x.subject_name for x in group}
            try:
                changes += apply_tie_break(selections, chosen, quota, reason=text, names=names)
            except TieBreakError as exc:
                raise TieBreakRefused(f"{awards[award_key].name} – {KIND_WORDS[kind]}: {exc}.") from exc
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


# ---------------------------------------------------------------- the minutes


def minutes_path(settings: Settings, code: str, council_unit: str, meeting_id: int) -> Path:
    return settings.documents_dir / code / f"bien-ban-hop-hoi-dong-{council_unit.lower()}-{meeting_id}.docx"


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
    )


def write_minutes(engine: Engine, settings: Settings, code: str, meeting_id: int, *, now: datetime) -> Path:
    """'BIÊN BẢN họp Hội đồng Thi đua – Khen thưởng' as DOCX; recorded as the campaign's document of kind
    minutes, ref = meeting id (a re-run rewrites the file and updates the record, never duplicates it)."""
    with transaction(engine) as s:
        meeting = _meeting(s, meeting_id)
        camp = _check_campaign(s, meeting, code)
        summary = _summary(s, camp, meeting)
        if summary.status != MeetingStatus.CLOSED:
            raise MeetingError(
                f"Cuộc họp số {meeting_id} chưa kết thúc: biên bản lập sau khi kết thúc cuộc họp."
            )
        content = minutes_content(s, summary, settings.tz)
        path = minutes_path(settings, camp.code, summary.council_unit, meeting_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        render_minutes(content, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        relative = path.resolve().relative_to(settings.data_dir.resolve()).as_posix()
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
        return path
