"""The council on real SQLite and PostgreSQL: members, meetings, the secret ballot, quotas,
ties, minutes and the `thidua council` commands."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from docx import Document
from openpyxl import Workbook
from sqlalchemy import Engine, func, inspect, select
from sqlmodel import Session, col
from typer.testing import CliRunner

from tests.factories import TQ_DEFINITION, at, edited_definition, load_demo_directory
from tests.tasks.builders_council import (
    CHAIR,
    CODE,
    MEMBERS,
    Nominee,
    ballots,
    launch_in_review,
    nominate,
    unit_of,
)
from thidua.deploy.cli import app as thidua_app
from thidua.deploy.demo.council import demo_council
from thidua.models.campaign import DomainEvent
from thidua.models.db import make_engine
from thidua.models.review import (
    BallotCast,
    BallotTally,
    CampaignDocument,
    CouncilMeeting,
    CouncilMember,
    CouncilRole,
    DocumentKind,
    NominationStatus,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.tasks.review.council import (
    CouncilSetupError,
    MeetingError,
    MemberInput,
    QuorumNotMet,
    TieBreakRefused,
    VoteAlreadyCast,
    VoteRefused,
    break_tie,
    cast_vote,
    close_meeting,
    final_results,
    import_council,
    meeting_summary,
    open_meeting,
    set_up_council,
    unresolved_ties,
    write_minutes,
)

HELD = at("10/07/2024", 8, 30)
NOW = at("10/07/2024", 11)
PRESENT = [m for m in MEMBERS if m != "TQ-KT-01"]  # 8 of 9; TQ-KT-01 may vote in writing
INDIVIDUALS = {
    "TQ-TP-04": "35/100",  # Chấp hành viên
    "TQ-NH-03": "20/100",  # Chấp hành viên
    "TQ-LB-03": "20/100",  # Chấp hành viên
    "TQ-HY-03": "20/100",  # Chấp hành viên
    "TQ-TP-12": "50/100",  # Thư ký thi hành án: the best rate, but no priority
}
COLLECTIVES = {"TQ-TP": "35/100", "TQ-NH": "20/100", "TQ-LB": "15/100", "TQ-YS": "40/100"}


def person(code: str, rate: str | None = None, **kw: object) -> Nominee:
    return Nominee(code, SubjectKind.INDIVIDUAL, rate, **kw)  # type: ignore[arg-type]


@pytest.fixture
def campaign(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign_id = launch_in_review(engine)
    demo_council(engine, CODE, "TQ", now=at("01/07/2024"))
    return campaign_id


def meeting_with(engine: Engine, present: list[str] = PRESENT) -> int:
    return open_meeting(
        engine, CODE, "TQ", held_at=HELD, present=present, place="Hội trường Cục", actor="tccb"
    )


def outcomes(engine: Engine, ids: dict[str, int]) -> dict[str, ReviewOutcome]:
    by_id = {line.nomination_id: line.outcome for line in final_results(engine, CODE)}
    return {code: by_id[nid] for code, nid in ids.items() if nid in by_id}


# ---------------------------------------------------------------- the council


def test_the_demo_council_comes_from_the_directory_and_a_rerun_changes_nothing(
    engine: Engine, campaign: int
) -> None:
    with Session(engine) as s:
        members = s.scalars(select(CouncilMember).order_by(col(CouncilMember.id))).all()
    assert [m.person_code for m in members] == MEMBERS
    chair = members[0]
    assert (chair.role, chair.full_name, chair.title, chair.unit_code) == (
        CouncilRole.CHAIR,
        "Bàn Hoàng Minh",
        "Cục trưởng",
        "TQ",
    )
    assert [m.role for m in members].count(CouncilRole.CHAIR) == 1
    assert next(m for m in members if m.person_code == "TQ-TCCB-02").role == CouncilRole.SECRETARY

    again = demo_council(engine, CODE, "TQ", now=at("02/07/2024"))
    assert (again.changed, again.members) == (False, 9)
    with Session(engine) as s:
        kinds = s.execute(
            select(col(DomainEvent.kind)).where(col(DomainEvent.kind) == "council.set_up")
        ).all()
    assert len(kinds) == 1


def test_a_council_list_with_errors_is_refused_with_rows_and_columns(
    engine: Engine, campaign: int, tmp_path: Path
) -> None:
    bad = tmp_path / "hoi-dong.csv"
    bad.write_text(
        "Danh sách thành viên Hội đồng\n"
        "Mã cán bộ;Vai trò\n"
        "TQ-01;Chủ tịch\n"
        "TQ-99;Ủy viên\n"
        "TQ-02;Chủ tịch\n"
        "TQ-03;Trưởng ban\n"
        "TQ-01;Ủy viên\n",
        encoding="utf-8",
    )
    with pytest.raises(CouncilSetupError) as caught:
        import_council(engine, CODE, "TQ", bad, now=NOW, actor="tccb")
    text = str(caught.value)
    assert "hoi-dong.csv: dòng 4, cột “Mã cán bộ”: không có cán bộ mã “TQ-99” trong danh bạ" in text
    assert "hoi-dong.csv: dòng 5, cột “Vai trò”: Hội đồng chỉ có một Chủ tịch (đã có ở dòng 3)" in text
    assert "hoi-dong.csv: dòng 6, cột “Vai trò”: vai trò “Trưởng ban” không hợp lệ" in text
    assert "hoi-dong.csv: dòng 7, cột “Mã cán bộ”: cán bộ “TQ-01” đã có ở dòng 3" in text
    with Session(engine) as s:  # nothing changed: still the demo council
        assert s.execute(select(func.count()).select_from(CouncilMember)).scalar_one() == 9

    with pytest.raises(CouncilSetupError, match="cần đúng một Chủ tịch Hội đồng"):
        set_up_council(engine, CODE, "TQ", [MemberInput("TQ-02")], now=NOW, actor="tccb")
    with pytest.raises(CouncilSetupError, match="đơn vị “TQ-TP” không xét loại khen thưởng nào"):
        set_up_council(
            engine, CODE, "TQ-TP", [MemberInput("TQ-TP-01", CouncilRole.CHAIR)], now=NOW, actor="x"
        )


def test_a_council_is_replaced_from_an_xlsx_list_until_it_has_met(
    engine: Engine, campaign: int, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Mã cán bộ", "Vai trò"])
    for code, role in [("TQ-01", "Chủ tịch"), ("TQ-02", "Phó Chủ tịch"), ("TQ-TCCB-03", "Thư ký"),
                       ("TQ-VP-01", "Uỷ viên"), ("TQ-NV-01", "ủy viên")]:  # fmt: skip
        sheet.append([code, role])
    path = tmp_path / "hoi-dong.xlsx"
    book.save(path)

    result = import_council(engine, CODE, "TQ", path, now=NOW, actor="tccb")
    assert (result.members, result.changed, result.created) == (5, True, False)
    with Session(engine) as s:
        roles = dict(
            s.execute(select(col(CouncilMember.person_code), col(CouncilMember.role))).tuples().all()
        )
    assert roles == {
        "TQ-01": CouncilRole.CHAIR,
        "TQ-02": CouncilRole.DEPUTY,
        "TQ-TCCB-03": CouncilRole.SECRETARY,
        "TQ-VP-01": CouncilRole.MEMBER,
        "TQ-NV-01": CouncilRole.MEMBER,
    }
    assert not import_council(engine, CODE, "TQ", path, now=NOW, actor="tccb").changed

    open_meeting(
        engine, CODE, "TQ", held_at=HELD, present=["TQ-01", "TQ-02", "TQ-VP-01", "TQ-NV-01"], actor="x"
    )
    with pytest.raises(CouncilSetupError, match="Hội đồng đã họp"):
        demo_council(engine, CODE, "TQ", now=NOW)


# ---------------------------------------------------------------- quotas, priority, threshold, ties


def test_the_seed_003_review_quotas_priority_threshold_and_a_tie_broken_by_the_chair(
    engine: Engine, campaign: int, settings: Settings
) -> None:
    ids = nominate(
        engine,
        campaign,
        [*(Nominee(c, SubjectKind.COLLECTIVE, r) for c, r in COLLECTIVES.items())]
        + [person(c, r) for c, r in INDIVIDUALS.items()],
    )
    meeting = meeting_with(engine)
    voters = [*PRESENT, "TQ-KT-01"]
    written = ["TQ-KT-01"]
    tally = {  # approve, reject, abstain
        "TQ-TP": (7, 1, 1),
        "TQ-NH": (5, 3, 1),  # exactly the line: more than 1/2 of 9 is 5
        "TQ-LB": (8, 0, 1),  # more votes than TQ-NH, lower rate: over the quota of 2
        "TQ-YS": (4, 5, 0),  # the best rate, not approved
        "TQ-TP-04": (8, 1, 0),
        "TQ-NH-03": (6, 2, 1),
        "TQ-LB-03": (6, 3, 0),
        "TQ-HY-03": (6, 0, 3),  # three Chấp hành viên equal on rate and votes for the 2 seats left
        "TQ-TP-12": (9, 0, 0),  # every vote and the best rate, but not a Chấp hành viên
    }
    for code, (a, r, ab) in tally.items():
        ballots(engine, meeting, ids[code], voters, approve=a, reject=r, abstain=ab, written=written)

    summary = close_meeting(engine, CODE, meeting, now=NOW, actor="tccb")
    assert summary.quorum_met and (summary.members, summary.present, summary.written_voters) == (9, 8, 1)
    assert outcomes(engine, ids) == {
        "TQ-TP": ReviewOutcome.SELECTED,
        "TQ-NH": ReviewOutcome.SELECTED,
        "TQ-LB": ReviewOutcome.OVER_QUOTA,
        "TQ-YS": ReviewOutcome.NOT_APPROVED,
        "TQ-TP-04": ReviewOutcome.SELECTED,
        "TQ-NH-03": ReviewOutcome.TIE,
        "TQ-LB-03": ReviewOutcome.TIE,
        "TQ-HY-03": ReviewOutcome.TIE,
        "TQ-TP-12": ReviewOutcome.OVER_QUOTA,
    }
    lines = {line.subject_code: line for line in summary.lines}
    assert (lines["TQ-NH"].approve, lines["TQ-NH"].reject, lines["TQ-NH"].abstain) == (5, 3, 1)
    label = "tỷ lệ giảm án có điều kiện trên một năm chưa thi hành xong"
    assert lines["TQ-TP-04"].explanation == (
        f"Được chọn: xếp thứ 1 trong chỉ tiêu 03 cá nhân; ưu tiên Chấp hành viên; {label} 35,00%; "
        "8/9 phiếu đồng ý"
    )
    assert lines["TQ-YS"].explanation == (
        "Không được chọn: không đủ số phiếu đồng ý theo quy định (4/9 phiếu đồng ý, cần ít nhất 5)"
    )
    assert "vượt chỉ tiêu 02 tập thể; xếp thứ 3" in lines["TQ-LB"].explanation
    assert "chờ Chủ tịch Hội đồng quyết định" in lines["TQ-HY-03"].explanation
    assert "thuộc diện ưu tiên Chấp hành viên" in lines["TQ-TP-12"].explanation
    assert {t.subject_code for t in unresolved_ties(engine, CODE)} == {"TQ-NH-03", "TQ-LB-03", "TQ-HY-03"}

    with pytest.raises(TieBreakRefused, match="Chỉ Chủ tịch Hội đồng — Bàn Hoàng Minh"):
        break_tie(engine, meeting, [ids["TQ-HY-03"], ids["TQ-NH-03"]], reason="x", actor="TQ-02", now=NOW)
    with pytest.raises(TieBreakRefused, match="không nằm trong nhóm bằng nhau"):
        break_tie(engine, meeting, [ids["TQ-TP-12"], ids["TQ-NH-03"]], reason="x", actor=CHAIR, now=NOW)

    reason = (
        "Đồng chí Hồ Văn Khánh có sáng kiến được Cục áp dụng; Nguyễn Văn Tiến công tác ở địa bàn khó khăn"
    )
    decided = break_tie(
        engine, meeting, [ids["TQ-HY-03"], ids["TQ-NH-03"]], reason=reason, actor=CHAIR, now=NOW
    )
    assert not decided.ties and not unresolved_ties(engine, CODE)
    after = outcomes(engine, ids)
    assert (after["TQ-HY-03"], after["TQ-NH-03"], after["TQ-LB-03"]) == (
        ReviewOutcome.SELECTED,
        ReviewOutcome.SELECTED,
        ReviewOutcome.OVER_QUOTA,
    )
    with Session(engine) as s:
        row = s.scalars(select(ReviewResult).where(col(ReviewResult.nomination_id) == ids["TQ-HY-03"])).one()
        assert (row.tie_reason, row.decided_by, row.position) == (reason, CHAIR, 2)
        events = s.execute(
            select(col(DomainEvent.payload_json)).where(col(DomainEvent.kind) == "council.tie_broken")
        )
        payloads = [json.loads(p) for p in events.scalars()]
    assert len(payloads) == 1 and payloads[0]["reason"] == reason
    assert payloads[0]["after"][str(ids["TQ-LB-03"])] == "over_quota"

    # The same decision again changes nothing; closing again changes nothing.
    break_tie(engine, meeting, [ids["TQ-HY-03"], ids["TQ-NH-03"]], reason=reason, actor=CHAIR, now=NOW)
    assert close_meeting(engine, CODE, meeting, now=at("11/07/2024"), actor="tccb").lines == decided.lines
    with Session(engine) as s:
        assert (
            s.execute(select(func.count()).where(col(DomainEvent.kind) == "council.tie_broken")).scalar_one()
            == 1
        )

    path = write_minutes(engine, settings, CODE, meeting, now=NOW)
    assert path == settings.documents_dir / CODE / f"bien-ban-hop-hoi-dong-tq-{meeting}.docx"
    text = "\n".join(p.text for p in Document(str(path)).paragraphs)
    assert "Chủ tịch Hội đồng Bàn Hoàng Minh quyết định chọn Hồ Văn Khánh, Nguyễn Văn Tiến" in text
    assert reason in text
    write_minutes(engine, settings, CODE, meeting, now=NOW)
    with Session(engine) as s:
        docs = s.scalars(
            select(CampaignDocument).where(col(CampaignDocument.kind) == DocumentKind.MINUTES)
        ).all()
    assert [(d.ref, d.path) for d in docs] == [
        (str(meeting), f"documents/{CODE}/bien-ban-hop-hoi-dong-tq-{meeting}.docx")
    ]


# ---------------------------------------------------------------- refusals


def test_members_do_not_vote_on_themselves_or_their_own_unit(engine: Engine, campaign: int) -> None:
    ids = nominate(engine, campaign, [person("TQ-VP-01", "1/5"), person("TQ-NV-04", "1/5"), unit_of("TQ-NV")])
    meeting = meeting_with(engine)
    with pytest.raises(VoteRefused, match="Nguyễn Văn Hòa không bỏ phiếu cho chính mình"):
        cast_vote(engine, meeting, "TQ-VP-01", ids["TQ-VP-01"], "approve", now=NOW)
    with pytest.raises(VoteRefused, match="không bỏ phiếu cho cá nhân thuộc đơn vị mình"):
        cast_vote(engine, meeting, "TQ-NV-01", ids["TQ-NV-04"], "approve", now=NOW)
    with pytest.raises(VoteRefused, match="không bỏ phiếu cho tập thể đơn vị mình"):
        cast_vote(engine, meeting, "TQ-NV-01", ids["TQ-NV"], "approve", now=NOW)
    cast_vote(engine, meeting, "TQ-NV-01", ids["TQ-VP-01"], "approve", now=NOW)  # another unit: fine
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(BallotCast)).scalar_one() == 1


def test_a_cast_vote_cannot_be_changed_or_cast_twice(engine: Engine, campaign: int) -> None:
    ids = nominate(engine, campaign, [unit_of("TQ-TP")])
    meeting = meeting_with(engine)
    cast_vote(engine, meeting, "TQ-02", ids["TQ-TP"], "approve", now=NOW)
    with pytest.raises(VoteAlreadyCast, match="phiếu đã bỏ không thể thay đổi"):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-TP"], "reject", now=NOW)
    with Session(engine) as s:
        tally = s.scalars(select(BallotTally)).one()
    assert (tally.approve, tally.reject, tally.abstain) == (1, 0, 0)


def test_two_simultaneous_ballots_of_one_member_on_postgres_count_once(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    try:
        load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
        campaign_id = launch_in_review(engine)
        demo_council(engine, CODE, "TQ", now=NOW)
        ids = nominate(engine, campaign_id, [unit_of("TQ-TP")])
        meeting = meeting_with(engine)
        gate = threading.Barrier(2)
        results: list[str] = []

        def vote(choice: str) -> None:
            gate.wait()
            try:
                cast_vote(engine, meeting, "TQ-03", ids["TQ-TP"], choice, now=NOW)
                results.append("ok")
            except VoteAlreadyCast:
                results.append("refused")

        threads = [threading.Thread(target=vote, args=(c,)) for c in ("approve", "reject")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["ok", "refused"]
        with Session(engine) as s:
            tally = s.scalars(select(BallotTally)).one()
            casts = s.execute(select(func.count()).select_from(BallotCast)).scalar_one()
        assert (tally.approve + tally.reject + tally.abstain, casts) == (1, 1)
    finally:
        engine.dispose()


def test_members_voting_at_the_same_moment_on_postgres_are_all_counted(pg_url: str, tmp_path: Path) -> None:
    """Under READ COMMITTED a ballot committed while another is checked must not look like a paper count
    (tallies ahead of the casts): every member voting at once is counted."""
    engine = make_engine(pg_url)
    try:
        load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
        campaign_id = launch_in_review(engine)
        demo_council(engine, CODE, "TQ", now=NOW)
        units = ["TQ-TP", "TQ-NH", "TQ-LB", "TQ-YS", "TQ-HY"]
        ids = nominate(engine, campaign_id, [unit_of(u) for u in units])
        meeting = meeting_with(engine)
        refused: list[str] = []
        for unit in units:
            gate = threading.Barrier(len(PRESENT))

            def vote(member: str, nominee: int = ids[unit], gate: threading.Barrier = gate) -> None:
                gate.wait()
                try:
                    cast_vote(engine, meeting, member, nominee, "approve", now=NOW)
                except VoteRefused as exc:
                    refused.append(f"{member}: {exc}")

            threads = [threading.Thread(target=vote, args=(m,)) for m in PRESENT]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert refused == []
        with Session(engine) as s:
            tallies = s.scalars(select(BallotTally)).all()
        assert sorted(t.approve for t in tallies) == [len(PRESENT)] * len(units)
    finally:
        engine.dispose()


def test_without_quorum_no_vote_is_taken_and_the_meeting_closes_without_results(
    engine: Engine, campaign: int, settings: Settings
) -> None:
    ids = nominate(engine, campaign, [unit_of("TQ-TP")])
    meeting = meeting_with(engine, present=["TQ-01", "TQ-02", "TQ-03", "TQ-04", "TQ-VP-01"])
    with pytest.raises(
        QuorumNotMet, match="Không đủ số lượng thành viên dự họp theo quy định: 5/9, cần ít nhất 6"
    ):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-TP"], "approve", now=NOW)
    with pytest.raises(QuorumNotMet):
        cast_vote(engine, meeting, "TQ-KT-01", ids["TQ-TP"], "approve", now=NOW, written=True)

    summary = close_meeting(engine, CODE, meeting, now=NOW, actor="tccb")
    assert not summary.quorum_met and summary.lines == []
    assert summary.quorum_text == "Không đủ số lượng thành viên dự họp theo quy định: 5/9, cần ít nhất 6."
    with Session(engine) as s:
        stored = s.get(CouncilMeeting, meeting)
        assert stored is not None and stored.quorum_met is False
        assert s.execute(select(func.count()).select_from(ReviewResult)).scalar_one() == 0
    assert final_results(engine, CODE) == []
    with pytest.raises(VoteRefused, match="đã kết thúc"):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-TP"], "approve", now=NOW)
    paragraphs = [
        p.text for p in Document(str(write_minutes(engine, settings, CODE, meeting, now=NOW))).paragraphs
    ]
    assert summary.quorum_text in paragraphs
    assert any(p.startswith("Hội đồng không tiến hành bỏ phiếu") for p in paragraphs)

    # The next meeting, with quorum, is the one whose results stand.
    second = open_meeting(engine, CODE, "TQ", held_at=at("12/07/2024", 8), present=PRESENT, actor="tccb")
    cast_vote(engine, second, "TQ-02", ids["TQ-TP"], "approve", now=NOW)
    close_meeting(engine, CODE, second, now=at("12/07/2024", 11), actor="tccb")
    assert [(r.meeting_id, r.outcome) for r in final_results(engine, CODE)] == [
        (second, ReviewOutcome.NOT_APPROVED)
    ]


def test_an_absent_member_votes_in_writing_only(engine: Engine, campaign: int) -> None:
    ids = nominate(engine, campaign, [unit_of("TQ-TP"), unit_of("TQ-NH")])
    meeting = meeting_with(engine)
    with pytest.raises(VoteRefused, match="vắng mặt: chỉ nhận phiếu bằng văn bản"):
        cast_vote(engine, meeting, "TQ-KT-01", ids["TQ-TP"], "approve", now=NOW)
    with pytest.raises(VoteRefused, match="có mặt tại cuộc họp"):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-TP"], "approve", now=NOW, written=True)
    cast_vote(engine, meeting, "TQ-KT-01", ids["TQ-TP"], "approve", now=NOW, written=True)
    with Session(engine) as s:
        cast = s.scalars(select(BallotCast)).one()
    assert cast.written is True
    assert meeting_summary(engine, CODE, meeting).written_voters == 1


def test_written_votes_are_refused_when_the_rules_do_not_allow_them(engine: Engine, tmp_path: Path) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    no_written = edited_definition(
        tmp_path, TQ_DEFINITION, "written_votes_allowed: true", "written_votes_allowed: false"
    )
    campaign_id = launch_in_review(engine, definition=no_written)
    demo_council(engine, CODE, "TQ", now=NOW)
    ids = nominate(engine, campaign_id, [unit_of("TQ-TP")])
    meeting = meeting_with(engine)
    with pytest.raises(VoteRefused, match="không nhận phiếu bằng văn bản"):
        cast_vote(engine, meeting, "TQ-KT-01", ids["TQ-TP"], "approve", now=NOW, written=True)


def test_only_eligible_nominations_for_this_councils_awards_go_to_the_vote(
    engine: Engine, campaign: int
) -> None:
    ids = nominate(
        engine,
        campaign,
        [
            Nominee("TQ-YS", SubjectKind.COLLECTIVE, "1/2", eligible=False),
            Nominee("TQ-SD", SubjectKind.COLLECTIVE, "1/2", status=NominationStatus.INCOMPLETE),
            Nominee("TQ-CH", SubjectKind.COLLECTIVE, "1/2", award="bang_khen_bo_truong"),
            unit_of("TQ-HY"),
        ],
    )
    meeting = meeting_with(engine)
    with pytest.raises(VoteRefused, match="không đủ điều kiện khen thưởng"):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-YS"], "approve", now=NOW)
    with pytest.raises(VoteRefused, match="hồ sơ không đầy đủ"):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-SD"], "approve", now=NOW)
    with pytest.raises(VoteRefused, match="không thuộc thẩm quyền xét"):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-CH"], "approve", now=NOW)
    with pytest.raises(VoteRefused, match="“TQ-TP-01” không phải thành viên"):
        cast_vote(engine, meeting, "TQ-TP-01", ids["TQ-HY"], "approve", now=NOW)
    with pytest.raises(VoteRefused, match="không hợp lệ"):
        cast_vote(engine, meeting, "TQ-02", ids["TQ-HY"], "yes", now=NOW)
    summary = close_meeting(engine, CODE, meeting, now=NOW, actor="tccb")
    assert [line.subject_code for line in summary.lines] == ["TQ-HY"]  # unvoted but eligible: not approved
    assert summary.lines[0].outcome == ReviewOutcome.NOT_APPROVED


def test_a_meeting_reopened_with_the_same_attendance_is_the_same_meeting(
    engine: Engine, campaign: int
) -> None:
    first = meeting_with(engine)
    assert meeting_with(engine) == first
    with pytest.raises(MeetingError, match="danh sách dự họp không sửa được"):
        meeting_with(engine, present=MEMBERS)
    with pytest.raises(MeetingError, match="chưa kết thúc"):
        open_meeting(engine, CODE, "TQ", held_at=at("11/07/2024"), present=PRESENT, actor="tccb")
    with pytest.raises(MeetingError, match="Không phải thành viên"):
        open_meeting(engine, CODE, "TQ", held_at=HELD, present=["TQ-TP-01"], actor="tccb")


# ---------------------------------------------------------------- secrecy


def test_no_table_ties_a_choice_to_a_member_and_no_output_reveals_one(
    engine: Engine, campaign: int, settings: Settings
) -> None:
    choice_words = {"approve", "reject", "abstain", "choice", "vote", "ballot_choice"}
    member_words = {"member_id", "person_code", "voter", "member"}
    schema = inspect(engine)
    for table in schema.get_table_names():
        names = {c["name"] for c in schema.get_columns(table)}
        assert not (names & choice_words and names & member_words), table
    assert {c["name"] for c in schema.get_columns("ballot_cast")} == {
        "id",
        "meeting_id",
        "member_id",
        "nomination_id",
        "written",
    }

    ids = nominate(engine, campaign, [unit_of("TQ-TP"), unit_of("TQ-NH")])
    meeting = meeting_with(engine)
    ballots(engine, meeting, ids["TQ-TP"], PRESENT, approve=6, reject=1, abstain=1)
    ballots(engine, meeting, ids["TQ-NH"], PRESENT, approve=3, reject=5)
    assert meeting_summary(engine, CODE, meeting).lines == []  # no tallies while the ballot is open
    close_meeting(engine, CODE, meeting, now=NOW, actor="tccb")

    with Session(engine) as s:
        payloads = s.execute(
            select(col(DomainEvent.payload_json)).where(col(DomainEvent.kind) == "ballot.cast")
        )
        texts = list(payloads.scalars())
    assert len(texts) == 16
    for text in texts:
        assert not any(word in text for word in ("approve", "reject", "abstain", "choice"))

    names = {m for m in _member_names(engine)}
    document = Document(str(write_minutes(engine, settings, CODE, meeting, now=NOW)))
    for paragraph in document.paragraphs:
        if any(name in paragraph.text for name in names):
            assert "đồng ý" not in paragraph.text.lower() and "không ý kiến" not in paragraph.text.lower()
    tally_headers = {"Đồng ý", "Không đồng ý", "Không ý kiến"}
    for table in document.tables:
        header = {cell.text for cell in table.rows[0].cells}
        if header & tally_headers:
            body = " ".join(cell.text for row in table.rows[1:] for cell in row.cells)
            assert not any(name in body for name in names)


def _member_names(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.execute(select(col(CouncilMember.full_name))).scalars())


# ---------------------------------------------------------------- the command line


def test_the_council_commands_never_print_a_members_choice(
    engine: Engine, campaign: int, db_url: str, tmp_path: Path
) -> None:
    ids = nominate(engine, campaign, [unit_of("TQ-TP"), unit_of("TQ-NH"), unit_of("TQ-LB")])
    app = thidua_app
    env = {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": db_url, "THIDUA_SMTP_HOST": ""}
    runner = CliRunner()
    members = tmp_path / "hoi-dong.csv"
    members.write_text(
        "Mã cán bộ,Vai trò\n" + "\n".join(f"{m},{r}" for m, r in [
            ("TQ-01", "Chủ tịch"), ("TQ-02", "Phó Chủ tịch"), ("TQ-03", "Ủy viên"),
            ("TQ-04", "Ủy viên"), ("TQ-TCCB-02", "Thư ký")]),
        encoding="utf-8",
    )  # fmt: skip

    def run(*args: str) -> str:
        result = runner.invoke(app, ["council", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "5 thành viên — đã cập nhật" in run(
        "setup", CODE, str(members), "--unit", "TQ", "--as-of", "01/07/2024"
    )
    opened = run(
        "open", CODE, "--unit", "TQ", "--present", "TQ-01,TQ-02,TQ-03,TQ-04", "--at", "10/07/2024 08:30"
    )
    meeting = opened.split()[3]
    assert "Số thành viên dự họp 4/5" in opened
    for member in ("TQ-01", "TQ-02", "TQ-03"):
        out = run("vote", meeting, "--member", member, "--nominee", str(ids["TQ-TP"]), "--choice", "approve")
        assert out.strip() == f"Đã ghi nhận phiếu của {member} đối với đề nghị số {ids['TQ-TP']}."
    out = run("vote", meeting, "--member", "TQ-TCCB-02", "--nominee", str(ids["TQ-NH"]), "--choice", "reject",
              "--written")  # fmt: skip
    assert "phiếu bằng văn bản" in out and "reject" not in out and "không đồng ý" not in out

    again = ["vote", meeting, "--member", "TQ-01", "--nominee", str(ids["TQ-TP"]), "--choice", "reject"]
    refused = runner.invoke(app, ["council", *again], env=env)
    assert refused.exit_code == 5 and "không thể thay đổi" in refused.output

    closed = run("close", CODE, meeting, "--as-of", "10/07/2024 11:00")
    assert "3 đồng ý · 0 không đồng ý · 0 không ý kiến → Được chọn" in closed
    assert "Biên bản: " in closed and Path(closed.split("Biên bản: ")[1].strip()).exists()
    result = run("result", CODE, meeting)
    assert "Chi cục Thi hành án dân sự thành phố Tuyên Quang" in result
    for member in ("TQ-01", "TQ-02", "TQ-03", "TQ-TCCB-02"):
        assert member not in result
    not_chair = ["tie", CODE, meeting, "--order", "TQ-TP", "--reason", "x", "--chair", "TQ-02"]
    refused = runner.invoke(app, ["council", *not_chair], env=env)
    assert refused.exit_code == 5 and "Chỉ Chủ tịch Hội đồng" in refused.output
    unknown = ["tie", CODE, meeting, "--order", "TQ-KHONG-CO", "--reason", "x", "--chair", "TQ-01"]
    refused = runner.invoke(app, ["council", *unknown], env=env)
    assert refused.exit_code == 3 and "TQ-KHONG-CO" in refused.output
