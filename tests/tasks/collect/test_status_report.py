"""The status table as text, XLSX and PNG, built from a real campaign in SQLite and PostgreSQL."""

from __future__ import annotations

import random
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlmodel import col

from tests.factories import NATIONAL_DEFINITION, at, launch_campaign_rows, load_demo_directory
from tests.tasks.collect.test_progress import CODE, NATIONAL, months, submit, write_csv
from thidua.models.campaign import EnrolledUnit
from thidua.tasks.collect.progress import StatusTable, campaign_status, import_targets
from thidua.tasks.collect.status_report import COLOURS, status_lines, write_status_chart, write_status_xlsx


@pytest.fixture
def tq_table(engine: Engine, tmp_path: Path) -> StatusTable:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    months(engine)  # February: seven Chi cục in, Lâm Bình missing
    return campaign_status(engine, CODE, as_of=date(2024, 3, 10))


@pytest.fixture
def national_table(engine: Engine, tmp_path: Path) -> StatusTable:
    load_demo_directory(engine, "national-2026", tmp_path, now=at("20/02/2026"))
    launch_campaign_rows(engine, NATIONAL_DEFINITION, now=at("25/02/2026", 9))
    with engine.connect() as conn:
        provinces = list(
            conn.execute(
                select(col(EnrolledUnit.unit_code))
                .where(col(EnrolledUnit.reports).is_(True))
                .order_by(col(EnrolledUnit.unit_code))
            ).scalars()
        )
    rnd = random.Random(7)
    rows = [["Mã đơn vị", "Chỉ tiêu", "Giá trị"]]
    rows += [[p, "completion_cases", f"{rnd.uniform(80, 88):.2f}%".replace(".", ",")] for p in provinces]
    import_targets(engine, NATIONAL, write_csv(tmp_path / "targets.csv", rows), now=at("01/03/2026"))
    for p in provinces[:-2]:
        cases = rnd.randint(5_000, 60_000)
        figures = {
            "cases_with_conditions": cases,
            "cases_finished": int(cases * rnd.uniform(0.7, 0.95)),
            "money_with_conditions": cases * 10**8,
            "money_finished": int(cases * 10**8 * rnd.uniform(0.4, 0.7)),
        }
        submit(engine, p, "2026-03", figures, when=at("03/04/2026"), code=NATIONAL)
    return campaign_status(engine, NATIONAL, as_of=date(2026, 4, 10))


# ---------------------------------------------------------------- text


def test_the_text_table_is_aligned_vietnamese_and_dated_dd_mm_yyyy(tq_table: StatusTable) -> None:
    lines = status_lines(tq_table)
    text = "\n".join(lines)

    assert lines[0] == "TQ-2024-GIAM-AN — Giảm án có điều kiện trên một năm chưa thi hành xong"
    assert "Báo cáo tháng 02/2024 (đến 29/02/2024) · hạn nộp 07/03/2024 · số liệu đến 10/03/2024" in text
    header = next(line for line in lines if line.startswith("Mã "))
    table = lines[lines.index(header) + 2 : lines.index(header) + 11]
    assert [re.split(r"\s{2,}", row.strip())[0] for row in table] == [
        "TQ", "TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH", "TQ-NV", "TQ-SD", "TQ-TP", "TQ-YS",
    ]  # fmt: skip
    # Right-aligned percentages end in the same column on every line.
    ends = {row.index("%  ≥") for row in table if "%  ≥" in row}
    assert len(ends) == 1
    cuc = re.split(r"\s{2,}", table[0].strip())
    assert cuc == [
        "TQ",
        "Cục THADS tỉnh Tuyên Quang",
        "7/8",
        "46/477",
        "9,64%",
        "≥ 10,00%",
        "Chưa đạt",
        "↑ +4,81",
    ]
    assert table[1].startswith("TQ-CH    Chi cục THADS huyện Chiêm Hóa")  # indented below the Cục
    lam_binh = re.split(r"\s{2,}", table[3].strip())
    assert lam_binh == ["TQ-LB", "Chi cục THADS huyện Lâm Bình", "Chưa nộp", "Quá hạn", "—", "—", "≥ 10,00%",
                        "Chưa có số liệu"]  # fmt: skip
    assert "Tiến độ báo cáo: 8 đơn vị phải báo cáo · đã nộp 7 (87,50%) · đúng hạn 7 (87,50%)" in text
    assert "Chưa nộp (quá hạn): TQ-LB Chi cục THADS huyện Lâm Bình" in text


def test_several_roots_get_a_total_line_and_long_money_figures_are_left_out(
    national_table: StatusTable,
) -> None:
    lines = status_lines(national_table)
    total = next(line for line in lines if "TỔNG CỘNG" in line)
    assert re.split(r"\s{2,}", total.strip())[:2] == ["TỔNG CỘNG", "32/34"]
    assert "(1) Tỷ lệ thi hành xong về việc" in lines and "(2) Tỷ lệ thi hành xong về tiền" in lines
    header = next(line for line in lines if line.startswith("Mã "))
    assert "Số liệu (1)" in header and "Số liệu (2)" not in header  # sums of đồng are in the XLSX


# ---------------------------------------------------------------- XLSX


