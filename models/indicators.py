"""Indicators, hierarchy roll-up, trends, timeliness and Vietnamese number formatting: pure and exact.

An indicator (models/definition.py) is a ratio of sums of reported fields compared with a target. Everything
here is Fraction or Decimal: a unit at exactly 10.00 % meets a ">= 10 %" target, which a float cannot promise.

- `evaluate` computes one indicator from a unit's (or a person's) figures.
- `roll_up` adds every unit's own figures to all its ancestors: a parent's indicator is then
  sum(numerators) / sum(denominators) of its subtree, never an average of its children's percentages
  (a small office at 50 % and a large one at 5 % do not make a province at 27.5 %).
- `tree_order` lists an enrolled tree depth-first with depths, for tables people read top-down.
- `trend` says how a value moved since the previous period; `timeliness` counts expected, received,
  on-time and late reports the way DHIS2 does (rates are over the expected reports).
- `parse_target` reads per-unit targets as clerks write them ("83,90%", "0.839", "83.9").
- `fmt_*` print numbers the Vietnamese way: "10,00%", "1.234.567", rounded half up, exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal

from thidua.models.definition import Indicator
from thidua.models.text import nfc

NO_DATA = "chưa có số liệu"
DASH = "—"

Figures = Mapping[str, int]


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class IndicatorResult:
    """One indicator of one unit or person. value and met are None when the denominator is 0 (no data)."""

    key: str
    num: int
    den: int
    value: Fraction | None
    target: Decimal
    comparison: str
    met: bool | None

    def as_json(self) -> dict[str, Any]:
        # Exact values as text ("1/10", "0.1"): JSON numbers would be floats in most readers.
        return {
            "num": self.num,
            "den": self.den,
            "value": None if self.value is None else str(self.value),
            "target": format(self.target, "f"),
            "comparison": self.comparison,
            "met": self.met,
        }

    @classmethod
    def from_json(cls, key: str, data: Mapping[str, Any]) -> IndicatorResult:
        value = data.get("value")
        return cls(
            key=key,
            num=int(data["num"]),
            den=int(data["den"]),
            value=None if value is None else Fraction(str(value)),
            target=Decimal(str(data["target"])),
            comparison=str(data.get("comparison", ">=")),
            met=data.get("met"),
        )


def side_sum(keys: Iterable[str], values: Figures) -> int:
    """Sum of the named fields; a field nobody reported counts as 0."""
    return sum(int(values.get(k, 0) or 0) for k in keys)


def evaluate(indicator: Indicator, values: Figures, target: Decimal | None = None) -> IndicatorResult:
    """The indicator on these figures against `target` (default: the definition's)."""
    goal = indicator.target if target is None else target
    num = side_sum(indicator.numerator, values)
    den = side_sum(indicator.denominator, values)
    value = Fraction(num, den) if den else None
    return IndicatorResult(
        key=indicator.key,
        num=num,
        den=den,
        value=value,
        target=goal,
        comparison=indicator.comparison,
        met=indicator.met(num, den, goal),
    )


def target_for(
    targets: Mapping[tuple[str, str], Decimal], unit_code: str | None, indicator: Indicator
) -> Decimal:
    """A unit's target: its assigned one for a per-unit indicator, else the definition's."""
    if indicator.targets == "per_unit" and unit_code is not None:
        assigned = targets.get((unit_code, indicator.key))
        if assigned is not None:
            return assigned
    return indicator.target


def evaluate_all(
    indicators: Iterable[Indicator],
    values: Figures,
    *,
    unit_code: str | None = None,
    targets: Mapping[tuple[str, str], Decimal] | None = None,
) -> dict[str, IndicatorResult]:
    assigned = targets or {}
    return {ind.key: evaluate(ind, values, target_for(assigned, unit_code, ind)) for ind in indicators}


# ---------------------------------------------------------------- the tree


def tree_order(
    parents: Mapping[str, str | None], sort_key: Callable[[str], Any] | None = None
) -> list[tuple[str, int]]:
    """Every unit of `parents` (code -> parent code) depth-first with its depth; roots are units whose parent
    is not in the map (an enrolled forest has several: the national campaign enrols no common root)."""
    key = sort_key or (lambda code: code)
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for code, parent in parents.items():
        if parent is None or parent not in parents or parent == code:
            roots.append(code)
        else:
            children.setdefault(parent, []).append(code)
    out: list[tuple[str, int]] = []
    seen: set[str] = set()

    def walk(start: str) -> None:
        stack = [(start, 0)]
        while stack:
            code, depth = stack.pop()
            if code in seen:
                continue
            seen.add(code)
            out.append((code, depth))
            stack.extend((c, depth + 1) for c in sorted(children.get(code, []), key=key, reverse=True))

    for root in sorted(roots, key=key):
        walk(root)
    # A parent loop (bad directory data) has no root; list it rather than drop units silently.
    for code in sorted((c for c in parents if c not in seen), key=key):
        walk(code)
    return out


def roll_up(parents: Mapping[str, str | None], own: Mapping[str, Figures]) -> dict[str, dict[str, int]]:
    """Each unit's figures plus those of every unit below it.

    `own` holds the figures a unit reported itself (the caller leaves out units that do not report: their
    consolidated figures would count the children twice). Units with nothing in their subtree get {}:
    "no data", which is not the same as a reported 0. Units of `own` outside the tree are ignored.
    """
    order = tree_order(parents)
    total: dict[str, dict[str, int]] = {code: dict(own.get(code, {})) for code, _ in order}
    # Reversed pre-order visits every child before its parent, so one pass adds whole subtrees.
    for code, _depth in reversed(order):
        parent = parents.get(code)
        if parent is None or parent == code or parent not in total:
            continue
        target = total[parent]
        for k, v in total[code].items():
            target[k] = target.get(k, 0) + int(v)
    return total


# ---------------------------------------------------------------- trend


Arrow = Literal["↑", "↓", "=", ""]


@dataclass(frozen=True)
class Trend:
    delta: Fraction | None  # current − previous value (a ratio: 1/100 = one percentage point)
    arrow: Arrow


def trend(current: Fraction | None, previous: Fraction | None) -> Trend:
    if current is None or previous is None:
        return Trend(None, "")
    delta = current - previous
    return Trend(delta, "↑" if delta > 0 else "↓" if delta < 0 else "=")


# ---------------------------------------------------------------- timeliness


@dataclass(frozen=True)
class Timeliness:
    """Completeness and timeliness of one period (DHIS2: rates are over the expected reports).

    Before the due date has passed, units without a report are `pending`, not `missing`: nobody is late yet.
    """

    expected: int
    received: int
    on_time: int
    late: int
    missing: list[str]
    pending: list[str]
    late_units: list[str]
    overdue: bool  # the due date has passed
    reporting_rate: Fraction | None
    on_time_rate: Fraction | None


def timeliness(
    expected: Iterable[str], received: Mapping[str, bool], *, due: date, as_of: date
) -> Timeliness:
    """`received`: unit -> whether its first report came in by the due date (for the expected units)."""
    wanted = sorted(set(expected))
    got = {u: received[u] for u in wanted if u in received}
    on_time = sum(1 for ok in got.values() if ok)
    absent = [u for u in wanted if u not in got]
    overdue = as_of > due  # reports dated on the due day itself are on time
    n = len(wanted)
    return Timeliness(
        expected=n,
        received=len(got),
        on_time=on_time,
        late=len(got) - on_time,
        missing=absent if overdue else [],
        pending=[] if overdue else absent,
        late_units=sorted(u for u, ok in got.items() if not ok),
        overdue=overdue,
        reporting_rate=Fraction(len(got), n) if n else None,
        on_time_rate=Fraction(on_time, n) if n else None,
    )


# ---------------------------------------------------------------- targets as people write them


def parse_target(value: object) -> Decimal:
    """A target ratio from a cell: "83,90%", "83.9%", 0.839, "0,839", 83.9 (a number above 1 is a percentage).

    Raises ValueError with a Vietnamese message.
    """
    if value is None or isinstance(value, bool):
        raise ValueError("cần một tỷ lệ (ví dụ “83,90%” hoặc 0.839)")
    if isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)  # the shortest text that round-trips: 0.839 stays 0.839
    elif isinstance(value, str):
        text = nfc(value).replace(" ", "").replace("\u00a0", "")
    else:
        raise ValueError(f"“{value}” không phải một tỷ lệ")
    if not text:
        raise ValueError("giá trị trống (cần ví dụ “83,90%” hoặc 0.839)")
    percent = text.endswith("%")
    digits = text.rstrip("%")
    if "," in digits and "." in digits:
        raise ValueError(f"“{value}” vừa có dấu phẩy vừa có dấu chấm; viết ví dụ “83,90%” hoặc 0.839")
    try:
        number = Decimal(digits.replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"“{value}” không phải một tỷ lệ (ví dụ “83,90%” hoặc 0.839)") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"“{value}” không phải một tỷ lệ không âm")
    ratio = number / 100 if percent or number > 1 else number
    if ratio > 1:
        raise ValueError(f"“{value}” lớn hơn 100%")
    out = ratio.normalize()
    return out.quantize(Decimal(1)) if out == out.to_integral_value() else out


