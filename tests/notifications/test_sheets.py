"""Every spreadsheet the system writes keeps user text as text (issue 11 item 16).

A unit named ``=HYPERLINK("http://x","y")`` and a person named ``@SUM(1)`` go through the real stages on a
real database: the status XLSX, the report template (XLSX and CSV), the closing XLSX and the Tổng hợp kết quả
drafted for the council. Each file is read back: every text cell is a string cell (never a formula), every
CSV field that starts like a formula carries the protecting quote, and numbers stay numbers.
"""

from __future__ import annotations

import ast
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine

from tests.factories import TQ_DEFINITION, at, edited_definition, launch_campaign_rows
from tests.tasks.collect.test_progress import submit, tq
from thidua.deploy.demo.directory import write_demo
from thidua.models.settings import Settings
from thidua.notifications.documents.sheets import csv_row, csv_text, text_cells, write_csv, write_xlsx
from thidua.tasks.close.closing import compute_final_results, freeze_and_close, write_closing_documents
from thidua.tasks.collect.progress import campaign_status
from thidua.tasks.collect.reports import read_report_file, write_template
from thidua.tasks.collect.status_report import write_status_xlsx
from thidua.tasks.core.directory import import_directory
from thidua.tasks.review.nominations import NominationInput, draft_documents, nominate

ROOT = Path(__file__).resolve().parents[2]
CODE = "TQ-2024-GIAM-AN"
UNIT_NAME = '=HYPERLINK("http://x","y")'
PERSON_NAME = "@SUM(1)"
TITLE = "-1+1 Giảm án có điều kiện trên một năm chưa thi hành xong"
HOSTILE = (UNIT_NAME, PERSON_NAME, TITLE)


# ---------------------------------------------------------------- the helper itself


def test_csv_rows_quote_risky_text_and_keep_numbers() -> None:
    row = csv_row(["=1+1", "+84", "-x", "@SUM(1)", "\tA", "\rB", "Yên Sơn", "", 5, -3, 1.5, None])
    assert row == ["'=1+1", "'+84", "'-x", "'@SUM(1)", "'\tA", "'\rB", "Yên Sơn", "", 5, -3, 1.5, None]
    assert [csv_text(str(v)) for v in row[:7]] == ["=1+1", "+84", "-x", "@SUM(1)", "\tA", "\rB", "Yên Sơn"]
    assert csv_text("'quoted by the user") == "'quoted by the user"  # only our own quote comes off


def test_workbook_text_cells_become_strings_and_numbers_stay_numbers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([UNIT_NAME, "#N/A", PERSON_NAME, 12, 0.5, None, "Yên Sơn"])
    assert ws["A1"].data_type == "f" and ws["B1"].data_type == "e"  # what openpyxl would write

    back = load_workbook(write_xlsx(wb, tmp_path / "x.xlsx")).active
    assert back is not None
    cells = next(iter(back.iter_rows()))
    assert [(c.value, c.data_type) for c in cells] == [
        (UNIT_NAME, "s"), ("#N/A", "s"), (PERSON_NAME, "s"), (12, "n"), (0.5, "n"), (None, "n"),
        ("Yên Sơn", "s"),
    ]  # fmt: skip
    assert cells[0].quotePrefix and cells[2].quotePrefix and not cells[6].quotePrefix
    assert text_cells(wb) == 0  # a second pass finds nothing left to change


def test_the_csv_writer_streams_atomically_with_a_bom_and_crlf(tmp_path: Path) -> None:
    def rows() -> Iterator[list[Any]]:
        yield ["Mã", "Tên"]
        yield ["TQ-YS", UNIT_NAME]

    path = write_csv(tmp_path / "sub" / "x.csv", rows())
    data = path.read_bytes()
    assert data.startswith("\ufeff".encode()) and data.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["Mã", "Tên"], ["TQ-YS", "'" + UNIT_NAME]]
    assert [p.name for p in path.parent.iterdir()] == ["x.csv"]  # no temporary file left


# ---------------------------------------------------------------- every file the stages write


def _hostile_directory(tmp: Path) -> list[Path]:
    """The demo directory as a clerk's export would carry the names: raw, straight from the user."""
    files = write_demo("tuyen-quang-2024", tmp / "directory")
    for path, code, name in ((files[0], "TQ-YS", UNIT_NAME), (files[1], "TQ-YS-05", PERSON_NAME)):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        for row in rows:
            if row[0] == code:
                row[1] = name  # the name column of units.csv and people.csv
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows(rows)
    return files


