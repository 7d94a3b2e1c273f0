"""`thidua outbox list|dispatch` against a real database, settings from the environment as in production."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from typer.testing import CliRunner

from thidua.deploy.cli_outbox import app
from thidua.models.db import transaction
from thidua.notifications.outbox import enqueue_many

runner = CliRunner()
NOW = datetime(2024, 1, 5, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def env_for(tmp_path: Path, db_url: str) -> dict[str, str]:
    return {
        "THIDUA_DATA_DIR": str(tmp_path / "data"),
        "THIDUA_DATABASE_URL": db_url,
        "THIDUA_SMTP_HOST": "",
        "THIDUA_MAIL_FROM": "thidua@thads.tuyenquang.gov.vn",
    }


def queue_two(engine: Engine) -> None:
    rows = [
        {
            "dedupe_key": f"launch:TQ-2024:{code}",
            "kind": "launch",
            "recipient": f"{code}@thads.tuyenquang.gov.vn",
            "recipient_name": name,
            "subject": f"[Thi đua] Phát động phong trào thi đua – {name}",
            "text": "Kính gửi\n",
        }
        for code, name in [("ys", "Chi cục THADS huyện Yên Sơn"), ("sd", "Chi cục THADS huyện Sơn Dương")]
    ]
    with transaction(engine) as s:
        enqueue_many(s, rows, NOW)


def test_list_on_an_empty_outbox_says_so(engine: Engine, db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["list"], env=env_for(tmp_path, db_url))
    assert result.exit_code == 0, result.output
    assert "Không có thư nào." in result.output


def test_dispatch_as_of_a_date_sends_to_eml_files_and_list_shows_them_sent(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    queue_two(engine)
    env = env_for(tmp_path, db_url)
    pending = runner.invoke(app, ["list", "--status", "pending"], env=env)
    assert pending.exit_code == 0, pending.output
    assert "ys@thads.tuyenquang.gov.vn" in pending.output and "chờ gửi" in pending.output

    sent = runner.invoke(app, ["dispatch", "--as-of", "05/01/2024"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "Đã gửi: 2 · thất bại: 0 · thử lại sau: 0" in sent.output
    files = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    assert len(files) == 2 and files[0].name.startswith("20240105T010000Z-")  # 08:00 in Hà Nội = 01:00 UTC

    listed = runner.invoke(app, ["list", "--status", "sent", "--limit", "1"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if "đã gửi" in line]
    assert len(lines) == 1 and "sd@thads.tuyenquang.gov.vn" in lines[0]  # newest first

    again = runner.invoke(app, ["dispatch", "--as-of", "06/01/2024"], env=env)
    assert "Đã gửi: 0" in again.output
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 2


def test_it_rejects_an_unknown_status_and_a_bad_date(engine: Engine, db_url: str, tmp_path: Path) -> None:
    env = env_for(tmp_path, db_url)
    bad_status = runner.invoke(app, ["list", "--status", "lost"], env=env)
    assert bad_status.exit_code == 2 and "không hợp lệ" in bad_status.output
    bad_date = runner.invoke(app, ["dispatch", "--as-of", "32/13/2024"], env=env)
    assert bad_date.exit_code == 2 and "không phải thời điểm hợp lệ" in bad_date.output
