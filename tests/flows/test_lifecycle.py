"""The Tuyên Quang campaign (seed 003) from its monthly reports to the award decision, with real Prefect flow
runs for the close, review and award stages and a real SMTP server: the seed's rules end to end."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlmodel import col
from typer.testing import CliRunner

from tests.conftest import SmtpRecorder
from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.deploy.cli import app
from thidua.deploy.demo.months import run_months
from thidua.deploy.demo.review import TIE_REASON, print_account, review_outcomes, run_review
from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.db import make_engine
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    EligibilityResult,
    Nomination,
    NominationStatus,
    ReviewOutcome,
    ReviewResult,
)
from thidua.models.settings import Settings
from thidua.tasks.collect.collection import start_collection
from thidua.tasks.collect.progress import compute_all_snapshots
from thidua.tasks.collect.reports import process_inbox

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

CODE = "TQ-2024-GIAM-AN"


def collect_without_prefect(engine: Engine, settings: Settings) -> Any:
    """The collection flow's steps as plain calls: the months are not what this test is about."""

    def collect(moment: datetime) -> dict[str, Any]:
        plan = start_collection(engine, CODE, now=moment, today=moment.astimezone(settings.tz).date())
        process_inbox(engine, settings, plan.code, now=moment)
        compute_all_snapshots(engine, plan.code, plan.periods, now=moment)
        return {}

    return collect


