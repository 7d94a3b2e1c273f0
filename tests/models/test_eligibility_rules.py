"""Eligibility rules over plain facts: seed 003's window, forms, collectives, heads, indicators, one award."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from tests.factories import TQ_DEFINITION
from thidua.models.definition import Eligibility, Indicator, load_definition
from thidua.models.directory import DisciplineForm
from thidua.models.eligibility import (
    DisciplineFact,
    GrantFact,
    MemberFacts,
    NomineeFacts,
    Reason,
    UnitFacts,
    screen,
)
from thidua.models.indicators import IndicatorResult
from thidua.models.reconciliation import LedgerCheck, check_figures

DEFN = load_definition(TQ_DEFINITION)
RULES = DEFN.eligibility
REDUCTION = DEFN.main_indicator
WINDOW = "(01/10/2023 – 30/06/2024)"
KT = DisciplineForm.KHIEN_TRACH


def result(num: int, den: int = 150) -> IndicatorResult:
    value = Fraction(num, den) if den else None
    met = None if den == 0 else Fraction(num, den) >= Fraction(1, 10)
    return IndicatorResult("reduction", num, den, value, Decimal("0.1"), ">=", met)


def unit(members: tuple[MemberFacts, ...] = (), indicator: IndicatorResult | None = None) -> UnitFacts:
    return UnitFacts("TQ-SD", "Chi cục THADS huyện Sơn Dương", indicator or result(20), members)


def person(**changes: Any) -> NomineeFacts:
    base: dict[str, Any] = {
        "kind": "individual",
        "code": "TQ-SD-05",
        "name": "Nguyễn Văn A",
        "title": "Chấp hành viên",
        "unit": unit(),
        "indicator": result(20),
    }
    return NomineeFacts(**{**base, **changes})


def collective(members: tuple[MemberFacts, ...], **changes: Any) -> NomineeFacts:
    base: dict[str, Any] = {"kind": "collective", "code": "TQ-SD", "name": "Chi cục THADS huyện Sơn Dương"}
    return NomineeFacts(**{**base, "unit": unit(members), **changes})


def rules(**changes: Any) -> Eligibility:
    return RULES.model_copy(update=changes)


def by_rule(reasons: list[Reason]) -> dict[str, Reason]:
    out = {r.rule: r for r in reasons}
    assert len(out) == len(reasons), "one reason per rule"
    return out


# ---------------------------------------------------------------- the discipline window


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (date(2023, 9, 30), False),
        (date(2023, 10, 1), True),
        (date(2024, 3, 12), True),
        (date(2024, 6, 30), True),
        (date(2024, 7, 1), False),
    ],
)
def test_the_window_includes_both_ends_and_nothing_outside(day: date, inside: bool) -> None:
    outcome = screen(person(discipline=(DisciplineFact(KT, day),)), RULES, REDUCTION)
    reason = by_rule(outcome.reasons)["discipline_window"]
    assert reason.passed is not inside
    assert outcome.eligible is not inside
    shown = day.strftime("%d/%m/%Y")
    if inside:
        assert reason.text == f"Bị kỷ luật Khiển trách ngày {shown}, trong thời gian xét {WINDOW}"
    else:
        assert reason.text.startswith(f"Không bị kỷ luật trong thời gian xét {WINDOW}")
        assert f"Khiển trách ngày {shown} ngoài thời gian xét, không tính" in reason.text


def test_a_clean_person_passes_with_a_reason_for_every_rule() -> None:
    outcome = screen(person(), RULES, REDUCTION)
    assert outcome.eligible
    reasons = by_rule(outcome.reasons)
    assert list(reasons) == ["discipline_window", "law_violation", "indicator", "one_award"]
    assert all(r.passed for r in outcome.reasons)
    assert reasons["discipline_window"].text == f"Không bị kỷ luật trong thời gian xét {WINDOW}"
    assert reasons["law_violation"].text == f"Không vi phạm pháp luật trong thời gian xét {WINDOW}"
    assert reasons["indicator"].text == (
        "Đạt chỉ tiêu Tỷ lệ giảm án có điều kiện trên một năm chưa thi hành xong: 13,33% (chỉ tiêu ≥ 10,00%)"
    )
    assert outcome.as_json()[0] == {
        "rule": "discipline_window",
        "passed": True,
        "reason": f"Không bị kỷ luật trong thời gian xét {WINDOW}",
    }


def test_forms_below_the_lowest_counted_form_do_not_disqualify() -> None:
    records = (DisciplineFact(KT, date(2024, 1, 5)),)
    stricter = rules(min_discipline_form=DisciplineForm.CANH_CAO)
    reason = by_rule(screen(person(discipline=records), stricter, REDUCTION).reasons)["discipline_window"]
    assert reason.passed
    assert "kỷ luật Khiển trách ngày 05/01/2024 dưới mức Cảnh cáo, không tính" in reason.text

    for form in (DisciplineForm.CANH_CAO, DisciplineForm.BUOC_THOI_VIEC):
        heavier = (DisciplineFact(form, date(2024, 1, 5)),)
        assert not screen(person(discipline=heavier), stricter, REDUCTION).eligible


def test_a_law_violation_disqualifies_only_when_the_campaign_says_so() -> None:
    records = (DisciplineFact(DisciplineForm.VI_PHAM_PHAP_LUAT, date(2024, 2, 5)),)
    strict = by_rule(screen(person(discipline=records), RULES, REDUCTION).reasons)
    assert strict["discipline_window"].passed
    assert not strict["law_violation"].passed
    assert strict["law_violation"].text == f"Vi phạm pháp luật ngày 05/02/2024, trong thời gian xét {WINDOW}"

    lenient = screen(person(discipline=records), rules(law_violation_disqualifies=False), REDUCTION)
    assert lenient.eligible
    assert "law_violation" not in by_rule(lenient.reasons)


# ---------------------------------------------------------------- collectives and unit heads


def test_one_members_reprimand_excludes_the_collective_and_names_the_member() -> None:
    members = (
        MemberFacts("TQ-SD-01", "Trần Thị B"),
        MemberFacts("TQ-SD-05", "Nguyễn Văn A", (DisciplineFact(KT, date(2023, 10, 1)),)),
    )
    outcome = screen(collective(members), RULES, REDUCTION)
    assert not outcome.eligible
    reason = by_rule(outcome.reasons)["clean_members"]
    assert not reason.passed
    assert (
        reason.text == "Cá nhân Nguyễn Văn A (TQ-SD-05) thuộc đơn vị bị kỷ luật Khiển trách ngày 01/10/2023"
    )
    assert by_rule(outcome.reasons)["indicator"].passed


def test_a_members_record_outside_the_window_leaves_the_collective_eligible() -> None:
    members = (MemberFacts("TQ-YS-04", "Lê Thị C", (DisciplineFact(KT, date(2023, 9, 30)),)),)
    outcome = screen(collective(members), RULES, REDUCTION)
    assert outcome.eligible
    assert by_rule(outcome.reasons)["clean_members"].text.startswith(
        f"Không có cá nhân thuộc đơn vị bị kỷ luật hoặc vi phạm pháp luật trong thời gian xét {WINDOW}"
    )


def test_collectives_are_not_checked_for_members_when_the_rule_is_off() -> None:
    members = (MemberFacts("TQ-SD-05", "Nguyễn Văn A", (DisciplineFact(KT, date(2023, 10, 1)),)),)
    outcome = screen(collective(members), rules(collective_requires_clean_members=False), REDUCTION)
    assert outcome.eligible
    assert "clean_members" not in by_rule(outcome.reasons)


def test_a_unit_head_must_also_meet_the_collective_criteria() -> None:
    tainted = unit((MemberFacts("TQ-CH-07", "Phạm Văn D", (DisciplineFact(KT, date(2024, 3, 12)),)),))
    head = person(code="TQ-CH-01", name="Hoàng Văn E", title="Chi cục trưởng", is_head=True, unit=tainted)
    outcome = screen(head, RULES, REDUCTION)
    assert not outcome.eligible
    reasons = by_rule(outcome.reasons)
    assert reasons["discipline_window"].passed and reasons["indicator"].passed
    assert not reasons["unit_head"].passed
    assert "Cá nhân Phạm Văn D (TQ-CH-07) thuộc đơn vị bị kỷ luật Khiển trách ngày 12/03/2024" in (
        reasons["unit_head"].text
    )

    # The same person heading a unit whose indicator is missed fails too; a clean unit that met it passes.
    missed = person(is_head=True, unit=unit(indicator=result(10)))
    assert "Không đạt chỉ tiêu" in by_rule(screen(missed, RULES, REDUCTION).reasons)["unit_head"].text
    assert screen(person(is_head=True), RULES, REDUCTION).eligible

    # Not a head, or the rule off: the unit's record is not the person's.
    assert screen(person(unit=tainted), RULES, REDUCTION).eligible
    assert screen(head, rules(unit_head_must_meet_both=False), REDUCTION).eligible


# ---------------------------------------------------------------- indicator, one award, dossier


def test_the_indicator_is_judged_on_the_officers_own_figures() -> None:
    assert screen(person(indicator=result(15)), RULES, REDUCTION).eligible  # exactly 10%: met
    below = by_rule(screen(person(indicator=result(14)), RULES, REDUCTION).reasons)["indicator"]
    assert not below.passed
    assert below.text == (
        "Không đạt chỉ tiêu Tỷ lệ giảm án có điều kiện trên một năm chưa thi hành xong: "
        "9,33% (chỉ tiêu ≥ 10,00%)"
    )
    none = by_rule(screen(person(indicator=None), RULES, REDUCTION).reasons)["indicator"]
    assert not none.passed
    assert none.text == (
        "Không có số liệu kết quả cuối cùng của cá nhân về "
        "Tỷ lệ giảm án có điều kiện trên một năm chưa thi hành xong"
    )
    zero = by_rule(screen(person(indicator=result(0, 0)), RULES, REDUCTION).reasons)["indicator"]
    assert not zero.passed and zero.text.endswith("(mẫu số bằng 0)")
    # The unit meeting the target does not carry an individual who did not.
    assert not screen(person(indicator=result(1), unit=unit(indicator=result(50))), RULES, REDUCTION).eligible


def test_no_indicator_rule_when_the_campaign_requires_none() -> None:
    outcome = screen(person(indicator=None), rules(require_indicator=None))
    assert outcome.eligible
    assert "indicator" not in by_rule(outcome.reasons)


def test_one_achievement_is_rewarded_once() -> None:
    granted = person(grants=(GrantFact("Giấy khen của Cục trưởng", "05/QĐ-CTHADS"),))
    reason = by_rule(screen(granted, RULES, REDUCTION).reasons)["one_award"]
    assert not reason.passed
    assert "đã được tặng Giấy khen của Cục trưởng (Quyết định số 05/QĐ-CTHADS)" in reason.text

    twice = person(other_awards=("Bằng khen của Bộ trưởng",))
    reason = by_rule(screen(twice, RULES, REDUCTION).reasons)["one_award"]
    assert not reason.passed
    assert "đồng thời được đề nghị tặng Bằng khen của Bộ trưởng" in reason.text

    assert screen(twice, rules(one_award_per_achievement=False), REDUCTION).eligible


def test_an_incomplete_dossier_fails_naming_the_missing_parts() -> None:
    deadline = date(2024, 7, 3)
    outcome = screen(
        person(dossier="incomplete", missing_parts=("Tờ trình", "Biên bản"), dossier_deadline=deadline),
        RULES,
        REDUCTION,
    )
    assert not outcome.eligible
    assert by_rule(outcome.reasons)["dossier"].text == (
        "Hồ sơ thiếu khi hết hạn nộp (03/07/2024): Tờ trình, Biên bản"
    )
    late = screen(person(dossier="incomplete", is_late=True, dossier_deadline=deadline), RULES, REDUCTION)
    assert by_rule(late.reasons)["dossier"].text == "Đề nghị gửi sau hạn nộp hồ sơ (03/07/2024)"
    assert screen(person(dossier="complete", dossier_deadline=deadline), RULES, REDUCTION).eligible
    before = screen(person(dossier="submitted", missing_parts=("Tờ trình",)), RULES, REDUCTION)
    assert before.eligible and "còn thiếu: Tờ trình" in by_rule(before.reasons)["dossier"].text


def test_reasons_round_trip_through_json() -> None:
    outcome = screen(person(indicator=None), RULES, REDUCTION)
    assert [Reason.from_json(d) for d in outcome.as_json()] == outcome.reasons
    assert [r.rule for r in outcome.failures] == ["indicator"]


def test_the_rule_words_the_comparison_of_the_indicator() -> None:
    at_most: Indicator = REDUCTION.model_copy(update={"comparison": "<="})
    low = IndicatorResult("reduction", 5, 100, Fraction(5, 100), Decimal("0.1"), "<=", True)
    reason = by_rule(screen(person(indicator=low), RULES, at_most).reasons)["indicator"]
    assert reason.passed and reason.text.endswith("5,00% (chỉ tiêu ≤ 10,00%)")


# ---------------------------------------------------------------- the case ledger: "cần xác minh"


def ledger_check(reported_finished: int, ledger_finished: int) -> LedgerCheck:
    fields = [f for f in DEFN.fields if f.key in DEFN.ledger_measures()]
    return check_figures(
        {"carried_over": 30, "arising": 9, "finished": reported_finished},
        {"carried_over": 30, "arising": 9, "finished": ledger_finished},
        fields,
        at=date(2024, 6, 30),
        main=REDUCTION,
    )


@pytest.mark.parametrize("kind", ["collective", "individual"])
def test_a_difference_with_the_ledger_is_marked_to_verify_and_never_changes_pass_or_fail(kind: str) -> None:
    inflated = ledger_check(15, 9)
    offender = (MemberFacts("TQ-SD-07", "Nguyễn Văn B", (DisciplineFact(KT, date(2024, 3, 12)),)),)

    def facts(check: LedgerCheck | None, members: tuple[MemberFacts, ...] = ()) -> NomineeFacts:
        if kind == "collective":
            return collective(members, unit=UnitFacts("TQ-SD", "Chi cục", result(20), members, ledger=check))
        return person(ledger=check, discipline=members[0].discipline if members else ())

    for members in ((), offender):
        without = screen(facts(None, members), RULES, REDUCTION)
        marked = screen(facts(inflated, members), RULES, REDUCTION)
        assert marked.eligible == without.eligible and marked.failures == without.failures
        [verify] = marked.to_verify
        assert verify.rule == "ledger" and verify.passed and verify.mark == "⚠"
        assert verify.text.startswith("Cần xác minh: số liệu báo cáo chênh lệch với sổ thụ lý (tính đến hết")
        assert "đã thi hành xong: báo cáo 15, sổ thụ lý 9 (chênh lệch +6 việc)" in verify.text
        assert "tỷ lệ theo sổ thụ lý 23,08%, đạt chỉ tiêu" in verify.text
        assert "ledger" not in by_rule(without.reasons)
        assert Reason.from_json(verify.as_json()) == verify

    matching = screen(facts(ledger_check(9, 9)), RULES, REDUCTION)
    match = by_rule(matching.reasons)["ledger"]
    assert matching.to_verify == [] and match.passed and "verify" not in match.as_json()
    assert match.text == "Số liệu báo cáo khớp với sổ thụ lý (tính đến hết ngày 30/06/2024)"


def test_a_head_under_the_unit_head_rule_is_marked_for_the_unit_s_difference() -> None:
    name = "Chi cục THADS huyện Chiêm Hóa"
    own_unit = UnitFacts("TQ-CH", name, result(15, 39), (), ledger=ledger_check(15, 9))

    head = screen(person(is_head=True, unit=own_unit, indicator=None), RULES, REDUCTION)

    [verify] = head.to_verify
    assert "số liệu báo cáo của đơn vị Chi cục THADS huyện Chiêm Hóa (TQ-CH) chênh lệch" in verify.text
    assert {r.rule for r in head.failures} == {"indicator"}  # no figures of his own; the unit's rule passes
