"""A report accepted while its reminder is already claimed by a dispatcher cancels it: the dispatcher looks
again before sending and leaves it (SQLite and PostgreSQL, real SMTP server)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import col

from tests.conftest import SmtpRecorder
from tests.factories import at, launch_campaign_rows, load_demo_directory
from tests.tasks.remind.test_reminders import ALL, _addr, _received, _settings, _submit, _sweep
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.notifications.outbox import DispatchResult, claim, dispatch
from thidua.notifications.transports import RawMessage, SmtpTransport


def _statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {
            key.split(":")[3]: status
            for key, status in conn.execute(
                select(col(OutboxMessage.dedupe_key), col(OutboxMessage.status)).where(
                    col(OutboxMessage.kind) == "reminder"
                )
            )
        }


def test_a_report_accepted_while_its_reminder_is_claimed_keeps_it_from_being_sent(
    engine: Engine, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    settings = _settings(tmp_path, engine, smtp_server)
    _sweep(engine, settings, at("31/01/2024"), send=False)  # eight before-5 reminders queued

    class AcceptsAReportMeanwhile(SmtpTransport):
        submitted = False

        def send_raw(self, message: RawMessage) -> None:
            super().send_raw(message)
            if not self.submitted:  # Yên Sơn's report arrives while the batch is going out
                self.submitted = True
                _submit(engine, settings, "TQ-YS", "2024-01", at("31/01/2024", 8, 1), tmp_path)

    result = dispatch(
        engine,
        settings,
        clock=lambda: at("31/01/2024", 8, 1),
        worker_id="a",
        transport=AcceptsAReportMeanwhile(settings),
        record_every=2,
    )
    assert result == DispatchResult(sent=7, skipped=1)
    assert _received(smtp_server, 0) == {("before", a) for a in ALL - _addr("yenson")}
    statuses = _statuses(engine)
    assert statuses.pop("TQ-YS") == OutboxStatus.CANCELLED
    assert set(statuses.values()) == {OutboxStatus.SENT}


def test_a_claim_left_by_a_crashed_dispatcher_is_cancelled_by_the_report_and_never_sent(
    engine: Engine, tmp_path: Path, smtp_server: SmtpRecorder
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    settings = _settings(tmp_path, engine, smtp_server)
    _sweep(engine, settings, at("31/01/2024"), send=False)
    _token, claimed = claim(engine, now=at("31/01/2024", 8, 1), worker_id="crashed", batch_size=50)
    assert len(claimed) == 8  # ... and that dispatcher dies
    _submit(engine, settings, "TQ-SD", "2024-01", at("31/01/2024", 9), tmp_path)
    assert _statuses(engine)["TQ-SD"] == OutboxStatus.CANCELLED
    assert dispatch(engine, settings, clock=lambda: at("31/01/2024", 9, 30), worker_id="b") == DispatchResult(
        sent=7
    )
    assert _received(smtp_server, 0) == {("before", a) for a in ALL - _addr("sonduong")}
