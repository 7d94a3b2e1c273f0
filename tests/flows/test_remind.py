"""The reminder flow with real Prefect runs and a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import SmtpRecorder, _sqlite_url
from tests.factories import at, launch_campaign_rows, load_demo_directory, task_runs
from thidua.flows.remind import remind_flow
from thidua.models.db import make_engine
from thidua.models.outbox import OutboxMessage
from thidua.models.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")
CODE = "TQ-2024-GIAM-AN"


def _outbox_rows(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    engine.dispose()
    return int(count)


def test_the_remind_flow_sends_each_due_reminder_once_and_a_dry_run_changes_nothing(
    tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()

    dry = remind_flow(CODE, at("31/01/2024", 8, 5), settings, dry_run=True)
    assert dry["dry_run"] and len(dry["planned"]) == 8
    assert _outbox_rows(db_url) == 0 and smtp_server.received == []

    connections = smtp_server.connections  # aiosmtpd's own readiness probe counts as one
    state = remind_flow(CODE, at("31/01/2024", 8, 5), settings, return_state=True)
    summary = state.result()
    assert summary["queue"]["queued"] == 8 and summary["emails"]["sent"] == 8
    assert len(smtp_server.received) == 8 and smtp_server.connections == connections + 1  # one session
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None and task_runs(flow_run_id) == 3  # plan, queue, dispatch: fixed

    again = remind_flow(CODE, at("31/01/2024", 16), settings)
    assert again["queue"]["queued"] == 0 and len(smtp_server.received) == 8

    holiday = remind_flow(CODE, at("10/02/2024", 9), settings)  # Tết
    assert holiday["as_of"] is None and holiday["queue"]["queued"] == 0


def _queued(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.dedupe_key, OutboxMessage.recipient)).all()
    engine.dispose()
    return sorted((str(key), str(to)) for key, to in rows)


def test_a_range_sweep_queues_what_the_daily_sweeps_would_in_one_flow_run_of_two_tasks(
    tmp_path: Path, sqlite_template: Path
) -> None:
    urls = []
    for name in ("daily", "range"):
        (tmp_path / name).mkdir()
        urls.append(_sqlite_url(sqlite_template, tmp_path / name))
    settings = [
        Settings(data_dir=tmp_path / name / "data", database_url=url)
        for name, url in zip(("daily", "range"), urls, strict=True)
    ]
    for url in urls:
        engine = make_engine(url)
        load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
        launch_campaign_rows(engine)
        engine.dispose()
    # 24/01 to 07/02/2024: "before" reminders, the due date, overdue reminders, the digest, a weekend.
    days = ["24/01/2024", "25/01/2024", "26/01/2024", "29/01/2024", "30/01/2024", "31/01/2024", "01/02/2024",
            "02/02/2024", "05/02/2024", "06/02/2024", "07/02/2024"]  # fmt: skip
    daily = [remind_flow(CODE, at(day, 8, 5), settings[0])["queue"]["queued"] for day in days]

    state = remind_flow(CODE, at(days[0], 8, 5), settings[1], until=at(days[-1], 8, 5), return_state=True)
    summary = state.result()
    assert [day["queue"]["queued"] for day in summary["days"]] == daily and sum(daily) > 8
    assert summary["queue"]["queued"] == sum(daily) and summary["emails"]["sent"] == sum(daily)
    assert _queued(urls[1]) == _queued(urls[0])
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None and task_runs(flow_run_id) == 2  # the sweeps, the dispatch: fixed

    again = remind_flow(CODE, at(days[0], 8, 5), settings[1], until=at(days[-1], 8, 5))
    assert again["queue"]["queued"] == 0 and _queued(urls[1]) == _queued(urls[0])
