"""The top-level `thidua` CLI: campaign validate / launch / list / show, as an administrator uses them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.factories import NATIONAL_DEFINITION, TQ_DEFINITION, edited_definition, load_demo_directory
from thidua.deploy.cli import app
from thidua.models.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THIDUA_DATABASE_URL", db_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("THIDUA_SMTP_HOST", raising=False)
    return db_url


def test_validate_accepts_both_seed_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "no-database-yet"))
    monkeypatch.delenv("THIDUA_DATABASE_URL", raising=False)
    runner = CliRunner()
    for path in (TQ_DEFINITION, NATIONAL_DEFINITION):
        result = runner.invoke(app, ["campaign", "validate", str(path)])
        assert result.exit_code == 0, result.output
        assert "hợp lệ" in result.output and "chưa có cơ sở dữ liệu" in result.output
    assert not (tmp_path / "no-database-yet").exists()  # a check creates no database


def test_validate_checks_the_scope_against_the_directory(cli_env: str, tmp_path: Path) -> None:
    engine = make_engine(cli_env)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    engine.dispose()
    runner = CliRunner()
    good = runner.invoke(app, ["campaign", "validate", str(TQ_DEFINITION)])
    assert good.exit_code == 0 and "Phạm vi: 12 đơn vị" in good.output
    wrong = edited_definition(tmp_path, TQ_DEFINITION, "    - subtree: TQ\n", "    - subtree: TQX\n")
    refused = runner.invoke(app, ["campaign", "validate", str(wrong)])
    assert refused.exit_code == 2 and "hợp lệ" not in refused.output
    assert "không có trong danh bạ: TQX" in refused.output


def test_validate_exits_nonzero_with_the_path_and_line_of_each_problem(tmp_path: Path) -> None:
    bad = edited_definition(tmp_path, TQ_DEFINITION, "individual: 3", "individual: -3")
    text = bad.read_text(encoding="utf-8")
    line = text[: text.index("individual: -3")].count("\n") + 1

    result = CliRunner().invoke(app, ["campaign", "validate", str(bad)])

    assert result.exit_code == 2
    assert f"{bad.name}:{line}: awards[0].quota.individual:" in result.output


def test_read_only_commands_never_import_prefect(cli_env: str, tmp_path: Path) -> None:
    engine = make_engine(cli_env)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    engine.dispose()
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from deploy.cli import app\n"
        "r = CliRunner()\n"
        f"for args in (['campaign', 'validate', {str(TQ_DEFINITION)!r}], ['campaign', 'list'],\n"
        "             ['outbox', 'list'], ['db', 'status']):\n"
        "    res = r.invoke(app, args)\n"
        "    assert res.exit_code == 0, (args, res.output)\n"
        "print('prefect' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.usefixtures("prefect_harness")
def test_launch_from_the_command_line_then_list_and_show(cli_env: str, tmp_path: Path) -> None:
    engine = make_engine(cli_env)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    engine.dispose()
    runner = CliRunner()

    first = runner.invoke(app, ["campaign", "launch", str(TQ_DEFINITION), "--as-of", "05/01/2024"])
    assert first.exit_code == 0, first.output
    assert "đã phát động." in first.output
    assert "Thư mới xếp hàng: 12" in first.output
    again = runner.invoke(app, ["campaign", "launch", str(TQ_DEFINITION), "--as-of", "06/01/2024"])
    assert again.exit_code == 0, (again.output[-3000:], repr(again.exception))
    assert "không thay đổi gì" in again.output and "Thư mới xếp hàng: 0" in again.output
    eml = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    assert len(eml) == 12

    changed = edited_definition(tmp_path, TQ_DEFINITION, "collective: 2", "collective: 5")
    refused = runner.invoke(app, ["campaign", "launch", str(changed)])
    assert refused.exit_code == 4
    assert "đã được phát động" in refused.output

    listing = runner.invoke(app, ["campaign", "list"])
    assert "TQ-2024-GIAM-AN" in listing.output and "Đã phát động" in listing.output
    assert "launched" not in listing.output  # the state's label, never its stored key
    shown = runner.invoke(app, ["campaign", "show", "TQ-2024-GIAM-AN", "--json"])
    data = json.loads(shown.output)
    assert data["units"] == {"tinh": 1, "phong": 4, "khu_vuc": 7}
    due = {d["key"]: d["due_date"] for d in data["deadlines"]}
    assert due["final"] == "2024-07-03" and due["2024-06"] == "2024-07-03"


def test_a_bad_as_of_is_a_clear_error(cli_env: str) -> None:
    result = CliRunner().invoke(app, ["campaign", "launch", str(TQ_DEFINITION), "--as-of", "31/02/2024"])
    assert result.exit_code == 2
    assert "không phải thời điểm hợp lệ" in result.output
