"""Working days of Vietnamese civil servants: weekends, public holidays, and each year's swapped days.

Public holidays come from the `holidays` package (country "VN", Labour Code 2019 art. 112, with compensatory
days). The yearly government notices that give extra days off and make a Saturday a working day are data in
models/data/vn_days_off.yaml, so a new year is an edit of that file, not of this module.

Precedence for one date: a listed make-up working day is working; else a listed day off, a weekend day or a
public holiday is not; else it is working.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from thidua.errors import InvalidInput

if TYPE_CHECKING:
    import holidays

DayOffRule = Literal["next_working_day", "previous_working_day", "keep"]

Day = date  # the data file's key is `date`, which would shadow the type inside _Entry

DEFAULT_DATA_FILE = Path(__file__).parent / "data" / "vn_days_off.yaml"

# A longer run of days off than any real calendar has: beyond it the data must be wrong.
_MAX_GAP = 60
_WEEKDAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


class CalendarError(InvalidInput):
    """The working-day data is unreadable or contradicts itself."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: Day
    to: Day | None = None
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> _Entry:
        if self.to is not None and self.to < self.date:
            raise ValueError(f"`to` {self.to} trước `date` {self.date}")
        return self

    def days(self) -> list[Day]:
        last = self.to or self.date
        return [self.date + timedelta(days=i) for i in range((last - self.date).days + 1)]


class _Year(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days_off: list[_Entry] = []
    working_days: list[_Entry] = []


def _read_data(path: Path) -> tuple[dict[date, str], dict[date, str]]:
    import yaml  # only when a calendar file is read: not for reading a stored campaign

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path.name}: không đọc được lịch ngày nghỉ: {exc}") from exc
    if not isinstance(raw, dict):
        raise CalendarError(f"{path.name}: cần các mục theo năm (2024: …)")
    off: dict[date, str] = {}
    work: dict[date, str] = {}
    for key, body in raw.items():
        try:
            year = int(key)
            parsed = _Year.model_validate(body or {})
        except (ValueError, TypeError) as exc:  # ValidationError is a ValueError
            raise CalendarError(f"{path.name}: năm {key}: {exc}") from exc
        for target, entries in ((off, parsed.days_off), (work, parsed.working_days)):
            for entry in entries:
                for day in entry.days():
                    if day.year != year:
                        raise CalendarError(f"{path.name}: ngày {day:%d/%m/%Y} ghi dưới năm {year}")
                    target[day] = entry.note
    both = sorted(set(off) & set(work))
    if both:
        listed = ", ".join(f"{d:%d/%m/%Y}" for d in both)
        raise CalendarError(f"{path.name}: ngày vừa là ngày nghỉ vừa là ngày làm bù: {listed}")
    return off, work


class WorkCalendar:
    """Which dates are working days, and date arithmetic in working days."""

    def __init__(
        self,
        days_off: Mapping[date, str] | None = None,
        working_days: Mapping[date, str] | None = None,
        use_public_holidays: bool = True,
    ) -> None:
        self._off = dict(days_off or {})
        self._work = dict(working_days or {})
        # Years are filled in lazily by the package as dates are asked about; the package itself is loaded
        # by the first calendar, not by every command that imports the date rules.
        self._public: holidays.HolidayBase | None = None
        if use_public_holidays:
            import holidays

            self._public = holidays.country_holidays("VN", language="vi")

    def is_working_day(self, day: date) -> bool:
        return self.day_off_reason(day) is None

    def day_off_reason(self, day: date) -> str | None:
        """Why `day` is not a working day (for messages), or None if it is one."""
        if day in self._work:
            return None
        if day in self._off:
            return self._off[day] or "Ngày nghỉ"
        if self._public is not None and day in self._public:
            return str(self._public.get(day))
        if day.weekday() >= 5:
            return _WEEKDAY_NAMES[day.weekday()]
        return None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        return self._step(day, 1)

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before `day`."""
        return self._step(day, -1)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (before it when n < 0); `day` itself when n == 0."""
        step = 1 if n > 0 else -1
        for _ in range(abs(n)):
            day = self._step(day, step)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Signed count of working-day steps from `start` to `end`, the inverse of add_working_days.

        Forward (start <= end): working days d with start < d <= end. Backward: minus the working days d with
        end <= d < start. So working_days_between(d, add_working_days(d, n)) == n for every d and n.
        """
        if end < start:
            span = range((start - end).days)
            return -sum(1 for i in span if self.is_working_day(end + timedelta(days=i)))
        span = range(1, (end - start).days + 1)
        return sum(1 for i in span if self.is_working_day(start + timedelta(days=i)))

    def adjust(self, day: date, rule: DayOffRule) -> date:
        """Move a due date that falls on a day off, as the campaign's day_off_rule says."""
        if rule == "keep" or self.is_working_day(day):
            return day
        if rule == "next_working_day":
            return self.next_working_day(day)
        if rule == "previous_working_day":
            return self.previous_working_day(day)
        raise ValueError(f"quy tắc ngày nghỉ không hợp lệ: {rule!r}")

    def _step(self, day: date, step: int) -> date:
        for _ in range(_MAX_GAP):
            day += timedelta(days=step)
            if self.is_working_day(day):
                return day
        raise CalendarError(f"không có ngày làm việc nào trong {_MAX_GAP} ngày quanh {day:%d/%m/%Y}")


def load_calendar(extra_file: Path | None = None, data_file: Path = DEFAULT_DATA_FILE) -> WorkCalendar:
    """The civil-servant calendar: the shipped data file, plus an agency file that wins per date."""
    off, work = _read_data(data_file)
    if extra_file is not None:
        extra_off, extra_work = _read_data(extra_file)
        for day in extra_off:
            work.pop(day, None)
        for day in extra_work:
            off.pop(day, None)
        off.update(extra_off)
        work.update(extra_work)
    return WorkCalendar(days_off=off, working_days=work)


__all__ = ["DEFAULT_DATA_FILE", "CalendarError", "DayOffRule", "WorkCalendar", "load_calendar"]
