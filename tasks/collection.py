"""Collection bookkeeping: which periods a run covers, the move to "collecting", the run record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlmodel import col

from models.campaign import Campaign, CampaignStatus, Deadline, DeadlineKind
from models.db import transaction
from models.definition import CampaignDefinition, definition_from_json
from tasks.campaign import record_event, transition


class CampaignNotFound(LookupError):
    pass


class CampaignNotCollecting(RuntimeError):
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
        campaign = s.scalars(select(Campaign).where(col(Campaign.code) == code.upper())).first()
        if campaign is None:
            raise CampaignNotFound(f"Không có phong trào mã “{code}”.")
        if campaign.status == CampaignStatus.DRAFT:
            raise CampaignNotCollecting(f"Phong trào “{campaign.code}” chưa được phát động.")
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
