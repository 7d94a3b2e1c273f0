"""`nomination import|dossier|draft|screen|list` through a typer app of our own, against a real database."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.factories import launch_campaign_rows, load_demo_directory
from tests.tasks.builders_nominations import CODE, PARTS, final_results, pdf_bytes
from thidua.deploy.cli_nominate import register

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """thidua (test)."""

    register(app)
    return app


@pytest.fixture
def env(engine: Engine, db_url: str, tmp_path: Path) -> dict[str, str]:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign_id = launch_campaign_rows(engine)
    final_results(engine, campaign_id, [("unit", "TQ-YS", "TQ-YS", 20), ("person", "TQ-YS-04", "TQ-YS", 30)])
    return {"THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_DATABASE_URL": db_url, "THIDUA_SMTP_HOST": ""}


def test_a_unit_nominates_files_its_dossier_and_gets_screened(env: dict[str, str], tmp_path: Path) -> None:
    app = make_app()
    listing = tmp_path / "de-nghi.csv"
    with listing.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Hình thức khen thưởng", "Đối tượng", "Mã tập thể, cá nhân", "Đơn vị đề nghị"])
        writer.writerow(["giay_khen_cuc_truong", "Tập thể", "TQ-YS", "TQ-YS"])
        writer.writerow(["giay_khen_cuc_truong", "Cá nhân", "TQ-YS-04", "TQ-YS"])
    done = runner.invoke(app, ["nomination", "import", CODE, str(listing), "--as-of", "01/07/2024"], env=env)
    assert done.exit_code == 0, done.output
    assert "Đề nghị mới 2, cập nhật 0, không đổi 0" in done.output

    pdf = tmp_path / "ho-so.pdf"
    pdf.write_bytes(pdf_bytes())
    for part in PARTS:
        if part in ("danh_sach", "tong_hop_ket_qua"):
            continue
        args = ["nomination", "dossier", CODE, str(pdf), "--unit", "TQ-YS", "--part", part]
        if part == "bao_cao_thanh_tich":
            for nominee in ("TQ-YS", "TQ-YS-04"):
                out = runner.invoke(app, [*args, "--nominee", nominee, "--as-of", "02/07/2024"], env=env)
                assert out.exit_code == 0, out.output
        else:
            out = runner.invoke(app, [*args, "--as-of", "02/07/2024"], env=env)
            assert out.exit_code == 0, out.output
    assert "lần 1" in out.output and "đúng hạn" in out.output

    drafted = runner.invoke(
        app, ["nomination", "draft", CODE, "--unit", "TQ-YS", "--as-of", "02/07/2024"], env=env
    )
    assert drafted.exit_code == 0, drafted.output
    assert "Danh sách – Chi cục Thi hành án dân sự huyện Yên Sơn (dự thảo).docx" in drafted.output
    assert "hồ sơ đầy đủ 2" in drafted.output

    screened = runner.invoke(app, ["nomination", "screen", CODE, "--as-of", "05/07/2024"], env=env)
    assert screened.exit_code == 0, screened.output
    assert "Đã xét 2 đề nghị: đủ điều kiện 2, không đủ 0" in screened.output

    listed = runner.invoke(app, ["nomination", "list", CODE], env=env)
    assert listed.exit_code == 0, listed.output
    assert "Hồ sơ đầy đủ" in listed.output and "Đủ" in listed.output
    assert "✓ Không bị kỷ luật trong thời gian xét (01/10/2023 – 30/06/2024)" in listed.output


def test_refused_input_exits_nonzero_with_the_reason(env: dict[str, str], tmp_path: Path) -> None:
    app = make_app()
    exe = tmp_path / "to-trinh.exe"
    exe.write_bytes(b"MZ")
    out = runner.invoke(
        app, ["nomination", "dossier", CODE, str(exe), "--unit", "TQ-YS", "--part", "to_trinh"], env=env
    )
    assert out.exit_code == 2
    assert "loại tệp “exe” không được nhận" in out.output
    missing = runner.invoke(app, ["nomination", "list", "KHONG-CO"], env=env)
    assert missing.exit_code == 3 and "Không có phong trào mã “KHONG-CO”" in missing.output