def _xlsx_text(path: Path) -> list[tuple[str, str, Any, str]]:
    """(sheet, cell, value, data type) of every cell of every sheet, hidden ones too."""
    wb = load_workbook(path)
    return [
        (ws.title, cell.coordinate, cell.value, cell.data_type)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if cell.value is not None
    ]


@pytest.fixture
def produced(engine: Engine, settings: Settings, tmp_path: Path) -> dict[str, Path]:
    import_directory(engine, _hostile_directory(tmp_path), now=at("02/01/2024"))
    definition = edited_definition(tmp_path, TQ_DEFINITION, f"title: {TITLE[5:]}\n", f'title: "{TITLE}"\n')
    launch_campaign_rows(engine, definition)
    nominate(
        engine, CODE,
        [NominationInput("giay_khen_cuc_truong", "collective", "TQ-YS", "TQ-YS"),
         NominationInput("giay_khen_cuc_truong", "individual", "TQ-YS-05", "TQ-YS")],
        now=at("02/07/2024", 9),
    )  # fmt: skip
    submit(engine, "TQ-YS", "final", tq(100, 20, 30), when=at("01/07/2024", 9),
           officers=[("TQ-YS-05", tq(10, 0, 2))])  # fmt: skip
    submit(engine, "TQ-SD", "final", tq(100, 20, 12), when=at("01/07/2024", 9))
    out = tmp_path / "out"
    table = campaign_status(engine, CODE, as_of=at("02/07/2024").date())
    files = {
        "status": write_status_xlsx(table, out / "s.xlsx"),
        "template": write_template(engine, CODE, "TQ-YS", "final", out / "mau.xlsx", officers=True),
        "template_csv": write_template(engine, CODE, "TQ-YS", "final", out / "mau.csv", officers=True),
    }
    close_at = at("04/07/2024", 7, 30)
    freeze_and_close(engine, CODE, now=close_at, actor="close")
    compute_final_results(engine, CODE, now=close_at)
    files["closing"] = write_closing_documents(engine, settings, CODE, now=close_at).table
    drafted = draft_documents(engine, settings, CODE, "TQ-YS", now=at("05/07/2024", 9))
    [summary] = [f for f in drafted.files if f.part_key.startswith("tong_hop")]
    files["summary"] = settings.data_dir / summary.stored_path
    return files


@pytest.mark.parametrize("name", ["status", "template", "closing", "summary"])
def test_every_xlsx_keeps_a_formula_like_name_as_text(produced: dict[str, Path], name: str) -> None:
    cells = _xlsx_text(produced[name])
    hostile = [c for c in cells if isinstance(c[2], str) and any(h in c[2] for h in HOSTILE)]
    assert hostile, f"{name}: the names do not reach the file"
    assert {c[3] for c in hostile} == {"s"}, hostile
    assert [c for c in cells if c[3] in ("f", "e")] == []  # no formula or error value anywhere
    assert any(isinstance(c[2], int | float) and c[3] == "n" for c in cells) or name == "template"


def test_the_csv_template_quotes_the_names_and_reads_back_as_typed(produced: dict[str, Path]) -> None:
    data = produced["template_csv"].read_bytes()
    fields = [f for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for f in row]
    assert "'" + PERSON_NAME in fields
    assert not [f for f in fields if f[:1] in ("=", "+", "-", "@", "\t", "\r")]

    raw = read_report_file("mau.csv", data, _definition())
    assert raw.errors == [] and raw.unit_code == "TQ-YS" and raw.period_key == "final"
    assert "TQ-YS-05" in [o.person_code for o in raw.officers]


def _definition() -> Any:
    from thidua.models.definition import load_definition

    return load_definition(TQ_DEFINITION)


# ---------------------------------------------------------------- one writer


def _writers_outside_the_helper(path: Path) -> list[str]:
    """Calls that write a CSV or save a workbook without notifications/documents/sheets.py."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses_openpyxl = "openpyxl" in path.read_text(encoding="utf-8")
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr, receiver = node.func.attr, node.func.value
        if isinstance(receiver, ast.Name) and receiver.id == "csv" and attr in ("writer", "DictWriter"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} csv.{attr}")
        elif uses_openpyxl and attr == "save" and isinstance(receiver, ast.Name):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {receiver.id}.save")
    return found


def test_every_spreadsheet_is_written_through_the_one_helper() -> None:
    helper = ROOT / "notifications" / "documents" / "sheets.py"
    tops = ("models", "tasks", "flows", "notifications", "deploy")
    modules = [p for top in tops for p in (ROOT / top).rglob("*.py")]
    assert len(modules) > 50 and _writers_outside_the_helper(helper)  # the scan sees a writer where one is
    assert [w for p in modules if p != helper for w in _writers_outside_the_helper(p)] == []