def demo_months(settings: Settings, tmp_path: Path) -> Engine:
    """The demo's directory, launch and months (reports from the demo ledger) on the settings' database."""
    engine = make_engine(settings.database_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    run_months(settings, engine, CODE, collect_without_prefect(engine, settings), lambda _line: None)
    return engine


def screening(engine: Engine) -> dict[str, tuple[bool, list[dict[str, Any]]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                col(Nomination.subject_code),
                col(EligibilityResult.eligible),
                col(EligibilityResult.reasons_json),
            ).join(EligibilityResult, col(EligibilityResult.nomination_id) == col(Nomination.id))
        ).all()
    return {code: (bool(ok), json.loads(reasons)) for code, ok, reasons in rows}


def failed_rules(reasons: list[dict[str, Any]]) -> set[str]:
    return {r["rule"] for r in reasons if not r["passed"]}


def test_the_seed_003_campaign_runs_from_reports_to_the_award_decision(
    tmp_path: Path, db_url: str, smtp_server: SmtpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    engine = demo_months(settings, tmp_path)
    lines: list[str] = []

    log = run_review(settings, engine, CODE, lines.append)

    # Eligibility, with the plan's window 01/10/2023 – 30/06/2024 (both ends inclusive).
    screened = screening(engine)
    assert screened["TQ-YS"][0] is True  # TQ-YS-04's reprimand of 30/09/2023 is one day before the window
    assert screened["TQ-SD"][0] is False and failed_rules(screened["TQ-SD"][1]) == {"clean_members"}
    assert any("01/10/2023" in r["reason"] for r in screened["TQ-SD"][1] if not r["passed"])
    assert failed_rules(screened["TQ-CH"][1]) == {"clean_members"}  # TQ-CH-07, 12/03/2024
    assert failed_rules(screened["TQ-CH-07"][1]) == {"discipline_window"}
    # The head is clean himself, but his unit is not (and he carries no cases of his own).
    assert failed_rules(screened["TQ-CH-01"][1]) == {"unit_head", "indicator"}
    with engine.connect() as conn:
        status = dict(conn.execute(select(col(Nomination.subject_code), col(Nomination.status))).all())
        late = conn.execute(select(col(Nomination.is_late)).where(col(Nomination.subject_code) == "TQ-LB-04"))
        assert late.scalar_one() is True
    assert status["TQ-NH"] == NominationStatus.INCOMPLETE  # no Biên bản
    assert status["TQ-LB-04"] == NominationStatus.INCOMPLETE  # sent after 03/07: kept, marked, not reviewed
    assert status["TQ-TP"] == NominationStatus.COMPLETE

    # The Tổng hợp kết quả the system drafted on 02/07, before the close froze the figures, carries the
    # figures of the units' final reports.
    [summary] = (settings.data_dir / "dossiers" / CODE / "TQ-TP").glob("tong_hop_ket_qua-*.xlsx")
    rows = list(load_workbook(summary).worksheets[0].iter_rows(values_only=True))
    assert [r[1:3] + r[6:9] for r in rows if r[1] == "TQ-TP"] == [
        ("TQ-TP", "Chi cục Thi hành án dân sự thành phố Tuyên Quang", 24, 18, 11)
    ]

    # The council: 2 collectives and 3 individuals, Chấp hành viên first, the tie left to the chair.
    assert log.meeting_id is not None
    outcomes = review_outcomes(engine, log.meeting_id)
    selected = {code for code, outcome in outcomes.items() if outcome == ReviewOutcome.SELECTED}
    assert selected == {"TQ-TP", "TQ-NV", "TQ-SD-08", "TQ-TP-05", "TQ-HY-03"}
    assert outcomes["TQ-YS"] == ReviewOutcome.OVER_QUOTA  # 18,18% after 26,19% and 22,22%
    assert outcomes["TQ-TP-06"] == ReviewOutcome.OVER_QUOTA
    assert outcomes["TQ-YS-07"] == ReviewOutcome.NOT_APPROVED  # 4 of 9, more than half needed
    assert [r.split(":")[0] for r in log.refused] == ["TQ-NV-01 → TQ-NV"]  # his own unit
    with engine.connect() as conn:
        tie_reasons = set(conn.execute(select(col(ReviewResult.tie_reason))).scalars()) - {None}
    assert tie_reasons == {TIE_REASON}
    assert log.minutes is not None and log.minutes.is_file()

    # The decision of 19/07/2024: number 01 of the Cục this year, the money at 2,340,000 VND base salary.
    with engine.connect() as conn:
        [decision] = conn.execute(select(AwardDecision)).all()
        grants = {g.subject_code: g.amount_vnd for g in conn.execute(select(AwardGrant)).all()}
        campaign_status = conn.execute(select(col(Campaign.status))).scalar_one()
    assert (decision.number, decision.symbol, decision.year) == (1, "QĐ-CTHADS", 2024)
    assert grants == {
        "TQ-TP": 1_410_000,  # 0.6 × 2,340,000 = 1,404,000, rounded up to 10,000
        "TQ-NV": 1_410_000,
        "TQ-SD-08": 710_000,  # 0.3 × 2,340,000 = 702,000, rounded up
        "TQ-TP-05": 710_000,
        "TQ-HY-03": 710_000,
    }
    assert campaign_status == CampaignStatus.AWARDED
    account: list[str] = []
    print_account(settings, engine, CODE, account.append)
    assert f"   Phong trào {CODE}: trạng thái “Đã khen thưởng”." in account  # the label, not the stored key
    prefix = "[Thi đua] Quyết định số 01/QĐ-CTHADS tặng "
    award_mails = [m.message for m in smtp_server.received if m.message["Subject"].startswith(prefix)]
    assert len(award_mails) == 5  # one per awardee, to its unit
    attached = {part.get_filename() for m in award_mails for part in m.iter_attachments()}
    assert {name.rsplit(".", 1)[-1] for name in attached} >= {"pdf", "docx"}

    # Running the stages again from the command line changes nothing and sends nothing.
    received = len(smtp_server.received)
    monkeypatch.setenv("THIDUA_DATABASE_URL", db_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(settings.data_dir))
    for key, value in smtp_server.settings_overrides().items():
        monkeypatch.setenv(f"THIDUA_{key.upper()}", str(value))
    runner = CliRunner()

    reviewed = runner.invoke(app, ["review", CODE, "--as-of", "20/07/2024 09:00"])
    issued = runner.invoke(app, ["award", "run", CODE, "--date", "19/07/2024", "--as-of", "20/07/2024 09:00"])

    assert reviewed.exit_code == 0, reviewed.output
    assert f"Phong trào {CODE}: Đã khen thưởng." in reviewed.output
    assert issued.exit_code == 0, issued.output
    assert "Quyết định số 01/QĐ-CTHADS ngày 19/07/2024" in issued.output and "đã có từ trước" in issued.output
    assert "Thư đã gửi: 0" in issued.output and len(smtp_server.received) == received
    with engine.connect() as conn:
        assert len(conn.execute(select(AwardDecision)).all()) == 1
    engine.dispose()
