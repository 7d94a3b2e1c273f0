"""`thidua report template|submit|history|inbox` against a real database, settings from the environment."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.deploy.cli_report import app
from thidua.models.report_rows import META_SHEET, REPORT_SHEET

runner = CliRunner()
CODE = "TQ-2024-GIAM-AN"


@pytest.fixture
def env(engine: Engine, db_url: str, tmp_path: Path) -> dict[str, str]:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    return {
        "THIDUA_DATA_DIR": str(tmp_path / "data"),
        "THIDUA_DATABASE_URL": db_url,
        "THIDUA_SMTP_HOST": "",
        "THIDUA_MAIL_FROM": "thidua@thads-tuyenquang.example.vn",
    }


def fill(template: Path, out: Path, finished: int) -> Path:
    wb = load_workbook(template)
    inputs = {
        str(c): str(b)
        for key, b, c in wb[META_SHEET].iter_rows(max_col=3, values_only=True)
        if key == "input"
    }
    ws = wb[REPORT_SHEET]
    for key, value in {"carried_over": 120, "arising": 30, "finished": finished}.items():
        ws[inputs[key]] = value
    wb.save(out)
    return out


def test_template_submit_again_and_history(env: dict[str, str], tmp_path: Path) -> None:
    blank = tmp_path / "mau.xlsx"
    made = runner.invoke(
        app, ["template", CODE, "--unit", "TQ-YS", "--period", "03/2024", "-o", str(blank)], env=env
    )
    assert made.exit_code == 0, made.output
    assert f"Đã ghi mẫu báo cáo: {blank}" in made.output and blank.exists()

    first = fill(blank, tmp_path / "lan-1.xlsx", 18)
    one = runner.invoke(
        app, ["submit", CODE, str(first), "--as-of", "02/04/2024 09:00", "--by", "a@ys.example.vn"], env=env
    )
    assert one.exit_code == 0, one.output
    assert "✓ lan-1.xlsx: đã tiếp nhận — đơn vị TQ-YS, kỳ 2024-03, lần nộp 1, đúng hạn" in one.output

    second = fill(blank, tmp_path / "lan-2.xlsx", 20)
    two = runner.invoke(app, ["submit", CODE, str(second), "--as-of", "08/04/2024 15:30"], env=env)
    assert two.exit_code == 0, two.output
    assert "lần nộp 2, QUÁ HẠN" in two.output and "thay đổi finished: 18 → 20" in two.output

    same = runner.invoke(app, ["submit", CODE, str(second), "--as-of", "09/04/2024"], env=env)
    assert same.exit_code == 0 and "giống hệt lần nộp 2" in same.output

    history = runner.invoke(app, ["history", CODE, "--unit", "TQ-YS", "--period", "2024-03"], env=env)
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()
    assert any(
        line.startswith("  Lần 1 (đã thay thế) — nhận 09:00 02/04/2024 từ a@ys.example.vn") for line in lines
    )
    assert any(line.startswith("  Lần 2 (hiện hành) — nhận 15:30 08/04/2024") for line in lines)
    assert "quá hạn (hạn 05/04/2024)" in history.output and "thay đổi: finished: 18 → 20" in history.output


def test_a_rejected_submission_exits_2_lists_the_errors_and_sends_the_email(
    env: dict[str, str], tmp_path: Path
) -> None:
    blank = tmp_path / "mau.xlsx"
    runner.invoke(
        app, ["template", CODE, "--unit", "TQ-YS", "--period", "2024-03", "-o", str(blank)], env=env
    )
    bad = fill(blank, tmp_path / "sai.xlsx", 500)
    result = runner.invoke(app, ["submit", CODE, str(bad), "--as-of", "02/04/2024"], env=env)
    assert result.exit_code == 2
    assert "✗ sai.xlsx: không tiếp nhận (1 lỗi)" in result.output
    assert "ô D23 (Số việc có điều kiện trên một năm đã thi hành xong)" in result.output
    assert "(500) không được lớn hơn" in result.output and "Thư: đã gửi 1" in result.output
    emails = list((Path(env["THIDUA_DATA_DIR"]) / "outbox").glob("*.eml"))
    assert len(emails) == 1 and b"yenson@thads-tuyenquang.example.vn" in emails[0].read_bytes()


def test_the_csv_template_and_the_inbox_command(env: dict[str, str], tmp_path: Path) -> None:
    blank = tmp_path / "mau.csv"
    made = runner.invoke(
        app, ["template", CODE, "--unit", "TQ-HY", "--period", "2024-03", "-o", str(blank)], env=env
    )
    assert made.exit_code == 0, made.output
    rows = list(csv.reader(blank.read_text(encoding="utf-8-sig").splitlines()))
    assert (
        rows[0][:4] == ["Mã phong trào", "Mã đơn vị", "Kỳ báo cáo", "Mã cán bộ"]
        and rows[0][-1] == "Đính chính"
    )
    rows[1][5:8] = ["40", "4", "5"]
    inbox = Path(env["THIDUA_DATA_DIR"]) / "inbox" / CODE
    inbox.mkdir(parents=True)
    with (inbox / "ham-yen.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)

    result = runner.invoke(app, ["inbox", CODE, "--as-of", "03/04/2024"], env=env)
    assert result.exit_code == 0, result.output
    assert "✓ ham-yen.csv: đã tiếp nhận — đơn vị TQ-HY" in result.output
    assert "tiếp nhận 1 · không đổi 0 · từ chối 0" in result.output
    assert (inbox / "processed" / "ham-yen.csv").exists()


def test_unknown_campaign_and_bad_date_are_reported_with_exit_codes(
    env: dict[str, str], tmp_path: Path
) -> None:
    unknown = runner.invoke(app, ["history", "KHONG-CO", "--unit", "TQ-YS", "--period", "2024-03"], env=env)
    assert unknown.exit_code == 3 and "Không có phong trào mã “KHONG-CO”" in unknown.output
    no_unit = runner.invoke(app, ["template", CODE, "--unit", "TQ-VP", "--period", "2024-03"], env=env)
    assert no_unit.exit_code == 2 and "không thuộc diện gửi báo cáo định kỳ" in no_unit.output
    bad_date = runner.invoke(app, ["inbox", CODE, "--as-of", "32/13/2024"], env=env)
    assert bad_date.exit_code == 2
    nothing = runner.invoke(app, ["history", CODE, "--unit", "TQ-YS", "--period", "2024-03"], env=env)
    assert nothing.exit_code == 0 and "chưa nộp báo cáo kỳ 2024-03" in nothing.output
