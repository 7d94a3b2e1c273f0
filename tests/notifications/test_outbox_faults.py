"""The outbox under faults produced for real (issue 11 items 7 and 8): an SMTP server that is stopped, that
answers 421 or 451, that drops the session on one message; a dispatcher of "now" beside a command run as of
a past day; a batch that outlives its lease. Only the server's answer to a message costs it an attempt."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import THIDUA, SmtpRecorder, kill_at
from sqlalchemy import Engine, select, update

from tests.factories import TQ_DEFINITION, at, load_demo_directory
from tests.memory_transport import MemoryTransport
from tests.notifications.test_outbox import NOW, make_settings, queue, received_ids, rows
from thidua.models.outbox import OutboxStatus
from thidua.models.settings import Settings
from thidua.notifications.outbox import OUTBOX, RECORD_EVERY, DispatchResult, dispatch
from thidua.notifications.transports import RawMessage

C = OUTBOX.c
ROOT = Path(__file__).resolve().parents[2]


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `call` in a thread; its result (or exception) lands in the returned dict."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = call()
        except BaseException as exc:  # surfaced by the test; a thread cannot fail it
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# ---------------------------------------------------------------- item 8: only answers count


def test_a_421_costs_no_attempt_stops_the_run_and_is_the_last_reason(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server, mail_max_attempts=3)
    queue(engine, 5)
    smtp_server.answers["MAIL"] = "421 4.3.2 Service not available, closing transmission channel"
    for minute in range(6):  # twice the attempts an email has
        result = dispatch(engine, settings, clock=fixed(NOW + timedelta(minutes=minute)), worker_id="a")
        assert (result.sent, result.failed, result.retried, result.waiting) == (0, 0, 0, 5)
        assert result.unreachable and "421" in result.unreachable
    stored = rows(engine)
    assert {(r["status"], r["attempts"], r["next_attempt_at"]) for r in stored} == {
        (OutboxStatus.PENDING, 0, None)
    }
    assert all("421" in r["last_error"] and "Service not available" in r["last_error"] for r in stored)
    assert smtp_server.commands["MAIL"] == 6 * 2  # each run: the first message, then once more reconnected

    del smtp_server.answers["MAIL"]
    assert dispatch(
        engine, settings, clock=fixed(NOW + timedelta(minutes=6)), worker_id="a"
    ) == DispatchResult(sent=5)
    assert sorted(received_ids(smtp_server).values()) == [1] * 5


def test_a_451_answer_to_the_data_is_charged_to_each_message_with_a_backoff(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    queue(engine, 3)
    smtp_server.answers["DATA"] = "451 4.3.0 Mail server temporarily rejected message"
    assert dispatch(engine, settings, clock=fixed(NOW), worker_id="a") == DispatchResult(retried=3)
    stored = rows(engine)
    assert {(r["status"], r["attempts"]) for r in stored} == {(OutboxStatus.PENDING, 1)}
    assert all("451" in r["last_error"] for r in stored)
    assert {r["next_attempt_at"].replace(tzinfo=None) for r in stored} == {datetime(2024, 1, 5, 1, 1)}
    del smtp_server.answers["DATA"]
    assert (
        dispatch(engine, settings, clock=fixed(NOW + timedelta(seconds=30)), worker_id="a")
        == DispatchResult()
    )
    assert dispatch(
        engine, settings, clock=fixed(NOW + timedelta(minutes=1)), worker_id="a"
    ) == DispatchResult(sent=3)


def test_a_server_that_dies_mid_batch_costs_no_attempt_and_loses_nothing(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    queue(engine, 20)
    held = smtp_server.gate("MAIL", passing=3)  # three messages go, the server dies on the fourth
    thread, out = _in_thread(lambda: dispatch(engine, settings, clock=fixed(NOW), worker_id="a"))
    try:
        assert held.arrived.wait(60)
        smtp_server.stop()
    finally:
        held.release.set()
    thread.join(120)
    result = out["result"]
    assert (result.sent, result.failed, result.retried, result.waiting) == (3, 0, 0, 17)
    assert result.unreachable and "Không kết nối được máy chủ thư" in result.unreachable
    stored = rows(engine)
    assert (
        sorted((r["status"], r["attempts"]) for r in stored)
        == [(OutboxStatus.PENDING, 0)] * 17 + [(OutboxStatus.SENT, 0)] * 3
    )

    smtp_server.start()
    assert dispatch(engine, settings, clock=fixed(NOW), worker_id="a") == DispatchResult(sent=17)
    counts = received_ids(smtp_server)
    assert len(counts) == 20 and set(counts.values()) == {1}


def test_a_session_dropped_on_one_message_leaves_it_waiting_uncharged_and_the_others_go(
    engine: Engine, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, smtp_server)
    queue(engine, 5)
    smtp_server.drop_for.add("unit2@thads.tuyenquang.gov.vn")  # the server hangs up on this one, every time
    result = dispatch(engine, settings, clock=fixed(NOW), worker_id="a")
    assert result == DispatchResult(sent=4, waiting=1)
    [waiting] = [r for r in rows(engine) if r["status"] != OutboxStatus.SENT]
    assert (waiting["recipient"], waiting["status"], waiting["attempts"]) == (
        "unit2@thads.tuyenquang.gov.vn",
        OutboxStatus.PENDING,
        0,
    )
    assert "ngắt kết nối" in waiting["last_error"]
    assert waiting["next_attempt_at"].replace(tzinfo=None) == datetime(2024, 1, 5, 1, 1)
    smtp_server.drop_for.clear()
    later = dispatch(engine, settings, clock=fixed(NOW + timedelta(minutes=1)), worker_id="a")
    assert later == DispatchResult(sent=1)
    assert sorted(received_ids(smtp_server).values()) == [1] * 5


# ---------------------------------------------------------------- item 7: the claim, checked and kept


class CancelsWhileOpening(MemoryTransport):
    """A transport whose session takes a moment to open, during which a report cancels a reminder."""

    def __init__(self, engine: Engine, key: str) -> None:
        super().__init__()
        self.engine, self.key = engine, key

    def open(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(OUTBOX).where(C.dedupe_key == self.key).values(status=OutboxStatus.CANCELLED))
        super().open()


def test_a_row_cancelled_between_the_claim_and_the_first_send_is_not_sent(
    engine: Engine, tmp_path: Path
) -> None:
    queue(engine, 4)
    fake = CancelsWhileOpening(engine, "launch:TQ-2024:0")
    result = dispatch(
        engine, make_settings(tmp_path, engine), clock=fixed(NOW), worker_id="a", transport=fake
    )
    assert result == DispatchResult(sent=3, skipped=1)
    assert [m["To"].addresses[0].username for m in fake.sent] == ["unit1", "unit2", "unit3"]


def test_a_batch_that_outlives_its_lease_renews_it_and_no_other_dispatcher_takes_its_rows(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, engine, mail_rate_per_second=1 / 240)  # one email every 4 minutes
    queue(engine, 8)
    clock = [NOW]
    seen: list[DispatchResult] = []

    class Second(MemoryTransport):
        def send_raw(self, message: RawMessage) -> None:
            super().send_raw(message)
            if len(self.sent) == 6:  # 20 minutes in: the first claim's 15 minutes are long gone
                seen.append(dispatch(engine, settings, clock=lambda: clock[0], worker_id="b"))

    def wait(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    first = Second()
    result = dispatch(engine, settings, clock=lambda: clock[0], worker_id="a", transport=first, sleep=wait)
    assert result == DispatchResult(sent=8)
    assert seen == [DispatchResult()]
    assert len(first.sent) == 8


def _harness_api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test harness sets the API URL"
    return str(url)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `thidua` process with these settings (the same database, server and data)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THIDUA_", "PREFECT_"))}
    env.update(
        THIDUA_DATABASE_URL=settings.database_url,
        THIDUA_DATA_DIR=str(settings.data_dir),
        THIDUA_SMTP_HOST=settings.smtp_host,
        THIDUA_SMTP_PORT=str(settings.smtp_port),
        THIDUA_SMTP_SECURITY=settings.smtp_security,
        THIDUA_MAIL_FROM=settings.mail_from,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def tuyen_quang(db_url: str, smtp: SmtpRecorder, tmp_path: Path) -> tuple[Engine, Settings]:
    """The Tuyên Quang directory loaded, and settings sending through the test's SMTP server."""
    from thidua.models.db import make_engine

    engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, mail_from="tdkt@thads-tuyenquang.example.vn",
        **smtp.settings_overrides(),
    )  # fmt: skip
    return engine, settings


