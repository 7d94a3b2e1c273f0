"""The reporting calendar of a definition: cumulative monthly periods, the final report, the dossier."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from thidua.models.campaign import DeadlineKind
from thidua.models.definition import CampaignDefinition, DueOffset, FinalReport, load_definition
from thidua.models.schedule import build_schedule, monthly_cutoffs
from thidua.models.workdays import WorkCalendar, load_calendar

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load_calendar()


@pytest.fixture(scope="module")
def tq() -> CampaignDefinition:
    return load_definition(EXAMPLES / "tuyen-quang-2024.yaml")


def _with_reporting(defn: CampaignDefinition, **changes: object) -> CampaignDefinition:
    return defn.model_copy(update={"reporting": defn.reporting.model_copy(update=changes)})


def test_the_tuyen_quang_schedule_follows_the_plan_and_our_five_working_days(
    tq: CampaignDefinition, cal: WorkCalendar
) -> None:
    schedule = build_schedule(tq, cal)
    periods = [d for d in schedule if d.kind == DeadlineKind.PERIOD_REPORT]

    assert [d.key for d in periods] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    assert periods[0].label == "Báo cáo tháng 01/2024"
    assert {d.period_start for d in periods} == {date(2024, 1, 2)}  # cumulative from the campaign start
    assert [d.period_end for d in periods] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
    ]
    # 5 working days after each cut-off; April's run crosses 30/4–1/5 and the make-up Saturday 04/05.
    # June's would be 05/07, after the final report (03/07) that covers the same cut-off: due with it instead.
    assert [d.due_date for d in periods] == [
        date(2024, 2, 7),
        date(2024, 3, 7),
        date(2024, 4, 5),
        date(2024, 5, 7),
        date(2024, 6, 7),
        date(2024, 7, 3),
    ]
    assert all(d.nominal_due == d.due_date for d in periods)  # a working-day offset lands on a working day
    by_key = {d.key: d for d in schedule}
    assert (by_key["final"].kind, by_key["final"].due_date) == (DeadlineKind.FINAL_REPORT, date(2024, 7, 3))
    assert (by_key["final"].period_start, by_key["final"].period_end) == (date(2024, 1, 2), date(2024, 6, 30))
    assert (by_key["dossier"].kind, by_key["dossier"].due_date) == (DeadlineKind.DOSSIER, date(2024, 7, 3))
    assert len(schedule) == 8
    assert [d.due_date for d in schedule] == sorted(d.due_date for d in schedule)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("next_working_day", date(2024, 2, 15)),
        ("previous_working_day", date(2024, 2, 7)),
        ("keep", date(2024, 2, 10)),
    ],
)
def test_a_calendar_day_offset_falling_in_tet_is_moved_by_the_day_off_rule(
    tq: CampaignDefinition, cal: WorkCalendar, rule: str, expected: date
) -> None:
    # 31/01/2024 + 10 calendar days = Saturday 10/02/2024, the first day of Tết.
    defn = _with_reporting(tq, due_offset=DueOffset(days=10, working_days=False), day_off_rule=rule)

    january = next(d for d in build_schedule(defn, cal) if d.key == "2024-01")

    assert january.nominal_due == date(2024, 2, 10)
    assert january.due_date == expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("next_working_day", date(2024, 9, 4)),
        ("previous_working_day", date(2024, 8, 30)),
        ("keep", date(2024, 9, 2)),
    ],
)
def test_a_stated_deadline_on_national_day_follows_the_rule(
    tq: CampaignDefinition, cal: WorkCalendar, rule: str, expected: date
) -> None:
    defn = _with_reporting(tq, final_report=FinalReport(due=date(2024, 9, 2)), day_off_rule=rule)

    final = next(d for d in build_schedule(defn, cal) if d.key == "final")

    assert (final.nominal_due, final.due_date) == (date(2024, 9, 2), expected)


def test_the_national_schedule_starts_with_the_first_month_after_the_plan(cal: WorkCalendar) -> None:
    defn = load_definition(EXAMPLES / "national-2026.yaml")

    periods = [d for d in build_schedule(defn, cal) if d.kind == DeadlineKind.PERIOD_REPORT]

    assert [d.key for d in periods] == ["2026-02", "2026-03", "2026-04", "2026-05"]
    assert periods[0].period_start == date(2026, 1, 1)
    # 30/04/2026 falls on Thursday; 01/05 is a holiday, then a weekend: 04..08/05 are the 5 working days.
    assert periods[2].due_date == date(2026, 5, 8)


def test_last_period_and_no_periodic_reporting(tq: CampaignDefinition, cal: WorkCalendar) -> None:
    trimmed = build_schedule(_with_reporting(tq, last_period="2024-03"), cal)
    none = build_schedule(_with_reporting(tq, frequency="none"), cal)

    assert [d.key for d in trimmed if d.kind == DeadlineKind.PERIOD_REPORT] == [
        "2024-01",
        "2024-02",
        "2024-03",
    ]
    assert [d.key for d in none] == ["final", "dossier"]


def test_the_last_period_ends_with_the_campaign_even_mid_month() -> None:
    assert monthly_cutoffs(date(2024, 1, 2), date(2024, 3, 15)) == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 15),
    ]
    assert monthly_cutoffs(date(2024, 1, 2), date(2024, 3, 15), first="2024-02") == [
        date(2024, 2, 29),
        date(2024, 3, 15),
    ]
    assert monthly_cutoffs(date(2024, 12, 10), date(2025, 1, 5)) == [date(2024, 12, 31), date(2025, 1, 5)]
