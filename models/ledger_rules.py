"""What a case ledger says about a campaign's fields: the seed rules as plain functions over plain cases.

The database computes the same figures set-based (tasks/collect/ledger, one GROUP BY); these functions are the
reference the SQL is tested against and the place the rules are written down. Dates are whole days.

## Statuses (`Trạng thái`, normalised by models/ledger_rows.py)

| code                | label             | kind                                                     |
| ------------------- | ----------------- | -------------------------------------------------------- |
| `dang_thi_hanh`     | đang thi hành     | pending                                                  |
| `hoan`              | hoãn              | pending (still "có điều kiện", not finished)             |
| `tam_dinh_chi`      | tạm đình chỉ      | pending                                                  |
| `tam_dung`          | tạm dừng          | pending                                                  |
| `xong`              | xong              | finished on `Ngày trạng thái`                            |
| `dinh_chi`          | đình chỉ          | finished on `Ngày trạng thái` ("thi hành xong" includes) |
| `chua_co_dieu_kien` | chưa có điều kiện | leaves the "có điều kiện" stock on `Ngày trạng thái`     |
| `uy_thac`           | ủy thác           | leaves (sent to another office) on `Ngày trạng thái`     |
| `tra_don`           | trả đơn           | leaves (application returned) on `Ngày trạng thái`       |

A case is *closed before* day X when it is finished or has left with a status date earlier than X. A ledger is
a snapshot: each case carries its latest status only, so a figure for an earlier day D reads the status dates
(a case finished after D was pending on D). Partial collections on pending cases have no date and are
therefore not counted in any dated figure.

## "Có điều kiện trên một năm" (seed 003)

The one-year period runs from the day after `Ngày có điều kiện` and ends at the end of the corresponding day
one year later, the *anniversary* (Bộ luật Dân sự 2015, art. 147–148); when that month has no such day (29/02
in a non-leap year) it ends on the last day of the month, 28/02. A case is over one year **from the day after
the anniversary**: became enforceable 15/03/2023 → over one year from 16/03/2024; 29/02/2024 → 01/03/2025.

With the campaign's baseline B (the start of day B; `ledger.baseline`, by default the campaign start) and a
cut-off D ≥ B (the end of day D):

- `carried_over`: over one year at B (from day ≤ B) and not closed before B;
- `arising`: crosses the line during (B, D] and is not closed before the day it crosses;
- `finished`: a case of either group finished (xong or đình chỉ) on or before D;
- reduction rate = finished ÷ (carried_over + arising).

## Completion by cases and by money (seed 000)

Counted from the baseline S (the start of the statistical year, 01/10, for the national campaign) to D:

- `cases_finished`: finished (xong or đình chỉ) with a status date in [S, D];
- `cases_with_conditions`: those, plus the cases pending "có điều kiện" at the end of D (a `Ngày có điều kiện`
  ≤ D and not closed on or before D): "xong ÷ có điều kiện" as DOMAIN.md states it, so a case reclassified
  as "chưa có điều kiện" or sent away before D leaves the denominator;
- `money_with_conditions`: `Số tiền phải thi hành` summed over `cases_with_conditions`;
- `money_finished`: `Số tiền phải thi hành` summed over `cases_finished`: the obligation of a finished case is
  settled as a whole (paid, waived, or ended by đình chỉ), so the money rate counts the same cases as the case
  rate and can never exceed 100 %;
- `money_collected`: `Số tiền đã thu` summed over `cases_finished`, the cash actually recovered on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Literal, get_args


class Status(StrEnum):
    DANG_THI_HANH = "dang_thi_hanh"
    HOAN = "hoan"
    TAM_DINH_CHI = "tam_dinh_chi"
    TAM_DUNG = "tam_dung"
    XONG = "xong"
    DINH_CHI = "dinh_chi"
    CHUA_CO_DIEU_KIEN = "chua_co_dieu_kien"
    UY_THAC = "uy_thac"
    TRA_DON = "tra_don"


STATUS_LABELS: dict[Status, str] = {
    Status.DANG_THI_HANH: "đang thi hành",
    Status.HOAN: "hoãn",
    Status.TAM_DINH_CHI: "tạm đình chỉ",
    Status.TAM_DUNG: "tạm dừng",
    Status.XONG: "xong",
    Status.DINH_CHI: "đình chỉ",
    Status.CHUA_CO_DIEU_KIEN: "chưa có điều kiện",
    Status.UY_THAC: "ủy thác",
    Status.TRA_DON: "trả đơn",
}

FINISHED: frozenset[Status] = frozenset({Status.XONG, Status.DINH_CHI})
LEFT: frozenset[Status] = frozenset({Status.CHUA_CO_DIEU_KIEN, Status.UY_THAC, Status.TRA_DON})
CLOSING: frozenset[Status] = FINISHED | LEFT

Measure = Literal[
    "carried_over",
    "arising",
    "finished",
    "cases_with_conditions",
    "cases_finished",
    "money_with_conditions",
    "money_finished",
    "money_collected",
]
MEASURES: tuple[Measure, ...] = get_args(Measure)
MEASURE_LABELS: dict[Measure, str] = {
    "carried_over": "Việc có điều kiện trên một năm chưa xong, chuyển sang (tại ngày gốc)",
    "arising": "Việc có điều kiện trên một năm phát sinh sau ngày gốc",
    "finished": "Việc có điều kiện trên một năm đã thi hành xong",
    "cases_with_conditions": "Số việc có điều kiện thi hành",
    "cases_finished": "Số việc đã thi hành xong",
    "money_with_conditions": "Số tiền có điều kiện thi hành",
    "money_finished": "Số tiền đã thi hành xong",
    "money_collected": "Số tiền thực thu trên các việc đã xong",
}
SEED_003: frozenset[Measure] = frozenset({"carried_over", "arising", "finished"})


@dataclass(frozen=True)
class Case:
    """One ledger row, typed."""

    case_id: str
    unit_code: str
    officer_code: str | None
    received: date
    conditions: date | None  # None = never "có điều kiện"
    status: Status
    status_date: date | None
    owed: int = 0
    collected: int = 0


# ---------------------------------------------------------------- the one-year line


def anniversary(day: date) -> date:
    """The same day one year later; 29/02 → 28/02 (no 29th that month: its last day, BLDS 2015 art. 148)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return date(day.year + 1, 2, 28)


