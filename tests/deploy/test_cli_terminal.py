"""What a person at the terminal reads when a flow command fails: the Vietnamese error, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import TQ_DEFINITION, edited_definition

THIDUA = Path(sys.executable).with_name("thidua")


@pytest.mark.slow
def test_a_failing_flow_prints_its_error_in_vietnamese_and_logs_the_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}
    env.update(THIDUA_DATA_DIR=str(tmp_path / "var"), PYTHONIOENCODING="utf-8")

    def thidua(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(THIDUA), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )

    assert thidua("directory", "demo", "tuyen-quang-2024", "--out", "d").returncode == 0
    files = sorted(str(p) for p in (tmp_path / "d").glob("*.csv"))
    assert thidua("directory", "import", *files).returncode == 0
    wrong = edited_definition(tmp_path, TQ_DEFINITION, "    - subtree: TQ\n", "    - subtree: TQX\n")

    try:
        done = thidua("campaign", "launch", str(wrong), "--as-of", "05/01/2024")
    finally:
        thidua("engine", "stop")  # the launch's warm Prefect server would otherwise idle on for 15 minutes

    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr
    assert done.stderr.startswith("Phạm vi phong trào nêu đơn vị không có trong danh bạ: TQX.")
    assert "thidua directory import" in done.stderr
    log = (tmp_path / "var" / "prefect" / "thidua-flows.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "ScopeError" in log
