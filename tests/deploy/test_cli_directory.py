"""`thidua directory ...` through typer's CliRunner, against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from thidua.deploy.cli_directory import app
from thidua.models.db import make_engine
from thidua.tasks.core.directory import UNIT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI reads its settings from the environment, as in production; no stray .env is picked up."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THIDUA_DATABASE_URL", db_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "data"))
    return db_url


def test_demo_then_import_prints_counts_and_a_second_import_changes_nothing(
    cli_env: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    demo = runner.invoke(app, ["demo", "tuyen-quang-2024", "--out", str(tmp_path / "demo")])
    assert demo.exit_code == 0, demo.output
    files = demo.stdout.split()
    assert [Path(f).name for f in files] == ["units.csv", "people.csv", "discipline.csv"]

    first = runner.invoke(app, ["import", *files, "--as-of", "2024-01-02T08:00"])
    assert first.exit_code == 0, first.output
    assert "Đơn vị: thêm mới 14, cập nhật 0, không đổi 0" in first.stdout
    assert "Cán bộ: thêm mới 120" in first.stdout
    assert "Kỷ luật: thêm mới 5" in first.stdout

    second = runner.invoke(app, ["import", *files])
    assert second.exit_code == 0, second.output
    assert "Đơn vị: thêm mới 0, cập nhật 0, không đổi 14" in second.stdout
    assert "Cán bộ: thêm mới 0, cập nhật 0, không đổi 120" in second.stdout

    engine = make_engine(cli_env)
    with engine.connect() as conn:
        stamp = conn.execute(select(UNIT.c.updated_at).where(UNIT.c.code == "TQ")).scalar_one()
    engine.dispose()
    # --as-of without a zone is read in the configured zone (Asia/Ho_Chi_Minh, UTC+7).
    assert stamp == datetime(2024, 1, 2, 1, 0, tzinfo=UTC)

    # The shared --as-of parser: dd/mm/yyyy HH:MM as everywhere else.
    units = tmp_path / "demo" / "units.csv"
    renamed = units.read_text(encoding="utf-8").replace("Cục Thi hành án", "Cục THA", 1)
    units.write_text(renamed, encoding="utf-8")
    third = runner.invoke(app, ["import", *files, "--as-of", "03/01/2024 09:15"])
    assert third.exit_code == 0, third.output
    engine = make_engine(cli_env)
    with engine.connect() as conn:
        stamps = conn.execute(select(UNIT.c.updated_at).where(UNIT.c.updated_at > stamp)).scalars().all()
    engine.dispose()
    assert stamps and all(s == datetime(2024, 1, 3, 2, 15, tzinfo=UTC) for s in stamps), stamps

    show = runner.invoke(app, ["show"])
    assert show.exit_code == 0, show.output
    assert "Đơn vị: 14 (Bộ 1, Cục 1, Tỉnh 1, Khu vực 7, Phòng 4)" in show.stdout
    assert "Cán bộ: 120 (đang công tác 120)" in show.stdout
    assert "Kỷ luật: 5" in show.stdout


def test_a_bad_import_prints_every_error_and_exits_2_changing_nothing(cli_env: str, tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text(
        "Mã đơn vị,Tên đơn vị,Mã đơn vị cấp trên,Cấp,Email,Địa danh\n"
        "A,Đơn vị A,,Bộ,,\n"
        "B,,A,Phòng,,\n"
        "C,Đơn vị C,A,Sở,,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["import", str(units)])

    assert result.exit_code == 2
    assert "units.csv, dòng 3, cột “Tên đơn vị”: thiếu giá trị" in result.stderr
    assert "units.csv, dòng 4, cột “Cấp”: “Sở”" in result.stderr
    show = CliRunner().invoke(app, ["show"])
    assert "Đơn vị: 0" in show.stdout


def test_an_unknown_demo_name_or_bad_as_of_is_refused(cli_env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    demo = runner.invoke(app, ["demo", "ha-noi-1999", "--out", str(tmp_path)])
    assert demo.exit_code == 3
    assert "tuyen-quang-2024" in demo.stderr
    bad = runner.invoke(app, ["import", str(tmp_path / "x.csv"), "--as-of", "hôm qua"])
    assert bad.exit_code == 2
    assert "hôm qua" in bad.output


def test_the_directory_commands_do_not_import_prefect() -> None:
    probe = "import sys, deploy.cli_directory; print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
