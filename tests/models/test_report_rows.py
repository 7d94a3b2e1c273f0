"""The report rules on plain data: number cells, the template's fingerprint, CSV reading, every check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from tests.factories import TQ_DEFINITION
from thidua.models.definition import CampaignDefinition, FieldDef, load_definition
from thidua.models.report_rows import (
    META_SHEET,
    REPORT_SHEET,
    Cell,
    OfficerInfo,
    PeriodInfo,
    PreviousReport,
    RawReport,
    ReportContext,
    TemplateInfo,
    TemplateLayout,
    UnitInfo,
    build_layout,
    changes_between,
    check_report,
    csv_rows,
    normalise_period,
    opens_on,
    parse_count,
    parse_mark,
    read_csv_report,
    read_xlsx_report,
)

DEFN: CampaignDefinition = load_definition(TQ_DEFINITION)
CODE = DEFN.code
HASH = "a" * 64
FIELDS = DEFN.fields  # carried_over, arising, finished


def info(**overrides: Any) -> TemplateInfo:
    base = TemplateInfo(
        campaign_code=CODE,
        campaign_title=DEFN.title,
        definition_hash=HASH,
        unit_code="TQ-YS",
        unit_name="Chi cục Thi hành án dân sự huyện Yên Sơn",
        period_key="2024-03",
        period_label="Báo cáo tháng 03/2024",
        period_start=date(2024, 1, 2),
        period_end=date(2024, 3, 31),
        due_date=date(2024, 4, 5),
        contact="Phòng Tổ chức cán bộ – tccb@thads-tuyenquang.example.vn",
        fields=FIELDS,
        indicators=DEFN.indicators,
        officers=[
            OfficerInfo("TQ-YS-03", "Nguyễn Văn Tú", "Phó Chi cục trưởng"),
            OfficerInfo("TQ-YS-04", "Nguyễn Văn Lực", "Chấp hành viên"),
        ],
    )
    return replace(base, **overrides)


def context(**overrides: Any) -> ReportContext:
    periods = {
        key: PeriodInfo(key, f"Báo cáo tháng {key[5:]}/{key[:4]}", date(2024, 1, 2), end, due)
        for key, end, due in [
            ("2024-01", date(2024, 1, 31), date(2024, 2, 7)),
            ("2024-02", date(2024, 2, 29), date(2024, 3, 7)),
            ("2024-03", date(2024, 3, 31), date(2024, 4, 5)),
        ]
    }
    base = ReportContext(
        campaign_code=CODE,
        definition_hash=HASH,
        status="launched",
        fields=FIELDS,
        indicators=DEFN.indicators,
        units={
            "TQ-YS": UnitInfo("TQ-YS", "Chi cục THADS huyện Yên Sơn", True),
            "TQ-VP": UnitInfo("TQ-VP", "Văn phòng Cục", False),
        },
        known_units=frozenset({"BTP"}),
        people={"TQ-YS-03": "TQ-YS", "TQ-YS-04": "TQ-YS", "TQ-SD-02": "TQ-SD"},
        periods=periods,
        received_on=date(2024, 4, 2),
    )
    return replace(base, **overrides)


def workbook_of(layout: TemplateLayout, typed: dict[str, Cell]) -> dict[str, dict[str, Cell]]:
    """What tasks.collect.reports hands to read_xlsx_report for a template rendered and then filled in."""
    sheet: dict[str, Cell] = {**layout.cells, **typed}
    meta: dict[str, Cell] = {}
    for i, (key, value, extra) in enumerate(layout.meta, start=1):
        meta[f"A{i}"] = key
        meta[f"B{i}"] = value
        if extra:
            meta[f"C{i}"] = extra
    return {REPORT_SHEET: {k: v for k, v in sheet.items() if v is not None}, META_SHEET: meta}


def filled(layout: TemplateLayout, values: Mapping[str, Cell], **extra: Cell) -> dict[str, Cell]:
    by_key = {key: ref for ref, key in layout.inputs.items()}
    return {**{by_key[k]: v for k, v in values.items()}, **extra}


UNIT_VALUES = {"carried_over": 120, "arising": 30, "finished": 20}


def xlsx_report(values: Mapping[str, Cell] = UNIT_VALUES, **extra: Cell) -> tuple[TemplateLayout, RawReport]:
    layout = build_layout(info())
    return layout, read_xlsx_report("ys.xlsx", workbook_of(layout, filled(layout, values, **extra)))


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (12, 12), (12.0, 12), ("15", 15), (" 1 234 ", 1234), ("+7", 7), (None, None), ("  ", None)],
)
def test_it_reads_whole_non_negative_counts(value: Cell, expected: int | None) -> None:
    assert parse_count(value) == (expected, None)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (-3, "không được là số âm"),
        ("−3", "không được là số âm"),  # the typographic minus Word inserts
        (-2.5, "không được là số âm"),
        (2.5, "không có phần thập phân (nhận được 2,5)"),
        ("2,5", "không có phần thập phân"),
        ("1.234", "dấu phân cách hàng nghìn"),
        ("mười", "nhận được “mười”"),
        (True, "đúng/sai"),
        (date(2024, 3, 1), "nhận được ngày 01/03/2024"),
    ],
)
def test_it_explains_what_is_wrong_with_a_count(value: Cell, words: str) -> None:
    number, problem = parse_count(value)
    assert number is None and problem is not None and words in problem


@pytest.mark.parametrize(
    ("value", "maximum", "expected"),
    [
        (10**7, 10**7, (10**7, None)),
        (10**7 + 1, 10**7, (None, "số quá lớn: 10.000.001 (tối đa 10.000.000)")),
        (10**30, 10**7, (None, "số quá lớn: 10^30 (tối đa 10.000.000)")),
        (1e300, 10**15, (None, "số quá lớn: 10^300 (tối đa 1.000.000.000.000.000)")),
        ("1000000000000000000000", 10**15, (None, "số quá lớn: 10^21 (tối đa 1.000.000.000.000.000)")),
    ],
)
def test_a_count_above_its_bound_is_refused(
    value: Cell, maximum: int, expected: tuple[int | None, str | None]
) -> None:
    assert parse_count(value, maximum) == expected


def test_the_bound_comes_from_the_field_or_its_unit() -> None:
    assert FieldDef(key="finished", label="Xong", unit="việc").bound == 10**7
    assert FieldDef(key="money", label="Tiền", unit="đồng").bound == 10**15
    assert FieldDef(key="finished", label="Xong", unit="việc", maximum=500).bound == 500


def test_the_correction_mark_is_x_or_empty() -> None:
    assert (
        parse_mark("x") == (True, None)
        and parse_mark("X") == (True, None)
        and parse_mark("có") == (True, None)
    )
    assert parse_mark(None) == (False, None) and parse_mark("") == (False, None)
    flag, problem = parse_mark("sửa")
    assert not flag and problem is not None and "“x”" in problem


def test_periods_are_read_as_people_write_them() -> None:
    assert normalise_period("2024-03") == "2024-03"
    assert normalise_period("3/2024") == "2024-03"
    assert normalise_period("03/2024") == "2024-03"
    assert normalise_period("Tổng kết") == "final"
    assert normalise_period("2024-13") == "2024-13"  # kept, so the error shows what was typed
    assert normalise_period(None) is None


def test_a_period_opens_on_the_first_day_of_its_month_or_the_campaign_start() -> None:
    assert opens_on(date(2024, 1, 2), date(2024, 1, 31)) == date(2024, 1, 2)
    assert opens_on(date(2024, 1, 2), date(2024, 3, 31)) == date(2024, 3, 1)


# ---------------------------------------------------------------- the XLSX template


def test_a_filled_template_reads_back_clean_with_its_figures() -> None:
    _, raw = xlsx_report()
    assert raw.errors == [] and (raw.campaign_code, raw.unit_code, raw.period_key) == (
        CODE,
        "TQ-YS",
        "2024-03",
    )
    checked = check_report(raw, context())
    assert checked.ok, checked.errors
    assert checked.values == UNIT_VALUES and not checked.is_correction and checked.officers == []


def test_the_layout_has_one_input_per_field_a_correction_mark_and_officer_rows() -> None:
    layout = build_layout(info())
    assert sorted(layout.inputs.values()) == sorted(f.key for f in FIELDS)
    assert all(ref.startswith("D") for ref in layout.inputs)
    assert layout.cells[f"B{layout.correction_cell[1:]}"] == "Đính chính số liệu (x)"
    assert [s.person_code for s in layout.officer_slots] == ["TQ-YS-03", "TQ-YS-04"]
    assert len(layout.input_cells) == len(FIELDS) + 1 + 2 * len(FIELDS)
    assert not set(layout.input_cells) & set(layout.cells)  # inputs start empty
    texts = " ".join(str(v) for v in layout.cells.values())
    assert "05/04/2024" in texts and "Chi cục Thi hành án dân sự huyện Yên Sơn" in texts
    assert "không được lớn hơn" in texts  # the consistency rule is told, not only enforced


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"C6": "Chi cục THADS huyện Sơn Dương"}, "đã bị sửa (hiện ghi “Chi cục THADS huyện Sơn Dương”)"),
        ({"C10": None}, "đã bị xóa"),
        ({"F21": "ghi chú"}, "nằm ngoài các ô nhập liệu nhưng có nội dung “ghi chú”"),
    ],
)
def test_an_edit_outside_the_input_cells_is_named_by_cell(edit: dict[str, Cell], words: str) -> None:
    layout = build_layout(info())
    book = workbook_of(layout, filled(layout, UNIT_VALUES))
    for ref, value in edit.items():
        if value is None:
            book[REPORT_SHEET].pop(ref)
        else:
            book[REPORT_SHEET][ref] = value
    raw = read_xlsx_report("ys.xlsx", book)
    ref = next(iter(edit))
    assert [(e.cell, e.sheet) for e in raw.errors] == [(ref, REPORT_SHEET)]
    assert words in raw.errors[0].problem
    assert f"ys.xlsx, trang “Báo cáo”, ô {ref}: " in str(raw.errors[0])
    assert not check_report(raw, context()).ok


def test_a_workbook_without_the_hidden_sheet_is_not_a_template() -> None:
    raw = read_xlsx_report("other.xlsx", {"Sheet1": {"A1": "Số liệu", "B1": 5}})
    checked = check_report(raw, context())
    assert not checked.ok and "không phải mẫu báo cáo" in checked.errors[0].problem


def test_a_changed_unit_in_the_hidden_sheet_breaks_the_fingerprint() -> None:
    layout = build_layout(info())
    book = workbook_of(layout, filled(layout, UNIT_VALUES))
    row = next(ref for ref, v in book[META_SHEET].items() if v == "unit_code")
    book[META_SHEET][f"B{row[1:]}"] = "TQ-SD"
    raw = read_xlsx_report("ys.xlsx", book)
    assert raw.unit_code == "TQ-SD" and any("bị sửa" in e.problem for e in raw.errors)


def test_a_template_of_another_campaign_or_definition_is_refused() -> None:
    _, raw = xlsx_report()
    other = check_report(raw, context(campaign_code="QG-2026-THI-DUA"))
    assert len(other.errors) == 1
    assert "mẫu báo cáo của phong trào “TQ-2024-GIAM-AN”, không phải phong trào “QG-2026-THI-DUA”" in str(
        other.errors[0]
    )
    newer = check_report(raw, context(definition_hash="b" * 64))
    assert any("phiên bản khác" in e.problem for e in newer.errors)


# ---------------------------------------------------------------- figures


@pytest.mark.parametrize(
    ("values", "field_key", "words"),
    [
        ({**UNIT_VALUES, "finished": "hai mươi"}, "finished", "nhận được “hai mươi”"),
        ({**UNIT_VALUES, "arising": -1}, "arising", "không được là số âm"),
        ({**UNIT_VALUES, "arising": 2.5}, "arising", "không có phần thập phân"),
        ({**UNIT_VALUES, "carried_over": None}, "carried_over", "chưa điền số liệu"),
    ],
)
def test_a_bad_figure_is_named_by_its_cell_and_field(
    values: dict[str, Cell], field_key: str, words: str
) -> None:
    layout, raw = xlsx_report(values)
    checked = check_report(raw, context())
    ref = next(r for r, k in layout.inputs.items() if k == field_key)
    assert [(e.cell, e.field) for e in checked.errors] == [(ref, DEFN.field(field_key).label)]
    assert words in checked.errors[0].problem and f"ô {ref} ({DEFN.field(field_key).label})" in str(
        checked.errors[0]
    )


def test_finished_above_carried_over_plus_arising_is_refused_and_equal_is_fine() -> None:
    layout, raw = xlsx_report({"carried_over": 10, "arising": 5, "finished": 16})
    checked = check_report(raw, context())
    ref = next(r for r, k in layout.inputs.items() if k == "finished")
    assert [e.cell for e in checked.errors] == [ref]
    assert (
        "(16) không được lớn hơn" in checked.errors[0].problem
        and "(10 + 5 = 15)" in checked.errors[0].problem
    )
    _, equal = xlsx_report({"carried_over": 10, "arising": 5, "finished": 15})
    assert check_report(equal, context()).ok


def test_a_cumulative_figure_may_not_fall_unless_marked_as_a_correction() -> None:
    previous = PreviousReport(
        "2024-02", "Báo cáo tháng 02/2024", {"carried_over": 125, "arising": 30, "finished": 25}
    )
    layout, raw = (
        xlsx_report()
    )  # finished 20 < 25; carried_over 120 < 125 is allowed: it is a stock, not a total
    checked = check_report(raw, context(previous=previous))
    ref = next(r for r, k in layout.inputs.items() if k == "finished")
    assert [e.cell for e in checked.errors] == [ref]
    assert "giảm so với báo cáo tháng 02/2024 đã nộp (25 → 20)" in checked.errors[0].problem
    assert f"ghi “x” vào ô {layout.correction_cell}" in checked.errors[0].problem

    _, marked = xlsx_report(UNIT_VALUES, **{layout.correction_cell: "x"})
    corrected = check_report(marked, context(previous=previous))
    assert corrected.ok and corrected.is_correction


def test_officer_figures_are_optional_checked_and_only_warned_about_when_above_the_unit() -> None:
    layout = build_layout(info())
    tu, luc = layout.officer_slots
    typed = filled(layout, UNIT_VALUES)
    typed.update({tu.cells["carried_over"]: 60, tu.cells["arising"]: 20, tu.cells["finished"]: 15})
    typed.update({luc.cells["carried_over"]: 70, luc.cells["arising"]: 5, luc.cells["finished"]: 10})
    checked = check_report(read_xlsx_report("ys.xlsx", workbook_of(layout, typed)), context())
    assert checked.ok, checked.errors
    assert [(o.person_code, o.values["finished"]) for o in checked.officers] == [
        ("TQ-YS-03", 15),
        ("TQ-YS-04", 10),
    ]
    assert [w.field for w in checked.warnings] == [
        DEFN.field("carried_over").label,
        DEFN.field("finished").label,
    ]
    assert "(130) lớn hơn số liệu của đơn vị (120)" in checked.warnings[0].problem

    typed[luc.cells["arising"]] = None  # a half-filled officer row
    half = check_report(read_xlsx_report("ys.xlsx", workbook_of(layout, typed)), context())
    assert [e.cell for e in half.errors] == [luc.cells["arising"]]


# ---------------------------------------------------------------- the CSV form


def csv_form(*rows: Sequence[Cell]) -> list[Sequence[Cell]]:
    return [csv_rows(info())[0], *rows]


def test_the_csv_template_reads_back_and_officer_rows_left_empty_are_skipped() -> None:
    rows = csv_rows(info())
    rows[1][5:8] = ["120", "30", "20"]
    rows[2][5:8] = ["60", "20", "15"]
    raw = read_csv_report("ys.csv", rows, FIELDS)
    checked = check_report(raw, context())
    assert checked.ok, checked.errors
    assert checked.values == UNIT_VALUES and [o.person_code for o in checked.officers] == ["TQ-YS-03"]


def test_csv_columns_may_be_headed_by_field_keys_and_the_period_written_mm_yyyy() -> None:
    rows = [
        ["Mã phong trào", "Mã đơn vị", "Kỳ báo cáo", "carried_over", "arising", "finished", "Ghi chú"],
        [CODE.lower(), "TQ-YS", "03/2024", "120", "30", "20", "đã rà soát"],
    ]
    checked = check_report(read_csv_report("ys.csv", rows, FIELDS), context())
    assert checked.ok and checked.period_key == "2024-03" and checked.values == UNIT_VALUES


def test_a_csv_without_a_field_column_names_the_missing_column() -> None:
    rows: list[list[Cell]] = [
        ["Mã phong trào", "Mã đơn vị", "Kỳ báo cáo", "carried_over", "finished"],
        [CODE, "TQ-YS", "2024-03", 1, 1],
    ]
    raw = read_csv_report("ys.csv", rows, FIELDS)
    assert raw.unusable and len(raw.errors) == 1
    assert str(raw.errors[0]).startswith(
        "ys.csv, dòng 1: thiếu cột “Số việc có điều kiện trên một năm phát sinh"
    )


def test_csv_errors_name_row_and_column() -> None:
    raw = read_csv_report(
        "ys.csv", csv_form([CODE, "TQ-YS", "2024-03", "", "", "120", "-4", "20", ""]), FIELDS
    )
    checked = check_report(raw, context())
    label = DEFN.field("arising").label
    assert [str(e) for e in checked.errors] == [
        f"ys.csv, dòng 2, cột “{label}”: không được là số âm (nhận được -4)"
    ]


def test_an_officer_of_another_unit_or_listed_twice_is_refused() -> None:
    rows = csv_form(
        [CODE, "TQ-YS", "2024-03", "", "", 120, 30, 20, ""],
        [CODE, "TQ-YS", "2024-03", "TQ-SD-02", "", 1, 1, 1, ""],
        ["", "", "", "TQ-YS-03", "", 1, 1, 1, ""],
        ["", "", "", "TQ-YS-03", "", 1, 1, 1, ""],
        ["", "", "", "TQ-XX-99", "", 1, 1, 1, ""],
    )
    checked = check_report(read_csv_report("ys.csv", rows, FIELDS), context())
    assert [e.row for e in checked.errors] == [3, 5, 6]
    assert "“TQ-SD-02” không có trong danh sách cán bộ của đơn vị “TQ-YS”" in checked.errors[0].problem
    assert "(thuộc đơn vị TQ-SD)" in checked.errors[0].problem
    assert "xuất hiện nhiều lần (lần đầu ở dòng 4)" in checked.errors[1].problem


def test_two_unit_rows_or_an_officer_row_of_another_unit_are_refused() -> None:
    two = read_csv_report("ys.csv", csv_form([CODE, "TQ-YS", "2024-03"], [CODE, "TQ-SD", "2024-03"]), FIELDS)
    assert two.unusable and "dòng 2, 3" in two.errors[0].problem
    mixed = read_csv_report(
        "ys.csv",
        csv_form(
            [CODE, "TQ-YS", "2024-03", "", "", 1, 1, 1], [CODE, "TQ-SD", "2024-03", "TQ-YS-03", "", 1, 1, 1]
        ),
        FIELDS,
    )
    assert [(e.row, e.column) for e in mixed.errors] == [(3, "Mã đơn vị")]


# ---------------------------------------------------------------- unit, period, campaign state


def csv_for(unit: str, period: str) -> RawReport:
    return read_csv_report("f.csv", csv_form([CODE, unit, period, "", "", 120, 30, 20, ""]), FIELDS)


@pytest.mark.parametrize(
    ("unit", "words"),
    [
        ("TQ-ZZ", "mã đơn vị “TQ-ZZ” không có trong danh bạ"),
        ("BTP", "đơn vị “BTP” không tham gia phong trào “TQ-2024-GIAM-AN”"),
        ("TQ-VP", "không thuộc diện gửi báo cáo định kỳ"),
        ("tq-ys", "có phải “TQ-YS”?"),
    ],
)
def test_the_unit_must_be_enrolled_and_expected_to_report(unit: str, words: str) -> None:
    checked = check_report(csv_for(unit, "2024-03"), context())
    assert [(e.row, e.column) for e in checked.errors] == [(2, "Mã đơn vị")]
    assert words in checked.errors[0].problem


@pytest.mark.parametrize(
    ("period", "ctx", "words"),
    [
        ("2024-09", {}, "kỳ báo cáo “2024-09” không có trong lịch báo cáo của phong trào (các kỳ: 2024-01"),
        ("2024-03", {"received_on": date(2024, 2, 29)}, "chưa mở: nhận báo cáo từ ngày 01/03/2024"),
        ("2024-03", {"status": "closed"}, "đã kết thúc việc nhận báo cáo"),
        ("2024-03", {"status": "awarded"}, "đã kết thúc việc nhận báo cáo"),
        ("2024-03", {"status": "draft"}, "chưa được phát động"),
    ],
)
def test_the_period_must_be_known_open_and_not_closed(period: str, ctx: dict[str, Any], words: str) -> None:
    checked = check_report(csv_for("TQ-YS", period), context(**ctx))
    assert [(e.row, e.column) for e in checked.errors] == [(2, "Kỳ báo cáo")]
    assert words in checked.errors[0].problem


def test_a_period_is_open_on_its_first_day_and_still_open_after_its_due_date() -> None:
    assert check_report(csv_for("TQ-YS", "2024-03"), context(received_on=date(2024, 3, 1))).ok
    assert check_report(csv_for("TQ-YS", "2024-03"), context(received_on=date(2024, 6, 1))).ok


def test_changes_list_old_and_new_figures_of_the_unit_and_its_officers() -> None:
    from thidua.models.report_rows import OfficerFigures

    before = {"carried_over": 120, "arising": 30, "finished": 18}
    after = {"carried_over": 120, "arising": 31, "finished": 20}
    officers_before = [{"person_code": "TQ-YS-03", "values": {"finished": 5}}]
    changes = changes_between(before, after, officers_before, [OfficerFigures("TQ-YS-03", {"finished": 6})])
    assert changes == {"arising": [30, 31], "finished": [18, 20], "TQ-YS-03/finished": [5, 6]}


def test_error_text_and_dict_carry_the_same_location() -> None:
    _, raw = xlsx_report({**UNIT_VALUES, "finished": -1})
    error = check_report(raw, context()).errors[0]
    data = error.as_dict()
    assert data["cell"] == error.cell and data["sheet"] == REPORT_SHEET and data["text"] == str(error)
