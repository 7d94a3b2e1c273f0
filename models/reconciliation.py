"""A unit's or a person's reported figures beside what the campaign's case ledger gives for the same period
("kết quả thực chất"): pure comparison and its Vietnamese wording.

The closing report, the screening and the Tổng hợp kết quả use the same `LedgerCheck`, so the council reads
the same figures everywhere. A difference is *unexplained* when nothing recorded accounts for it; the system
has no place yet to record an explanation of a ledger difference, so every non-zero difference is unexplained
and the subject is marked "cần xác minh" (to verify). The mark informs the council, which decides: it never
changes a ranking (the ranking stands on the reported figures) nor a pass or a fail of the screening.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from thidua.models.definition import FieldDef, Indicator
from thidua.models.indicators import IndicatorResult, evaluate, fmt_int, fmt_percent
from thidua.models.text import fmt_date

VERIFY = "Cần xác minh"
MATCHES = "Khớp"
MARK = "(*)"


def fmt_difference(value: int) -> str:
    """'+6', '-1.250', '0': signed, with Vietnamese thousands separators."""
    return "0" if value == 0 else f"{value:+,}".replace(",", ".")


@dataclass(frozen=True)
class FigureCheck:
    """One field: the reported figure beside the ledger's."""

    key: str
    label: str
    unit: str  # "việc", "đồng"
    reported: int
    ledger: int

    @property
    def difference(self) -> int:
        return self.reported - self.ledger

    def text(self) -> str:
        """'Số việc … đã thi hành xong: báo cáo 15, sổ thụ lý 9 (chênh lệch +6 việc)'."""
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{self.label}: báo cáo {fmt_int(self.reported)}, sổ thụ lý {fmt_int(self.ledger)} "
            f"(chênh lệch {fmt_difference(self.difference)}{unit})"
        )


@dataclass(frozen=True)
class LedgerCheck:
    """The ledger-computed fields of one subject, reported beside computed, at the end of day `at`."""

    at: date
    figures: tuple[FigureCheck, ...]
    main: IndicatorResult | None = None  # the main indicator on the ledger's figures

    @property
    def differences(self) -> tuple[FigureCheck, ...]:
        return tuple(f for f in self.figures if f.difference != 0)

    @property
    def unexplained(self) -> tuple[FigureCheck, ...]:
        # No explanation of a difference can be recorded: every difference stands unexplained.
        return self.differences

    @property
    def to_verify(self) -> bool:
        return bool(self.unexplained)

    def figure(self, key: str) -> FigureCheck | None:
        return next((f for f in self.figures if f.key == key), None)

    def verdict(self) -> str:
        return VERIFY if self.to_verify else MATCHES

    def differences_text(self) -> str:
        """The differing fields, then the main indicator on the ledger's figures; '' when all match."""
        if not self.to_verify:
            return ""
        text = "; ".join(f.text() for f in self.unexplained)
        if self.main is not None and self.main.value is not None:
            text += f"; tỷ lệ theo sổ thụ lý {fmt_percent(self.main.value)}"
            if self.main.met is not None:
                text += ", đạt chỉ tiêu" if self.main.met else ", không đạt chỉ tiêu"
        return text

    def sentence(self, whose: str = "") -> str:
        """'Số liệu báo cáo{whose} chênh lệch với sổ thụ lý (tính đến hết ngày …): …', or the match."""
        when = f"sổ thụ lý (tính đến hết ngày {fmt_date(self.at)})"
        if not self.to_verify:
            return f"Số liệu báo cáo{whose} khớp với {when}"
        return f"Số liệu báo cáo{whose} chênh lệch với {when}: {self.differences_text()}"


def check_figures(
    reported: Mapping[str, int],
    ledger: Mapping[str, int],
    fields: Sequence[FieldDef],
    *,
    at: date,
    main: Indicator | None = None,
    reported_main: IndicatorResult | None = None,
) -> LedgerCheck:
    """Compare the `fields` (those a ledger computes) of one subject; a field the ledger has no case for is 0.

    The main indicator is evaluated on the reported figures with the ledger's in place of the compared ones,
    against the target the reported result was judged by (a unit's own target, when targets are per unit).
    """
    figures = tuple(
        FigureCheck(f.key, f.label, f.unit, int(reported.get(f.key, 0) or 0), int(ledger.get(f.key, 0) or 0))
        for f in fields
    )
    result = None
    if main is not None:
        values = {**reported, **{f.key: f.ledger for f in figures}}
        result = evaluate(main, values, reported_main.target if reported_main is not None else None)
    return LedgerCheck(at, figures, result)


__all__ = [
    "MARK",
    "MATCHES",
    "VERIFY",
    "FigureCheck",
    "LedgerCheck",
    "check_figures",
    "fmt_difference",
]