@pytest.mark.usefixtures("prefect_harness")
def test_a_launch_as_of_a_past_day_beside_a_dispatcher_of_now_sends_each_email_once(
    db_url: str, smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    # Issue 11 item 7: the launch's claim had a lease computed from --as-of, long expired for the service's
    # every-minute dispatch, which took the rows and sent them too (12 of 12 twice).
    from thidua.flows.launch import launch_flow

    engine, settings = tuyen_quang(db_url, smtp_server, tmp_path)
    held = smtp_server.gate("MAIL")  # the launch has claimed its 12 emails and is sending the first
    thread, out = _in_thread(lambda: launch_flow(str(TQ_DEFINITION), at("05/01/2024", 9), settings))
    try:
        assert held.arrived.wait(120), out
        service = subprocess.run(
            [sys.executable, "-c", THIDUA, "outbox", "dispatch"],
            env=cli_env(settings), cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        held.release.set()
    thread.join(120)
    assert "error" not in out, out
    assert service.returncode == 0, service.stderr
    assert "Đã gửi: 0" in service.stdout
    assert out["result"]["emails"]["sent"] == 12
    counts = received_ids(smtp_server)
    assert len(counts) == 12 and set(counts.values()) == {1}
    engine.dispose()


# ---------------------------------------------------------------- item 9: a launch or close killed mid-send


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("command", ["launch", "close"])
def test_a_launch_or_close_killed_while_sending_finishes_its_sending_when_run_again(
    db_url: str, smtp_server: SmtpRecorder, tmp_path: Path, command: str
) -> None:
    # Issue 11 item 9: the killed run's claim (its lease counted from --as-of) kept a re-run with the same
    # --as-of from sending; only a real-time `thidua outbox dispatch` finished the job.
    from typer.testing import CliRunner

    from tests.factories import launch_campaign_rows
    from thidua.deploy.cli import app

    engine, settings = tuyen_quang(db_url, smtp_server, tmp_path)
    if command == "launch":
        args = ["campaign", "launch", str(TQ_DEFINITION), "--as-of", "05/01/2024"]
    else:
        launch_campaign_rows(engine)
        args = ["close", "TQ-2024-GIAM-AN", "--as-of", "16/12/2024"]
    held = smtp_server.gate("MAIL", passing=4)  # four of the twelve emails are in when the kill comes
    env = cli_env(settings, PREFECT_API_URL=_harness_api_url())
    kill_at(held, args, env, tmp_path)
    assert len(smtp_server.received) == 4

    again = CliRunner().invoke(app, args, env={k: v for k, v in env.items() if k.startswith("THIDUA_")})
    assert again.exit_code == 0, again.output
    counts = received_ids(smtp_server)
    assert len(counts) == 12
    assert sum(n - 1 for n in counts.values()) <= RECORD_EVERY  # sent and not yet recorded when killed
    with engine.connect() as conn:
        assert set(conn.scalars(select(C.status))) == {OutboxStatus.SENT}
    engine.dispose()
