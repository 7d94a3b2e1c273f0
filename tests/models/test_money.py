"""Reward money: the base salary around each decree's date, rounding up to 10,000 VND, amounts in words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from thidua.models.money import (
    MoneyError,
    amount_in_words,
    award_amounts,
    base_salary_entry_on,
    base_salary_on,
    collective_multiplier,
    load_base_salaries,
    number_words,
    reward_amount,
    vn_money,
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2019, 7, 1), 1_490_000),
        (date(2023, 6, 30), 1_490_000),
        (date(2023, 7, 1), 1_800_000),
        (date(2024, 6, 30), 1_800_000),
        (date(2024, 7, 1), 2_340_000),
        (date(2026, 7, 19), 2_340_000),
    ],
)
def test_the_base_salary_changes_on_each_decrees_effective_date(day: date, expected: int) -> None:
    assert base_salary_on(day) == expected


def test_each_base_salary_names_the_decree_that_set_it() -> None:
    assert "73/2024/NĐ-CP" in base_salary_entry_on(date(2024, 7, 1)).source
    assert "24/2023/NĐ-CP" in base_salary_entry_on(date(2024, 6, 30)).source
    assert "38/2019/NĐ-CP" in base_salary_entry_on(date(2019, 7, 1)).source


def test_a_day_before_the_schedule_has_no_base_salary_and_says_from_when_it_starts() -> None:
    with pytest.raises(MoneyError, match=r"30/06/2019.*01/07/2019"):
        base_salary_on(date(2019, 6, 30))


@pytest.mark.parametrize(
    ("multiplier", "base", "expected"),
    [
        ("0.3", 2_340_000, 710_000),  # 702,000 exactly, rounded up to the next 10,000
        ("0.6", 2_340_000, 1_410_000),  # 1,404,000
        ("1.5", 2_340_000, 3_510_000),  # already a multiple of 10,000: unchanged
        ("3.0", 2_340_000, 7_020_000),
        ("0.3", 1_800_000, 540_000),
        ("0.3", 1_490_000, 450_000),  # 447,000
        ("0.8", 1_490_000, 1_200_000),  # 1,192,000
        ("0", 2_340_000, 0),
    ],
)
def test_reward_is_multiplier_times_base_rounded_up_to_ten_thousand(
    multiplier: str, base: int, expected: int
) -> None:
    assert reward_amount(Decimal(multiplier), base) == expected


def test_one_dong_over_a_step_rounds_up_to_the_next_step() -> None:
    assert reward_amount(Decimal(1), 2_340_001) == 2_350_000
    assert reward_amount(Decimal(1), 2_340_000) == 2_340_000


def test_a_float_multiplier_is_refused_rather_than_rounded() -> None:
    with pytest.raises(MoneyError, match="Decimal"):
        reward_amount(0.3, 2_340_000)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        reward_amount(Decimal("-0.3"), 2_340_000)


def test_the_collective_factor_setting_multiplies_the_individual_multiplier() -> None:
    assert collective_multiplier(Decimal("0.6"), Decimal("0.3"), None) == Decimal("0.6")
    assert collective_multiplier(Decimal("0.6"), Decimal("0.3"), Decimal(2)) == Decimal("0.6")
    assert collective_multiplier(Decimal("0.6"), Decimal("0.3"), Decimal("2.5")) == Decimal("0.75")
    amounts = award_amounts(date(2024, 7, 19), Decimal("0.6"), Decimal("0.3"), Decimal("2.5"))
    assert (amounts.collective, amounts.individual) == (1_760_000, 710_000)  # 1,755,000 rounded up
    plain = award_amounts(date(2024, 7, 19), Decimal("0.6"), Decimal("0.3"))
    assert (plain.collective, plain.individual, plain.base.amount) == (1_410_000, 710_000, 2_340_000)


def test_money_is_written_with_dots_and_in_words() -> None:
    assert vn_money(702_000) == "702.000 đồng"
    assert vn_money(1_410_000) == "1.410.000 đồng"
    assert amount_in_words(710_000) == "Bảy trăm mười nghìn đồng"
    assert amount_in_words(702_000) == "Bảy trăm linh hai nghìn đồng"
    assert amount_in_words(3_510_000) == "Ba triệu năm trăm mười nghìn đồng"
    assert amount_in_words(4_950_000) == "Bốn triệu chín trăm năm mươi nghìn đồng"


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"),
        (5, "năm"),
        (15, "mười lăm"),
        (21, "hai mươi mốt"),
        (25, "hai mươi lăm"),
        (105, "một trăm linh năm"),
        (1_000_000, "một triệu"),
        (1_001_000, "một triệu không trăm linh một nghìn"),
        (1_050_000, "một triệu không trăm năm mươi nghìn"),
        (2_000_000_000, "hai tỷ"),
        (1_000_000_500, "một tỷ năm trăm"),
    ],
)
def test_numbers_are_read_the_vietnamese_way(n: int, words: str) -> None:
    assert number_words(n) == words


def test_a_malformed_schedule_names_the_file_and_entry(tmp_path: Path) -> None:
    bad = tmp_path / "base_salary.yaml"
    bad.write_text("- from: 2024-07-01\n  amount: 2340000.5\n  source: NĐ 73\n", encoding="utf-8")
    with pytest.raises(MoneyError, match=r"base_salary.yaml, mục 1: “amount”"):
        load_base_salaries(bad)
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        "- {from: 2024-07-01, amount: 1, source: a}\n- {from: 2024-07-01, amount: 2, source: b}\n",
        encoding="utf-8",
    )
    with pytest.raises(MoneyError, match="cùng ngày"):
        load_base_salaries(twice)
