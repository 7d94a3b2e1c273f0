"""`thidua outbox list|dispatch|retry|release` against a real database and a real SMTP server, settings from
the environment as in production; a dispatch killed with SIGKILL is a real `thidua` process (issue 11 items 8
and 9)."""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.conftest import SmtpRecorder, kill_at
from tests.factories import TQ_DEFINITION, launch_campaign_rows, load_demo_directory
from thidua.deploy.cli_outbox import app
from thidua.models.db import transaction
from thidua.models.outbox import OutboxStatus
from thidua.notifications.outbox import OUTBOX, RECORD_EVERY, claim, enqueue_many

runner = CliRunner()
NOW = datetime(2024, 1, 5, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def env_for(tmp_path: Path, db_url: str) -> dict[str, str]:
    return {
        "THIDUA_DATA_DIR": str(tmp_path / "data"),
        "THIDUA_DATABASE_URL": db_url,
        "THIDUA_SMTP_HOST": "",
        "THIDUA_MAIL_FROM": "thidua@thads.tuyenquang.gov.vn",
    }


def smtp_env(tmp_path: Path, db_url: str, smtp: SmtpRecorder) -> dict[str, str]:
    return {
        **env_for(tmp_path, db_url),
        "THIDUA_SMTP_HOST": smtp.host,
        "THIDUA_SMTP_PORT": str(smtp.port),
        "THIDUA_SMTP_SECURITY": "none",
        "THIDUA_SMTP_TIMEOUT_SECONDS": "10",
    }


def queue_two(engine: Engine, campaign_id: int | None = None) -> None:
    rows = [
        {
            "dedupe_key": f"launch:TQ-2024:{code}",
            "kind": "launch",
            "recipient": f"{code}@thads.tuyenquang.gov.vn",
            "recipient_name": name,
            "subject": f"[Thi đua] Phát động phong trào thi đua – {name}",
            "text": "Kính gửi\n",
            "campaign_id": campaign_id,
        }
        for code, name in [("ys", "Chi cục THADS huyện Yên Sơn"), ("sd", "Chi cục THADS huyện Sơn Dương")]
    ]
    with transaction(engine) as s:
        enqueue_many(s, rows, NOW)


def queue_many(engine: Engine, count: int) -> None:
    rows = [
        {
            "dedupe_key": f"remind:TQ-2024:{i}",
            "kind": "reminder",
            "recipient": f"unit{i}@thads.tuyenquang.gov.vn",
            "subject": "[Thi đua] Nhắc hạn báo cáo",
            "text": "Kính gửi\n",
        }
        for i in range(count)
    ]
    with transaction(engine) as s:
        enqueue_many(s, rows, NOW)


def statuses(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(str(s) for s in conn.scalars(select(OUTBOX.c.status)))


def test_list_on_an_empty_outbox_says_so(engine: Engine, db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["list"], env=env_for(tmp_path, db_url))
    assert result.exit_code == 0, result.output
    assert "Không có thư nào." in result.output


def test_dispatch_sends_to_eml_files_and_list_shows_them_sent(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    queue_two(engine)
    env = env_for(tmp_path, db_url)
    pending = runner.invoke(app, ["list", "--status", "pending"], env=env)
    assert pending.exit_code == 0, pending.output
    assert "ys@thads.tuyenquang.gov.vn" in pending.output and "chờ gửi" in pending.output
    assert "lần thử tới: ở lần gửi tới" in pending.output

    sent = runner.invoke(app, ["dispatch"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "Đã gửi: 2 · thất bại: 0 · thử lại sau: 0" in sent.output
    files = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    # Named by the real moment of sending (the machinery's clock), never by a campaign's --as-of.
    assert len(files) == 2 and all(re.match(r"\d{8}T\d{6}Z-thidua\.", f.name) for f in files)

    listed = runner.invoke(app, ["list", "--status", "sent", "--limit", "1"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if "đã gửi" in line]
    assert len(lines) == 1 and "sd@thads.tuyenquang.gov.vn" in lines[0]  # newest first

    again = runner.invoke(app, ["dispatch"], env=env)
    assert "Đã gửi: 0" in again.output
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 2


def test_it_rejects_an_unknown_status_and_an_as_of_for_the_dispatcher(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    env = env_for(tmp_path, db_url)
    bad_status = runner.invoke(app, ["list", "--status", "lost"], env=env)
    assert bad_status.exit_code == 2 and "không hợp lệ" in bad_status.output
    # The dispatcher runs on the machinery's clock: a campaign's --as-of has nothing to say to it.
    as_of = runner.invoke(app, ["dispatch", "--as-of", "05/01/2024"], env=env)
    assert as_of.exit_code == 2


# ---------------------------------------------------------------- item 8: an outage, seen and survived


def test_an_unreachable_server_exits_6_says_how_many_wait_and_charges_nothing(
    engine: Engine, db_url: str, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    queue_two(engine)
    env = smtp_env(tmp_path, db_url, smtp_server)
    smtp_server.stop()
    down = runner.invoke(app, ["dispatch"], env=env)
    assert down.exit_code == 6, down.output
    assert "Không kết nối được máy chủ thư" in down.output and "2 thư đang chờ gửi" in down.output
    assert "không thư nào bị tính lượt thử" in down.output and "Traceback" not in down.output

    smtp_server.start()
    smtp_server.answers["MAIL"] = "421 4.7.0 Too many connections, try again later"
    busy = runner.invoke(app, ["dispatch"], env=env)
    assert busy.exit_code == 6 and "421: 4.7.0 Too many connections" in busy.output, busy.output
    listed = runner.invoke(app, ["list"], env=env)
    assert listed.output.count("lý do gần nhất: Máy chủ thư trả lỗi 421: 4.7.0 Too many connections") == 2
    assert listed.output.count("lần thử tới: ở lần gửi tới") == 2
    assert re.findall(r"chờ gửi .* 0\n", listed.output) and "thất bại" not in listed.output

    smtp_server.answers["MAIL"] = "451 4.3.0 Mailbox temporarily unavailable"
    later = runner.invoke(app, ["dispatch"], env=env)
    assert later.exit_code == 0 and "thử lại sau: 2" in later.output
    listed = runner.invoke(app, ["list"], env=env)
    assert len(re.findall(r"lần thử tới: \d\d/\d\d/\d{4} \d\d:\d\d", listed.output)) == 2
    assert "lý do gần nhất: Máy chủ thư trả lỗi 451" in listed.output

    del smtp_server.answers["MAIL"]
    assert statuses(engine) == {OutboxStatus.PENDING: 2}


@pytest.mark.usefixtures("prefect_harness")
def test_a_launch_while_the_mail_server_is_down_says_its_emails_wait(
    engine: Engine, db_url: str, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    from thidua.deploy.cli import app as thidua

    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    smtp_server.stop()
    args = ["campaign", "launch", str(TQ_DEFINITION), "--as-of", "05/01/2024"]
    launched = runner.invoke(thidua, args, env=smtp_env(tmp_path, db_url, smtp_server))
    assert launched.exit_code == 0, launched.output
    assert "Chưa gửi được 12 thư: Không kết nối được máy chủ thư" in launched.output
    assert "không bị tính lượt thử" in launched.output
    assert statuses(engine) == {OutboxStatus.PENDING: 12}


def test_retry_puts_failed_emails_back_by_campaign_or_id(
    engine: Engine, db_url: str, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    campaign = launch_campaign_rows(engine)
    queue_two(engine, campaign_id=campaign)
    env = smtp_env(tmp_path, db_url, smtp_server)
    smtp_server.reject_rcpt["ys@thads.tuyenquang.gov.vn"] = "550 5.1.1 Mailbox unavailable"
    first = runner.invoke(app, ["dispatch"], env=env)
    assert "Đã gửi: 1 · thất bại: 1" in first.output
    with engine.connect() as conn:
        ids = dict(conn.execute(select(OUTBOX.c.recipient, OUTBOX.c.id)).tuples().all())
    failed, sent = ids["ys@thads.tuyenquang.gov.vn"], ids["sd@thads.tuyenquang.gov.vn"]

    wrong_state = runner.invoke(app, ["retry", "--id", str(sent)], env=env)
    assert wrong_state.exit_code == 4 and "đã gửi" in wrong_state.output
    unknown = runner.invoke(app, ["retry", "--id", "999999"], env=env)
    assert unknown.exit_code == 3 and "Không có thư số 999999" in unknown.output
    other = runner.invoke(app, ["retry", "KHONG-CO"], env=env)
    assert other.exit_code == 3

    del smtp_server.reject_rcpt["ys@thads.tuyenquang.gov.vn"]
    back = runner.invoke(app, ["retry", "TQ-2024-GIAM-AN"], env=env)
    assert back.exit_code == 0 and "Đã đưa 1 thư thất bại trở lại hàng chờ gửi" in back.output, back.output
    with engine.connect() as conn:
        row = conn.execute(select(OUTBOX).where(OUTBOX.c.id == failed)).mappings().one()
    assert (row["status"], row["attempts"]) == (OutboxStatus.PENDING, 0)
    assert "550" in row["last_error"]  # the last reason stays until the next try
    assert runner.invoke(app, ["retry", "--id", str(failed)], env=env).exit_code == 4  # not failed now
    assert "Đã gửi: 1" in runner.invoke(app, ["dispatch"], env=env).output
    assert runner.invoke(app, ["retry"], env=env).output.strip() == "Không có thư thất bại nào để gửi lại."
    assert statuses(engine) == {OutboxStatus.SENT: 2}


# ---------------------------------------------------------------- item 9: a dispatch killed mid-batch


def test_a_dispatch_killed_with_sigkill_resends_at_most_a_group_after_release(
    engine: Engine, db_url: str, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    queue_many(engine, 35)
    env = smtp_env(tmp_path, db_url, smtp_server)
    held = smtp_server.gate("MAIL", passing=23)  # the server has accepted 23 messages when the kill comes
    killed = kill_at(held, ["outbox", "dispatch"], {**os.environ, **env}, tmp_path)
    assert len(smtp_server.received) == 23
    recorded = 23 // RECORD_EVERY * RECORD_EVERY  # sent ones are recorded group by group
    assert statuses(engine) == Counter({OutboxStatus.SENT: recorded, OutboxStatus.SENDING: 35 - recorded})

    held_rows = runner.invoke(app, ["list", "--status", "sending"], env=env)
    assert held_rows.output.count("đang giữ: cli@") == 35 - recorded
    assert f"#{killed} đến " in held_rows.output and "tiến trình không còn chạy" in held_rows.output
    released = runner.invoke(app, ["release"], env=env)
    assert released.exit_code == 0 and f"Đã giải phóng {35 - recorded} thư" in released.output
    again = runner.invoke(app, ["dispatch"], env=env)
    assert again.exit_code == 0 and f"Đã gửi: {35 - recorded}" in again.output

    counts = Counter(str(mail.message["Message-ID"]) for mail in smtp_server.received)
    assert len(counts) == 35
    resent = sum(n - 1 for n in counts.values())
    assert resent == 23 - recorded <= RECORD_EVERY  # the bound the README states
    assert statuses(engine) == {OutboxStatus.SENT: 35}


def test_release_keeps_the_claim_of_a_dispatcher_that_still_runs(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    queue_two(engine)
    env = env_for(tmp_path, db_url)
    claim(engine, now=datetime.now(ZoneInfo("UTC")), worker_id="serve", batch_size=1)  # this process: alive
    kept = runner.invoke(app, ["release"], env=env)
    assert kept.exit_code == 0
    assert f"#{os.getpid()}: tiến trình này vẫn đang chạy" in kept.output
    assert "Không có thư nào cần giải phóng." in kept.output
    assert statuses(engine) == {OutboxStatus.SENDING: 1, OutboxStatus.PENDING: 1}
    with engine.connect() as conn:
        pending = conn.scalar(select(OUTBOX.c.id).where(OUTBOX.c.status == OutboxStatus.PENDING))
    refused = runner.invoke(app, ["release", "--id", str(pending)], env=env)
    assert refused.exit_code == 4 and "chỉ thư đang gửi mới giải phóng được" in refused.output
