"""The collection flow with real files, a real SMTP server and real Prefect runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import SmtpRecorder
from tests.factories import NATIONAL_DEFINITION, at, launch_campaign_rows, load_demo_directory, task_runs
from thidua.deploy.demo.months import fill_template
from thidua.flows.collect import collect_flow
from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.db import ensure_schema, make_engine
from thidua.models.reporting import ProgressSnapshot, Submission
from thidua.models.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")
CODE = "TQ-2024-GIAM-AN"


def _snapshots(url: str) -> list[tuple[str, str, str, str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ProgressSnapshot.period_key,
                ProgressSnapshot.subject_kind,
                ProgressSnapshot.subject_code,
                ProgressSnapshot.values_json,
                ProgressSnapshot.indicators_json,
            ).order_by(
                ProgressSnapshot.period_key, ProgressSnapshot.subject_kind, ProgressSnapshot.subject_code
            )
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_collection_ingests_the_inbox_computes_snapshots_and_a_second_run_changes_nothing(
    tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    inbox = settings.inbox_dir / CODE
    inbox.mkdir(parents=True)
    good = {"carried_over": 40, "arising": 10, "finished": 6}
    fill_template(engine, CODE, "TQ-YS", "2024-01", inbox / "yen-son.xlsx", good, {})
    bad = {"carried_over": 20, "arising": 5, "finished": 31}  # finished > carried over + arising
    fill_template(engine, CODE, "TQ-SD", "2024-01", inbox / "son-duong.xlsx", bad, {})

    first = collect_flow(CODE, at("08/02/2024", 7), settings)

    assert first["inbox"]["accepted"] == 1 and first["inbox"]["rejected"] == 1
    assert (inbox / "processed" / "yen-son.xlsx").is_file()
    assert (inbox / "rejected" / "son-duong.xlsx").is_file()
    assert (inbox / "rejected" / "son-duong.xlsx.errors.txt").read_text(encoding="utf-8").strip()
    assert first["current_period"] == "2024-01"
    timeliness = first["timeliness"]
    assert (timeliness["expected"], timeliness["received"], timeliness["on_time"]) == (8, 1, 0)
    assert "TQ-SD" in timeliness["missing"]
    rejected_mail = [m for m in smtp_server.received if "sonduong" in " ".join(m.rcpt_tos).replace("-", "")]
    assert len(smtp_server.received) == 1 and rejected_mail
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.status)).scalar_one() == CampaignStatus.COLLECTING
        assert conn.execute(select(func.count()).select_from(Submission)).scalar_one() == 1
    snapshots = _snapshots(db_url)
    root = next(s for s in snapshots if s[0] == "2024-01" and s[1] == "unit" and s[2] == "TQ")
    assert json.loads(root[3]) == good  # the province's figures are the sum of what its units reported

    second = collect_flow(CODE, at("08/02/2024", 8), settings)

    assert second["inbox"]["accepted"] == 0 and second["inbox"]["rejected"] == 0
    assert len(smtp_server.received) == 1
    assert _snapshots(db_url) == snapshots
    engine.dispose()


def test_task_runs_per_collection_do_not_grow_with_the_number_of_units(tmp_path: Path) -> None:
    counts = []
    for name, definition, code, moment in (
        ("tuyen-quang-2024", None, CODE, at("08/02/2024", 7)),
        ("national-2026", NATIONAL_DEFINITION, None, at("10/04/2026", 7)),
    ):
        url = f"sqlite:///{tmp_path / name}.db"
        engine = make_engine(url)
        ensure_schema(engine)
        load_demo_directory(engine, name, tmp_path, now=at("02/01/2024"))
        if definition is None:
            launch_campaign_rows(engine)
        else:
            launch_campaign_rows(engine, definition, now=at("26/02/2026", 9))
        with engine.connect() as conn:
            code = code or conn.execute(select(Campaign.code)).scalar_one()
        engine.dispose()
        settings = Settings(data_dir=tmp_path / name, database_url=url)
        state = collect_flow(code, moment, settings, return_state=True)
        assert state.is_completed()
        counts.append(task_runs(state.state_details.flow_run_id))
    assert counts[0] == counts[1]


def test_before_the_first_due_date_a_run_reports_on_the_period_in_progress(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()

    january = collect_flow(CODE, at("20/01/2024", 7), settings)
    february = collect_flow(CODE, at("15/02/2024", 7), settings)

    assert january["current_period"] == "2024-01"
    assert january["timeliness"]["missing"] == [] and len(january["timeliness"]["pending"]) == 8
    assert january["periods"] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06", "final"]
    assert february["current_period"] == "2024-01"  # January is due (07/02) and not yet superseded
