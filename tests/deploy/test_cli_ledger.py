"""`thidua ledger ...` through typer's CliRunner, against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.deploy.cli_ledger import app
from thidua.models.db import make_engine

CODE = "TQ-2024-GIAM-AN"


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A launched Tuyên Quang campaign; the CLI reads its settings from the environment, as in production."""
    engine: Engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THIDUA_DATABASE_URL", db_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "data"))
    return db_url


def test_demo_import_figures_and_reconcile(cli_env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    demo = runner.invoke(app, ["demo", CODE, "--out", str(tmp_path / "so.csv"), "--rows", "2000"])
    assert demo.exit_code == 0, demo.output
    path = Path(demo.stdout.strip())
    again = runner.invoke(
        app, ["demo", "tuyen-quang-2024", "--out", str(tmp_path / "again.csv"), "--rows", "2000"]
    )
    assert again.exit_code == 0, again.output
    assert path.read_bytes() == (tmp_path / "again.csv").read_bytes()  # deterministic

    first = runner.invoke(app, ["import", CODE, str(path), "--as-of", "30/06/2024"])
    assert first.exit_code == 0, first.output
    assert "2000 việc, tính đến 30/06/2024 (lần nhập #1)" in first.stdout
    second = runner.invoke(app, ["import", CODE, str(path), "--as-of", "30/06/2024"])
    assert second.exit_code == 0, second.output
    assert "không thay đổi gì" in second.stdout

    units = runner.invoke(app, ["figures", CODE, "--at", "31/03/2024"])
    assert units.exit_code == 0, units.output
    lines = units.stdout.splitlines()
    assert lines[1] == "Mã\tcarried_over\tarising\tfinished"
    assert {line.split("\t")[0] for line in lines[2:]} >= {"TQ", "TQ-YS", "TQ-LB"}
    officers = runner.invoke(app, ["figures", CODE, "--by", "officer"])
    assert officers.exit_code == 0, officers.output
    assert any(line.startswith("TQ-YS-04\t") for line in officers.stdout.splitlines())

    recon = runner.invoke(app, ["reconcile", CODE, "--period", "2024-03"])
    assert recon.exit_code == 0, recon.output
    assert "Đối chiếu kỳ 2024-03: 24 chỉ số của 8 đơn vị, 24 chỉ số lệch hoặc chưa báo cáo." in recon.stdout
    assert "TQ-YS\tfinished\t—\t" in recon.stdout


def test_a_bad_ledger_prints_its_errors_and_exits_2(cli_env: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Mã việc,Mã đơn vị,Mã chấp hành viên,Ngày thụ lý,Ngày có điều kiện,Trạng thái,Ngày trạng thái,"
        "Số tiền phải thi hành,Số tiền đã thu\nA,TQ-XX,,01/01/2023,,xong,01/02/2023,0,0\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["import", CODE, str(bad), "--as-of", "30/06/2024"])
    assert result.exit_code == 2
    assert "bad.csv, dòng 2, cột “Mã đơn vị”: đơn vị “TQ-XX” không tham gia phong trào" in result.output

    missing = CliRunner().invoke(app, ["figures", CODE])
    assert missing.exit_code == 4
    assert "chưa nhập sổ thụ lý" in missing.output
