"""Pure reminder policy: the step due on hand-picked dates of the Tuyên Quang 2024 calendar (Tết)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import VN, at
from thidua.models.definition import Reminders
from thidua.models.reminders import (
    due_step,
    escalation_due,
    steps_due_now,
    sweep_day,
    unit_steps,
    working_days_left,
)
from thidua.models.workdays import WorkCalendar, load_calendar

CAL = load_calendar()
POLICY = Reminders(send_hour=8, before_days=[1, 5, 2], overdue_every=2, overdue_max=3, escalate_after=5)
DUE = date(2024, 2, 7)  # January report; Tết holiday runs 08/02–14/02/2024


def _step_on(day: str) -> str | None:
    step, _ = steps_due_now(DUE, POLICY, CAL, at(day, 9), VN)
    return step.id if step else None


def test_the_steps_of_the_january_report_skip_weekends_and_tet() -> None:
    steps = {s.id: s.day for s in unit_steps(DUE, POLICY, CAL)}
    assert steps == {
        "before-5": date(2024, 1, 31),
        "before-2": date(2024, 2, 5),
        "before-1": date(2024, 2, 6),
        "on-day": date(2024, 2, 7),
        "overdue-1": date(2024, 2, 16),  # the first two working days after Tết: 15/02, 16/02
        "overdue-2": date(2024, 2, 20),
        "overdue-3": date(2024, 2, 22),
    }


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("30/01/2024", None),
        ("31/01/2024", "before-5"),
        ("01/02/2024", "before-5"),  # still the most recent step; the dedupe key stops a second email
        ("05/02/2024", "before-2"),
        ("06/02/2024", "before-1"),
        ("07/02/2024", "on-day"),
        ("15/02/2024", "on-day"),
        ("16/02/2024", "overdue-1"),
        ("20/02/2024", "overdue-2"),
        ("22/02/2024", "overdue-3"),
        ("29/02/2024", "overdue-3"),  # at most overdue_max times
    ],
)
def test_it_picks_the_most_recent_step_whose_day_has_come(day: str, expected: str | None) -> None:
    assert _step_on(day) == expected


@pytest.mark.parametrize(
    "day", ["03/02/2024", "04/02/2024", "08/02/2024", "10/02/2024", "14/02/2024", "17/02/2024"]
)
def test_it_sends_nothing_on_a_day_off(day: str) -> None:
    assert steps_due_now(DUE, POLICY, CAL, at(day, 9), VN) == (None, None)


def test_it_sends_nothing_before_the_send_hour() -> None:
    assert steps_due_now(DUE, POLICY, CAL, at("06/02/2024", 7, 59), VN) == (None, None)
    assert _step_on("06/02/2024") == "before-1"
    assert sweep_day(at("06/02/2024", 8), POLICY, CAL, VN) == date(2024, 2, 6)


def test_a_before_step_is_never_chosen_on_or_after_the_due_date() -> None:
    no_on_day = POLICY.model_copy(update={"on_day": False})
    assert due_step(DUE, no_on_day, CAL, date(2024, 2, 6)) is not None
    assert due_step(DUE, no_on_day, CAL, date(2024, 2, 7)) is None
    assert due_step(DUE, no_on_day, CAL, date(2024, 2, 15)) is None


def test_catch_up_after_downtime_gives_only_the_latest_step() -> None:
    # Down from 30/01 to 20/02: the sweep sends overdue-2 only, not the missed before/on-day/overdue-1.
    assert due_step(DUE, POLICY, CAL, date(2024, 2, 20)).id == "overdue-2"  # type: ignore[union-attr]


def test_escalation_comes_once_after_five_working_days_overdue() -> None:
    assert escalation_due(DUE, POLICY, CAL, date(2024, 2, 20)) is None
    step = escalation_due(DUE, POLICY, CAL, date(2024, 2, 21))
    assert step is not None and step.id == "escalate" and step.day == date(2024, 2, 21)
    # Still due on a later sweep (catch-up): the outbox dedupe key makes it once.
    assert escalation_due(DUE, POLICY, CAL, date(2024, 2, 26)) is not None


def test_a_due_date_kept_on_a_day_off_is_reminded_on_the_next_working_day() -> None:
    saturday = date(2024, 3, 9)
    steps = {s.id: s.day for s in unit_steps(saturday, POLICY, CAL)}
    assert steps["on-day"] == date(2024, 3, 11)
    assert steps["before-1"] == date(2024, 3, 8)


def test_a_disabled_policy_sends_nothing() -> None:
    off = POLICY.model_copy(update={"enabled": False})
    assert due_step(DUE, off, CAL, date(2024, 2, 7)) is None
    assert escalation_due(DUE, off, CAL, date(2024, 3, 7)) is None


def test_working_days_left_counts_forward_and_overdue() -> None:
    assert working_days_left(DUE, date(2024, 1, 31), CAL) == 5
    assert working_days_left(DUE, DUE, CAL) == 0
    assert working_days_left(DUE, date(2024, 2, 16), CAL) == -2


def test_a_naive_sweep_moment_is_refused() -> None:
    from datetime import datetime

    with pytest.raises(ValueError):
        sweep_day(datetime(2024, 2, 7, 9), POLICY, WorkCalendar(), VN)


def test_the_zone_decides_the_sweep_day() -> None:
    """The same instant is 08:00 on 06/02 in Vietnam but 01:00 in UTC, before the send hour there."""
    from zoneinfo import ZoneInfo

    moment = at("06/02/2024", 8)
    assert sweep_day(moment, POLICY, CAL, VN) == date(2024, 2, 6)
    assert sweep_day(moment, POLICY, CAL, ZoneInfo("UTC")) is None


def test_the_installation_zone_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from thidua.models.settings import Settings

    monkeypatch.setenv("THIDUA_TIMEZONE", "Asia/Bangkok")
    assert Settings().tz.key == "Asia/Bangkok"
    monkeypatch.setenv("THIDUA_TIMEZONE", "Sao Hỏa/Không có")
    with pytest.raises(ValueError, match="múi giờ “Sao Hỏa/Không có” không có"):
        Settings()
