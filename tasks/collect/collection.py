"""Collection bookkeeping: which periods a run covers, the move to "collecting", the run record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.errors import CampaignNotFound, Conflict
from thidua.models.campaign import Campaign, CampaignStatus, Deadline, DeadlineKind, EnrolledUnit
from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition, definition_from_json
from thidua.models.reporting import Exemption, Submission
from thidua.tasks.core.campaigns import get_campaign, transition
from thidua.tasks.core.events import record_event


class CampaignNotCollecting(Conflict):
    """The campaign is in a state where reports are no longer (or not yet) collected."""


@dataclass(frozen=True)
class CollectionPlan:
    campaign_id: int
    code: str
    definition: CampaignDefinition
    periods: list[str]  # every reporting period that has started by the run's date, oldest first
    current_period: str | None  # the one the run reports on: the latest already due, else the latest started


def start_collection(engine: Engine, code: str, *, now: datetime, today: date) -> CollectionPlan:
    """Find the campaign and the periods to compute; the first run moves a launched campaign to collecting."""
    with transaction(engine) as s:
        campaign = get_campaign(s, code)
        if campaign.status == CampaignStatus.DRAFT:
            raise CampaignNotCollecting(
                f"Phong trào “{campaign.code}” chưa được phát động.",
                hint="Phát động phong trào trước: `thidua campaign launch TỆP_KẾ_HOẠCH`.",
            )
        if campaign.status == CampaignStatus.LAUNCHED:
            transition(s, campaign, CampaignStatus.COLLECTING, now=now, actor="collect")
        assert campaign.id is not None
        deadlines = s.scalars(
            select(Deadline)
            .where(col(Deadline.campaign_id) == campaign.id)
            .where(col(Deadline.kind).in_([DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT]))
            .order_by(col(Deadline.due_date), col(Deadline.key))
        ).all()
        started = [d for d in deadlines if d.period_start is None or d.period_start <= today]
        due = [d for d in started if d.due_date <= today]
        # Every cumulative period starts on the campaign's first day: before the first due date the run
        # reports on the period in progress (the earliest not yet ended), not on the last one.
        in_progress = [d for d in started if d.period_end is None or d.period_end >= today]
        current = due[-1] if due else (in_progress[0] if in_progress else (started[-1] if started else None))
        return CollectionPlan(
            campaign_id=campaign.id,
            code=campaign.code,
            definition=definition_from_json(campaign.definition_json),
            periods=[d.key for d in started],
            current_period=current.key if current else None,
        )


def record_collection(
    engine: Engine, plan: CollectionPlan, summary: dict[str, object], *, now: datetime
) -> None:
    with transaction(engine) as s:
        record_event(s, campaign_id=plan.campaign_id, kind="collection.completed", now=now, payload=summary)


FINAL_KEY = "final"


def final_reports_outstanding(engine: Engine, code: str) -> list[str]:
    """Reporting units that owe the final report: neither a report (on time or late) nor an exemption."""
    with Session(engine) as s:
        campaign_id = get_campaign(s, code).id
        assert campaign_id is not None
        return outstanding_final_reports(s, campaign_id)


def outstanding_final_reports(s: Session, campaign_id: int) -> list[str]:
    """The same, inside the caller's transaction (what it has flushed counts)."""
    expected = set(
        s.scalars(
            select(col(EnrolledUnit.unit_code)).where(
                col(EnrolledUnit.campaign_id) == campaign_id, col(EnrolledUnit.reports).is_(True)
            )
        )
    )
    reported = set(
        s.scalars(
            select(col(Submission.unit_code)).where(
                col(Submission.campaign_id) == campaign_id,
                col(Submission.period_key) == FINAL_KEY,
                col(Submission.is_current).is_(True),
            )
        )
    )
    exempt = set(
        s.scalars(
            select(col(Exemption.unit_code)).where(
                col(Exemption.campaign_id) == campaign_id, col(Exemption.deadline_key) == FINAL_KEY
            )
        )
    )
    return sorted(expected - reported - exempt)


def may_close_early(engine: Engine, code: str) -> bool:
    """The campaign allows closing early, is still open, and every reporting unit's final report is in."""
    with engine.connect() as conn:
        row = conn.execute(
            select(col(Campaign.status), col(Campaign.definition_json)).where(
                col(Campaign.code) == code.upper()
            )
        ).first()
    if row is None:
        raise CampaignNotFound(code.upper())
    if CampaignStatus(row[0]) not in (CampaignStatus.LAUNCHED, CampaignStatus.COLLECTING):
        return False
    if not definition_from_json(row[1]).close_early_when_complete:
        return False
    return not final_reports_outstanding(engine, code)