# ---------------------------------------------------------------- Vietnamese formatting


def round_half_up(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Exact ROUND_HALF_UP (halves away from zero) of any rational to `places` decimals.

    Integer arithmetic on the exact fraction: no intermediate decimal expansion that could be cut short.
    """
    exact = Fraction(value)
    scaled = abs(exact) * 10**places
    whole = int(scaled + Fraction(1, 2))  # int() floors a non-negative Fraction
    sign = "-" if exact < 0 and whole else ""
    return Decimal(f"{sign}{whole}").scaleb(-places)


def _vn_decimal(number: Decimal, places: int) -> str:
    text = f"{abs(number):,.{places}f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return ("-" if number < 0 else "") + text


def percent_number(value: Fraction | Decimal, places: int = 2) -> Decimal:
    """The rounded percentage as a Decimal: 15/150 -> Decimal("10.00")."""
    return round_half_up(Fraction(value) * 100, places)


def fmt_percent(value: Fraction | Decimal | None, places: int = 2) -> str:
    """As "10,00%"; "—" when there is no value."""
    if value is None:
        return DASH
    return _vn_decimal(percent_number(value, places), places) + "%"


def fmt_points(delta: Fraction | None, places: int = 2) -> str:
    """A change of a ratio in percentage points, signed: "+2,50", "-0,13", "0,00"."""
    if delta is None:
        return ""
    number = percent_number(delta, places)
    sign = "+" if number > 0 else ""
    return sign + _vn_decimal(number, places)


def fmt_trend(t: Trend, places: int = 2) -> str:
    """As "↑ +2,50 điểm %"; "" when either period has no value."""
    if t.delta is None:
        return ""
    return f"{t.arrow} {fmt_points(t.delta, places)} điểm %"


def fmt_int(value: int) -> str:
    """Thousands separated by dots, as printed in Vietnam: 1.234.567."""
    return f"{value:,}".replace(",", ".")


COMPARISON_SIGNS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


def fmt_target(comparison: str, target: Decimal, places: int = 2) -> str:
    """As "≥ 10,00%"."""
    return f"{COMPARISON_SIGNS.get(comparison, comparison)} {fmt_percent(target, places)}"


def met_label(met: bool | None) -> str:
    # "Chưa đạt" rather than "không đạt": during a campaign the unit can still get there.
    if met is None:
        return NO_DATA.capitalize()
    return "Đạt" if met else "Chưa đạt"


def fmt_ratio(result: IndicatorResult) -> str:
    """As "15/150", with Vietnamese thousands separators."""
    return f"{fmt_int(result.num)}/{fmt_int(result.den)}"


__all__ = [
    "COMPARISON_SIGNS",
    "DASH",
    "NO_DATA",
    "IndicatorResult",
    "Timeliness",
    "Trend",
    "evaluate",
    "evaluate_all",
    "fmt_int",
    "fmt_percent",
    "fmt_points",
    "fmt_ratio",
    "fmt_target",
    "fmt_trend",
    "met_label",
    "parse_target",
    "percent_number",
    "roll_up",
    "round_half_up",
    "side_sum",
    "target_for",
    "timeliness",
    "tree_order",
    "trend",
]
