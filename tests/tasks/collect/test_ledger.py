"""Case ledgers in real SQLite and PostgreSQL databases: import, figures per unit and officer, reconcile."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, insert, inspect, select

from tests.factories import at, launch_campaign_rows, load_demo_directory
from thidua.deploy.demo.ledger import write_demo_ledger
from thidua.errors import CampaignNotFound
from thidua.models.ledger_rows import LEDGER_COLUMNS, LedgerRowParser, case_from_tuple
from thidua.models.ledger_rules import MEASURES, figures_by
from thidua.tasks.collect.ledger import (
    LEDGER_CASE,
    LEDGER_IMPORT,
    SUBMISSION,
    LedgerError,
    LedgerImportError,
    import_ledger,
    ledger_figures,
    measure_figures,
    read_cells,
    reconcile,
)

CODE = "TQ-2024-GIAM-AN"
HEADER = list(LEDGER_COLUMNS.values())
NOW = at("01/07/2024", 9)

# The hand-computed cases of tests/models/test_ledger_rules.py, spread over two Chi cục and their officers.
ROWS = [
    ["YS-01", "TQ-YS", "TQ-YS-04", "01/01/2019", "31/12/2022", "đang thi hành", "", "1000", "0"],
    ["YS-02", "TQ-YS", "TQ-YS-04", "01/01/2019", "01/01/2023", "đang thi hành", "", "1000", "0"],
    ["YS-03", "TQ-YS", "TQ-YS-05", "01/01/2019", "01/06/2022", "xong", "31/12/2023", "1000", "1000"],
    ["YS-04", "TQ-YS", "TQ-YS-05", "01/01/2019", "01/06/2022", "Xong", "01/01/2024", "1000", "1000"],
    ["YS-05", "TQ-YS", "TQ-YS-05", "01/01/2019", "01/03/2022", "Đình chỉ", "15/03/2024", "1000", "200"],
    ["SD-01", "TQ-SD", "TQ-SD-04", "01/01/2019", "10/03/2023", "thi hành xong", "11/03/2024", "500", "500"],
    ["SD-02", "TQ-SD", "TQ-SD-04", "01/01/2019", "09/03/2023", "xong", "09/03/2024", "500", "500"],
    ["SD-03", "TQ-SD", "", "01/01/2019", "01/01/2022", "đang thi hành", "", "500", "0"],
    ["SD-04", "TQ-SD", "TQ-SD-04", "01/01/2019", "15/07/2023", "hoãn", "01/02/2024", "500", "0"],
    ["SD-05", "TQ-SD", "TQ-SD-05", "01/01/2019", "01/01/2022", "chưa có điều kiện", "01/02/2024", "500", "0"],
    ["SD-06", "TQ-SD", "TQ-SD-05", "01/01/2019", "", "chưa có điều kiện", "01/02/2019", "500", "0"],
    ["SD-07", "TQ-SD", "TQ-SD-05", "01/01/2019", "28/02/2023", "xong", "29/02/2024", "500", "500"],
]
# Expected at 30/06/2024 (baseline 01/01/2024, the TQ definition's ledger.baseline):
# TQ-YS: carried YS-01, YS-04, YS-05; arising YS-02; finished YS-04, YS-05.
# TQ-SD: carried SD-03, SD-05; arising SD-01, SD-07; finished SD-01, SD-07.


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


@pytest.fixture
def launched(engine: Engine, tmp_path: Path) -> Engine:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    return engine


def imports(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(LEDGER_IMPORT.c.id, LEDGER_IMPORT.c.is_current, LEDGER_IMPORT.c.rows).order_by(
                    LEDGER_IMPORT.c.id
                )
            )
        ]


def case_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(LEDGER_CASE)).scalar_one())


def test_seed_003_fields_per_unit_rolled_up_and_per_officer(launched: Engine, tmp_path: Path) -> None:
    result = import_ledger(
        launched, CODE, write_csv(tmp_path / "so.csv", ROWS), as_of=date(2024, 6, 30), now=NOW
    )
    assert result.created and result.rows == len(ROWS)

    units = ledger_figures(launched, CODE, at=date(2024, 6, 30))
    assert units["TQ-YS"] == {"carried_over": 3, "arising": 1, "finished": 2}
    assert units["TQ-SD"] == {"carried_over": 2, "arising": 2, "finished": 2}
    assert units["TQ"] == {"carried_over": 5, "arising": 3, "finished": 4}  # the Cục: sum of its Chi cục
    assert "TQ-HY" not in units

    officers = ledger_figures(launched, CODE, at=date(2024, 6, 30), by="officer")
    assert officers["TQ-YS-05"] == {"carried_over": 2, "arising": 0, "finished": 2}
    assert officers["TQ-SD-04"] == {"carried_over": 0, "arising": 1, "finished": 1}
    assert officers["TQ-SD-05"] == {"carried_over": 1, "arising": 1, "finished": 1}
    assert sum(v["carried_over"] for v in officers.values()) == 4  # SD-03 has no officer

    early = ledger_figures(launched, CODE, at=date(2024, 3, 10))
    assert early["TQ-SD"] == {"carried_over": 2, "arising": 1, "finished": 1}  # SD-07 crossed on 29/02


def test_the_29_february_anniversary_is_computed_alike_in_sql(launched: Engine, tmp_path: Path) -> None:
    rows = [
        # became enforceable 29/02/2024: anniversary 28/02/2025, over one year from 01/03/2025
        ["L-1", "TQ-YS", "", "01/01/2024", "29/02/2024", "xong", "28/02/2025", "0", "0"],  # closed before
        [
            "L-2",
            "TQ-YS",
            "",
            "01/01/2024",
            "29/02/2024",
            "xong",
            "01/03/2025",
            "0",
            "0",
        ],  # crossed, then done
        ["L-3", "TQ-YS", "", "01/01/2024", "29/02/2024", "đang thi hành", "", "0", "0"],
    ]
    import_ledger(launched, CODE, write_csv(tmp_path / "leap.csv", rows), as_of=date(2025, 3, 31), now=NOW)
    before = ledger_figures(launched, CODE, at=date(2025, 2, 28))["TQ-YS"]
    assert before == {"carried_over": 0, "arising": 0, "finished": 0}
    after = ledger_figures(launched, CODE, at=date(2025, 3, 1))["TQ-YS"]
    assert after == {"carried_over": 0, "arising": 2, "finished": 1}


def test_sql_figures_equal_the_pure_rules_on_the_demo_ledger(launched: Engine, tmp_path: Path) -> None:
    path = write_demo_ledger(CODE, tmp_path / "demo.csv", rows=3000)
    import_ledger(launched, CODE, path, as_of=date(2024, 6, 30), now=NOW)
    cells = read_cells(path)
    header = next(cells)[1]
    cases = [case_from_tuple(t) for t in LedgerRowParser("demo", header, as_of=date(2024, 6, 30)).rows(cells)]
    with launched.connect() as conn:
        import_id = conn.execute(select(LEDGER_IMPORT.c.id)).scalar_one()
        for day in (date(2024, 1, 1), date(2024, 2, 29), date(2024, 6, 30)):
            for by in ("unit", "officer"):
                sql = measure_figures(conn, import_id, MEASURES, baseline=date(2024, 1, 1), at=day, by=by)
                assert sql == figures_by(cases, baseline=date(2024, 1, 1), at=day, by=by), (day, by)


def test_a_bad_file_is_rejected_with_row_and_column_and_the_previous_import_stays(
    launched: Engine, tmp_path: Path
) -> None:
    good = import_ledger(
        launched, CODE, write_csv(tmp_path / "so.csv", ROWS), as_of=date(2024, 6, 30), now=NOW
    )
    before = ledger_figures(launched, CODE, at=date(2024, 6, 30))
    bad_rows = [
        *ROWS,
        ["X-1", "TQ-XX", "", "01/01/2019", "", "đang thi hành", "", "0", "0"],
        ["X-2", "TQ-YS", "", "31/02/2019", "", "xong", "", "0", "0"],
        ["X-3", "TQ-YS", "", "01/01/2019", "", "đã chuyển", "", "-1", "0"],
    ]
    with pytest.raises(LedgerImportError) as caught:
        import_ledger(
            launched, CODE, write_csv(tmp_path / "bad.csv", bad_rows), as_of=date(2024, 6, 30), now=NOW
        )
    located = {(e.file, e.row, e.column) for e in caught.value.errors}
    assert ("bad.csv", 14, "Mã đơn vị") in located
    assert ("bad.csv", 15, "Ngày thụ lý") in located
    assert ("bad.csv", 15, "Ngày trạng thái") in located
    assert ("bad.csv", 16, "Trạng thái") in located
    assert ("bad.csv", 16, "Số tiền phải thi hành") in located
    assert "cơ sở dữ liệu không thay đổi" in str(caught.value)

    assert imports(launched) == [(good.import_id, True, len(ROWS))]
    assert case_count(launched) == len(ROWS)
    assert ledger_figures(launched, CODE, at=date(2024, 6, 30)) == before


@pytest.mark.parametrize("rebuild", [False, True], ids=["row-by-row", "indexes-rebuilt"])
def test_a_repeated_case_id_is_reported_by_row_and_nothing_changes(
    launched: Engine, tmp_path: Path, rebuild: bool
) -> None:
    import_ledger(launched, CODE, write_csv(tmp_path / "so.csv", ROWS), as_of=date(2024, 6, 30), now=NOW)
    schema = _ledger_schema(launched)
    rows = [*ROWS, ["YS-03", "TQ-SD", "", "01/01/2019", "", "đang thi hành", "", "0", "0"]]
    with pytest.raises(LedgerImportError) as caught:
        import_ledger(
            launched,
            CODE,
            write_csv(tmp_path / "dup.csv", rows),
            as_of=date(2024, 6, 30),
            now=NOW,
            rebuild_indexes=rebuild,
        )
    (error,) = caught.value.errors
    assert (error.row, error.column) == (14, "Mã việc")
    assert "“YS-03” bị lặp (đã có ở dòng 4)" in error.problem
    assert case_count(launched) == len(ROWS)
    assert len(imports(launched)) == 1
    assert _ledger_schema(launched) == schema


def test_a_new_import_replaces_the_previous_one_and_the_same_file_again_changes_nothing(
    launched: Engine, tmp_path: Path
) -> None:
    schema = _ledger_schema(launched)
    first = import_ledger(
        launched, CODE, write_csv(tmp_path / "a.csv", ROWS), as_of=date(2024, 6, 30), now=NOW
    )
    second = import_ledger(
        launched, CODE, write_csv(tmp_path / "b.csv", ROWS[:5]), as_of=date(2024, 6, 30), now=NOW,
        rebuild_indexes=True,
    )  # fmt: skip
    assert second.created and second.replaced_import_id == first.import_id
    assert second.removed_rows == len(ROWS)
    assert imports(launched) == [(first.import_id, False, len(ROWS)), (second.import_id, True, 5)]
    assert case_count(launched) == 5
    assert _ledger_schema(launched) == schema  # dropped for the load, created again as they were

    again = import_ledger(launched, CODE, tmp_path / "b.csv", as_of=date(2024, 7, 1), now=NOW)
    assert not again.created and again.import_id == second.import_id
    assert "không thay đổi gì" in again.summary()
    assert len(imports(launched)) == 2 and case_count(launched) == 5


def test_an_xlsx_ledger_with_excel_dates_and_numbers_imports_like_the_csv(
    launched: Engine, tmp_path: Path
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in ROWS:
        cells: list[Any] = list(row)
        for i in (3, 4, 6):
            if cells[i]:
                day, month, year = (int(p) for p in cells[i].split("/"))
                cells[i] = datetime(year, month, day)
        cells[7], cells[8] = int(cells[7]), float(cells[8])
        sheet.append(cells)
    workbook.save(tmp_path / "so.xlsx")
    import_ledger(launched, CODE, tmp_path / "so.xlsx", as_of=date(2024, 6, 30), now=NOW)
    assert ledger_figures(launched, CODE, at=date(2024, 6, 30))["TQ"] == {
        "carried_over": 5,
        "arising": 3,
        "finished": 4,
    }


def submit_final(engine: Engine, campaign_id: int, unit: str, values: dict[str, int]) -> None:
    """A unit's current final report, as the collection stores it (the row `reconcile` reads)."""
    with engine.begin() as conn:
        conn.execute(
            insert(SUBMISSION).values(
                campaign_id=campaign_id,
                unit_code=unit,
                period_key="final",
                revision=1,
                is_current=True,
                received_at=at("02/07/2024"),
                due_date=date(2024, 7, 3),
                on_time=True,
                is_correction=False,
                source_name=f"{unit}.xlsx",
                file_sha256="0" * 64,
                values_json=json.dumps(values),
                officers_json="[]",
                changes_json="{}",
            )
        )


