"""The outbox on SQLite and PostgreSQL: dedupe, claim and lease, retries, permanent failures, real SMTP."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import SmtpRecorder
from sqlalchemy import Engine, func, select

from tests.memory_transport import MemoryTransport
from thidua.models.db import transaction
from thidua.models.outbox import OutboxStatus
from thidua.models.settings import Settings
from thidua.notifications.outbox import OUTBOX, DispatchResult, claim, dispatch, enqueue, enqueue_many
from thidua.notifications.transports import SmtpTransport, TransportError

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 1, 5, 8, 0, tzinfo=VN)
C = OUTBOX.c


def make_settings(tmp_path: Path, engine: Engine, smtp: SmtpRecorder | None = None, **extra: Any) -> Settings:
    overrides = smtp.settings_overrides() if smtp else {"smtp_host": ""}
    return Settings(
        data_dir=tmp_path / "data",
        database_url=engine.url.render_as_string(hide_password=False),
        mail_from="thidua@thads.tuyenquang.gov.vn",
        smtp_timeout_seconds=5,
        **{**overrides, **extra},
    )


def queue(engine: Engine, n: int, *, prefix: str = "launch:TQ-2024", **extra: Any) -> int:
    rows = [
        {
            "dedupe_key": f"{prefix}:{i}",
            "kind": "launch",
            "recipient": f"unit{i}@thads.tuyenquang.gov.vn",
            "recipient_name": f"Chi cục Thi hành án dân sự số {i}",
            "subject": "[Thi đua] Phát động phong trào thi đua: Giảm án có điều kiện",
            "text": "Kính gửi: đơn vị\n\nKế hoạch gửi kèm.\n",
            "html": "<p>Kính gửi: đơn vị</p>",
            **extra,
        }
        for i in range(n)
    ]
    with transaction(engine) as s:
        return enqueue_many(s, rows, NOW)


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(OUTBOX).order_by(C.id)).mappings())


def received_ids(smtp: SmtpRecorder) -> Counter[str]:
    return Counter(str(mail.message["Message-ID"]) for mail in smtp.received)


# ---------------------------------------------------------------- enqueue


def test_enqueueing_the_same_email_twice_keeps_one_row_and_dispatching_twice_sends_one_email(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    args: dict[str, Any] = {
        "dedupe_key": "launch:TQ-2024:YS",
        "kind": "launch",
        "recipient": "yenson@thads.tuyenquang.gov.vn",
        "recipient_name": "Chi cục Thi hành án dân sự huyện Yên Sơn",
        "subject": "[Thi đua] Phát động phong trào thi đua",
        "text": "Kính gửi\n",
        "now": NOW,
    }
    with transaction(engine) as s:
        assert enqueue(s, **args) is True
    with transaction(engine) as s:
        assert enqueue(s, **{**args, "subject": "khác"}) is False
    assert [(r["dedupe_key"], r["subject"]) for r in rows(engine)] == [
        ("launch:TQ-2024:YS", "[Thi đua] Phát động phong trào thi đua")
    ]
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a") == DispatchResult(sent=1)
    assert (
        dispatch(engine, settings, clock=lambda: NOW + timedelta(hours=1), worker_id="a") == DispatchResult()
    )
    assert len(smtp_server.received) == 1


def test_enqueue_many_counts_only_new_rows_across_chunks(engine: Engine) -> None:
    assert queue(engine, 620) == 620
    assert queue(engine, 621) == 1  # 620 already there
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OUTBOX)) == 621


def test_attachments_are_stored_relative_to_the_data_dir(engine: Engine, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    plan = data_dir / "documents" / "Kế hoạch.docx"
    with transaction(engine) as s:
        enqueue(
            s, dedupe_key="k", kind="launch", recipient="a@thads.vn", subject="s", text="t",
            attachments=[plan, "documents/Biểu mẫu.xlsx"], cc=["vp@thads.vn"], now=NOW, data_dir=data_dir,
        )  # fmt: skip
        with pytest.raises(ValueError, match="ngoài thư mục dữ liệu"):
            enqueue(
                s, dedupe_key="k2", kind="launch", recipient="a@thads.vn", subject="s", text="t",
                attachments=[tmp_path / "elsewhere.docx"], now=NOW, data_dir=data_dir,
            )  # fmt: skip
    [row] = rows(engine)
    assert json.loads(row["attachments_json"]) == ["documents/Kế hoạch.docx", "documents/Biểu mẫu.xlsx"]
    assert json.loads(row["cc_json"]) == ["vp@thads.vn"]
    assert row["status"] == OutboxStatus.PENDING and row["attempts"] == 0


# ---------------------------------------------------------------- dispatch over real SMTP


def test_twenty_messages_use_one_smtp_connection_with_the_attachment(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    plan = settings.data_dir / "documents" / "Kế hoạch số 05-KH-CTHADS.docx"
    plan.parent.mkdir(parents=True)
    plan.write_bytes(b"PK docx")
    queue(engine, 20, attachments=["documents/Kế hoạch số 05-KH-CTHADS.docx"])
    before = smtp_server.connections
    result = dispatch(
        engine, settings, clock=lambda: NOW, worker_id="launch", batch_size=7
    )  # three batches, one session
    assert result == DispatchResult(sent=20)
    assert smtp_server.connections == before + 1
    assert len(smtp_server.received) == 20 and len(received_ids(smtp_server)) == 20
    parsed = [email.message_from_bytes(m.data, policy=email.policy.default) for m in smtp_server.received]
    names = {a.get_filename() for m in parsed for a in m.iter_attachments()}  # type: ignore[attr-defined]
    assert names == {"Kế hoạch số 05-KH-CTHADS.docx"}
    stored = rows(engine)
    assert {r["status"] for r in stored} == {OutboxStatus.SENT}
    assert all(r["sent_at"] is not None and r["lease_until"] is None for r in stored)
    assert {r["message_id"] for r in stored} == set(received_ids(smtp_server))


def test_a_server_down_for_more_runs_than_attempts_fails_nothing_and_all_go_once_it_is_back(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    # Issue 11 item 8: "cannot connect" used to be charged to every email, failing them all after 8 runs.
    settings = make_settings(tmp_path, engine, smtp_server, mail_max_attempts=3)
    queue(engine, 5)
    smtp_server.stop()
    for minute in range(10):
        result = dispatch(engine, settings, clock=lambda m=minute: NOW + timedelta(minutes=m), worker_id="a")
        assert (result.sent, result.failed, result.retried, result.waiting) == (0, 0, 0, 5)
        assert result.unreachable and "Không kết nối được máy chủ thư" in result.unreachable
    stored = rows(engine)
    assert {(r["status"], r["attempts"], r["claimed_by"]) for r in stored} == {
        (OutboxStatus.PENDING, 0, None)
    }
    assert all("Không kết nối được máy chủ thư" in r["last_error"] for r in stored)
    smtp_server.start()
    assert dispatch(
        engine, settings, clock=lambda: NOW + timedelta(minutes=10), worker_id="a"
    ) == DispatchResult(sent=5)
    assert (
        dispatch(engine, settings, clock=lambda: NOW + timedelta(hours=2), worker_id="a") == DispatchResult()
    )
    assert sorted(received_ids(smtp_server).values()) == [1] * 5
    assert {r["status"] for r in rows(engine)} == {OutboxStatus.SENT}


def test_a_550_recipient_fails_permanently_with_the_reason_and_the_others_are_sent(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    queue(engine, 4)
    smtp_server.reject_rcpt["unit2@thads.tuyenquang.gov.vn"] = "550 5.1.1 No such user"
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a") == DispatchResult(sent=3, failed=1)
    failed = [r for r in rows(engine) if r["status"] == OutboxStatus.FAILED]
    assert [r["recipient"] for r in failed] == ["unit2@thads.tuyenquang.gov.vn"]
    assert "550" in failed[0]["last_error"] and "No such user" in failed[0]["last_error"]
    # Never retried.
    assert (
        dispatch(engine, settings, clock=lambda: NOW + timedelta(days=2), worker_id="a") == DispatchResult()
    )
    assert len(smtp_server.received) == 3


def test_a_crashed_dispatchers_claim_is_recovered_after_its_lease_and_sent_once(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    queue(engine, 3)
    _token, claimed = claim(engine, now=NOW, worker_id="crashed", batch_size=10, lease=timedelta(minutes=15))
    assert len(claimed) == 3  # ... and the process dies here
    assert (
        dispatch(engine, settings, clock=lambda: NOW + timedelta(minutes=5), worker_id="b")
        == DispatchResult()
    )
    assert smtp_server.received == []
    assert dispatch(
        engine, settings, clock=lambda: NOW + timedelta(minutes=16), worker_id="b"
    ) == DispatchResult(sent=3)
    assert (
        dispatch(engine, settings, clock=lambda: NOW + timedelta(hours=1), worker_id="b") == DispatchResult()
    )
    assert sorted(received_ids(smtp_server).values()) == [1, 1, 1]
    assert all(r["claimed_by"].startswith("b@") for r in rows(engine))


def test_two_dispatchers_at_once_send_each_of_200_messages_exactly_once(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    queue(engine, 200)
    results: dict[str, DispatchResult] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            start.wait()
            results[name] = dispatch(
                engine,
                settings,
                clock=lambda: NOW,
                worker_id=name,
                batch_size=10,
                transport=SmtpTransport(settings),
            )
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    counts = received_ids(smtp_server)
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert results["one"].sent + results["two"].sent == 200
    assert {r["status"] for r in rows(engine)} == {OutboxStatus.SENT}


# ---------------------------------------------------------------- retries and limits (the in-memory fake)


def test_temporary_failures_back_off_then_fail_after_the_maximum_attempts(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, mail_max_attempts=3)
    queue(engine, 2)
    fake = MemoryTransport()
    fake.fail_for("unit1@thads.tuyenquang.gov.vn", permanent=False)
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a", transport=fake) == DispatchResult(
        sent=1, retried=1
    )
    row = rows(engine)[1]
    assert (row["status"], row["attempts"]) == (OutboxStatus.PENDING, 1)
    assert row["next_attempt_at"].replace(tzinfo=None) == datetime(2024, 1, 5, 1, 1)  # stored UTC, +1 minute
    # Second failure: +5 minutes.
    assert dispatch(
        engine, settings, clock=lambda: NOW + timedelta(minutes=1), worker_id="a", transport=fake
    ) == DispatchResult(retried=1)
    assert rows(engine)[1]["next_attempt_at"].replace(tzinfo=None) == datetime(2024, 1, 5, 1, 6)
    assert dispatch(
        engine, settings, clock=lambda: NOW + timedelta(minutes=6), worker_id="a", transport=fake
    ) == DispatchResult(failed=1)
    row = rows(engine)[1]
    assert (row["status"], row["attempts"]) == (OutboxStatus.FAILED, 3)
    assert "451" in row["last_error"]
    assert len(fake.sent) == 1


def test_a_missing_attachment_fails_that_message_only(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, engine)
    queue(engine, 1, prefix="a", attachments=["documents/không có.docx"])
    queue(engine, 1, prefix="b")
    fake = MemoryTransport()
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a", transport=fake) == DispatchResult(
        sent=1, failed=1
    )
    assert "không có.docx" in rows(engine)[0]["last_error"]


def test_when_the_transport_cannot_open_the_batch_goes_back_to_pending_uncharged(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine)
    queue(engine, 3)
    down = MemoryTransport(fail_open=TransportError("535 sai mật khẩu", permanent=True))
    result = dispatch(engine, settings, clock=lambda: NOW, worker_id="a", transport=down)
    assert result == DispatchResult(waiting=3, unreachable="535 sai mật khẩu")
    assert {(r["status"], r["attempts"], r["last_error"]) for r in rows(engine)} == {
        (OutboxStatus.PENDING, 0, "535 sai mật khẩu")
    }


def test_it_paces_sends_with_the_injected_sleeper(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, engine, mail_rate_per_second=4)
    queue(engine, 5)
    pauses: list[float] = []
    fake = MemoryTransport()
    result = dispatch(
        engine, settings, clock=lambda: NOW, worker_id="a", transport=fake, sleep=pauses.append, batch_size=2
    )
    assert result == DispatchResult(sent=5)
    assert pauses == [0.25] * 4  # between sends, not before the first


def test_the_default_transport_without_smtp_writes_eml_files(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, engine)
    queue(engine, 3)
    assert dispatch(engine, settings, clock=lambda: NOW, worker_id="a") == DispatchResult(sent=3)
    files = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(files) == 3 and all(f.name.startswith("20240105T010000Z-thidua.") for f in files)
    assert not list(settings.outbox_dir.glob(".tmp-*"))


def test_nothing_due_opens_no_transport(engine: Engine, tmp_path: Path) -> None:
    fake = MemoryTransport()
    assert (
        dispatch(engine, make_settings(tmp_path, engine), clock=lambda: NOW, worker_id="a", transport=fake)
        == DispatchResult()
    )
    assert fake.sessions == 0
