"""Councils that vote on paper: the secretary enters the counted tallies per nominee, by form or XLSX.

The counts replace the nominee's BallotTally counters (re-entering before the close corrects a mistake);
no BallotCast row is written, since paper does not say who voted. The number of ballots counted is checked
against the attendance (the members present, and the absent ones when the rules take written ballots), and
every nominee's tally against that number. A meeting takes either paper counts or ballots cast in the
system, never both. The audit event names the secretary and the number of ballots, never the tallies
before the close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import col

from thidua.errors import InvalidInput, Problem
from thidua.models.campaign import CampaignStatus
from thidua.models.council import quorum_met, quorum_statement
from thidua.models.db import transaction, upsert
from thidua.models.review import BallotCast, Council, MeetingStatus, SubjectKind
from thidua.notifications.documents.sheets import xlsx_bytes
from thidua.tasks.core.events import record_event
from thidua.tasks.review.council.ballot import ballot_nominees
from thidua.tasks.review.council.errors import QuorumNotMet, VoteRefused
from thidua.tasks.review.council.lookups import _members
from thidua.tasks.review.council.meetings import _attendance, _check_campaign, _meeting
from thidua.tasks.review.council.shared import BALLOT_TALLY

SHEET = "Kiểm phiếu"
COLUMNS = ("Số đề nghị", "Tên", "Đồng ý", "Không đồng ý", "Không ý kiến")
_COUNT_COLUMNS = {"approve": 2, "reject": 3, "abstain": 4}


@dataclass(frozen=True)
class PaperCount:
    """One nominee's counted paper ballots."""

    approve: int
    reject: int
    abstain: int

    @property
    def total(self) -> int:
        return self.approve + self.reject + self.abstain


def enter_paper_count(
    engine: Engine,
    meeting_id: int,
    ballots: int,
    counts: Mapping[int, PaperCount],
    *,
    actor: str,
    now: datetime,
) -> int:
    """Store the counted paper ballots of an open meeting (all nominees on the ballot, all or nothing);
    returns the number of nominees. InvalidInput lists every problem; nothing is written then."""
    with transaction(engine) as s:
        meeting = _meeting(s, meeting_id, lock="update")
        if meeting.status != MeetingStatus.OPEN:
            raise VoteRefused(f"Cuộc họp số {meeting_id} đã kết thúc: không nhận thêm kết quả kiểm phiếu.")
        camp = _check_campaign(s, meeting, None)
        camp.require(CampaignStatus.IN_REVIEW)
        council = s.get(Council, meeting.council_id)
        assert council is not None and council.id is not None
        rules = camp.definition.council
        members = _members(s, council.id)
        attended = _attendance(s, meeting_id)
        present = sum(1 for m in members if attended.get(m.id or 0))
        if not quorum_met(len(members), present, rules):
            raise QuorumNotMet(f"Không kiểm phiếu được: {quorum_statement(len(members), present, rules)}")
        cast = s.execute(
            select(func.count()).select_from(BallotCast).where(col(BallotCast.meeting_id) == meeting_id)
        ).scalar_one()
        if cast:
            raise VoteRefused(
                f"Cuộc họp số {meeting_id} đã có {cast} phiếu bỏ trên hệ thống: không nhập thêm kết quả "
                "kiểm phiếu giấy."
            )
        absent = len(members) - present
        allowed = present + (absent if rules.written_votes_allowed else 0)
        problems: list[Problem] = []
        if ballots < 1 or ballots > allowed:
            written = f" và {absent} phiếu bằng văn bản của thành viên vắng mặt" if allowed > present else ""
            problems.append(
                Problem(
                    f"số phiếu thu về {ballots} không khớp với danh sách dự họp: "
                    f"{present} thành viên có mặt{written}",
                    column="Số phiếu thu về",
                    expected=f"từ 1 đến {allowed}",
                )
            )
        nominees = ballot_nominees(s, camp, council)
        on_ballot = {n.id: n for n in nominees}
        for nid in sorted(set(counts) - set(on_ballot)):
            problems.append(Problem(f"đề nghị số {nid} không có trên phiếu của Hội đồng", row=None))
        for n in nominees:
            assert n.id is not None
            got = counts.get(n.id)
            if got is None:
                problems.append(Problem(f"thiếu kết quả kiểm phiếu của {n.subject_name} (số {n.id})"))
                continue
            if min(got.approve, got.reject, got.abstain) < 0:
                problems.append(Problem(f"{n.subject_name} (số {n.id}): số phiếu không được âm"))
            elif got.total > ballots:
                problems.append(
                    Problem(
                        f"{n.subject_name} (số {n.id}): {got.total} phiếu, nhiều hơn số phiếu thu về",
                        expected=f"tổng đồng ý, không đồng ý, không ý kiến không quá {ballots}",
                    )
                )
        if problems:
            raise InvalidInput("Kết quả kiểm phiếu chưa được ghi; không có gì thay đổi.", problems)
        rows = [
            {
                "meeting_id": meeting_id,
                "nomination_id": nid,
                "approve": counts[nid].approve,
                "reject": counts[nid].reject,
                "abstain": counts[nid].abstain,
            }
            for nid in on_ballot
            if nid is not None
        ]
        upsert(s, BALLOT_TALLY, rows, ["meeting_id", "nomination_id"])
        record_event(
            s,
            campaign_id=camp.id,
            kind="council.paper_count",
            now=now,
            actor=actor,
            subject=f"meeting:{meeting_id}",
            # The tallies stay out of the audit until the close publishes them.
            payload={"before": None, "after": {"ballots": ballots, "nominees": len(rows)}},
        )
        return len(rows)


