"""Deterministic demo case ledgers for the two demo directories (deploy/demo/names.py).

The cases belong to the units that have enforcement officers (people titled "Chấp hành viên" and still
working): in `tuyen-quang-2024` the Cục's TQ-NV and the 7 Chi cục; in `national-2026` every regional office
(`<province>-KVnn`) and every provincial `<province>-NV`. Cases are shared out in proportion to the number of
officers, and each unit's cases come from a random generator seeded by the demo name and the unit code, so the
same arguments always write the same bytes.

A case is received within the six years before the ledger's date; about 65 % become enforceable within three
months; most of those finish within months, a quarter are hard cases that drag on for years (the ones seed 003
is about). How fast a unit finishes its hard cases is a property of the unit, so units fall on both sides of
the 10 % reduction target (in Tuyên Quang: TQ-NH and TQ-LB fall short). Amounts are log-normal around 15
million VND.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from thidua.deploy.demo.names import DEMO_NAMES, build_demo
from thidua.errors import InvalidInput, NotFound
from thidua.models.ledger_rows import LEDGER_COLUMNS
from thidua.models.ledger_rules import STATUS_LABELS, Status
from thidua.notifications.documents.sheets import write_csv

OFFICER_TITLE = "Chấp hành viên"
# Campaign codes of the examples, accepted wherever a demo name is.
CAMPAIGN_DEMOS: dict[str, str] = {
    "TQ-2024-GIAM-AN": "tuyen-quang-2024",
    "BTP-2026-80-NAM-THADS": "national-2026",
}


@dataclass(frozen=True)
class LedgerDemo:
    name: str
    as_of: date  # the ledger is up to date with this day
    default_rows: int
    officers: dict[str, list[str]]  # unit code -> officer person codes, in directory order


_SETTINGS: dict[str, tuple[date, int]] = {
    "tuyen-quang-2024": (date(2024, 6, 30), 8_000),
    "national-2026": (date(2026, 5, 31), 1_000_000),
}


def demo_name(name_or_code: str) -> str:
    """A demo name from itself or an example campaign code; ValueError for anything else."""
    key = name_or_code.strip()
    found = CAMPAIGN_DEMOS.get(key.upper(), key)
    if found not in DEMO_NAMES:
        known = ", ".join([*DEMO_NAMES, *CAMPAIGN_DEMOS])
        raise NotFound(f"Không có sổ thụ lý mẫu cho “{name_or_code}”; có: {known}.")
    return found


def ledger_demo(name_or_code: str) -> LedgerDemo:
    name = demo_name(name_or_code)
    as_of, rows = _SETTINGS[name]
    officers: dict[str, list[str]] = {}
    for code, _name, title, unit, _email, _head, active in build_demo(name).people:
        if title == OFFICER_TITLE and active != "không":
            officers.setdefault(unit, []).append(code)
    return LedgerDemo(name, as_of, rows, officers)


def _shares(counts: dict[str, int], total: int) -> dict[str, int]:
    """`total` split in proportion to `counts` (largest remainder, ties by code)."""
    weight = sum(counts.values())
    exact = {unit: total * n / weight for unit, n in counts.items()}
    out = {unit: int(x) for unit, x in exact.items()}
    left = total - sum(out.values())
    for unit in sorted(exact, key=lambda u: (-(exact[u] - out[u]), u))[:left]:
        out[unit] += 1
    return out


def demo_rows(
    name_or_code: str, *, units: Sequence[str] | None = None, rows: int | None = None
) -> Iterator[list[str]]:
    """The ledger's data rows as CSV cells (header not included), unit by unit."""
    demo = ledger_demo(name_or_code)
    chosen = list(demo.officers) if not units else list(dict.fromkeys(units))
    unknown = [u for u in chosen if u not in demo.officers]
    if unknown:
        raise InvalidInput(
            f"Đơn vị không có chấp hành viên trong danh bạ mẫu {demo.name}: {', '.join(unknown)}"
        )
    total = demo.default_rows if rows is None else rows
    if total < 0:
        raise InvalidInput("Số dòng phải không âm.")
    counts = _shares({u: len(demo.officers[u]) for u in chosen}, total)
    for unit in chosen:
        yield from _unit_cases(demo, unit, counts[unit])


def write_demo_ledger(
    name_or_code: str, out: Path, *, units: Sequence[str] | None = None, rows: int | None = None
) -> Path:
    """Write the demo ledger as CSV (UTF-8 with BOM, so Excel opens it correctly), streamed row by row."""
    header = list(LEDGER_COLUMNS.values())
    return write_csv(out, itertools.chain([header], demo_rows(name_or_code, units=units, rows=rows)))


