"""Working days of civil servants: public holidays, the yearly swaps, make-up Saturdays, date arithmetic."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from thidua.models.workdays import CalendarError, WorkCalendar, load_calendar


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load_calendar()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.mark.parametrize(
    ("first", "last", "before", "after"),
    [
        (date(2024, 2, 8), date(2024, 2, 14), date(2024, 2, 7), date(2024, 2, 15)),  # Tết Giáp Thìn
        (date(2025, 1, 25), date(2025, 2, 2), date(2025, 1, 24), date(2025, 2, 3)),  # Tết Ất Tỵ
        (date(2026, 2, 14), date(2026, 2, 22), date(2026, 2, 13), date(2026, 2, 23)),  # Tết Bính Ngọ, 9 days
        (
            date(2024, 4, 27),
            date(2024, 5, 1),
            date(2024, 4, 26),
            date(2024, 5, 2),
        ),  # 30/4 – 1/5 2024, swapped
        (
            date(2025, 4, 30),
            date(2025, 5, 4),
            date(2025, 4, 29),
            date(2025, 5, 5),
        ),  # 30/4 – 1/5 2025, swapped
        (date(2024, 8, 31), date(2024, 9, 3), date(2024, 8, 30), date(2024, 9, 4)),  # 2/9 2024
        (date(2025, 8, 30), date(2025, 9, 2), date(2025, 8, 29), date(2025, 9, 3)),  # 2/9 2025: 1–2/9 off
        (date(2026, 8, 29), date(2026, 9, 2), date(2026, 8, 28), date(2026, 9, 3)),  # 2/9 2026, swapped
        (date(2026, 1, 1), date(2026, 1, 4), date(2025, 12, 31), date(2026, 1, 5)),  # New Year 2026, swapped
    ],
    ids=[
        "tet-2024",
        "tet-2025",
        "tet-2026",
        "30-4-2024",
        "30-4-2025",
        "2-9-2024",
        "2-9-2025",
        "2-9-2026",
        "new-year-2026",
    ],
)
def test_a_holiday_run_is_off_and_framed_by_working_days(
    cal: WorkCalendar, first: date, last: date, before: date, after: date
) -> None:
    assert [d for d in _days(first, last) if cal.is_working_day(d)] == []
    assert cal.is_working_day(before)
    assert cal.is_working_day(after)


@pytest.mark.parametrize(
    "saturday", [date(2024, 5, 4), date(2025, 4, 26), date(2026, 1, 10), date(2026, 8, 22)]
)
def test_a_make_up_saturday_is_a_working_day(cal: WorkCalendar, saturday: date) -> None:
    assert saturday.weekday() == 5
    assert cal.is_working_day(saturday)
    assert not cal.is_working_day(saturday + timedelta(days=7))  # the next Saturday is an ordinary one


def test_ordinary_weekends_are_off_and_say_why(cal: WorkCalendar) -> None:
    assert cal.day_off_reason(date(2024, 3, 9)) == "Thứ Bảy"
    assert cal.day_off_reason(date(2024, 3, 10)) == "Chủ nhật"
    assert cal.day_off_reason(date(2024, 3, 11)) is None
    assert "Tết" in (cal.day_off_reason(date(2024, 2, 10)) or "")


def test_next_and_previous_working_day_step_over_tet(cal: WorkCalendar) -> None:
    assert cal.next_working_day(date(2024, 2, 7)) == date(2024, 2, 15)
    assert cal.previous_working_day(date(2024, 2, 15)) == date(2024, 2, 7)
    assert cal.next_working_day(date(2024, 3, 11)) == date(
        2024, 3, 12
    )  # strictly after, even from a working day


def test_adding_working_days_counts_the_make_up_saturday(cal: WorkCalendar) -> None:
    # After 30/4/2024: 02/05, 03/05, Sat 04/05 (make-up), 06/05, 07/05.
    assert cal.add_working_days(date(2024, 4, 30), 5) == date(2024, 5, 7)
    assert cal.add_working_days(date(2024, 5, 7), -5) == date(2024, 4, 26)
    assert cal.add_working_days(date(2024, 2, 10), 0) == date(2024, 2, 10)


@pytest.mark.parametrize("n", [-12, -5, -1, 0, 1, 3, 5, 20])
@pytest.mark.parametrize("start", [date(2024, 2, 7), date(2024, 4, 30), date(2026, 2, 13), date(2025, 8, 29)])
def test_working_days_between_is_the_inverse_of_adding(cal: WorkCalendar, start: date, n: int) -> None:
    assert cal.working_days_between(start, cal.add_working_days(start, n)) == n


def test_working_days_between_counts_the_half_open_interval(cal: WorkCalendar) -> None:
    assert cal.working_days_between(date(2024, 2, 7), date(2024, 2, 15)) == 1
    assert cal.working_days_between(date(2024, 2, 15), date(2024, 2, 7)) == -1
    assert cal.working_days_between(date(2024, 4, 30), date(2024, 4, 26)) == -1  # from a holiday, backwards
    assert cal.working_days_between(date(2024, 3, 11), date(2024, 3, 11)) == 0


def test_adjust_applies_each_day_off_rule(cal: WorkCalendar) -> None:
    tet = date(2024, 2, 10)
    assert cal.adjust(tet, "next_working_day") == date(2024, 2, 15)
    assert cal.adjust(tet, "previous_working_day") == date(2024, 2, 7)
    assert cal.adjust(tet, "keep") == tet
    working = date(2024, 3, 11)
    assert {cal.adjust(working, r) for r in ("next_working_day", "previous_working_day", "keep")} == {working}


def test_an_agency_file_adds_a_year_without_code_and_overrides_the_shipped_data(tmp_path: Path) -> None:
    extra = tmp_path / "local.yaml"
    extra.write_text(
        "2027:\n"
        "  days_off:\n"
        "    - {date: 2027-03-15, to: 2027-03-16, note: Ngày nghỉ riêng}\n"
        "  working_days:\n"
        "    - {date: 2027-03-20, note: Làm bù}\n"
        "2024:\n"
        "  days_off:\n"
        "    - {date: 2024-05-04, note: Không làm bù}\n",
        encoding="utf-8",
    )
    base = load_calendar()

    cal = load_calendar(extra_file=extra)

    assert base.is_working_day(date(2027, 3, 15)) and not cal.is_working_day(date(2027, 3, 15))
    assert not cal.is_working_day(date(2027, 3, 16))
    assert not base.is_working_day(date(2027, 3, 20)) and cal.is_working_day(date(2027, 3, 20))
    assert base.is_working_day(date(2024, 5, 4)) and not cal.is_working_day(date(2024, 5, 4))
    assert cal.day_off_reason(date(2027, 3, 15)) == "Ngày nghỉ riêng"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("2024:\n  days_off:\n    - {date: 2025-01-02}\n", "ghi dưới năm 2024"),
        (
            "2024:\n  days_off: [{date: 2024-05-06}]\n  working_days: [{date: 2024-05-06}]\n",
            "vừa là ngày nghỉ",
        ),
        ("2024:\n  holidays: [{date: 2024-05-06}]\n", "holidays"),
        ("2024:\n  days_off: [{date: 2024-05-09, to: 2024-05-06}]\n", "trước"),
        ("- 2024\n", "theo năm"),
    ],
    ids=["wrong-year", "both", "unknown-key", "reversed-range", "not-a-mapping"],
)
def test_inconsistent_calendar_data_is_rejected(tmp_path: Path, body: str, fragment: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(body, encoding="utf-8")

    with pytest.raises(CalendarError, match=fragment):
        load_calendar(extra_file=bad)


def test_without_public_holidays_only_weekends_and_listed_days_are_off() -> None:
    cal = WorkCalendar(
        days_off={date(2024, 3, 12): "x"}, working_days={date(2024, 3, 16): "y"}, use_public_holidays=False
    )

    assert cal.is_working_day(date(2024, 4, 30))
    assert not cal.is_working_day(date(2024, 3, 12))
    assert cal.is_working_day(date(2024, 3, 16))
