"""`thidua campaign status|targets` (deploy/cli_status.py) on a real database, settings from env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.image import imread
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlmodel import col
from typer.testing import CliRunner

from tests.factories import NATIONAL_DEFINITION, at, launch_campaign_rows, load_demo_directory
from tests.tasks.collect.test_progress import CODE, NATIONAL, months, write_csv
from thidua.deploy.cli_status import app
from thidua.models.reporting import UnitTarget

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def settings_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "THIDUA_DATA_DIR": str(tmp_path / "data"),
        "THIDUA_DATABASE_URL": db_url,
        "THIDUA_SMTP_HOST": "",
    }


@pytest.fixture
def env(engine: Engine, db_url: str, tmp_path: Path) -> dict[str, str]:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    months(engine)
    return settings_env(db_url, tmp_path)


def test_status_prints_the_table_and_writes_the_xlsx_and_the_chart(
    env: dict[str, str], tmp_path: Path
) -> None:
    xlsx, chart = tmp_path / "tinh-hinh.xlsx", tmp_path / "bieu-do.png"
    result = runner.invoke(
        app,
        ["status", CODE.lower(), "--as-of", "10/03/2024", "--xlsx", str(xlsx), "--chart", str(chart)],
        env=env,
    )

    assert result.exit_code == 0, result.output
    out = result.output
    assert "Báo cáo tháng 02/2024 (đến 29/02/2024) · hạn nộp 07/03/2024 · số liệu đến 10/03/2024" in out
    assert "Chi cục THADS huyện Lâm Bình" in out and "Chưa có số liệu" in out
    assert "Tiến độ báo cáo: 8 đơn vị phải báo cáo · đã nộp 7 (87,50%)" in out
    assert f"Đã ghi bảng tính: {xlsx}" in out and f"Đã ghi biểu đồ: {chart}" in out
    assert load_workbook(xlsx)["Tình hình"]["A6"].value == "TQ"
    assert imread(chart).shape[1] == 1210


def test_status_of_a_chosen_period_and_of_an_earlier_day(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["status", CODE, "--as-of", "08/02/2024", "--period", "01/2024"], env=env)

    assert result.exit_code == 0, result.output
    assert (
        "Báo cáo tháng 01/2024 (đến 31/01/2024) · hạn nộp 07/02/2024 · số liệu đến 08/02/2024"
        in result.output
    )
    assert "Chưa nộp (quá hạn): TQ-SD Chi cục THADS huyện Sơn Dương; TQ-YS Chi cục THADS huyện Yên Sơn" in (
        result.output
    )


def test_status_of_an_unknown_campaign_or_period_exits_3_with_the_reason(env: dict[str, str]) -> None:
    unknown = runner.invoke(app, ["status", "KHONG-CO"], env=env)
    assert unknown.exit_code == 3 and "Không có phong trào mã “KHONG-CO”." in unknown.output

    period = runner.invoke(app, ["status", CODE, "--period", "2025-01"], env=env)
    assert period.exit_code == 3 and "Kỳ báo cáo “2025-01” không có trong lịch" in period.output

    bad_day = runner.invoke(app, ["status", CODE, "--as-of", "31/02/2024"], env=env)
    assert bad_day.exit_code == 2


def test_targets_are_imported_or_refused_whole(engine: Engine, db_url: str, tmp_path: Path) -> None:
    load_demo_directory(engine, "national-2026", tmp_path, now=at("20/02/2026"))
    launch_campaign_rows(engine, NATIONAL_DEFINITION, now=at("25/02/2026", 9))
    env = settings_env(db_url, tmp_path)
    good = write_csv(
        tmp_path / "chi-tieu.csv",
        [
            ["Mã đơn vị", "Chỉ tiêu", "Giá trị"],
            ["TNN", "completion_cases", "85,00%"],
            ["HNI", "completion_money", "0.52"],
        ],
    )
    ok = runner.invoke(app, ["targets", NATIONAL, str(good)], env=env)
    assert ok.exit_code == 0, ok.output
    assert (
        "Đã nhập chỉ tiêu giao riêng từ chi-tieu.csv: 2 dòng (thêm mới 2, cập nhật 0, không đổi 0)."
        in ok.output
    )

    bad = write_csv(
        tmp_path / "sai.csv", [["Mã đơn vị", "Chỉ tiêu", "Giá trị"], ["TNN", "completion_cases", "x"]]
    )
    refused = runner.invoke(app, ["targets", NATIONAL, str(bad)], env=env)
    assert refused.exit_code == 2
    assert (
        "sai.csv: không nhập chỉ tiêu nào (1 lỗi)" in refused.output
        and "sai.csv: dòng 2: giá trị" in refused.output
    )
    with engine.connect() as conn:
        stored: dict[str, str] = dict(
            conn.execute(select(col(UnitTarget.unit_code), col(UnitTarget.target))).tuples().all()
        )
    assert stored == {"TNN": "0.85", "HNI": "0.52"}


def test_status_never_imports_prefect(env: dict[str, str]) -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from deploy.cli_status import app\n"
        f"r = CliRunner().invoke(app, ['status', {CODE!r}, '--as-of', '10/03/2024'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('prefect', 'matplotlib', 'openpyxl') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stderr
