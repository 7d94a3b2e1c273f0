"""The closing summary's documents built from plain data and read back: DOCX (python-docx), XLSX, PNG."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.table import Table
from openpyxl import load_workbook

from thidua.models.definition import FieldDef, Indicator
from thidua.models.indicators import IndicatorResult
from thidua.models.reconciliation import LedgerCheck, check_figures
from thidua.notifications.documents.closing import (
    ClosingContent,
    FieldColumn,
    IndicatorColumn,
    PersonResult,
    UnitResult,
    assess,
    render_closing_report,
    top_persons,
    write_closing_chart,
    write_closing_xlsx,
)
from thidua.notifications.documents.decree30 import DocumentHeader, SignatureBlock

TITLE = "Giảm án có điều kiện trên một năm chưa thi hành xong"
LABEL = "Tỷ lệ giảm án có điều kiện trên một năm chưa thi hành xong"
FIELDS = [
    FieldColumn(
        "carried_over", "Số việc có điều kiện trên một năm chưa thi hành xong năm 2023 chuyển sang", "việc"
    ),
    FieldColumn("arising", "Số việc có điều kiện trên một năm phát sinh trong năm 2024", "việc"),
    FieldColumn("finished", "Số việc có điều kiện trên một năm đã thi hành xong", "việc"),
]
REDUCTION = IndicatorColumn(
    "reduction", LABEL, ">=", Decimal("0.1"), numerator=("finished",), denominator=("carried_over", "arising")
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figures(carried_over: int, arising: int, finished: int) -> dict[str, int]:
    return {"carried_over": carried_over, "arising": arising, "finished": finished}


def reduction(values: dict[str, int]) -> dict[str, IndicatorResult]:
    num, den = values.get("finished", 0), values.get("carried_over", 0) + values.get("arising", 0)
    value = Fraction(num, den) if den else None
    met = None if value is None else value >= Decimal("0.1")
    return {"reduction": IndicatorResult("reduction", num, den, value, Decimal("0.1"), ">=", met)}


def unit(
    code: str, name: str, values: dict[str, int] | None, rank: int | None, *, reports: bool = True
) -> UnitResult:
    return UnitResult(
        code=code,
        name=name,
        short_name=name.replace("Thi hành án dân sự", "THADS"),
        depth=0 if code == "TQ" else 1,
        reports=reports,
        has_report=values is not None,
        figures=values or {},
        results=reduction(values or {}),
        rank=rank,
    )


def person(code: str, name: str, values: dict[str, int] | None, rank: int | None) -> PersonResult:
    return PersonResult(
        code=code,
        full_name=name,
        title="Chấp hành viên",
        unit_code="TQ-YS",
        unit_name="Chi cục Thi hành án dân sự huyện Yên Sơn",
        has_report=values is not None,
        figures=values or {},
        results=reduction(values or {}),
        rank=rank,
    )


def content(*, top: int = 3) -> ClosingContent:
    total = unit("TQ", "Cục Thi hành án dân sự tỉnh Tuyên Quang", figures(400, 40, 52), None, reports=False)
    units = [
        total,
        unit("TQ-LB", "Chi cục Thi hành án dân sự huyện Lâm Bình", None, None),
        unit("TQ-SD", "Chi cục Thi hành án dân sự huyện Sơn Dương", figures(100, 20, 30), 1),
        unit("TQ-TP", "Chi cục Thi hành án dân sự thành phố Tuyên Quang", figures(200, 0, 10), 3),
        unit("TQ-YS", "Chi cục Thi hành án dân sự huyện Yên Sơn", figures(100, 20, 12), 2),
    ]
    persons = [
        person("TQ-YS-05", "Lê Văn An", figures(20, 0, 6), 1),
        person("TQ-YS-06", "Trần Thị Bình", figures(20, 0, 4), 2),
        person("TQ-YS-07", "Hoàng Văn Cường", figures(20, 0, 2), 3),
        person("TQ-YS-08", "Đỗ Thị Dung", figures(10, 0, 1), 3),  # tied with the third: shown too
        person("TQ-YS-09", "Vũ Văn Em", figures(20, 0, 1), 5),
        person("TQ-YS-10", "Phạm Thị Hoa", None, None),
    ]
    return ClosingContent(
        header=DocumentHeader(
            parent_agency="Tổng cục Thi hành án dân sự",
            agency="Cục Thi hành án dân sự tỉnh Tuyên Quang",
            number=None,
            symbol="BC-CTHADS",
            place="Tuyên Quang",
            date=date(2024, 7, 4),
        ),
        campaign_code="TQ-2024-GIAM-AN",
        campaign_title=TITLE,
        kind_label="chuyên đề",
        issuer_short_name="Cục THADS",
        plan_reference="Kế hoạch số     /KH-CTHADS ngày 05/01/2024",
        period_start=date(2024, 1, 2),
        period_end=date(2024, 6, 30),
        data_label="Báo cáo tổng kết phong trào thi đua chuyên đề",
        data_is_final=True,
        closed_on=date(2024, 7, 4),
        fields=FIELDS,
        indicators=[REDUCTION],
        person_indicators=[REDUCTION],
        main_key="reduction",
        units=units,
        total=total,
        persons=persons,
        signature=SignatureBlock("KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG", "Phan Thị Mai Thảo"),
        recipients=["Tổng cục THADS - BTP (để b/cáo);", "Lưu: VT, TCCB."],
        top_persons=top,
    )


@pytest.fixture
def written(tmp_path: Path) -> dict[str, Path]:
    c = content()
    chart = write_closing_chart(c, tmp_path / "bieu-do.png")
    return {
        "chart": chart,
        "report": render_closing_report(c, tmp_path / "bao-cao.docx", chart),
        "table": write_closing_xlsx(c, tmp_path / "tong-ket.xlsx"),
    }


@pytest.fixture
def report(written: dict[str, Path]) -> DocxDocument:
    return Document(str(written["report"]))


def table_starting(doc: DocxDocument, *head: str) -> Table:
    return next(t for t in doc.tables if [c.text for c in t.rows[0].cells][: len(head)] == list(head))


def texts(rows: Sequence[object]) -> list[list[str]]:
    return [[c.text for c in r.cells] for r in rows]  # type: ignore[attr-defined]


# ---------------------------------------------------------------- DOCX


def test_the_report_is_an_a4_decree_30_bao_cao_numbered_by_hand(report: DocxDocument) -> None:
    section = report.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert abs(section.page_width.mm - 210) <= 0.5 and abs(section.page_height.mm - 297) <= 0.5
    assert 20 <= round(section.top_margin.mm, 1) <= 25 and 20 <= round(section.bottom_margin.mm, 1) <= 25
    assert 30 <= round(section.left_margin.mm, 1) <= 35 and 15 <= round(section.right_margin.mm, 1) <= 20
    header = report.tables[0]
    assert header.cell(1, 0).text == "Số:      /BC-CTHADS"
    assert header.cell(1, 1).text == "Tuyên Quang, ngày 04 tháng 7 năm 2024"
    lines = [p.text for p in report.paragraphs if p.text.strip()]
    assert lines[0] == "BÁO CÁO"
    assert lines[1] == f"Tổng kết phong trào thi đua chuyên đề “{TITLE}”"
    assert all(r.bold for p in report.paragraphs[:4] if p.text in lines[:2] for r in p.runs)
    assert "I. KẾT QUẢ THỰC HIỆN" in lines and "II. ĐÁNH GIÁ CHUNG" in lines


def test_the_totals_are_sums_and_the_main_indicator_is_set_against_the_target(report: DocxDocument) -> None:
    lines = [p.text for p in report.paragraphs]
    assert f"- {FIELDS[0].label}: 400 việc." in lines
    assert f"- {LABEL}: 11,82% (52/440); chỉ tiêu ≥ 10,00%: đạt." in lines
    assert "- Số đơn vị đạt chỉ tiêu: 2/4; không đạt: 1; không có báo cáo: 1." in lines


def test_the_unit_table_gives_each_reporting_unit_its_figures_rate_result_and_rank(
    report: DocxDocument,
) -> None:
    table = table_starting(report, "STT", "Đơn vị")
    rows = texts(table.rows)
    assert rows[0] == ["STT", "Đơn vị", *(f.label for f in FIELDS), "Tỷ lệ (%)", "Kết quả", "Xếp hạng"]
    assert rows[1:] == [
        ["1", "Chi cục THADS huyện Lâm Bình", "—", "—", "—", "—", "Không có báo cáo", "—"],
        ["2", "Chi cục THADS huyện Sơn Dương", "100", "20", "30", "25,00%", "Đạt", "1"],
        ["3", "Chi cục THADS thành phố Tuyên Quang", "200", "0", "10", "5,00%", "Không đạt", "3"],
        ["4", "Chi cục THADS huyện Yên Sơn", "100", "20", "12", "10,00%", "Đạt", "2"],
        ["", "Tổng cộng", "400", "40", "52", "11,82%", "Đạt", ""],
    ]
    assert all(r.bold for c in table.rows[-1].cells for p in c.paragraphs for r in p.runs)


def test_the_individuals_table_shows_the_top_and_whoever_ties_at_its_edge(report: DocxDocument) -> None:
    rows = texts(table_starting(report, "STT", "Họ và tên").rows)
    assert [r[1] for r in rows[1:]] == ["Lê Văn An", "Trần Thị Bình", "Hoàng Văn Cường", "Đỗ Thị Dung"]
    assert rows[1] == ["1", "Lê Văn An", "Chấp hành viên", "Chi cục THADS huyện Yên Sơn", "6/20", "30,00%",
                       "Đạt", "1"]  # fmt: skip
    assert [r[-1] for r in rows[1:]] == ["1", "2", "3", "3"]
    assert len(top_persons(content(top=10))) == 5  # few people: everyone with figures


def test_the_assessment_names_who_met_the_target_who_did_not_and_who_sent_nothing(
    report: DocxDocument,
) -> None:
    lines = [p.text for p in report.paragraphs]
    start = lines.index("II. ĐÁNH GIÁ CHUNG")
    part = "\n".join(lines[start:])
    assert (
        "Có 2/4 đơn vị đạt chỉ tiêu: Chi cục THADS huyện Sơn Dương (25,00%), "
        "Chi cục THADS huyện Yên Sơn (10,00%)."
    ) in part
    assert "Có 1 đơn vị không đạt chỉ tiêu: Chi cục THADS thành phố Tuyên Quang (5,00%)." in part
    assert "Có 1 đơn vị không gửi báo cáo tổng kết, chưa được đánh giá: Chi cục THADS huyện Lâm Bình." in part
    assert "Cá nhân có kết quả cao nhất: Lê Văn An (Chấp hành viên, Chi cục THADS huyện Yên Sơn)" in part
    verdict = assess(content())
    assert [u.code for u in verdict.met] == ["TQ-SD", "TQ-YS"]
    assert [u.code for u in verdict.missing] == ["TQ-LB"]


def test_the_chart_is_in_the_report_and_the_signer_and_recipients_close_it(report: DocxDocument) -> None:
    assert len(report.inline_shapes) == 1
    signature = report.tables[-1]
    right = [p.text for p in signature.cell(0, 1).paragraphs]
    assert right == ["KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG", "Phan Thị Mai Thảo"]
    assert all(r.bold for p in signature.cell(0, 1).paragraphs for r in p.runs)
    left = [p.text for p in signature.cell(0, 0).paragraphs]
    assert left == ["Nơi nhận:", "- Tổng cục THADS - BTP (để b/cáo);", "- Lưu: VT, TCCB."]


# ---------------------------------------------------------------- XLSX and PNG


def test_the_table_has_every_figure_as_numbers_with_percent_formats_and_a_frozen_header(
    written: dict[str, Path],
) -> None:
    wb = load_workbook(written["table"])
    assert wb.sheetnames == ["Đơn vị", "Cá nhân", "Thông tin"]
    units = wb["Đơn vị"]
    assert units.freeze_panes == "D2"
    head = [c.value for c in units[1]]
    assert head[:5] == ["STT", "Mã đơn vị", "Tên đơn vị", "Tự báo cáo", "Có báo cáo"]
    assert head[5:8] == [f.label for f in FIELDS]
    assert head[8:] == [f"{LABEL} (%)", f"Chỉ tiêu – {LABEL} (%)", f"Kết quả – {LABEL}", "Xếp hạng"]
    rows = {r[1].value: r for r in units.iter_rows(min_row=2)}
    ys = rows["TQ-YS"]
    assert [c.value for c in ys[5:8]] == [100, 20, 12]
    assert Decimal(str(ys[8].value)) == Decimal("0.1") and ys[8].number_format == "0.00%"
    assert (ys[10].value, ys[11].value) == ("Đạt", 2)
    root = rows["TQ"]
    assert [c.value for c in root[5:8]] == [400, 40, 52] and root[3].value == "Không"
    assert round(Decimal(str(root[8].value)), 6) == round(Decimal(52) / Decimal(440), 6)
    assert rows["TQ-LB"][5].value is None and rows["TQ-LB"][10].value == "Không có báo cáo"

    people = wb["Cá nhân"]
    assert people.freeze_panes == "D2"
    codes = [r[1].value for r in people.iter_rows(min_row=2)]
    assert codes == ["TQ-YS-05", "TQ-YS-06", "TQ-YS-07", "TQ-YS-08", "TQ-YS-09", "TQ-YS-10"]
    last = [c.value for c in people[people.max_row]]
    assert last[6] == "Không" and last[-1] is None and last[-2] == "Không có số liệu"


def test_the_chart_is_a_png_and_the_same_content_gives_the_same_files(
    written: dict[str, Path], tmp_path: Path
) -> None:
    data = written["chart"].read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 1000 and height > 300
    again = tmp_path / "again"
    c = content()
    chart = write_closing_chart(c, again / "bieu-do.png")
    assert chart.read_bytes() == data
    docx = render_closing_report(c, again / "bao-cao.docx", chart)
    assert docx.read_bytes() == written["report"].read_bytes()
    assert write_closing_xlsx(c, again / "tong-ket.xlsx").read_bytes() == written["table"].read_bytes()


# ---------------------------------------------------------------- against the case ledger


def with_ledger(c: ClosingContent) -> ClosingContent:
    """Sơn Dương reports 30 finished where its ledger has 24; Lê Văn An 6 where his cases show 4."""
    fields = [FieldDef(key=f.key, label=f.label, unit=f.unit) for f in FIELDS]
    main = Indicator(
        key="reduction", label=LABEL, numerator=["finished"], denominator=["carried_over", "arising"],
        comparison=">=", target="10%", applies_to=["unit", "person"], main=True,
    )  # fmt: skip

    def check(values: dict[str, int], finished: int) -> LedgerCheck:
        ledger = {**values, "finished": finished}
        return check_figures(values, ledger, fields, at=date(2024, 6, 30), main=main)

    ledger = {"TQ-SD": 24, "TQ-TP": 10, "TQ-YS": 12, "TQ-YS-05": 4, "TQ-YS-06": 4}
    units = [
        replace(u, ledger=check(dict(u.figures), ledger[u.code])) if u.code in ledger else u for u in c.units
    ]
    persons = [
        replace(p, ledger=check(dict(p.figures), ledger[p.code])) if p.code in ledger else p
        for p in c.persons
    ]
    return replace(c, units=units, persons=persons, ledger_fields=FIELDS, ledger_at=date(2024, 6, 30))


def test_a_unit_and_a_person_whose_figures_differ_from_the_ledger_are_marked_with_the_figures(
    tmp_path: Path,
) -> None:
    c = with_ledger(content())

    docx = Document(str(render_closing_report(c, tmp_path / "bao-cao.docx")))
    write_closing_xlsx(c, tmp_path / "tong-ket.xlsx")

    text = "\n".join(p.text for p in docx.paragraphs)
    assert "đơn vị, cá nhân có số liệu chênh lệch được đánh dấu (*)" in text
    assert (
        "- Chi cục THADS huyện Sơn Dương: Số việc có điều kiện trên một năm đã thi hành xong: báo cáo 30, "
        "sổ thụ lý 24 (chênh lệch +6 việc); tỷ lệ theo sổ thụ lý 20,00%, đạt chỉ tiêu." in text
    )
    assert "- Lê Văn An (Chấp hành viên, Chi cục THADS huyện Yên Sơn): Số việc có điều kiện" in text
    ranked = [row[1] for row in texts(table_starting(docx, "STT", "Đơn vị").rows)]
    assert "Chi cục THADS huyện Sơn Dương (*)" in ranked and "Chi cục THADS huyện Yên Sơn" in ranked
    people = [row[1] for row in texts(table_starting(docx, "STT", "Họ và tên").rows)]
    assert "Lê Văn An (*)" in people and "Trần Thị Bình" in people
    wb = load_workbook(tmp_path / "tong-ket.xlsx")
    head = [cell.value for cell in wb["Đơn vị"][1]]
    assert head[-4:] == [f"{FIELDS[2].label} – theo sổ thụ lý", f"{FIELDS[2].label} – chênh lệch",
                         f"{LABEL} – theo sổ thụ lý (%)", "Đối chiếu sổ thụ lý"]  # fmt: skip
    rows = {row[1]: row for row in wb["Đơn vị"].iter_rows(min_row=2, values_only=True)}
    assert rows["TQ-SD"][-4:] == (24, 6, 0.2, "Cần xác minh")
    assert rows["TQ-YS"][-1] == "Khớp" and rows["TQ-LB"][-1] is None
    persons = {row[1]: row for row in wb["Cá nhân"].iter_rows(min_row=2, values_only=True)}
    assert persons["TQ-YS-05"][-3] == 2 and persons["TQ-YS-05"][-1] == "Cần xác minh"
    info = dict(wb["Thông tin"].iter_rows(values_only=True))
    assert info["Số đơn vị cần xác minh"] == 1 and info["Số cá nhân cần xác minh"] == 1
