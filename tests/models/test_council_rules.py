"""The council's pure rules (models/council.py): quorum, the approval line, selection within a quota, ties."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from thidua.models.council import (
    Candidate,
    Selection,
    TieBreakError,
    approvals_needed,
    break_tie,
    is_approved,
    quorum_met,
    quorum_required,
    quorum_statement,
    select_within_quota,
)
from thidua.models.definition import Council
from thidua.models.review import ReviewOutcome

DEFAULT = Council()  # quorum 2/3 of all members, approval more than 1/2 of all members
AT_LEAST_HALF = Council.model_validate({"approval": {"share": "1/2", "strict": False}})
SEVENTY_PERCENT_PRESENT = Council.model_validate(
    {"approval": {"share": "70%", "of": "present", "strict": False}}
)
CHV = "Chấp hành viên"
LABEL = "tỷ lệ giảm"


def person(nid: int, name: str, value: str | None, approve: int, *, title: str = "Thư ký thi hành án",
           approved: bool = True) -> Candidate:  # fmt: skip
    return Candidate(
        nomination_id=nid,
        name=name,
        subject_kind="individual",
        approve=approve,
        approved=approved,
        title=title,
        value=None if value is None else Fraction(value),
    )


def unit(nid: int, name: str, value: str, approve: int) -> Candidate:
    return Candidate(nid, name, "collective", approve, True, None, Fraction(value))


def outcomes(selections: list[Selection]) -> dict[int, ReviewOutcome]:
    return {s.nomination_id: s.outcome for s in selections}


def by_id(selections: list[Selection]) -> dict[int, Selection]:
    return {s.nomination_id: s for s in selections}


# ---------------------------------------------------------------- quorum and approval


def test_quorum_is_two_thirds_of_all_members_by_default() -> None:
    assert quorum_required(9, DEFAULT) == 6
    assert quorum_met(9, 6, DEFAULT) and not quorum_met(9, 5, DEFAULT)
    assert quorum_required(10, DEFAULT) == 7  # 6.67 -> 7: "at least 2/3", never rounded down
    assert not quorum_met(10, 6, DEFAULT)
    assert quorum_statement(9, 5, DEFAULT) == (
        "Không đủ số lượng thành viên dự họp theo quy định: 5/9, cần ít nhất 6."
    )


def test_approval_at_exactly_the_threshold_with_nine_members() -> None:
    # More than 1/2 of 9 members: the line is 4.5 votes, so 5 passes and 4 fails.
    assert is_approved(5, 9, 9, DEFAULT)
    assert not is_approved(4, 9, 9, DEFAULT)
    assert approvals_needed(9, 9, DEFAULT) == 5
    # Of all members: absences do not lower the line.
    assert is_approved(5, 9, 6, DEFAULT) and not is_approved(4, 9, 6, DEFAULT)


def test_approval_at_exactly_half_of_ten_fails_strict_and_passes_at_least() -> None:
    assert not is_approved(5, 10, 10, DEFAULT)
    assert is_approved(6, 10, 10, DEFAULT)
    assert approvals_needed(10, 10, DEFAULT) == 6
    assert is_approved(5, 10, 10, AT_LEAST_HALF)
    assert not is_approved(4, 10, 10, AT_LEAST_HALF)
    assert approvals_needed(10, 10, AT_LEAST_HALF) == 5


def test_approval_as_a_share_of_those_present() -> None:
    # 70% of 7 present = 4.9 votes: 5 passes, 4 fails; 70% of 10 present = 7 exactly, "at least" passes.
    assert is_approved(5, 9, 7, SEVENTY_PERCENT_PRESENT) and not is_approved(4, 9, 7, SEVENTY_PERCENT_PRESENT)
    assert is_approved(7, 10, 10, SEVENTY_PERCENT_PRESENT)
    assert approvals_needed(9, 7, SEVENTY_PERCENT_PRESENT) == 5


# ---------------------------------------------------------------- selection within a quota


def test_enforcement_officers_come_first_among_individuals_then_the_indicator_then_votes() -> None:
    candidates = [
        person(1, "Lê Văn Bình", "0.50", 9),  # best figures, but not a Chấp hành viên
        person(2, "Trần Thị Hoa", "0.35", 7, title=CHV),
        person(3, "Nguyễn Văn An", "0.20", 6, title=CHV),
        person(4, "Phạm Thị Dung", "0.20", 8, title=CHV),  # same rate as An, more votes
    ]
    result = select_within_quota(candidates, 3, [CHV], value_label=LABEL, members=9)

    assert outcomes(result) == {
        2: ReviewOutcome.SELECTED,
        4: ReviewOutcome.SELECTED,
        3: ReviewOutcome.SELECTED,
        1: ReviewOutcome.OVER_QUOTA,
    }
    rows = by_id(result)
    assert [rows[i].position for i in (2, 4, 3, 1)] == [1, 2, 3, 4]
    assert rows[2].explanation == (
        "Được chọn: xếp thứ 1 trong chỉ tiêu 03 cá nhân; ưu tiên Chấp hành viên; tỷ lệ giảm 35,00%; "
        "7/9 phiếu đồng ý"
    )
    assert rows[1].explanation == (
        "Không được chọn: vượt chỉ tiêu 03 cá nhân; xếp thứ 4 (tỷ lệ giảm 50,00%; 9/9 phiếu đồng ý), "
        "sau Nguyễn Văn An do Nguyễn Văn An thuộc diện ưu tiên Chấp hành viên"
    )


def test_priority_titles_do_not_apply_to_collectives() -> None:
    titled = Candidate(1, "Chi cục THADS huyện Na Hang", "collective", 6, True, CHV, Fraction("0.10"))
    better = unit(2, "Chi cục THADS thành phố Tuyên Quang", "0.30", 6)
    result = select_within_quota([titled, better], 1, [CHV], value_label=LABEL, members=9)
    assert outcomes(result) == {2: ReviewOutcome.SELECTED, 1: ReviewOutcome.OVER_QUOTA}
    assert "tỷ lệ giảm thấp hơn (10,00% so với 30,00%)" in by_id(result)[1].explanation


def test_quota_of_two_collectives_more_votes_break_an_equal_rate() -> None:
    candidates = [
        unit(1, "Chi cục A", "0.20", 5),
        unit(2, "Chi cục B", "0.20", 7),
        unit(3, "Chi cục C", "0.35", 5),
    ]
    result = select_within_quota(candidates, 2, [CHV], value_label=LABEL, members=9)
    assert outcomes(result) == {
        3: ReviewOutcome.SELECTED,
        2: ReviewOutcome.SELECTED,
        1: ReviewOutcome.OVER_QUOTA,
    }
    assert by_id(result)[1].explanation.endswith(
        "ít phiếu đồng ý hơn (5/9 phiếu đồng ý so với 7/9 phiếu đồng ý)"
    )
    assert "vượt chỉ tiêu 02 tập thể" in by_id(result)[1].explanation


def test_a_tie_straddling_the_quota_edge_is_reported_whatever_the_input_order() -> None:
    candidates = [
        person(10, "Hoàng Văn Hải", "0.30", 8, title=CHV),
        person(11, "Đỗ Thị Lan", "0.20", 6, title=CHV),
        person(12, "Vũ Văn Minh", "0.20", 6, title=CHV),
        person(13, "Bùi Thị Ngọc", "0.20", 6, title=CHV),
        person(14, "Lý Văn Phúc", "0.10", 9, title=CHV),
    ]
    seen = set()
    for order in itertools.permutations(candidates):
        result = select_within_quota(list(order), 3, [CHV], value_label=LABEL, members=9)
        seen.add(tuple(sorted((s.nomination_id, s.outcome, s.position, s.explanation) for s in result)))
    assert len(seen) == 1  # neither insertion order nor names decide anything

    result = by_id(select_within_quota(candidates, 3, [CHV], value_label=LABEL, members=9))
    assert result[10].outcome == ReviewOutcome.SELECTED
    assert {result[i].outcome for i in (11, 12, 13)} == {ReviewOutcome.TIE}
    assert {result[i].position for i in (11, 12, 13)} == {2}
    assert result[11].explanation.startswith(
        "Bằng nhau tại giới hạn chỉ tiêu 03 cá nhân với Đỗ Thị Lan, Vũ Văn Minh, Bùi Thị Ngọc"
    )
    assert result[11].explanation.endswith(
        "còn 2 suất cho 3 người được đề nghị: chờ Chủ tịch Hội đồng quyết định"
    )
    assert result[14].outcome == ReviewOutcome.OVER_QUOTA
    assert "sau nhóm bằng nhau ở vị trí thứ 2" in result[14].explanation


def test_a_tie_inside_the_quota_selects_everyone_in_it() -> None:
    candidates = [
        unit(1, "Chi cục A", "0.20", 6),
        unit(2, "Chi cục B", "0.20", 6),
        unit(3, "Chi cục C", "0.1", 9),
    ]
    assert outcomes(select_within_quota(candidates, 2, [])) == {
        1: ReviewOutcome.SELECTED,
        2: ReviewOutcome.SELECTED,
        3: ReviewOutcome.OVER_QUOTA,
    }


def test_not_approved_nominees_and_no_quota() -> None:
    candidates = [
        person(1, "An", "0.40", 4, approved=False),
        person(2, "Bình", None, 5),
        person(3, "Chi", "0.05", 5),
    ]
    result = by_id(
        select_within_quota(candidates, None, [CHV], value_label=LABEL, members=9, approvals_needed=5)
    )
    assert result[1].outcome == ReviewOutcome.NOT_APPROVED and result[1].position is None
    assert result[1].explanation == (
        "Không được chọn: không đủ số phiếu đồng ý theo quy định (4/9 phiếu đồng ý, cần ít nhất 5)"
    )
    # No limit: every approved nominee is selected; a nominee without figures ranks after any figure.
    assert (result[3].outcome, result[3].position) == (ReviewOutcome.SELECTED, 1)
    assert (result[2].outcome, result[2].position) == (ReviewOutcome.SELECTED, 2)
    assert "tỷ lệ giảm: chưa có số liệu" in result[2].explanation


def test_an_indicator_not_measured_for_the_kind_does_not_rank_it() -> None:
    candidates = [person(1, "An", "0.90", 5), person(2, "Bình", "0.10", 7)]
    result = by_id(select_within_quota(candidates, 1, [], value_label=None, members=9))
    assert result[2].outcome == ReviewOutcome.SELECTED
    assert "tỷ lệ" not in result[2].explanation and "chỉ tiêu chính" not in result[2].explanation


# ---------------------------------------------------------------- the chair's decision


def tied() -> list[Selection]:
    candidates = [
        person(10, "Hải", "0.30", 8, title=CHV),
        person(11, "Lan", "0.20", 6, title=CHV),
        person(12, "Minh", "0.20", 6, title=CHV),
        person(13, "Ngọc", "0.20", 6, title=CHV),
    ]
    return select_within_quota(candidates, 3, [CHV], value_label=LABEL, members=9)


def test_the_chair_fills_the_seats_left_in_the_given_order() -> None:
    changed = by_id(break_tie(tied(), [13, 11], 3, reason="Có sáng kiến được áp dụng", names={13: "Ngọc"}))
    assert changed[13].outcome == ReviewOutcome.SELECTED and changed[13].position == 2
    assert changed[11].outcome == ReviewOutcome.SELECTED and changed[11].position == 3
    assert changed[12].outcome == ReviewOutcome.OVER_QUOTA
    assert changed[13].explanation.endswith("Có sáng kiến được áp dụng")
    assert "quyết định chọn Ngọc, đề nghị 11" in changed[12].explanation


@pytest.mark.parametrize(
    ("order", "reason", "message"),
    [
        ([10, 11], "lý do", "không nằm trong nhóm bằng nhau"),
        ([11], "lý do", "cần chỉ ra ít nhất 2 đề nghị"),
        ([11, 11], "lý do", "bị lặp"),
        ([11, 12], "  ", "cần ghi lý do"),
    ],
)
def test_a_tie_break_that_does_not_fit_is_refused(order: list[int], reason: str, message: str) -> None:
    with pytest.raises(TieBreakError, match=message):
        break_tie(tied(), order, 3, reason=reason)