# Mean days to finish a hard case. In Tuyên Quang most Chi cục are brisk enough for the 10 % target, the two
# remote mountain districts are not; nationally units spread over the whole range.
_PACE_RANGE: dict[str, tuple[float, float]] = {"tuyen-quang-2024": (450, 800), "national-2026": (500, 2200)}
_SLOW_UNITS: dict[str, float] = {"TQ-NH": 2600, "TQ-LB": 2400}

_PENDING: tuple[tuple[Status, float], ...] = (
    (Status.DANG_THI_HANH, 0.85),
    (Status.HOAN, 0.08),
    (Status.TAM_DINH_CHI, 0.05),
    (Status.TAM_DUNG, 0.02),
)


def _unit_cases(demo: LedgerDemo, unit: str, count: int) -> Iterator[list[str]]:
    rng = random.Random(f"ledger:{demo.name}:{unit}")
    officers = demo.officers[unit]
    as_of = demo.as_of.toordinal()
    horizon = 6 * 365
    # The unit's pace on hard cases: mean days to finish one, from brisk to slow.
    low, high = _PACE_RANGE[demo.name]
    hard_mean = _SLOW_UNITS.get(unit) or rng.uniform(low, high)
    labels = {s: STATUS_LABELS[s] for s in Status}
    text_of: dict[int, str] = {}

    def day(ordinal: int) -> str:
        text = text_of.get(ordinal)
        if text is None:
            text = text_of[ordinal] = date.fromordinal(ordinal).strftime("%d/%m/%Y")
        return text

    pending_states = [s for s, _ in _PENDING]
    pending_weights = [w for _, w in _PENDING]
    for seq in range(1, count + 1):
        # More recent cases are more numerous: older ones were mostly closed and dropped from the ledger.
        received = as_of - int(horizon * rng.random() ** 1.7)
        year = date.fromordinal(received).year
        owed = 0 if rng.random() < 0.05 else int(rng.lognormvariate(math.log(15e6), 1.3)) // 1000 * 1000
        conditions: int | None = None
        status_date: int | None = None
        if rng.random() < 0.65 and (start := received + rng.randint(0, 90)) <= as_of:
            conditions = start
            mean = hard_mean if rng.random() < 0.25 else 120.0
            finish = conditions + int(rng.expovariate(1 / mean))
            roll = rng.random()
            if finish <= as_of:
                status = Status.DINH_CHI if roll < 0.1 else Status.XONG
                status_date = finish
                collected = (
                    owed if status is Status.XONG and roll < 0.9 else int(owed * rng.random()) // 1000 * 1000
                )
            elif roll < 0.04 and (left := conditions + rng.randint(30, 700)) <= as_of:
                status, status_date, collected = Status.CHUA_CO_DIEU_KIEN, left, 0
            elif roll < 0.06 and (left := conditions + rng.randint(10, 200)) <= as_of:
                status, status_date, collected = Status.UY_THAC, left, 0
            else:
                status = rng.choices(pending_states, pending_weights)[0]
                if status is not Status.DANG_THI_HANH:
                    status_date = rng.randint(conditions, as_of)
                collected = int(owed * rng.random() * 0.4) // 1000 * 1000
        else:
            checked = received + rng.randint(15, 60)
            if checked <= as_of:
                status, status_date = Status.CHUA_CO_DIEU_KIEN, checked
            else:
                status = Status.DANG_THI_HANH  # still being verified
            collected = 0
        officer = "" if rng.random() < 0.03 else rng.choice(officers)
        yield [
            f"{unit}.{year}.{seq:06d}",
            unit,
            officer,
            day(received),
            day(conditions) if conditions is not None else "",
            labels[status],
            day(status_date) if status_date is not None else "",
            str(owed),
            str(collected),
        ]


def default_out(name_or_code: str, directory: Path) -> Path:
    return directory / f"so-thu-ly-{demo_name(name_or_code)}.csv"


def demo_as_of(name_or_code: str) -> date:
    return _SETTINGS[demo_name(name_or_code)][0]


__all__ = [
    "CAMPAIGN_DEMOS",
    "LedgerDemo",
    "default_out",
    "demo_as_of",
    "demo_name",
    "demo_rows",
    "ledger_demo",
    "write_demo_ledger",
]
