"""`thidua remind` as an administrator reads it: what this sweep sent, and only a count of what an earlier
sweep already sent for the same step (issue 11 item 6). Real SQLite and PostgreSQL, real Prefect flow runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.deploy.test_cli import cli_env  # noqa: F401  (the fixture)
from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.deploy.cli import app
from thidua.models.db import make_engine

CODE = "TQ-2024-GIAM-AN"
MORNING = "31/01/2024 08:05"  # five working days before January's due date: eight units owe it


@pytest.fixture
def launched(cli_env: str, tmp_path: Path) -> Path:  # noqa: F811  (the imported fixture)
    engine = make_engine(cli_env)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()
    return tmp_path / "data" / "outbox"


def _listed(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.lstrip().startswith("→")]


@pytest.mark.usefixtures("prefect_harness")
def test_a_second_sweep_the_same_day_lists_nothing_and_counts_what_was_sent(launched: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["remind", CODE, "--as-of", MORNING])
    assert first.exit_code == 0, first.output
    assert f"Phong trào {CODE}, ngày 31/01/2024: 8 thư nhắc hạn." in first.output
    sent = _listed(first.output)
    assert len(sent) == 8 and all("nhắc trước hạn 5 ngày làm việc" in line for line in sent)
    assert "remind:" not in first.output and "before-5" not in first.output  # no internal keys
    assert "lần nhắc trước" not in first.output
    assert len(list(launched.glob("*.eml"))) == 8

    dry = runner.invoke(app, ["remind", CODE, "--as-of", "31/01/2024 15:00", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert _listed(dry.output) == [] and "8 thư cùng bước đã vào hộp thư đi ở lần nhắc trước" in dry.output

    again = runner.invoke(app, ["remind", CODE, "--as-of", "31/01/2024 16:00"])
    assert again.exit_code == 0, again.output
    assert _listed(again.output) == []
    assert f"Phong trào {CODE}, ngày 31/01/2024: 0 thư nhắc hạn." in again.output
    assert "8 thư cùng bước đã vào hộp thư đi ở lần nhắc trước — không gửi lại." in again.output
    assert "Thư mới vào hộp thư đi: 0" in again.output
    assert len(list(launched.glob("*.eml"))) == 8
