"""Indicators, roll-up, trends, timeliness and Vietnamese number formatting: pure, exact, no database."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest

from tests.factories import NATIONAL_DEFINITION, TQ_DEFINITION
from thidua.models.definition import Indicator, load_definition
from thidua.models.indicators import (
    evaluate,
    evaluate_all,
    fmt_int,
    fmt_percent,
    fmt_points,
    fmt_target,
    fmt_trend,
    met_label,
    parse_target,
    percent_number,
    roll_up,
    round_half_up,
    target_for,
    timeliness,
    tree_order,
    trend,
)


@pytest.fixture(scope="module")
def reduction() -> Indicator:
    """Seed 003: finished / (carried over + arising) >= 10 %."""
    return load_definition(TQ_DEFINITION).main_indicator


def figures(carried_over: int, arising: int, finished: int) -> dict[str, int]:
    return {"carried_over": carried_over, "arising": arising, "finished": finished}


# ---------------------------------------------------------------- the seed-003 formula


def test_exactly_ten_percent_meets_the_ten_percent_target(reduction: Indicator) -> None:
    result = evaluate(reduction, figures(120, 30, 15), reduction.target)

    assert (result.num, result.den) == (15, 150)
    assert result.value == Fraction(1, 10)
    assert result.met is True
    assert fmt_percent(result.value) == "10,00%"


def test_just_below_ten_percent_is_not_met_even_when_it_prints_as_ten(reduction: Indicator) -> None:
    # 19 999 / 200 000 = 9,9995 %: rounds half up to "10,00%" on paper, but the comparison is exact.
    almost = evaluate(reduction, figures(150_000, 50_000, 19_999))
    assert almost.met is False
    assert fmt_percent(almost.value) == "10,00%"

    below = evaluate(reduction, figures(120, 30, 14))  # 9,333... %
    assert below.met is False and fmt_percent(below.value) == "9,33%"

    one_less = evaluate(reduction, figures(10_000, 0, 999))  # 9,99 %
    assert one_less.met is False and fmt_percent(one_less.value) == "9,99%"


def test_hand_computed_reduction_rates_of_three_chi_cuc(reduction: Indicator) -> None:
    # Yên Sơn: 18 / (95 + 25) = 15 %; Na Hang: 4 / (40 + 10) = 8 %; Lâm Bình: 7 / (60 + 10) = 10 %.
    cases = {"TQ-YS": (95, 25, 18), "TQ-NH": (40, 10, 4), "TQ-LB": (60, 10, 7)}
    got = {unit: evaluate(reduction, figures(*f)) for unit, f in cases.items()}

    assert {u: r.value for u, r in got.items()} == {
        "TQ-YS": Fraction(15, 100),
        "TQ-NH": Fraction(8, 100),
        "TQ-LB": Fraction(10, 100),
    }
    assert {u: r.met for u, r in got.items()} == {"TQ-YS": True, "TQ-NH": False, "TQ-LB": True}


def test_no_cases_means_no_data_not_zero_percent(reduction: Indicator) -> None:
    empty = evaluate(reduction, figures(0, 0, 0))
    assert (empty.value, empty.met) == (None, None)
    assert met_label(empty.met) == "Chưa có số liệu"
    assert fmt_percent(empty.value) == "—"

    nothing = evaluate(reduction, {})
    assert (nothing.num, nothing.den, nothing.met) == (0, 0, None)


def test_each_comparison_is_exact_at_the_boundary(reduction: Indicator) -> None:
    at_target = figures(9, 1, 1)  # exactly 10 %
    expected = {">=": True, ">": False, "<=": True, "<": False}
    for comparison, met in expected.items():
        ind = reduction.model_copy(update={"comparison": comparison})
        assert evaluate(ind, at_target).met is met, comparison


def test_an_indicator_result_round_trips_through_json(reduction: Indicator) -> None:
    result = evaluate(reduction, figures(100, 50, 20), Decimal("0.1333"))
    data = result.as_json()

    assert data == {
        "num": 20,
        "den": 150,
        "value": "2/15",
        "target": "0.1333",
        "comparison": ">=",
        "met": True,
    }
    assert type(result).from_json("reduction", data) == result


# ---------------------------------------------------------------- per-unit targets


def test_a_per_unit_target_replaces_the_default_only_for_per_unit_indicators() -> None:
    defn = load_definition(NATIONAL_DEFINITION)
    cases = next(i for i in defn.indicators if i.key == "completion_cases")
    fixed = cases.model_copy(update={"targets": "fixed"})
    assigned = {("TNQ", "completion_cases"): Decimal("0.85")}

    assert target_for(assigned, "TNQ", cases) == Decimal("0.85")
    assert target_for(assigned, "HNI", cases) == Decimal("0.839")
    assert target_for(assigned, "TNQ", fixed) == Decimal("0.839")

    # 84 % meets the national 83,90 % but not Thái Nguyên's assigned 85 %.
    values = {"cases_with_conditions": 100, "cases_finished": 84, "money_with_conditions": 0}
    tnq = evaluate_all(defn.indicators, values, unit_code="TNQ", targets=assigned)
    hni = evaluate_all(defn.indicators, values, unit_code="HNI", targets=assigned)
    assert (tnq["completion_cases"].met, hni["completion_cases"].met) == (False, True)
    assert tnq["completion_money"].met is None


@pytest.mark.parametrize(
    ("written", "ratio"),
    [
        ("83,90%", Decimal("0.839")),
        ("83.9%", Decimal("0.839")),
        (" 83,9 % ", Decimal("0.839")),
        ("0.839", Decimal("0.839")),
        ("0,839", Decimal("0.839")),
        ("83.9", Decimal("0.839")),
        (83.9, Decimal("0.839")),
        (0.839, Decimal("0.839")),
        (Decimal("0.5190"), Decimal("0.519")),
        ("100%", Decimal(1)),
        (1, Decimal(1)),
        (0, Decimal(0)),
    ],
)
def test_targets_are_read_as_clerks_write_them(written: object, ratio: Decimal) -> None:
    assert parse_target(written) == ratio


@pytest.mark.parametrize("written", ["", None, "abc", "-5%", "120%", "1.234,5", True, "150"])
def test_a_target_that_is_not_a_ratio_is_refused_in_vietnamese(written: object) -> None:
    with pytest.raises(ValueError) as err:
        parse_target(written)
    assert any(word in str(err.value) for word in ("tỷ lệ", "100%", "trống", "dấu"))


# ---------------------------------------------------------------- roll-up


PROVINCE = {"CUC": None, "A": "CUC", "B": "CUC", "A1": "A", "A2": "A"}


def test_a_parent_sums_numerators_and_denominators_instead_of_averaging_percentages(
    reduction: Indicator,
) -> None:
    # A small office at 50 % and a large one at 5 %: the average would be 27,5 % (met);
    # the real rate of the province is 30 / 420 = 7,14 % (not met).
    own = {"A1": figures(10, 10, 10), "A2": figures(300, 100, 20)}
    rolled = roll_up(PROVINCE, own)

    assert rolled["A"] == figures(310, 110, 30)
    province = evaluate(reduction, rolled["A"])
    assert province.value == Fraction(30, 420)
    assert province.met is False
    average = (evaluate(reduction, own["A1"]).value + evaluate(reduction, own["A2"]).value) / 2  # type: ignore[operator]
    assert average == Fraction(55, 200) and average >= Fraction(1, 10)


def test_roll_up_works_at_any_depth_and_counts_a_reporting_parent_once() -> None:
    # Bộ → Cục → two provinces → regional offices; province B reports its own figures too.
    tree = {"BO": None, "CUC": "BO", "A": "CUC", "B": "CUC", "A1": "A", "A2": "A", "B1": "B", "X": "CUC"}
    own = {"A1": {"n": 1, "d": 10}, "A2": {"n": 2, "d": 20}, "B": {"n": 4, "d": 40}, "B1": {"n": 8, "d": 80}}

    rolled = roll_up(tree, own)

    assert rolled["A"] == {"n": 3, "d": 30}
    assert rolled["B"] == {"n": 12, "d": 120}
    assert rolled["CUC"] == rolled["BO"] == {"n": 15, "d": 150}
    assert rolled["X"] == {}  # no data below: not the same as a reported 0
    assert rolled["A1"] == own["A1"] and own["A1"] == {"n": 1, "d": 10}  # inputs untouched


def test_roll_up_ignores_figures_of_units_outside_the_tree() -> None:
    rolled = roll_up({"CUC": None, "A": "CUC"}, {"A": {"n": 1}, "ELSEWHERE": {"n": 99}})
    assert rolled == {"CUC": {"n": 1}, "A": {"n": 1}}


def test_tree_order_is_depth_first_with_depths_and_handles_a_forest() -> None:
    forest = {"B": None, "A": "ROOT-NOT-ENROLLED", "A2": "A", "A1": "A", "B1": "B", "A1x": "A1"}
    assert tree_order(forest) == [
        ("A", 0),
        ("A1", 1),
        ("A1x", 2),
        ("A2", 1),
        ("B", 0),
        ("B1", 1),
    ]


def test_tree_order_lists_units_caught_in_a_parent_loop_instead_of_losing_them() -> None:
    order = tree_order({"R": None, "X": "Y", "Y": "X"})
    assert sorted(code for code, _ in order) == ["R", "X", "Y"]


# ---------------------------------------------------------------- trend


def test_trend_is_the_exact_change_since_the_previous_period() -> None:
    up = trend(Fraction(12, 100), Fraction(95, 1000))
    assert up.delta == Fraction(25, 1000) and up.arrow == "↑"
    assert fmt_trend(up) == "↑ +2,50 điểm %"

    down = trend(Fraction(1, 10), Fraction(1, 8))
    assert down.arrow == "↓" and fmt_points(down.delta) == "-2,50"

    same = trend(Fraction(1, 10), Fraction(10, 100))
    assert same.arrow == "=" and fmt_trend(same) == "= 0,00 điểm %"

    unknown = trend(Fraction(1, 10), None)
    assert (unknown.delta, unknown.arrow, fmt_trend(unknown)) == (None, "", "")


# ---------------------------------------------------------------- timeliness


EIGHT = ["TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH", "TQ-NV", "TQ-SD", "TQ-TP", "TQ-YS"]


def test_timeliness_after_the_due_date_counts_late_and_missing_reports() -> None:
    received = {u: True for u in EIGHT[:5]} | {"TQ-SD": False, "TQ-TP": True}
    t = timeliness(EIGHT, received, due=date(2024, 2, 7), as_of=date(2024, 2, 8))

    assert (t.expected, t.received, t.on_time, t.late) == (8, 7, 6, 1)
    assert t.missing == ["TQ-YS"] and t.pending == [] and t.late_units == ["TQ-SD"]
    assert t.reporting_rate == Fraction(7, 8) and t.on_time_rate == Fraction(6, 8)
    assert fmt_percent(t.reporting_rate) == "87,50%" and fmt_percent(t.on_time_rate) == "75,00%"


def test_before_and_on_the_due_date_nobody_is_called_missing() -> None:
    for as_of in (date(2024, 2, 1), date(2024, 2, 7)):
        t = timeliness(EIGHT, {"TQ-CH": True}, due=date(2024, 2, 7), as_of=as_of)
        assert t.overdue is False
        assert t.missing == []
        assert t.pending == [u for u in EIGHT if u != "TQ-CH"]
        assert t.reporting_rate == Fraction(1, 8)


def test_timeliness_ignores_reports_from_units_not_expected_and_survives_no_expected_units() -> None:
    t = timeliness(["A"], {"A": True, "NOT-EXPECTED": True}, due=date(2024, 1, 1), as_of=date(2024, 2, 1))
    assert (t.expected, t.received, t.reporting_rate) == (1, 1, Fraction(1))

    none = timeliness([], {}, due=date(2024, 1, 1), as_of=date(2024, 2, 1))
    assert (none.reporting_rate, none.on_time_rate) == (None, None)


# ---------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(1, 10), "10,00%"),
        (Fraction(1, 3), "33,33%"),
        (Fraction(2, 3), "66,67%"),
        (Fraction(1, 8000), "0,01%"),  # 0,0125 % rounds half up
        (Fraction(1, 80000), "0,00%"),
        (Fraction(12345, 10000), "123,45%"),
        (Fraction(123456, 10), "1.234.560,00%"),
        (Decimal("0.839"), "83,90%"),
        (Fraction(0), "0,00%"),
    ],
)
def test_percentages_are_printed_with_a_decimal_comma_and_two_decimals(value: Fraction, text: str) -> None:
    assert fmt_percent(value) == text


def test_rounding_is_half_up_exactly_like_decimal_round_half_up() -> None:
    for num in range(0, 2001):
        exact = Fraction(num, 1600)  # many values land exactly on a half
        expected = (Decimal(num) * 100 / Decimal(1600)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert percent_number(exact) == expected, num
    assert round_half_up(Fraction(-1, 8), 2) == Decimal("-0.13")
    assert round_half_up(Fraction(1, 3), 0) == Decimal(0)
    # A value a hair under a half is not pushed up by an intermediate decimal expansion.
    hair = Fraction(5, 1000) - Fraction(1, 10**40)
    assert round_half_up(hair, 2) == Decimal("0.00")


def test_integers_and_targets_are_printed_the_vietnamese_way() -> None:
    assert fmt_int(1234567) == "1.234.567" and fmt_int(0) == "0"
    assert fmt_target(">=", Decimal("0.1")) == "≥ 10,00%"
    assert fmt_target("<", Decimal("0.519")) == "< 51,90%"
    assert met_label(True) == "Đạt" and met_label(False) == "Chưa đạt"
