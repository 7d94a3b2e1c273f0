"""The early close: a campaign that allows it may close once every reporting unit's final report is in."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from prefect.events.schemas.events import Event
from sqlalchemy import Engine, insert, select, update
from sqlmodel import col

from tests.factories import (
    TQ_DEFINITION,
    VN,
    at,
    edited_definition,
    launch_campaign_rows,
    load_demo_directory,
)
from tests.tasks.collect.test_reports import filled
from tests.tasks.core.test_events import emitted, prefect_events  # noqa: F401  (a fixture)
from thidua.deploy.scheduler import campaign_job_specs, fires_within, load_snapshots
from thidua.models.campaign import Campaign, CampaignStatus, EnrolledUnit
from thidua.models.reporting import Exemption, Submission
from thidua.models.settings import Settings
from thidua.tasks.collect.collection import CampaignNotFound, final_reports_outstanding, may_close_early
from thidua.tasks.collect.reports import ingest_files
from thidua.tasks.core.events import CLOSE_EARLY_LABEL

CODE = "TQ-2024-GIAM-AN"


@pytest.fixture
def early(engine: Engine, tmp_path: Path) -> Engine:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    definition = edited_definition(
        tmp_path, TQ_DEFINITION, "close_early_when_complete: false", "close_early_when_complete: true"
    )
    launch_campaign_rows(engine, definition)
    return engine


def reporting_units(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.scalars(select(col(EnrolledUnit.unit_code)).where(col(EnrolledUnit.reports).is_(True)))
        )


def submit_final(engine: Engine, units: list[str], period: str = "final") -> None:
    with engine.begin() as conn:
        cid = conn.scalar(select(col(Campaign.id)).where(col(Campaign.code) == CODE))
        conn.execute(
            insert(Submission),
            [
                {
                    "campaign_id": cid,
                    "unit_code": unit,
                    "period_key": period,
                    "revision": 1,
                    "is_current": True,
                    "received_at": at("01/07/2024", 9),
                    "due_date": date(2024, 7, 3),
                    "on_time": True,
                    "is_correction": False,
                    "source_name": f"{unit}.xlsx",
                    "file_sha256": "0" * 64,
                    "values_json": json.dumps({"carried_over": 10, "arising": 0, "finished": 2}),
                    "officers_json": "[]",
                    "changes_json": "{}",
                }
                for unit in units
            ],
        )


def test_the_campaign_may_close_early_only_when_the_last_final_report_is_in(early: Engine) -> None:
    units = reporting_units(early)
    assert len(units) == 8
    assert final_reports_outstanding(early, CODE) == units
    submit_final(early, units[:-1])
    submit_final(early, units[-1:], period="2024-06")  # a June report is not the final report
    assert final_reports_outstanding(early, CODE) == units[-1:]
    assert may_close_early(early, CODE) is False
    submit_final(early, units[-1:])
    assert final_reports_outstanding(early, CODE) == []
    assert may_close_early(early, CODE) is True


def test_an_exempted_unit_does_not_hold_the_early_close_back(early: Engine) -> None:
    units = reporting_units(early)
    submit_final(early, units[1:])
    with early.begin() as conn:
        cid = conn.scalar(select(col(Campaign.id)).where(col(Campaign.code) == CODE))
        conn.execute(
            insert(Exemption).values(
                campaign_id=cid,
                unit_code=units[0],
                deadline_key="final",
                reason="Đơn vị sáp nhập",
                granted_by="tccb@thads-tuyenquang.example.vn",
                granted_at=at("02/07/2024"),
            )
        )
    assert may_close_early(early, CODE) is True


def test_a_campaign_that_does_not_allow_it_or_is_already_closed_never_closes_early(
    engine: Engine, tmp_path: Path
) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)  # the seed plan: close_early_when_complete false
    submit_final(engine, reporting_units(engine))
    assert final_reports_outstanding(engine, CODE) == []
    assert may_close_early(engine, CODE) is False
    with engine.begin() as conn:
        conn.execute(update(Campaign).values(status=CampaignStatus.CLOSED))
    assert may_close_early(engine, CODE) is False
    with pytest.raises(CampaignNotFound):
        may_close_early(engine, "KHONG-CO")


def test_the_embedded_scheduler_looks_every_ten_minutes_only_for_campaigns_that_allow_it(
    early: Engine,
) -> None:
    [snap] = load_snapshots(early)
    assert snap.close_early is True
    [job] = [s for s in campaign_job_specs(snap, VN) if s.kind == "close_early"]
    assert job.id == f"close-early:{CODE}" and job.func == "thidua.deploy.jobs:run_close_early"
    assert fires_within(job, at("15/05/2024", 10, 1), at("15/05/2024", 10, 11))
    # Not after the regular close has run (the morning after the last report due date, 04/07 07:30).
    assert not fires_within(job, at("04/07/2024", 7, 31), at("10/07/2024"))
    plain = replace(snap, close_early=False)
    assert [s for s in campaign_job_specs(plain, VN) if s.kind == "close_early"] == []


def test_only_the_report_that_completes_the_final_reports_carries_the_close_early_label(
    early: Engine,
    tmp_path: Path,
    prefect_events: list[Event],  # noqa: F811  (the imported fixture)
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=str(early.url))
    units = reporting_units(early)
    for unit in units:
        path = filled(early, tmp_path, f"{unit}.xlsx", {"carried_over": 20, "arising": 5, "finished": 4},
                      unit=unit, period="final")  # fmt: skip
        [result] = ingest_files(early, settings, CODE, [path], now=at("01/07/2024", 9))
        assert result.status == "accepted", result.errors

    accepted = [e for e in emitted(prefect_events) if e.event == "thidua.report.accepted"]
    assert [e.related[0].id for e in accepted] == [f"thidua.unit.{u}" for u in units]
    labelled = [e for e in accepted if e.resource.get(CLOSE_EARLY_LABEL) == "true"]
    assert [e.related[0].id for e in labelled] == [f"thidua.unit.{units[-1]}"]