def paper_count_template(engine: Engine, meeting_id: int) -> bytes:
    """The XLSX to fill in: one row per nominee on the meeting's ballot, counts left empty."""
    from openpyxl import Workbook
    from sqlmodel import Session

    with Session(engine) as s:
        meeting = _meeting(s, meeting_id)
        camp = _check_campaign(s, meeting, None)
        council = s.get(Council, meeting.council_id)
        assert council is not None
        nominees = ballot_nominees(s, camp, council)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append(list(COLUMNS))
    for n in nominees:
        who = "Tập thể" if n.subject_kind == SubjectKind.COLLECTIVE else "Cá nhân"
        sheet.append([n.id, f"{who} {n.subject_name}", None, None, None])
    sheet.column_dimensions["B"].width = 60
    return xlsx_bytes(book)


def read_paper_count(data: bytes, file_name: str) -> dict[int, PaperCount]:
    """The counts of an uploaded XLSX (the template's layout); InvalidInput with sheet, row and column of
    every problem."""
    from openpyxl import load_workbook

    name = file_name[-120:] or "tệp"
    try:
        book = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput(
            f"Tệp “{name}” không đọc được như bảng tính .xlsx; không có gì thay đổi.",
            [Problem("không phải tệp .xlsx hợp lệ", file=name, expected="tệp mẫu kiểm phiếu đã điền")],
        ) from exc
    if SHEET not in book.sheetnames:
        raise InvalidInput(
            f"Tệp “{name}” không có trang “{SHEET}”; không có gì thay đổi.",
            [Problem(f"thiếu trang “{SHEET}”", file=name, expected="tệp mẫu kiểm phiếu")],
        )
    sheet = book[SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    problems: list[Problem] = []
    header = [str(c).strip() if c is not None else "" for c in (rows[0] if rows else ())]
    if tuple(header[: len(COLUMNS)]) != COLUMNS:
        problems.append(
            Problem("tiêu đề cột không đúng mẫu", file=name, sheet=SHEET, row=1, expected=", ".join(COLUMNS))
        )
        raise InvalidInput(f"Tệp “{name}”: kết quả kiểm phiếu chưa được ghi.", problems)
    counts: dict[int, PaperCount] = {}
    for number, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * (len(COLUMNS) - len(row))
        if all(c is None or str(c).strip() == "" for c in cells[: len(COLUMNS)]):
            continue
        nid = _whole(cells[0])
        if nid is None or nid < 1:
            problems.append(
                Problem(
                    "số đề nghị không hợp lệ",
                    file=name,
                    sheet=SHEET,
                    row=number,
                    column=COLUMNS[0],
                    expected="số đề nghị như trong tệp mẫu",
                )
            )
            continue
        if nid in counts:
            problems.append(
                Problem(
                    f"đề nghị số {nid} bị ghi hai lần", file=name, sheet=SHEET, row=number, column=COLUMNS[0]
                )
            )
            continue
        values: dict[str, int] = {}
        for key, index in _COUNT_COLUMNS.items():
            value = _whole(cells[index]) if cells[index] not in (None, "") else 0
            if value is None or value < 0:
                problems.append(
                    Problem(
                        "số phiếu không hợp lệ",
                        file=name,
                        sheet=SHEET,
                        row=number,
                        column=COLUMNS[index],
                        expected="số nguyên không âm",
                    )
                )
                value = 0
            values[key] = value
        counts[nid] = PaperCount(**values)
    if problems:
        raise InvalidInput(f"Tệp “{name}”: kết quả kiểm phiếu chưa được ghi; không có gì thay đổi.", problems)
    return counts


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
