"""Importing the directory from real CSV/XLSX files into SQLite and PostgreSQL; the demo directories."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, select

from thidua.deploy.demo.directory import write_demo
from thidua.deploy.demo.names import office_counts
from thidua.models.directory import DisciplineForm, UnitLevel
from thidua.tasks.core.directory import (
    DISCIPLINE,
    PERSON,
    UNIT,
    DirectoryImportError,
    import_directory,
    unit_counts_by_level,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 1, 2, 8, 0, tzinfo=VN)
LATER = datetime(2024, 2, 1, 9, 30, tzinfo=VN)

UNIT_HEADER = ["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cấp trên", "Cấp", "Email", "Địa danh"]
PERSON_HEADER = ["Mã cán bộ", "Họ và tên", "Chức danh", "Mã đơn vị", "Email", "Thủ trưởng đơn vị"]
DISCIPLINE_HEADER = ["Mã cán bộ", "Hình thức", "Ngày quyết định", "Lý do"]
TQ_UNITS = {
    "BTP", "TCTHADS", "TQ", "TQ-VP", "TQ-TCCB", "TQ-NV", "TQ-KT",
    "TQ-TP", "TQ-YS", "TQ-SD", "TQ-HY", "TQ-CH", "TQ-NH", "TQ-LB",
}  # fmt: skip


def write_csv(path: Path, rows: list[list[str]], *, bom: bool = True, delimiter: str = ",") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig" if bom else "utf-8"))
    return path


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [tuple(r) for r in conn.execute(select(table).order_by(table.c.id)).all()]
            for table in (UNIT, PERSON, DISCIPLINE)
        }


def load_tq(engine: Engine, tmp_path: Path) -> list[Path]:
    files = write_demo("tuyen-quang-2024", tmp_path / "demo")
    import_directory(engine, files, NOW)
    return files


def units_by_code(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(UNIT)).all()
    by_id = {r.id: r.code for r in rows}
    return {r.code: (r, by_id.get(r.parent_id)) for r in rows}


# ---------------------------------------------------------------- demo files (no database)


def test_demo_files_are_the_same_bytes_on_every_run(tmp_path: Path) -> None:
    for name in ("tuyen-quang-2024", "national-2026"):
        first = write_demo(name, tmp_path / "a" / name)
        second = write_demo(name, tmp_path / "b" / name)
        assert [p.name for p in first] == ["units.csv", "people.csv", "discipline.csv"]
        assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def _read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_tuyen_quang_demo_has_the_plan_units_one_head_each_and_the_documented_discipline(
    tmp_path: Path,
) -> None:
    units_csv, people_csv, discipline_csv = write_demo("tuyen-quang-2024", tmp_path)
    units, people, discipline = _read(units_csv), _read(people_csv), _read(discipline_csv)
    assert {u["Mã đơn vị"] for u in units} == TQ_UNITS
    assert {
        u["Mã đơn vị"]: u["Cấp"]
        for u in units
        if u["Mã đơn vị"] in ("BTP", "TCTHADS", "TQ", "TQ-VP", "TQ-LB")
    } == {
        "BTP": "Bộ",
        "TCTHADS": "Cục",
        "TQ": "Tỉnh",
        "TQ-VP": "Phòng",
        "TQ-LB": "Khu vực",
    }
    assert 110 <= len(people) <= 130
    heads = {p["Mã đơn vị"]: p for p in people if p["Thủ trưởng đơn vị"] == "x"}
    assert Counter(p["Mã đơn vị"] for p in people if p["Thủ trưởng đơn vị"] == "x") == Counter(
        TQ_UNITS - {"BTP", "TCTHADS"}
    )
    assert heads["TQ"]["Chức danh"] == "Cục trưởng"
    assert heads["TQ-VP"]["Chức danh"] == "Chánh Văn phòng"
    assert heads["TQ-NV"]["Chức danh"] == "Trưởng phòng"
    assert {
        heads[c]["Chức danh"] for c in ("TQ-TP", "TQ-YS", "TQ-SD", "TQ-HY", "TQ-CH", "TQ-NH", "TQ-LB")
    } == {"Chi cục trưởng"}
    emails = [p["Email"] for p in people]
    assert len(set(emails)) == len(emails)
    assert all(e.isascii() and e.endswith("@thads-tuyenquang.example.vn") for e in emails)
    assert sum(p["Chức danh"] == "Chấp hành viên" for p in people) >= 30
    by_code = {p["Mã cán bộ"]: p for p in people}
    assert by_code["TQ-02"]["Họ và tên"] == "Phan Thị Mai Thảo"
    records = {(d["Mã cán bộ"], d["Hình thức"], d["Ngày quyết định"]) for d in discipline}
    assert records == {
        ("TQ-YS-04", "Khiển trách", "30/09/2023"),
        ("TQ-SD-05", "Khiển trách", "01/10/2023"),
        ("TQ-HY-04", "Khiển trách", "30/06/2024"),
        ("TQ-NV-03", "Cảnh cáo", "15/08/2022"),
        ("TQ-CH-07", "Khiển trách", "12/03/2024"),
    }
    assert {by_code[code]["Chức danh"] for code, _, _ in records} == {"Chấp hành viên"}


def test_regional_offices_add_up_to_355_with_at_least_five_per_province() -> None:
    counts = office_counts()
    assert len(counts) == 34
    assert sum(counts.values()) == 355
    assert min(counts.values()) >= 5
    assert counts["HCM"] > counts["HNI"] > counts["LCU"]


# ---------------------------------------------------------------- imports


def test_demo_files_import_and_a_second_import_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    files = write_demo("tuyen-quang-2024", tmp_path)
    first = import_directory(engine, files, NOW)
    assert (first.units.inserted, first.people.inserted, first.discipline.inserted) == (14, 120, 5)
    before = dump(engine)

    second = import_directory(engine, files, LATER)

    assert not second.changed
    assert (second.units.unchanged, second.people.unchanged, second.discipline.unchanged) == (14, 120, 5)
    assert dump(engine) == before
    units = units_by_code(engine)
    assert units["TQ-CH"][1] == "TQ" and units["TQ"][1] == "TCTHADS" and units["BTP"][1] is None
    assert units["TQ-CH"][0].level is UnitLevel.KHU_VUC
    assert units["TQ"][0].place_name == "Tuyên Quang"
    assert units["TQ"][0].updated_at == NOW


def test_the_national_demo_imports_with_the_whole_tree(engine: Engine, tmp_path: Path) -> None:
    summary = import_directory(engine, write_demo("national-2026", tmp_path), NOW)

    departments = 34 * 4
    assert summary.units.inserted == 1 + 1 + 7 + 34 + departments + 355
    assert unit_counts_by_level(engine) == {
        UnitLevel.BO: 1,
        UnitLevel.CUC: 1,
        UnitLevel.BAN: 7,
        UnitLevel.TINH: 34,
        UnitLevel.PHONG: departments,
        UnitLevel.KHU_VUC: 355,
    }
    assert 9_500 <= summary.people.inserted <= 10_500
    assert summary.discipline.inserted >= 30
    with engine.connect() as conn:
        heads = Counter(conn.execute(select(PERSON.c.unit_id).where(PERSON.c.is_head.is_(True))).scalars())
        inactive = conn.execute(select(PERSON.c.is_head).where(PERSON.c.active.is_(False))).scalars().all()
    assert set(heads.values()) == {1}
    assert len(heads) == summary.units.inserted - 1  # every unit but the ministry has its head
    assert inactive and not any(inactive)


def test_an_xlsx_import_reads_the_first_sheet_with_excel_typed_cells(engine: Engine, tmp_path: Path) -> None:
    def sheet(name: str, rows: list[list[Any]]) -> Path:
        book = Workbook()
        ws = book.active
        assert ws is not None
        for row in rows:
            ws.append(row)
        book.create_sheet("Ghi chú").append(["không đọc trang này"])
        path = tmp_path / name
        book.save(path)
        return path

    files = [
        sheet(
            "don-vi.xlsx",
            [
                UNIT_HEADER,
                ["BTP", "Bộ Tư pháp", None, "Bộ", None, "Hà Nội"],
                [101, "Cục THADS tỉnh Mẫu", "BTP", "Cục THADS tỉnh", "Cuc@Mau.Example.VN", "Mẫu"],
            ],
        ),
        sheet(
            "can-bo.xlsx",
            [
                [*PERSON_HEADER, "Đang công tác"],
                [7, "Nguyễn Văn An", "Cục trưởng", 101, None, True, 1],
                [8.0, "Trần Thị Bình", "Kế toán", 101, None, None, "không"],
            ],
        ),
        sheet("ky-luat.xlsx", [DISCIPLINE_HEADER, [8, "Khiển trách", datetime(2023, 10, 1), "Chậm báo cáo"]]),
    ]

    summary = import_directory(engine, files, NOW)

    assert (summary.units.inserted, summary.people.inserted, summary.discipline.inserted) == (2, 2, 1)
    units = units_by_code(engine)
    assert units["101"][1] == "BTP" and units["101"][0].level is UnitLevel.TINH
    assert units["101"][0].email == "cuc@mau.example.vn"
    with engine.connect() as conn:
        people = {r.code: r for r in conn.execute(select(PERSON)).all()}
        record = conn.execute(select(DISCIPLINE)).one()
    assert (people["7"].is_head, people["7"].active) == (True, True)
    assert (people["8"].is_head, people["8"].active) == (False, False)
    assert (record.person_id, record.form, record.decision_date) == (
        people["8"].id,
        DisciplineForm.KHIEN_TRACH,
        date(2023, 10, 1),
    )


def test_decomposed_text_is_stored_composed_and_semicolon_files_without_bom_are_read(
    engine: Engine, tmp_path: Path
) -> None:
    nfd = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731
    units = write_csv(
        tmp_path / "dv.csv",
        [
            [nfd(h) for h in UNIT_HEADER],
            ["HY", nfd("Chi cục Thi hành án dân sự huyện Hàm Yên"), "", nfd("Chi cục"), "", nfd("Hàm Yên")],
        ],
        bom=False,
        delimiter=";",
    )
    people = write_csv(
        tmp_path / "cb.csv",
        [PERSON_HEADER, ["HY-1", nfd("Nguyễn Thị Thuỳ Dương"), nfd("Chấp hành viên"), "HY", "", ""]],
    )

    import_directory(engine, [people, units], NOW)  # order of the files does not matter

    with engine.connect() as conn:
        unit = conn.execute(select(UNIT)).one()
        person = conn.execute(select(PERSON)).one()
    for text in (unit.name, unit.place_name, person.full_name, person.title):
        assert unicodedata.is_normalized("NFC", text)
    assert unit.name == "Chi cục Thi hành án dân sự huyện Hàm Yên"
    assert person.full_name == unicodedata.normalize("NFC", "Nguyễn Thị Thuỳ Dương")
    # The same data written composed is recognised as unchanged.
    composed = write_csv(
        tmp_path / "cb2.csv",
        [PERSON_HEADER, ["HY-1", "Nguyễn Thị Thuỳ Dương", "Chấp hành viên", "HY", "", ""]],
    )
    assert import_directory(engine, [composed], LATER).people.unchanged == 1


def test_an_upsert_moves_a_unit_to_a_new_parent_and_stamps_only_what_changed(
    engine: Engine, tmp_path: Path
) -> None:
    load_tq(engine, tmp_path)
    moved = write_csv(
        tmp_path / "move.csv",
        [
            UNIT_HEADER,
            [
                "TQ-LB",
                "Chi cục Thi hành án dân sự huyện Lâm Bình",
                "TQ-NH",
                "Khu vực",
                "lambinh@thads-tuyenquang.example.vn",
                "Lâm Bình",
            ],
        ],
    )

    summary = import_directory(engine, [moved], LATER)

    assert (summary.units.inserted, summary.units.updated, summary.units.unchanged) == (0, 1, 0)
    units = units_by_code(engine)
    assert units["TQ-LB"][1] == "TQ-NH"
    assert units["TQ-LB"][0].updated_at == LATER
    assert units["TQ-NH"][0].updated_at == NOW


def test_a_head_changes_when_the_old_head_is_listed_without_the_mark(engine: Engine, tmp_path: Path) -> None:
    load_tq(engine, tmp_path)
    with engine.connect() as conn:
        old, deputy = conn.execute(
            select(PERSON).where(PERSON.c.code.in_(["TQ-NH-01", "TQ-NH-02"])).order_by(PERSON.c.code)
        ).all()
    change = write_csv(
        tmp_path / "head.csv",
        [
            PERSON_HEADER,
            [old.code, old.full_name, "Phó Chi cục trưởng", "TQ-NH", old.email, ""],
            [deputy.code, deputy.full_name, "Chi cục trưởng", "TQ-NH", deputy.email, "x"],
        ],
    )

    summary = import_directory(engine, [change], LATER)

    assert summary.people.updated == 2
    with engine.connect() as conn:
        heads = conn.execute(
            select(PERSON.c.code).join(UNIT, UNIT.c.id == PERSON.c.unit_id).where(
                UNIT.c.code == "TQ-NH", PERSON.c.is_head.is_(True)
            )
        ).scalars().all()  # fmt: skip
    assert heads == ["TQ-NH-02"]


def test_a_known_discipline_record_keeps_its_row_and_only_its_reason_changes_while_a_future_one_is_added(
    engine: Engine, tmp_path: Path
) -> None:
    load_tq(engine, tmp_path)
    records = write_csv(
        tmp_path / "kl.csv",
        [
            DISCIPLINE_HEADER,
            ["TQ-YS-04", "khien trach", "30/09/2023", "Lý do đã đính chính"],
            ["TQ-TP-05", "Cảnh cáo", "15/01/2030", ""],
        ],
    )

    summary = import_directory(engine, [records], LATER)

    assert (summary.discipline.inserted, summary.discipline.updated) == (1, 1)
    with engine.connect() as conn:
        reasons = dict(conn.execute(select(DISCIPLINE.c.decision_date, DISCIPLINE.c.reason)).tuples().all())
    assert reasons[date(2023, 9, 30)] == "Lý do đã đính chính"
    assert reasons[date(2030, 1, 15)] is None
    assert len(reasons) == 6


def test_every_bad_row_in_every_file_is_listed_and_the_database_is_unchanged(
    engine: Engine, tmp_path: Path
) -> None:
    load_tq(engine, tmp_path)
    before = dump(engine)
    units = write_csv(
        tmp_path / "units.csv",
        [
            UNIT_HEADER,
            ["TQ-MOI", "Đơn vị hợp lệ mới", "TQ", "Phòng", "", "Tuyên Quang"],  # good: would be inserted
            ["TQ-X1", "", "TQ", "Phòng", "", ""],  # 3 missing name
            ["TQ-MOI", "Trùng mã", "TQ", "Phòng", "", ""],  # 4 duplicate code
            ["TQ-X2", "Cấp trên lạ", "KHONG-CO", "Phòng", "", ""],  # 5 unknown parent
            ["TQ-X3", "Tự làm cấp trên", "TQ-X3", "Phòng", "", ""],  # 6 own parent
            ["TQ-X4", "Email sai", "TQ", "Phòng", "vanthu@@tq", ""],  # 7 bad email
            ["TQ-X5", "Cấp sai", "TQ", "Sở", "", ""],  # 8 unknown level
            ["TQ", "Cục THADS tỉnh Tuyên Quang", "TQ-TP", "Tỉnh", "", ""],  # 9 cycle through the database
        ],
    )
    people = write_csv(
        tmp_path / "people.csv",
        [
            PERSON_HEADER,
            ["TQ-YS-05", "Tên Đã Đổi", "Chấp hành viên", "TQ-YS", "", ""],  # good: would be updated
            ["TQ-N1", "Lê Văn Một", "Chuyên viên", "KHONG-CO", "", ""],  # 3 unknown unit
            ["TQ-N2", "Lê Văn Hai", "Chi cục trưởng", "TQ-NH", "", "x"],  # 4 second head of TQ-NH
            ["TQ-N3", "", "Chuyên viên", "TQ-VP", "", "có lẽ"],  # 5 missing name, bad yes/no
        ],
    )
    discipline = write_csv(
        tmp_path / "discipline.csv",
        [
            DISCIPLINE_HEADER,
            ["TQ-TP-05", "Khiển trách", "31/02/2024", ""],  # 2 bad date
            ["TQ-TP-05", "Phê bình", "01/03/2024", ""],  # 3 unknown form
            ["KHONG-CO", "Khiển trách", "01/03/2024", ""],  # 4 unknown person
            ["TQ-TP-06", "Khiển trách", "01/03/2030", ""],  # good: future-dated is fine
        ],
    )

    with pytest.raises(DirectoryImportError) as caught:
        import_directory(engine, [discipline, people, units], LATER)

    expected = [
        ("units.csv", 3, "Tên đơn vị", "thiếu giá trị"),
        ("units.csv", 4, "Mã đơn vị", "trùng"),
        ("units.csv", 5, "Mã đơn vị cấp trên", "“KHONG-CO”"),
        ("units.csv", 6, "Mã đơn vị cấp trên", "chính nó"),
        ("units.csv", 7, "Email", "“vanthu@@tq”"),
        ("units.csv", 8, "Cấp", "“Sở”"),
        ("units.csv", 9, "Mã đơn vị cấp trên", "TQ → TQ-TP → TQ"),
        ("people.csv", 3, "Mã đơn vị", "“KHONG-CO”"),
        ("people.csv", 4, "Thủ trưởng đơn vị", "TQ-NH-01"),
        ("people.csv", 5, "Họ và tên", "thiếu giá trị"),
        ("people.csv", 5, "Thủ trưởng đơn vị", "“có lẽ”"),
        ("discipline.csv", 2, "Ngày quyết định", "“31/02/2024”"),
        ("discipline.csv", 3, "Hình thức", "“Phê bình”"),
        ("discipline.csv", 4, "Mã cán bộ", "“KHONG-CO”"),
    ]
    errors = caught.value.errors
    assert [(e.file, e.row, e.column) for e in errors] == [(f, r, c) for f, r, c, _ in expected]
    text = str(caught.value)
    for (file, row, column, fragment), error in zip(expected, errors, strict=True):
        assert fragment in error.problem
        assert f"{file}, dòng {row}, cột “{column}”: " in text
    assert dump(engine) == before


def test_one_bad_row_rejects_the_whole_national_size_import(engine: Engine, tmp_path: Path) -> None:
    files = write_demo("tuyen-quang-2024", tmp_path)
    discipline = files[2]
    discipline.write_bytes(discipline.read_bytes() + "TQ-TP-05,Khiển trách,hôm qua,\r\n".encode())
    empty = dump(engine)

    with pytest.raises(DirectoryImportError) as caught:
        import_directory(engine, files, NOW)

    [error] = caught.value.errors
    assert (error.file, error.row, error.column) == ("discipline.csv", 7, "Ngày quyết định")
    assert dump(engine) == empty


def test_a_cycle_made_against_existing_database_rows_is_rejected(engine: Engine, tmp_path: Path) -> None:
    load_tq(engine, tmp_path)
    before = dump(engine)
    # TCTHADS sits above TQ in the database; putting it under TQ-CH closes a loop through TQ.
    loop = write_csv(
        tmp_path / "vong.csv",
        [UNIT_HEADER, ["TCTHADS", "Tổng cục Thi hành án dân sự", "TQ-CH", "Cục", "", ""]],
    )

    with pytest.raises(DirectoryImportError) as caught:
        import_directory(engine, [loop], LATER)

    [error] = caught.value.errors
    assert (error.file, error.row, error.column) == ("vong.csv", 2, "Mã đơn vị cấp trên")
    assert "TCTHADS → TQ-CH → TQ → TCTHADS" in error.problem
    assert dump(engine) == before


def test_unreadable_files_are_errors_listed_with_the_others(engine: Engine, tmp_path: Path) -> None:
    old_excel = tmp_path / "danh-ba.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0")
    legacy = tmp_path / "cu.csv"
    # Windows-1258, as old Vietnamese Excel saves "CSV": decomposed tones, not UTF-8.
    legacy.write_bytes(
        unicodedata.normalize("NFD", ",".join(UNIT_HEADER)).encode("cp1258", "replace") + b"\r\n"
    )
    broken = tmp_path / "hong.xlsx"
    broken.write_bytes(b"not a zip")
    unknown = write_csv(tmp_path / "la.csv", [["STT", "Ghi chú"], ["1", ""]])

    with pytest.raises(DirectoryImportError) as caught:
        import_directory(engine, [old_excel, legacy, broken, unknown, tmp_path / "khong-co.csv"], NOW)

    problems = {e.file: e.problem for e in caught.value.errors}
    assert ".xls" in problems["danh-ba.xls"]
    assert "UTF-8" in problems["cu.csv"]
    assert "Excel" in problems["hong.xlsx"]
    assert "Mã đơn vị cấp trên" in problems["la.csv"]
    assert "không tìm thấy" in problems["khong-co.csv"]
    assert dump(engine) == {"unit": [], "person": [], "discipline": []}


def test_now_must_carry_its_zone(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aware"):
        import_directory(engine, write_demo("tuyen-quang-2024", tmp_path), datetime(2024, 1, 2))
