"""The reminder sweep records period.opened and deadline.passed (SQLite and PostgreSQL): once each, with the
units still owing, caught up after downtime, not duplicated by concurrent sweeps, handed to Prefect."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from prefect.events.schemas.events import Event
from sqlalchemy import Engine, func, select
from sqlmodel import col

from tests.factories import at, at_once, launch_campaign_rows, load_demo_directory
from tests.tasks.core.test_events import emitted, prefect_events  # noqa: F401  (the fixture)
from tests.tasks.remind.test_reminders import CODE, _submit
from thidua.models.campaign import DomainEvent
from thidua.models.db import make_engine, transaction
from thidua.models.settings import Settings
from thidua.tasks.core.events import DEADLINE_PASSED, PERIOD_OPENED
from thidua.tasks.remind.reminders import due_calendar_events, plan_reminders, queue_reminders

REPORTING = ["TQ-CH", "TQ-HY", "TQ-LB", "TQ-NH", "TQ-NV", "TQ-SD", "TQ-TP", "TQ-YS"]


@pytest.fixture
def campaign(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    return launch_campaign_rows(engine)


def _settings(tmp_path: Path, engine: Engine) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=engine.url.render_as_string(False), smtp_host="")


def _sweep(engine: Engine, settings: Settings, stamp: str, hour: int = 8) -> dict[str, int]:
    now = at(stamp, hour)
    return queue_reminders(engine, settings, plan_reminders(engine, CODE, now), now=now)


def _events(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with transaction(engine) as s:
        rows = s.execute(
            select(col(DomainEvent.kind), col(DomainEvent.payload_json))
            .where(col(DomainEvent.kind).in_([PERIOD_OPENED, DEADLINE_PASSED]))
            .order_by(col(DomainEvent.id))
        ).all()
    return [(kind, json.loads(p)["deadline"], json.loads(p)) for kind, p in rows]


def _keys(engine: Engine) -> list[tuple[str, str]]:
    return sorted((kind, key) for kind, key, _p in _events(engine))


def test_a_sweep_records_the_periods_opened_and_the_deadline_passed_once_each(
    engine: Engine, campaign: int, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, engine)
    _submit(engine, settings, "TQ-YS", "2024-01", at("06/02/2024", 7), tmp_path)
    # 08/02/2024 is in Tết: no email goes out, but the January report (due 07/02) has passed all the same.
    assert _sweep(engine, settings, "08/02/2024")["events"] == 3
    assert _keys(engine) == [
        (DEADLINE_PASSED, "2024-01"),
        (PERIOD_OPENED, "2024-01"),  # accepted from 02/01/2024, the campaign's first day
        (PERIOD_OPENED, "2024-02"),  # accepted from 01/02/2024: the reported month's first day
    ]
    passed = next(p for kind, _k, p in _events(engine) if kind == DEADLINE_PASSED)
    assert passed == {
        "deadline": "2024-01",
        "label": "Báo cáo tháng 01/2024",
        "due_date": "2024-02-07",
        "owing": [u for u in REPORTING if u != "TQ-YS"],
    }
    assert _sweep(engine, settings, "08/02/2024", 15)["events"] == 0  # the same day again: nothing new
    assert _sweep(engine, settings, "09/02/2024")["events"] == 0
    assert len(_events(engine)) == 3


def test_after_downtime_each_missed_event_is_recorded_once_with_who_still_owes(
    engine: Engine, campaign: int, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, engine)
    assert _sweep(engine, settings, "31/01/2024")["events"] == 1  # January's period only
    _submit(engine, settings, "TQ-HY", "2024-02", at("05/03/2024", 7), tmp_path)
    # Down from 01/02 to 10/04: the first sweep back catches up February to April.
    assert _sweep(engine, settings, "10/04/2024")["events"] == 6
    assert _keys(engine) == sorted(
        [(PERIOD_OPENED, f"2024-0{m}") for m in (1, 2, 3, 4)]
        + [(DEADLINE_PASSED, "2024-01"), (DEADLINE_PASSED, "2024-02"), (DEADLINE_PASSED, "2024-03")]
    )
    owing = {k: p["owing"] for kind, k, p in _events(engine) if kind == DEADLINE_PASSED}
    assert owing == {
        "2024-01": REPORTING,
        "2024-02": [u for u in REPORTING if u != "TQ-HY"],
        "2024-03": REPORTING,
    }
    assert _sweep(engine, settings, "11/04/2024")["events"] == 0


def test_the_final_report_and_the_dossier_pass_on_the_day_after_03_07(
    engine: Engine, campaign: int, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, engine)
    _sweep(engine, settings, "03/07/2024")
    assert (DEADLINE_PASSED, "final") not in _keys(engine)
    _sweep(engine, settings, "04/07/2024")
    keys = _keys(engine)
    assert {(DEADLINE_PASSED, k) for k in ("2024-06", "final", "dossier")} <= set(keys)
    assert (PERIOD_OPENED, "final") in keys and (PERIOD_OPENED, "dossier") not in keys  # no period
    assert (
        len(keys) == len(set(keys)) == 7 + 8
    )  # periods Jan–Jun + final; deadlines Jan–Jun + final + dossier


def test_the_decision_is_pure_and_counts_the_end_of_the_due_date() -> None:
    deadlines = [
        ("2024-03", "Báo cáo tháng 03/2024", date(2024, 1, 2), date(2024, 3, 31), date(2024, 4, 5)),
        ("dossier", "Hồ sơ", None, None, date(2024, 7, 3)),
    ]
    owed = {("2024-03", "TQ-LB"), ("2024-03", "TQ-CH"), ("dossier", "TQ-LB")}
    assert due_calendar_events(deadlines, owed, date(2024, 2, 29)) == []
    assert [(e.kind, e.deadline_key) for e in due_calendar_events(deadlines, owed, date(2024, 4, 5))] == [
        (PERIOD_OPENED, "2024-03")
    ]
    after = due_calendar_events(deadlines, owed, date(2024, 4, 6))
    assert [(e.kind, e.payload.get("owing")) for e in after] == [
        (PERIOD_OPENED, None),
        (DEADLINE_PASSED, ["TQ-CH", "TQ-LB"]),
    ]


def test_the_events_reach_prefect_after_the_sweep_commits(
    engine: Engine,
    campaign: int,
    tmp_path: Path,
    prefect_events: list[Event],  # noqa: F811
) -> None:
    _sweep(engine, _settings(tmp_path, engine), "08/02/2024")
    got = emitted(prefect_events)
    assert sorted(e.event for e in got) == [
        "thidua.deadline.passed",
        "thidua.period.opened",
        "thidua.period.opened",
    ]
    assert {e.resource.id for e in got} == {f"thidua.campaign.{CODE}"}
    passed = next(e for e in got if e.event == "thidua.deadline.passed")
    assert passed.payload["deadline"] == "2024-01" and passed.payload["owing"] == REPORTING


@pytest.mark.postgres
def test_two_concurrent_sweeps_on_postgresql_record_each_event_once(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, smtp_host="")
    now = at("10/04/2024")
    plans = [plan_reminders(engine, CODE, now) for _ in range(3)]
    results = at_once(lambda i: queue_reminders(engine, settings, plans[i], now=now), 3)
    assert sorted(r["events"] for r in results) == [0, 0, 7]
    with engine.connect() as conn:
        kinds = col(DomainEvent.kind).in_([PERIOD_OPENED, DEADLINE_PASSED])
        assert conn.execute(select(func.count()).where(kinds)).scalar_one() == 7
    engine.dispose()
