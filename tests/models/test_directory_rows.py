"""Header recognition, cell parsing and whole-import checks of the directory rows (pure, no database)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

import pytest

from thidua.models.directory import DisciplineForm, UnitLevel
from thidua.models.directory_rows import (
    DirectoryImportError,
    ExistingDirectory,
    ExistingPerson,
    ExistingUnit,
    FileKind,
    RowError,
    check_import,
    parse_form,
    parse_level,
    parse_table,
    parse_yes_no,
)

UNIT_HEADER = ["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cấp trên", "Cấp", "Email", "Địa danh"]
PERSON_HEADER = ["Mã cán bộ", "Họ và tên", "Chức danh", "Mã đơn vị", "Email", "Thủ trưởng đơn vị"]
DISCIPLINE_HEADER = ["Mã cán bộ", "Hình thức", "Ngày quyết định", "Lý do"]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def errors_of(call: object) -> list[RowError]:
    with pytest.raises(DirectoryImportError) as caught:
        assert callable(call)
        call()
    return caught.value.errors


def test_it_recognises_each_kind_from_headers_whatever_the_case_spacing_or_normalisation() -> None:
    messy = ["  MÃ ĐƠN VỊ ", nfd("tên   đơn vị"), "Mã đơn vị cấp trên", "cấp", "EMAIL", "Địa danh", "Ghi chú"]
    assert parse_table("u.csv", [messy]).kind is FileKind.UNITS
    assert parse_table("p.csv", [PERSON_HEADER]).kind is FileKind.PEOPLE
    assert parse_table("p.csv", [[*PERSON_HEADER, "Đang công tác"]]).kind is FileKind.PEOPLE
    assert parse_table("d.csv", [DISCIPLINE_HEADER]).kind is FileKind.DISCIPLINE


def test_a_file_matching_no_kind_is_an_error_naming_the_expected_headers() -> None:
    parsed = parse_table("lạ.csv", [["STT", "Tên", "Ghi chú"], ["1", "x", ""]])
    assert parsed.kind is None
    [error] = parsed.errors
    assert (error.file, error.row) == ("lạ.csv", 1)
    for header in ("Mã đơn vị cấp trên", "Họ và tên", "Thủ trưởng đơn vị", "Ngày quyết định"):
        assert header in error.problem


def test_a_people_file_missing_a_column_names_the_missing_column_even_below_a_title() -> None:
    parsed = parse_table("p.csv", [["DANH SÁCH CÁN BỘ"], ["Mã cán bộ", "Họ và tên", "Mã đơn vị", "Email"]])
    [error] = parsed.errors
    assert error.row == 2
    assert "danh sách cán bộ" in error.problem
    assert "Chức danh" in error.problem and "Thủ trưởng đơn vị" in error.problem


def test_the_header_may_sit_below_a_title_and_blank_rows_and_row_numbers_stay_the_spreadsheet_ones() -> None:
    title = ["DANH SÁCH ĐƠN VỊ THI HÀNH ÁN DÂN SỰ"]
    parsed = parse_table("u.csv", [title, ["", ""], UNIT_HEADER, ["A", "", "", "Bộ", "", ""]])
    [error] = parsed.errors
    assert (error.row, error.column) == (4, "Tên đơn vị")


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("Bộ", UnitLevel.BO),
        ("cục", UnitLevel.CUC),
        ("Tổng cục THADS", UnitLevel.CUC),
        ("BAN", UnitLevel.BAN),
        ("Tỉnh", UnitLevel.TINH),
        ("Cục THADS tỉnh", UnitLevel.TINH),
        ("THADS tỉnh", UnitLevel.TINH),
        ("khu vực", UnitLevel.KHU_VUC),
        ("Khu vuc", UnitLevel.KHU_VUC),
        ("Chi cục", UnitLevel.KHU_VUC),
        ("Phòng THADS khu vực", UnitLevel.KHU_VUC),
        ("Phòng", UnitLevel.PHONG),
        (nfd("Phòng chuyên môn"), UnitLevel.PHONG),
    ],
)
def test_levels_accept_the_labels_and_their_synonyms(text: str, level: UnitLevel) -> None:
    assert parse_level(text) == level


def test_an_unknown_level_says_what_was_found_and_what_is_expected() -> None:
    with pytest.raises(ValueError, match=r"“Sở”.*Bộ, Cục, Ban, Tỉnh, Khu vực, Phòng"):
        parse_level("Sở")


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Khiển trách", DisciplineForm.KHIEN_TRACH),
        ("khien trach", DisciplineForm.KHIEN_TRACH),
        ("Kỷ luật cảnh cáo", DisciplineForm.CANH_CAO),
        ("CANH CAO", DisciplineForm.CANH_CAO),
        ("Hạ bậc lương", DisciplineForm.HA_BAC_LUONG),
        ("Buộc thôi việc", DisciplineForm.BUOC_THOI_VIEC),
        ("Vi phạm pháp luật", DisciplineForm.VI_PHAM_PHAP_LUAT),
    ],
)
def test_discipline_forms_accept_labels_with_or_without_diacritics(text: str, form: DisciplineForm) -> None:
    assert parse_form(text) == form


def test_an_unknown_discipline_form_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"“Phê bình”.*Khiển trách"):
        parse_form("Phê bình")


@pytest.mark.parametrize("text", ["x", "X", "có", "Có", "1", "true", "TRUE"])
def test_yes_values(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize("text", [None, "", "không", "Không", "0", "false"])
def test_no_values(text: str | None) -> None:
    assert parse_yes_no(text) is False


def test_a_yes_no_cell_with_anything_else_is_an_error() -> None:
    with pytest.raises(ValueError, match="“hình như”"):
        parse_yes_no("hình như")


def test_excel_cells_become_text_numbers_lose_their_point_and_dates_parse() -> None:
    parsed = parse_table(
        "d.xlsx",
        [
            DISCIPLINE_HEADER,
            [123.0, "Khiển trách", datetime(2024, 3, 5), None],
            [77, "Cảnh cáo", date(2022, 1, 2), ""],
        ],
    )
    assert not parsed.errors
    assert [(d.person_code, d.decision_date, d.reason) for d in parsed.discipline] == [
        ("123", date(2024, 3, 5), None),
        ("77", date(2022, 1, 2), None),
    ]


def test_every_problem_of_a_row_is_reported_against_its_own_column() -> None:
    parsed = parse_table("u.csv", [UNIT_HEADER, ["", "", "", "Sở", "không-phải-email", "x" * 101]])
    assert [(e.row, e.column) for e in parsed.errors] == [
        (2, "Mã đơn vị"),
        (2, "Tên đơn vị"),
        (2, "Cấp"),
        (2, "Email"),
        (2, "Địa danh"),
    ]
    assert "không-phải-email" in parsed.errors[3].problem


def test_text_is_nfc_and_spaces_are_squashed_and_emails_lower_cased() -> None:
    parsed = parse_table(
        "p.csv", [PERSON_HEADER, ["P1", nfd("  Nguyễn   Thị  Hoa "), "Kế toán", "U", "Hoa@X.VN", ""]]
    )
    [person] = parsed.people
    assert person.full_name == "Nguyễn Thị Hoa"
    assert unicodedata.is_normalized("NFC", person.full_name)
    assert person.email == "hoa@x.vn"


def _units(*rows: list[str]) -> list[list[str]]:
    return [UNIT_HEADER, *rows]


def test_van_phong_is_a_ban_under_the_cuc_and_a_phong_under_a_province() -> None:
    files = [
        parse_table(
            "units.csv",
            _units(
                ["C", "Cục Quản lý THADS", "", "Cục", "", ""],
                ["C-VP", "Văn phòng", "C", "Văn phòng", "", ""],
                ["T-VP", "Văn phòng", "T", "Văn phòng", "", ""],
            ),
        )
    ]
    existing = ExistingDirectory(units={"T": ExistingUnit("T", None, UnitLevel.TINH)})
    plan = check_import(files, existing)
    assert {u.code: u.level for u in plan.units} == {
        "C": UnitLevel.CUC,
        "C-VP": UnitLevel.BAN,
        "T-VP": UnitLevel.PHONG,
    }


def test_van_phong_under_a_ministry_asks_for_ban_or_phong() -> None:
    files = [
        parse_table(
            "units.csv",
            _units(["B", "Bộ", "", "Bộ", "", ""], ["B-VP", "Văn phòng Bộ", "B", "Văn phòng", "", ""]),
        )
    ]
    [error] = errors_of(lambda: check_import(files, ExistingDirectory()))
    assert (error.row, error.column) == (3, "Cấp")
    assert "“Ban” hoặc “Phòng”" in error.problem


def test_a_cycle_through_database_units_is_found_and_shown() -> None:
    # Database: A → B (B's parent is A). The file makes A a child of B.
    existing = ExistingDirectory(
        units={"A": ExistingUnit("A", None, UnitLevel.TINH), "B": ExistingUnit("B", "A", UnitLevel.KHU_VUC)}
    )
    files = [parse_table("units.csv", _units(["A", "Tỉnh A", "B", "Tỉnh", "", ""]))]
    [error] = errors_of(lambda: check_import(files, existing))
    assert (error.file, error.row, error.column) == ("units.csv", 2, "Mã đơn vị cấp trên")
    assert "A → B → A" in error.problem
    assert "cơ sở dữ liệu" in error.problem


def test_a_cycle_inside_the_file_is_reported_on_each_of_its_rows_and_a_self_parent_once() -> None:
    files = [
        parse_table(
            "units.csv",
            _units(
                ["A", "A", "C", "Tỉnh", "", ""],
                ["B", "B", "A", "Tỉnh", "", ""],
                ["C", "C", "B", "Tỉnh", "", ""],
                ["D", "D", "A", "Phòng", "", ""],  # hangs below the loop: not itself in it
                ["E", "E", "E", "Phòng", "", ""],
            ),
        )
    ]
    errors = errors_of(lambda: check_import(files, ExistingDirectory()))
    assert [(e.row, e.column) for e in errors] == [(r, "Mã đơn vị cấp trên") for r in (2, 3, 4, 6)]
    assert "vòng lặp" in errors[0].problem
    assert "chính nó" in errors[3].problem


def test_a_second_head_against_the_database_is_an_error_unless_the_old_head_is_listed_as_not_head() -> None:
    existing = ExistingDirectory(
        units={"U": ExistingUnit("U", None, UnitLevel.KHU_VUC)},
        people={"OLD": ExistingPerson("OLD", "Trần Văn Cũ", "U", True, True)},
    )
    new_head = ["NEW", "Lê Thị Mới", "Chi cục trưởng", "U", "", "x"]
    [error] = errors_of(lambda: check_import([parse_table("p.csv", [PERSON_HEADER, new_head])], existing))
    assert (error.row, error.column) == (2, "Thủ trưởng đơn vị")
    assert "Trần Văn Cũ" in error.problem and "Lê Thị Mới" in error.problem

    old_stepping_down = ["OLD", "Trần Văn Cũ", "Phó Chi cục trưởng", "U", "", ""]
    plan = check_import([parse_table("p.csv", [PERSON_HEADER, new_head, old_stepping_down])], existing)
    assert {p.code: p.is_head for p in plan.people} == {"NEW": True, "OLD": False}


def test_references_to_unknown_units_and_people_are_errors_with_a_hint_for_letter_case() -> None:
    existing = ExistingDirectory(units={"TQ-VP": ExistingUnit("TQ-VP", None, UnitLevel.PHONG)})
    files = [
        parse_table("p.csv", [PERSON_HEADER, ["P1", "Lê Văn A", "Chuyên viên", "tq-vp", "", ""]]),
        parse_table("d.csv", [DISCIPLINE_HEADER, ["P9", "Khiển trách", "01/10/2023", ""]]),
    ]
    unit_error, person_error = errors_of(lambda: check_import(files, existing))
    assert (unit_error.file, unit_error.column) == ("p.csv", "Mã đơn vị")
    assert "“tq-vp”" in unit_error.problem and "“TQ-VP”" in unit_error.problem
    assert (person_error.file, person_error.column) == ("d.csv", "Mã cán bộ")
    assert "“P9”" in person_error.problem


def test_duplicate_codes_across_files_name_the_first_occurrence() -> None:
    files = [
        parse_table("a.csv", _units(["U", "Một", "", "Bộ", "", ""])),
        parse_table("b.csv", _units(["X", "Khác", "", "Bộ", "", ""], ["U", "Hai", "", "Bộ", "", ""])),
    ]
    [error] = errors_of(lambda: check_import(files, ExistingDirectory()))
    assert (error.file, error.row, error.column) == ("b.csv", 3, "Mã đơn vị")
    assert "dòng 2 của tệp a.csv" in error.problem


def test_the_exception_text_lists_every_error_with_file_row_and_column() -> None:
    error = DirectoryImportError(
        [
            RowError("units.csv", 5, "Cấp", "“Sở” không phải cấp"),
            RowError("x.txt", None, None, "không đọc được"),
        ]
    )
    lines = str(error).splitlines()
    assert "2 lỗi" in lines[0] and "không thay đổi" in lines[0]
    assert lines[1] == "- units.csv, dòng 5, cột “Cấp”: “Sở” không phải cấp"
    assert lines[2] == "- x.txt: không đọc được"
