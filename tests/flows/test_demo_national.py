"""The national demo (seed 000) end to end on SQLite, with real Prefect flow runs and the .eml outbox: 534
units, ~10,000 staff, the 34 provinces reporting from a case ledger (50,000 cases here; the command line uses
the full 1,000,000), the close, 105 nominations, the Cục's council, the Cục trưởng's decision and the
Minister's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from tests.factories import at
from thidua.deploy.demo.national import (
    BANG_KHEN,
    GIAY_KHEN,
    MISSING,
    STAGE_LABELS,
    TOP_PROVINCES,
    run_national_demo,
)
from thidua.models.campaign import Campaign, CampaignStatus, DomainEvent
from thidua.models.db import make_engine
from thidua.models.outbox import OutboxMessage
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    BallotCast,
    DecisionStatus,
    EligibilityResult,
    Nomination,
    NominationStatus,
    ReviewOutcome,
    ReviewResult,
)
from thidua.models.settings import Settings

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]  # ~2 minutes

TEST_LEDGER_ROWS = 50_000  # the ledger's size changes the figures, not the path through the flows


def test_the_national_campaign_runs_from_launch_to_the_ministers_decision(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, smtp_host="")
    lines: list[str] = []

    # The reminder sweeps run as plain calls of the remind flow's steps: the remind flow has its own tests.
    log = run_national_demo(
        settings, as_of=at("25/02/2026"), ledger_rows=TEST_LEDGER_ROWS, echo=lines.append, remind_flows=False
    )

    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        status = conn.execute(select(col(Campaign.status))).scalar_one()
        decisions = {d.award_key: d for d in conn.execute(select(AwardDecision)).all()}
        grants = conn.execute(select(AwardGrant)).all()
        nominations = conn.execute(select(Nomination)).all()
        eligibility = dict(
            conn.execute(select(col(EligibilityResult.nomination_id), col(EligibilityResult.eligible))).all()
        )
        results = dict(conn.execute(select(col(ReviewResult.nomination_id), col(ReviewResult.outcome))).all())
        ballots = conn.execute(select(func.count()).select_from(BallotCast)).scalar_one()
        proposed = conn.execute(
            select(col(DomainEvent.subject)).where(col(DomainEvent.kind) == "decision.proposed")
        ).all()
        emails = dict(
            conn.execute(
                select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
            ).all()
        )
        award_emails = conn.execute(
            select(func.count()).where(col(OutboxMessage.kind) == "award_issued")
        ).scalar_one()
    engine.dispose()

    # National size: the whole directory enrolled under the Bộ, a province's report per period.
    assert (log.launch["units"], log.ledger_rows) == (532, TEST_LEDGER_ROWS)
    assert log.launch["people"] > 10_000
    assert [m.period for m in log.months] == ["2026-02", "2026-03", "2026-04", "2026-05", "final"]
    april = log.months[2]
    assert april.missing == [unit for unit, period in MISSING if period == "2026-04"]
    assert april.accepted + len(april.late) + len(april.missing) == 34
    assert log.collect_runs == 5 and 0 < log.remind_runs < log.sweeps
    assert log.close["status"] == "closed"

    # Nominations: every province with two people, two Ban of the Cục; incomplete dossiers fail the screening.
    assert len(nominations) == 34 * 3 + 3 == sum(log.nominated.values())
    assert log.nominated[BANG_KHEN] == TOP_PROVINCES * 3 + 1
    incomplete = {n.subject_code for n in nominations if n.status == NominationStatus.INCOMPLETE}
    assert incomplete == {
        log.no_minutes,
        f"{log.no_minutes}-01",
        f"{log.no_minutes}-02",
        f"{log.late_dossier}-02",
    }
    assert {n.id for n in nominations if not eligibility[n.id]} == {
        n.id for n in nominations if n.subject_code in incomplete
    }

    # The council: every present member (and the absent one in writing) on every eligible nominee, but
    # CQL-NV's head on his own Ban; more than half of all nine members needed.
    eligible = [nid for nid, ok in eligibility.items() if ok]
    assert set(results) == set(eligible)
    assert [r.split(":")[0] for r in log.refused] == ["CQL-NV-01 → CQL-NV"]
    assert ballots == log.ballots == 9 * len(eligible) - len(log.refused)
    by_code = {n.subject_code: n.id for n in nominations}
    assert results[by_code[log.not_approved]] == ReviewOutcome.NOT_APPROVED
    selected = {nid for nid, outcome in results.items() if outcome == ReviewOutcome.SELECTED}
    assert len(selected) == len(eligible) - 1 and log.ties == 0

    # Awards: the Tờ trình took number 01 of the Cục's 2026 register and the Cục trưởng's decision the next;
    # the Bộ's decision recorded on the proposal; one grant, certificate and email per selected nominee.
    assert status == CampaignStatus.AWARDED
    giay, bang = decisions[GIAY_KHEN], decisions[BANG_KHEN]
    assert (giay.authority_unit_code, giay.number, giay.symbol, giay.year) == ("CQL", 2, "QĐ-CQL", 2026)
    assert proposed == [("01/TTr-CQL",)]
    assert (bang.authority_unit_code, bang.number, bang.symbol, bang.status) == (
        "BTP",
        1234,
        "QĐ-BTP",
        DecisionStatus.ISSUED,
    )
    assert {g.nomination_id for g in grants} == selected
    assert {g.decision_id for g in grants if g.nomination_id in _ids(nominations, BANG_KHEN)} == {bang.id}
    for grant in grants:
        assert grant.certificate_path is not None
        pdf = settings.data_dir / grant.certificate_path
        assert pdf.read_bytes()[:5] == b"%PDF-"
    assert award_emails == len(grants)
    assert emails == {"sent": sum(emails.values())}
    assert len(list(settings.outbox_dir.glob("*.eml"))) == emails["sent"]

    # The account: every stage timed, the documents and the emails shown.
    assert list(log.seconds) == list(STAGE_LABELS)
    account = "\n".join(lines)
    assert "Quyết định số 1234/QĐ-BTP ngày 10/07/2026" in account
    assert "Quyết định số 02/QĐ-CQL ngày 26/06/2026" in account
    assert str(settings.outbox_dir) in account
    assert all(label in account for label in STAGE_LABELS.values())
    assert (settings.data_dir / log.close["documents"]["report"]).is_file()


def _ids(nominations: list[Nomination], award_key: str) -> set[int]:
    return {n.id for n in nominations if n.award_key == award_key and n.id is not None}
