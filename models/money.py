"""Reward money: the base salary in force on a day, multiplier × base rounded up, amounts written out.

Pure functions over integers of VND and Decimals; the base-salary schedule is data
(models/data/base_salary.yaml, one entry per decree), so a new decree is an edit of that file.

Rounding: the issue asks for the amount "rounded up to 10,000 VND" (the practice of the finance offices that
pay it). DOMAIN.md quotes Giấy khen as "0.3 (702,000 VND)": that is the unrounded product 0.3 × 2,340,000;
the amount paid, printed and stored here is 710,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from pathlib import Path

import yaml

from thidua.errors import InvalidInput
from thidua.models.text import fmt_date, nfc

BASE_SALARY_FILE = Path(__file__).parent / "data" / "base_salary.yaml"
ROUND_UP_TO = 10_000  # VND


class MoneyError(InvalidInput):
    """A reward amount that cannot be computed (no base salary on that day, a bad multiplier or file)."""


@dataclass(frozen=True)
class BaseSalary:
    effective_from: date  # inclusive; holds until the next entry
    amount: int  # VND per month
    source: str  # "Nghị định số 73/2024/NĐ-CP ngày 30/6/2024 của Chính phủ"


def _entry(raw: object, index: int, name: str) -> BaseSalary:
    where = f"{name}, mục {index + 1}"
    if not isinstance(raw, dict):
        raise MoneyError(f"{where}: cần các khóa from, amount, source")
    start, amount, source = raw.get("from"), raw.get("amount"), raw.get("source")
    if not isinstance(start, date):
        raise MoneyError(f"{where}: “from” phải là một ngày yyyy-mm-dd, nhận được “{start}”")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise MoneyError(f"{where}: “amount” phải là số nguyên dương (đồng), nhận được “{amount}”")
    if not isinstance(source, str) or not nfc(source):
        raise MoneyError(f"{where}: thiếu “source” (văn bản quy định mức lương cơ sở)")
    return BaseSalary(start, amount, nfc(source))


def load_base_salaries(path: Path = BASE_SALARY_FILE) -> tuple[BaseSalary, ...]:
    """The schedule, oldest first; a malformed file is an error naming the file and the entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, yaml.YAMLError) as exc:
        raise MoneyError(f"không đọc được {path.name}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise MoneyError(f"{path.name}: cần một danh sách các mức lương cơ sở")
    entries = sorted(
        (_entry(item, i, path.name) for i, item in enumerate(raw)), key=lambda e: e.effective_from
    )
    days = [e.effective_from for e in entries]
    if len(set(days)) != len(days):
        raise MoneyError(f"{path.name}: hai mức lương cơ sở cùng ngày hiệu lực")
    return tuple(entries)


@lru_cache(maxsize=1)
def base_salary_schedule() -> tuple[BaseSalary, ...]:
    return load_base_salaries()


def base_salary_entry_on(day: date, schedule: tuple[BaseSalary, ...] | None = None) -> BaseSalary:
    """The entry in force on `day` (the latest whose effective date is on or before it)."""
    entries = schedule if schedule is not None else base_salary_schedule()
    found = None
    for entry in entries:
        if entry.effective_from <= day:
            found = entry
    if found is None:
        first = entries[0].effective_from if entries else None
        since = f" (dữ liệu bắt đầu từ {fmt_date(first)})" if first else ""
        raise MoneyError(f"không có mức lương cơ sở áp dụng cho ngày {fmt_date(day)}{since}")
    return found


def base_salary_on(day: date) -> int:
    """VND per month in force on `day`: 2,340,000 from 01/07/2024, 1,800,000 from 01/07/2023, ..."""
    return base_salary_entry_on(day).amount


def _decimal(value: Decimal | int, what: str) -> Decimal:
    # A float here would be a binary approximation (0.3 is 0.2999...); refuse it rather than round it away.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise MoneyError(f"{what} phải là Decimal hoặc số nguyên, không phải {type(value).__name__}")
    out = Decimal(value)
    if not out.is_finite() or out < 0:
        raise MoneyError(f"{what} không hợp lệ: {value}")
    return out


def reward_amount(multiplier: Decimal, base: int) -> int:
    """multiplier × base, rounded up to the next 10,000 VND, computed exactly (0.3 × 2,340,000 → 710,000)."""
    exact = _decimal(multiplier, "hệ số") * _decimal(base, "mức lương cơ sở")
    steps = (exact / ROUND_UP_TO).to_integral_value(rounding=ROUND_CEILING)
    return int(steps) * ROUND_UP_TO


def collective_multiplier(collective: Decimal, individual: Decimal, factor: Decimal | None) -> Decimal:
    """The collective's multiplier: the award's own, or `factor` × the individual's when a factor is set
    (settings.award_collective_factor: collectives are paid a multiple of what a person gets)."""
    if factor is None:
        return _decimal(collective, "hệ số tập thể")
    return _decimal(factor, "hệ số tập thể so với cá nhân") * _decimal(individual, "hệ số cá nhân")


@dataclass(frozen=True)
class AwardAmounts:
    base: BaseSalary
    collective_multiplier: Decimal
    individual_multiplier: Decimal
    collective: int  # VND per collective
    individual: int  # VND per person

    def for_subject(self, kind: str) -> int:
        return self.collective if kind == "collective" else self.individual


def award_amounts(
    day: date, collective: Decimal, individual: Decimal, factor: Decimal | None = None
) -> AwardAmounts:
    """Both amounts of an award decided on `day` (the base salary in force that day)."""
    base = base_salary_entry_on(day)
    coll = collective_multiplier(collective, individual, factor)
    ind = _decimal(individual, "hệ số cá nhân")
    return AwardAmounts(base, coll, ind, reward_amount(coll, base.amount), reward_amount(ind, base.amount))


# ---------------------------------------------------------------- how amounts are written


def fmt_vnd(amount: int) -> str:
    """1.410.000 (dots between thousands, as printed in Vietnam)."""
    return f"{amount:,}".replace(",", ".")


def vn_money(amount: int) -> str:
    """'702.000 đồng'."""
    return f"{fmt_vnd(amount)} đồng"


_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def _group_words(n: int, leading: bool) -> list[str]:
    """A group of three digits; inside a larger number a group reads its zero hundreds ("không trăm")."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or not leading:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 5 and tens >= 1:
        words.append("lăm")
    elif units:
        words.append(_DIGITS[units])
    return words


def number_words(n: int) -> str:
    """710000 → 'bảy trăm mười nghìn'; 1050000 → 'một triệu không trăm năm mươi nghìn'."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise MoneyError(f"cần một số nguyên không âm, nhận được “{n}”")
    if n == 0:
        return "không"
    billions, rest = divmod(n, 1_000_000_000)
    words: list[str] = []
    if billions:
        words += [number_words(billions), "tỷ"]
    for group, scale in (
        ((rest // 1_000_000) % 1000, "triệu"),
        ((rest // 1000) % 1000, "nghìn"),
        (rest % 1000, ""),
    ):
        if group == 0:
            continue
        words += _group_words(group, leading=not words)
        if scale:
            words.append(scale)
    return " ".join(words)


def amount_in_words(amount: int) -> str:
    """'Bảy trăm mười nghìn đồng', as a decision writes the sum after the figures."""
    text = f"{number_words(amount)} đồng"
    return text[0].upper() + text[1:]


__all__ = [
    "BASE_SALARY_FILE",
    "ROUND_UP_TO",
    "AwardAmounts",
    "BaseSalary",
    "MoneyError",
    "amount_in_words",
    "award_amounts",
    "base_salary_entry_on",
    "base_salary_on",
    "base_salary_schedule",
    "collective_multiplier",
    "fmt_vnd",
    "load_base_salaries",
    "number_words",
    "reward_amount",
    "vn_money",
]