def test_reconciliation_lists_a_planted_difference(launched: Engine, tmp_path: Path) -> None:
    import_ledger(launched, CODE, write_csv(tmp_path / "so.csv", ROWS), as_of=date(2024, 6, 30), now=NOW)
    with launched.begin() as conn:
        campaign_id = conn.execute(select(LEDGER_IMPORT.c.campaign_id)).scalar_one()
    submit_final(
        launched, campaign_id, "TQ-YS", {"carried_over": 3, "arising": 1, "finished": 2}
    )  # as the ledger
    submit_final(launched, campaign_id, "TQ-SD", {"carried_over": 2, "arising": 2, "finished": 5})  # inflated
    rows = reconcile(launched, CODE, "final")
    by_key = {(r.unit_code, r.field): r for r in rows}
    assert by_key[("TQ-SD", "finished")].reported == 5
    assert by_key[("TQ-SD", "finished")].computed == 2
    assert by_key[("TQ-SD", "finished")].difference == 3
    assert by_key[("TQ-YS", "finished")].matches
    assert by_key[("TQ-HY", "carried_over")].reported is None  # reports, has not submitted
    assert [(r.unit_code, r.field) for r in rows if r.reported is not None and not r.matches] == [
        ("TQ-SD", "finished")
    ]
    assert {r.unit_code for r in rows} == {
        "TQ-NV",
        "TQ-TP",
        "TQ-YS",
        "TQ-SD",
        "TQ-HY",
        "TQ-CH",
        "TQ-NH",
        "TQ-LB",
    }

    with pytest.raises(LedgerError, match="Không có kỳ báo cáo “2023-12”"):
        reconcile(launched, CODE, "2023-12")


def test_figures_need_an_import_and_a_known_campaign(launched: Engine) -> None:
    with pytest.raises(LedgerError, match="chưa nhập sổ thụ lý"):
        ledger_figures(launched, CODE, at=date(2024, 6, 30))
    with pytest.raises(CampaignNotFound, match="Không có phong trào mã “NOPE”"):
        ledger_figures(launched, "NOPE", at=date(2024, 6, 30))


def _ledger_schema(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        found = inspect(conn)
        return {
            "indexes": sorted(
                (i["name"], tuple(i["column_names"])) for i in found.get_indexes("ledger_case")
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints("ledger_case")
            ),
            "foreign": sorted(
                (f["referred_table"], tuple(f["constrained_columns"]))
                for f in found.get_foreign_keys("ledger_case")
            ),
        }