def test_the_xlsx_holds_the_same_table_with_percent_numbers_and_highlights(
    tq_table: StatusTable, tmp_path: Path
) -> None:
    path = write_status_xlsx(tq_table, tmp_path / "out" / "tinh-hinh.xlsx")

    wb = load_workbook(path)
    assert wb.sheetnames == ["Tình hình", "Tiến độ báo cáo"]
    ws = wb["Tình hình"]
    header = [c.value for c in ws[5]]
    assert header[:5] == ["Mã đơn vị", "Đơn vị", "Báo cáo", "Ngày nộp", "Đúng hạn"]
    assert header[5] == "Số việc có điều kiện trên một năm chưa thi hành xong năm 2023 chuyển sang"
    assert header[8:] == [
        "Tỷ lệ giảm án có điều kiện trên một năm chưa thi hành xong (%)",
        "Chỉ tiêu (%)",
        "Kết quả",
        "So với kỳ trước (điểm %)",
    ]
    assert ws.freeze_panes == "C6"
    rows = {r[0].value: r for r in ws.iter_rows(min_row=6, max_row=14)}
    assert list(rows) == ["TQ", "TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH", "TQ-NV", "TQ-SD", "TQ-TP", "TQ-YS"]

    cuc = rows["TQ"]
    assert [c.value for c in cuc[2:8]] == ["7/8", None, None, 415, 62, 46]
    assert cuc[8].value == pytest.approx(46 / 477, abs=1e-12) and cuc[8].number_format == "0.00%"
    assert cuc[9].value == pytest.approx(0.1) and cuc[9].number_format == "0.00%"
    assert cuc[10].value == "Chưa đạt" and cuc[0].font.b
    assert cuc[11].value == pytest.approx(100 * (46 / 477 - 22 / 455), abs=1e-9)

    hy, ch, lb = rows["TQ-HY"], rows["TQ-CH"], rows["TQ-LB"]
    assert hy[3].value == datetime(2024, 3, 4) and hy[3].number_format == "DD/MM/YYYY"
    assert (hy[10].value, ch[10].value, lb[10].value) == ("Đạt", "Chưa đạt", "Chưa có số liệu")
    fills = {code: rows[code][10].fill.fgColor.rgb[-6:] for code in ("TQ-HY", "TQ-CH", "TQ-LB")}
    assert fills == {"TQ-HY": "C8E6C9", "TQ-CH": "FFCDD2", "TQ-LB": "EEEEEE"}
    assert lb[2].value == "Chưa nộp" and lb[8].value is None
    assert ch[1].alignment.indent == 2 and cuc[1].alignment.indent == 0

    timeliness = wb["Tiến độ báo cáo"]
    facts = {r[0]: r[1] for r in timeliness.iter_rows(min_row=3, max_row=12, values_only=True)}
    assert facts["Số đơn vị phải báo cáo"] == 8 and facts["Đã nộp"] == 7
    assert facts["Tỷ lệ đã nộp"] == pytest.approx(0.875) and facts["Chưa nộp (quá hạn)"] == 1
    assert facts["Hạn nộp"] == datetime(2024, 3, 7)
    units = {r[0]: r[2] for r in timeliness.iter_rows(min_row=15, values_only=True)}
    assert units["TQ-LB"] == "Chưa nộp – quá hạn" and units["TQ-YS"] == "Đúng hạn"


def test_the_xlsx_of_a_forest_ends_with_the_total_line(national_table: StatusTable, tmp_path: Path) -> None:
    ws = load_workbook(write_status_xlsx(national_table, tmp_path / "quoc-gia.xlsx"))["Tình hình"]
    last = [c.value for c in ws[ws.max_row]]
    assert last[:3] == [None, "Tổng cộng", "32/34"]
    assert last[5] == national_table.total.figures["cases_with_conditions"]  # exact integers of cases
    assert ws.max_row == 5 + 34 + 1


# ---------------------------------------------------------------- PNG


def colour_pixels(image: np.ndarray, hex_colour: str) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return int((np.abs(image[:, :, :3] - rgb).max(axis=2) < 0.02).sum())


def test_the_chart_is_a_readable_png_with_bars_coloured_by_result(
    tq_table: StatusTable, tmp_path: Path
) -> None:
    path = write_status_chart(tq_table, tmp_path / "bieu-do.png")

    image = imread(path)
    height, width = image.shape[:2]
    assert width == 1210 and 450 <= height <= 900
    assert colour_pixels(image, COLOURS["met"]) > 5_000  # four units met the 10 % target
    assert colour_pixels(image, COLOURS["unmet"]) > 5_000  # three did not


def test_a_chart_with_per_unit_targets_grows_with_the_units(
    national_table: StatusTable, tmp_path: Path
) -> None:
    image = imread(write_status_chart(national_table, tmp_path / "quoc-gia.png"))
    height, width = image.shape[:2]
    assert width == 1210 and height > 1_400  # 34 provinces, one bar each
    assert colour_pixels(image, COLOURS["met"]) + colour_pixels(image, COLOURS["unmet"]) > 50_000

    money = imread(write_status_chart(national_table, tmp_path / "tien.png", indicator="completion_money"))
    assert money.shape == image.shape
