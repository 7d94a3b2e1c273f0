"""The ledger rules on hand-computed cases (seeds 003 and 000) and the ledger row parser, no database."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest

from tests.factories import NATIONAL_DEFINITION, TQ_DEFINITION
from thidua.models.definition import DefinitionError, load_definition, parse_definition
from thidua.models.ledger_rows import (
    LEDGER_COLUMNS,
    LedgerFileError,
    LedgerRowParser,
    case_from_tuple,
    status_of,
)
from thidua.models.ledger_rules import (
    Case,
    Status,
    anniversary,
    figures,
    figures_by,
    is_over_one_year,
    last_conditions_date_over_by,
    over_one_year_from,
    reduction_rate,
)

HEADER = list(LEDGER_COLUMNS.values())


def d(text: str) -> date:
    day, month, year = (int(p) for p in text.split("/"))
    return date(year, month, day)


def case(
    cid: str,
    conditions: str | None,
    status: Status = Status.DANG_THI_HANH,
    status_date: str | None = None,
    *,
    unit: str = "TQ-YS",
    officer: str | None = "TQ-YS-04",
    owed: int = 0,
    collected: int = 0,
) -> Case:
    return Case(
        case_id=cid,
        unit_code=unit,
        officer_code=officer,
        received=d("01/01/2019"),
        conditions=d(conditions) if conditions else None,
        status=status,
        status_date=d(status_date) if status_date else None,
        owed=owed,
        collected=collected,
    )


# ---------------------------------------------------------------- the one-year line


def test_a_case_is_over_one_year_from_the_day_after_its_anniversary() -> None:
    became = case("A", "15/03/2023")
    assert over_one_year_from(d("15/03/2023")) == d("16/03/2024")
    assert not is_over_one_year(became, d("15/03/2024"))  # the anniversary itself: exactly one year
    assert is_over_one_year(became, d("16/03/2024"))


def test_the_anniversary_of_29_february_is_28_february_in_a_common_year() -> None:
    assert anniversary(d("29/02/2024")) == d("28/02/2025")
    assert over_one_year_from(d("29/02/2024")) == d("01/03/2025")
    leap = case("L", "29/02/2024")
    assert not is_over_one_year(leap, d("28/02/2025"))
    assert is_over_one_year(leap, d("01/03/2025"))
    # 28/02/2023 reaches its anniversary on 28/02/2024 and is over one year on the leap day
    assert over_one_year_from(d("28/02/2023")) == d("29/02/2024")


def test_the_latest_conditions_date_over_by_a_day_agrees_with_the_rule_every_day_for_years() -> None:
    day = d("01/01/2019")
    while day < d("01/01/2029"):
        limit = last_conditions_date_over_by(day)
        assert over_one_year_from(limit) <= day < over_one_year_from(limit + timedelta(days=1)), day
        day += timedelta(days=1)


def test_a_case_finished_before_the_day_is_not_over_one_year() -> None:
    done = case("A", "01/01/2022", Status.XONG, "31/12/2023")
    assert not is_over_one_year(done, d("01/01/2024"))
    assert is_over_one_year(case("B", "01/01/2022", Status.XONG, "01/01/2024"), d("01/01/2024"))


# ---------------------------------------------------------------- seed 003

BASELINE = d("01/01/2024")
CUTOFF = d("30/06/2024")

SEED_003_CASES = [
    case("carried-crossed-on-baseline", "31/12/2022"),  # over from 01/01/2024 = B: carried
    case("arising-day-after-baseline", "01/01/2023"),  # over from 02/01/2024: arising
    case("finished-before-baseline", "01/06/2022", Status.XONG, "31/12/2023"),
    case("finished-on-baseline", "01/06/2022", Status.XONG, "01/01/2024"),  # carried and finished
    case("dinh-chi-counts-as-finished", "01/03/2022", Status.DINH_CHI, "15/03/2024"),
    case("finished-the-day-it-crosses", "10/03/2023", Status.XONG, "11/03/2024"),  # arising, finished
    case("finished-on-its-anniversary", "09/03/2023", Status.XONG, "09/03/2024"),  # never over a year
    case("finished-after-cutoff", "01/01/2022", Status.XONG, "01/07/2024"),  # carried, not finished
    case("crosses-after-cutoff", "15/07/2023"),  # over from 16/07/2024
    case("reclassified-after-baseline", "01/01/2022", Status.CHUA_CO_DIEU_KIEN, "01/02/2024"),  # carried
    case("no-conditions", None),
    case("leap-day-crossing", "28/02/2023", Status.XONG, "29/02/2024"),  # over from 29/02: arising, finished
]


def test_seed_003_fields_on_hand_computed_cases() -> None:
    values = figures(SEED_003_CASES, baseline=BASELINE, at=CUTOFF)
    assert (values["carried_over"], values["arising"], values["finished"]) == (5, 3, 4)
    assert reduction_rate(values) == Fraction(4, 8)


def test_seed_003_fields_at_an_earlier_cut_off_read_the_status_dates() -> None:
    values = figures(SEED_003_CASES, baseline=BASELINE, at=d("10/03/2024"))
    # by 10/03: only the baseline-day and leap-day finishes; 11/03 and 15/03 are still ahead
    assert (values["carried_over"], values["arising"], values["finished"]) == (5, 2, 2)


def test_a_cut_off_before_the_baseline_is_refused() -> None:
    with pytest.raises(ValueError, match="trước ngày gốc"):
        figures(SEED_003_CASES, baseline=BASELINE, at=d("31/12/2023"))


def test_per_officer_figures_leave_out_cases_without_an_officer() -> None:
    cases = [
        case("a", "01/01/2022", officer="TQ-YS-04"),
        case("b", "01/01/2022", Status.XONG, "01/02/2024", officer="TQ-YS-05"),
        case("c", "01/01/2022", officer=None),
    ]
    by_officer = figures_by(cases, baseline=BASELINE, at=CUTOFF, by="officer")
    assert set(by_officer) == {"TQ-YS-04", "TQ-YS-05"}
    assert by_officer["TQ-YS-05"]["finished"] == 1
    assert figures_by(cases, baseline=BASELINE, at=CUTOFF)["TQ-YS"]["carried_over"] == 3


# ---------------------------------------------------------------- seed 000


def test_seed_000_completion_by_cases_and_by_money() -> None:
    cases = [
        case("a", "01/09/2025", Status.XONG, "15/11/2025", owed=100, collected=100),
        case("b", "01/10/2025", Status.DINH_CHI, "31/05/2026", owed=50, collected=10),  # on the cut-off
        case("c", "01/01/2025", Status.XONG, "30/09/2025", owed=70, collected=70),  # previous year
        case("d", "01/01/2026", owed=40, collected=5),  # pending with conditions
        case("e", "31/05/2026", owed=30),  # enforceable on the cut-off day
        case("f", "01/06/2026", owed=20),  # enforceable after it
        case("g", "01/12/2025", Status.CHUA_CO_DIEU_KIEN, "01/03/2026", owed=60),  # reclassified: out
        case("h", None, owed=10),
    ]
    values = figures(cases, baseline=d("01/10/2025"), at=d("31/05/2026"))
    assert values["cases_with_conditions"] == 4  # a, b, d, e
    assert values["cases_finished"] == 2  # a, b (đình chỉ counts)
    assert values["money_with_conditions"] == 100 + 50 + 40 + 30
    assert values["money_finished"] == 150
    assert values["money_collected"] == 110


# ---------------------------------------------------------------- the definition's ledger block


def test_the_examples_map_their_fields_to_ledger_measures() -> None:
    tq = load_definition(TQ_DEFINITION)
    assert tq.ledger_measures() == {
        "carried_over": "carried_over",
        "arising": "arising",
        "finished": "finished",
    }
    assert tq.ledger_baseline == d("01/01/2024")
    national = load_definition(NATIONAL_DEFINITION)
    assert set(national.ledger_measures()) == {
        "cases_with_conditions",
        "cases_finished",
        "money_with_conditions",
        "money_finished",
    }
    assert national.ledger_baseline == d("01/10/2025")


def test_a_ledger_mapping_to_an_unknown_field_is_reported_with_its_line() -> None:
    text = TQ_DEFINITION.read_text(encoding="utf-8").replace(
        "ledger:\n  baseline: 2024-01-01\n", "ledger:\n  baseline: 2024-01-01\n  fields: {giam: finished}\n"
    )
    with pytest.raises(DefinitionError, match=r"ledger\.fields\.giam: chỉ số “giam” không có trong fields"):
        parse_definition(text, "tq.yaml")


# ---------------------------------------------------------------- rows


def parser(**kwargs: object) -> LedgerRowParser:
    options: dict[str, object] = {
        "as_of": d("30/06/2024"),
        "units": {"TQ-YS", "TQ-SD"},
        "officers": {"TQ-YS-04"},
    }
    options.update(kwargs)
    return LedgerRowParser("so.csv", HEADER, **options)  # type: ignore[arg-type]


def test_statuses_are_recognised_however_they_are_written() -> None:
    assert status_of("Đình chỉ thi hành án") is Status.DINH_CHI
    assert status_of("THI HANH XONG") is Status.XONG
    assert status_of("chưa có điều kiện") is Status.CHUA_CO_DIEU_KIEN
    assert status_of("uy_thac") is Status.UY_THAC
    assert status_of("đã chuyển") is None


def test_a_good_row_becomes_a_database_tuple_and_back_a_case() -> None:
    row = [
        "YS-1",
        "TQ-YS",
        "TQ-YS-04",
        "05/01/2022",
        "2022-02-01",
        "Xong",
        "15/03/2024",
        "1.234.000",
        "1234000",
    ]
    p = parser()
    (parsed,) = list(p.rows([(2, row)]))
    assert parsed == (
        "YS-1",
        "TQ-YS",
        "TQ-YS-04",
        "2022-01-05",
        "2022-02-01",
        "xong",
        "2024-03-15",
        1234000,
        1234000,
    )
    assert case_from_tuple(parsed).status is Status.XONG
    assert p.errors == []


def test_csv_rows_and_spreadsheet_rows_give_the_same_tuples_and_errors() -> None:
    rows = [
        ["A", "TQ-YS", "", "05/01/2022", "", "đang thi hành", "", "", ""],
        [" B ", "TQ-YS", "TQ-YS-04", "5/1/2022", "01/02/2022", "hoãn", "01/03/2022", "100", "0"],
        ["C", "TQ-XX", "", "05/01/2022", "", "xong", "", "-5", "x"],
        ["A", "TQ-SD", "", "05/01/2022", "", "xong", "01/02/2022", "10", "20"],
    ]
    fast, slow = parser(), parser()
    from_csv = list(fast.rows((n, list(r)) for n, r in enumerate(rows, start=2)))
    from_xlsx = list(slow.rows((n, tuple(r)) for n, r in enumerate(rows, start=2)))
    assert from_csv == from_xlsx
    assert [c[0] for c in from_csv] == ["A", "B"]
    assert fast.errors == slow.errors


def test_bad_rows_are_reported_by_row_and_column() -> None:
    rows = [
        ["A1", "TQ-XX", "", "05/01/2022", "", "xong", "", "", ""],
        ["A2", "TQ-YS", "TQ-ZZ-01", "31/02/2022", "", "đang thi hành", "", "", ""],
        ["A3", "TQ-YS", "", "05/01/2022", "01/01/2022", "đã chuyển", "", "1,5", "-3"],
        ["A1", "TQ-YS", "", "05/01/2022", "", "đang thi hành", "", "10", "20"],
        ["A5", "TQ-YS", "", "05/01/2022", "01/07/2024", "đình chỉ", "01/03/2022", "", ""],
    ]
    p = parser()
    assert list(p.rows(enumerate(rows, start=2))) == []
    found = {(e.row, e.column) for e in p.errors}
    assert (2, "Mã đơn vị") in found
    assert (2, "Ngày trạng thái") in found  # xong needs a status date
    assert (3, "Mã chấp hành viên") in found
    assert (3, "Ngày thụ lý") in found
    assert (4, "Ngày có điều kiện") in found  # before the date received
    assert (4, "Trạng thái") in found
    assert (4, "Số tiền phải thi hành") in found
    assert (4, "Số tiền đã thu") in found
    assert (5, "Mã việc") in found  # repeated id
    assert (5, "Số tiền đã thu") in found  # more than owed
    assert (6, "Ngày có điều kiện") in found  # after the ledger's date
    first = next(e for e in p.errors if e.row == 5 and e.column == "Mã việc")
    assert "dòng 2" in first.problem
    assert str(p.errors[0]).startswith("so.csv, dòng 2, cột “Mã đơn vị”: ")


def test_reading_stops_after_the_error_limit() -> None:
    rows = [[f"A{i}", "TQ-XX", "", "05/01/2022", "", "xong", "01/02/2022", "", ""] for i in range(50)]
    p = parser(max_errors=10)
    assert list(p.rows(enumerate(rows, start=2))) == []
    assert len(p.errors) == 10


def test_a_header_without_the_required_columns_is_refused() -> None:
    with pytest.raises(LedgerFileError, match="thiếu cột “Trạng thái”"):
        LedgerRowParser("so.csv", [h for h in HEADER if h != "Trạng thái"], as_of=d("30/06/2024"))


def test_headers_match_without_case_diacritics_or_a_unit_in_brackets() -> None:
    header = [h.upper() for h in HEADER[:7]] + [
        "so tien phai thi hanh (đồng)",
        "Số tiền đã thu (VND)",
        "Ghi chú",
    ]
    p = LedgerRowParser("so.csv", header, as_of=d("30/06/2024"))
    row = ["A", "TQ-YS", "", "05/01/2022", "", "xong", "01/02/2022", "5", "5", "note"]
    assert len(list(p.rows([(2, row)]))) == 1