def over_one_year_from(conditions: date) -> date:
    """The first day on which a case enforceable since `conditions` counts as over one year."""
    return anniversary(conditions) + timedelta(days=1)


def last_conditions_date_over_by(day: date) -> date:
    """The latest `Ngày có điều kiện` that makes a case over one year on `day`.

    `over_one_year_from` never decreases, so "over one year on day" is "conditions ≤ this date": the SQL
    compares a column with a parameter instead of doing date arithmetic per row.
    """
    limit = day - timedelta(days=1)  # the anniversary must be at the latest the day before
    try:
        found = limit.replace(year=limit.year - 1)
    except ValueError:  # limit is 29/02: a year earlier has no 29/02
        found = date(limit.year - 1, 2, 28)
    while anniversary(found + timedelta(days=1)) <= limit:  # 29/02 of a leap year also ends on 28/02
        found += timedelta(days=1)
    return found


# ---------------------------------------------------------------- a case on a day


def closed_before(case: Case, day: date) -> bool:
    """Finished or gone (chưa có điều kiện, ủy thác, trả đơn) before the start of `day`."""
    return case.status in CLOSING and case.status_date is not None and case.status_date < day


def finished_by(case: Case, day: date) -> bool:
    """Finished (xong or đình chỉ) at the end of `day`."""
    return case.status in FINISHED and case.status_date is not None and case.status_date <= day


def is_over_one_year(case: Case, day: date) -> bool:
    """Pending "có điều kiện" for more than one year at the start of `day`."""
    if case.conditions is None:
        return False
    return over_one_year_from(case.conditions) <= day and not closed_before(case, day)


def seed003_flags(case: Case, *, baseline: date, at: date) -> tuple[bool, bool, bool]:
    """(carried_over, arising, finished) for one case, baseline B and cut-off D."""
    if case.conditions is None:
        return (False, False, False)
    crosses = over_one_year_from(case.conditions)
    carried = crosses <= baseline and not closed_before(case, baseline)
    arising = baseline < crosses <= at and not closed_before(case, crosses)
    return (carried, arising, (carried or arising) and finished_by(case, at))


def seed000_flags(case: Case, *, start: date, at: date) -> tuple[bool, bool]:
    """(with_conditions, finished) for one case, counting from `start` to the end of `at`."""
    finished = finished_by(case, at) and case.status_date is not None and case.status_date >= start
    pending = (
        case.conditions is not None
        and case.conditions <= at
        and not (case.status in CLOSING and case.status_date is not None and case.status_date <= at)
    )
    return (finished or pending, finished)


# ---------------------------------------------------------------- figures


def check_dates(baseline: date, at: date) -> None:
    if at < baseline:
        raise ValueError(f"ngày tính {at:%d/%m/%Y} trước ngày gốc {baseline:%d/%m/%Y} của phong trào")


def figures(cases: Iterable[Case], *, baseline: date, at: date) -> dict[Measure, int]:
    """Every measure over `cases`, baseline B (start of that day) and cut-off D (end of that day)."""
    check_dates(baseline, at)
    out: dict[Measure, int] = dict.fromkeys(MEASURES, 0)
    for case in cases:
        carried, arising, finished = seed003_flags(case, baseline=baseline, at=at)
        out["carried_over"] += carried
        out["arising"] += arising
        out["finished"] += finished
        with_conditions, done = seed000_flags(case, start=baseline, at=at)
        if with_conditions:
            out["cases_with_conditions"] += 1
            out["money_with_conditions"] += case.owed
        if done:
            out["cases_finished"] += 1
            out["money_finished"] += case.owed
            out["money_collected"] += case.collected
    return out


def figures_by(
    cases: Iterable[Case], *, baseline: date, at: date, by: Literal["unit", "officer"] = "unit"
) -> dict[str, dict[Measure, int]]:
    """`figures` per unit (own cases only) or per officer (cases without an officer are left out)."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        key = case.unit_code if by == "unit" else case.officer_code
        if key is not None:
            groups.setdefault(key, []).append(case)
    return {key: figures(group, baseline=baseline, at=at) for key, group in sorted(groups.items())}


def reduction_rate(values: dict[Measure, int]) -> Fraction | None:
    """finished ÷ (carried_over + arising); None when there is nothing to reduce."""
    return rate(values["finished"], values["carried_over"] + values["arising"])


def rate(numerator: int, denominator: int) -> Fraction | None:
    return None if denominator == 0 else Fraction(numerator, denominator)


__all__ = [
    "CLOSING",
    "FINISHED",
    "LEFT",
    "MEASURES",
    "MEASURE_LABELS",
    "SEED_003",
    "STATUS_LABELS",
    "Case",
    "Measure",
    "Status",
    "anniversary",
    "check_dates",
    "closed_before",
    "figures",
    "figures_by",
    "finished_by",
    "is_over_one_year",
    "last_conditions_date_over_by",
    "over_one_year_from",
    "rate",
    "reduction_rate",
    "seed000_flags",
    "seed003_flags",
]
