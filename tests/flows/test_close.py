"""The close flow and the `close` / `reopen` commands with real Prefect runs and a real SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.conftest import SmtpRecorder
from tests.factories import NATIONAL_DEFINITION, at, launch_campaign_rows, load_demo_directory, task_runs
from tests.tasks.close.test_closing import CLOSE_AT, CODE, final_reports
from thidua.deploy.cli import app as thidua_app
from thidua.flows.close import close_flow
from thidua.models.campaign import Campaign, CampaignStatus, EnrolledUnit
from thidua.models.db import make_engine
from thidua.models.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_close_flow_freezes_ranks_reports_and_emails_the_summary_once(
    tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    final_reports(engine)

    state = close_flow(CODE, CLOSE_AT, settings, return_state=True)

    assert state.is_completed()
    summary = state.result()
    assert summary["status"] == "closed" and summary["closed_now"] is True
    assert summary["units_met"] == ["TQ-YS", "TQ-HY", "TQ-SD"] and summary["units_not_met"] == ["TQ-TP"]
    assert summary["units_missing"] == ["TQ-CH", "TQ-LB", "TQ-NH"]
    assert summary["emails_queued"] == 12 and summary["emails"]["sent"] == 12
    report = settings.data_dir / summary["documents"]["report"]
    table = settings.data_dir / summary["documents"]["table"]
    assert len(smtp_server.received) == 12
    [mail] = [m.message for m in smtp_server.received if m.rcpt_tos == ["yenson@thads-tuyenquang.example.vn"]]
    assert mail["Reply-To"] == "tccb@thads-tuyenquang.example.vn"
    assert "Báo cáo tổng kết phong trào thi đua" in mail["Subject"]
    attached = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert attached == {report.name: report.read_bytes(), table.name: table.read_bytes()}
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.status)).scalar_one() == CampaignStatus.CLOSED
    engine.dispose()
    assert task_runs(state.state_details.flow_run_id) == 5

    again = close_flow(CODE, at("06/07/2024", 7, 30), settings)

    assert again["closed_now"] is False and again["emails_queued"] == 0 and again["emails"]["sent"] == 0
    assert len(smtp_server.received) == 12
    assert again["documents"] == summary["documents"] and again["units_met"] == summary["units_met"]


def test_task_runs_per_close_do_not_grow_with_the_number_of_units(tmp_path: Path, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "national-2026", tmp_path, now=at("20/02/2026"))
    launch_campaign_rows(engine, NATIONAL_DEFINITION, now=at("25/02/2026", 9))
    with engine.begin() as conn:
        code = conn.execute(select(Campaign.code)).scalar_one()
        # Task runs are the point here: 500 copies of a national report on disk are not.
        conn.execute(update(EnrolledUnit).values(email=None))
    engine.dispose()
    settings = Settings(data_dir=tmp_path / "national", database_url=sqlite_url)

    state = close_flow(code, at("01/06/2026", 7, 30), settings, return_state=True)

    assert state.is_completed()
    summary = state.result()
    assert summary["subjects"] > 10_000 and len(summary["units_missing"]) == 34  # 34 provinces, no reports
    assert summary["emails_queued"] == 2  # the two administrators
    assert task_runs(state.state_details.flow_run_id) == 5


def test_the_close_and_reopen_commands_print_what_happened(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    final_reports(engine)
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THIDUA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("THIDUA_SMTP_HOST", raising=False)
    app = thidua_app
    runner = CliRunner()

    closed = runner.invoke(app, ["close", CODE, "--as-of", "04/07/2024 07:30"])

    assert closed.exit_code == 0, closed.output
    assert f"Phong trào {CODE}: vừa kết thúc." in closed.output
    assert "closed" not in closed.output
    assert "Đơn vị đạt chỉ tiêu: 3/8 · không đạt: 1 · không có báo cáo tổng kết: 3" in closed.output
    assert "Không có báo cáo: TQ-CH, TQ-LB, TQ-NH" in closed.output
    docx = tmp_path / "data" / "documents" / CODE / "bao-cao-tong-ket-tq-2024-giam-an.docx"
    assert f"Báo cáo tổng kết (DOCX): {docx}" in closed.output and docx.is_file()
    assert "Thư mới vào hộp thư đi: 12 · đã gửi: 12" in closed.output
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 12

    no_reason = runner.invoke(app, ["reopen", CODE, "--reason", " ", "--as-of", "05/07/2024"])
    assert no_reason.exit_code == 2 and "lý do" in no_reason.output
    reopened = runner.invoke(app, ["reopen", CODE, "--reason", "Lâm Bình gửi lại", "--as-of", "05/07/2024"])
    assert reopened.exit_code == 0, reopened.output
    assert f"Phong trào {CODE}: đã mở lại kỳ báo cáo (Đã kết thúc → Đang nhận báo cáo)." in reopened.output
    unknown = runner.invoke(app, ["close", "KHONG-CO", "--as-of", "05/07/2024"])
    assert unknown.exit_code == 3 and "Không có phong trào mã “KHONG-CO”" in unknown.output
