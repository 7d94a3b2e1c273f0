"""Read-only views of campaigns for the command line and the coming web portal: what exists, in what state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, Integer, func, select
from sqlmodel import col

from thidua.models.campaign import Campaign, CampaignStatus, Deadline, EnrolledPerson, EnrolledUnit
from thidua.tasks.core.campaigns import get_campaign


@dataclass(frozen=True)
class CampaignRow:
    code: str
    status: CampaignStatus
    start: date
    end: date
    title: str
    units: int


@dataclass(frozen=True)
class DeadlineRow:
    key: str
    label: str
    nominal_due: date
    due_date: date


@dataclass(frozen=True)
class LevelCount:
    level: str
    units: int
    reporting: int  # of them, units that send the periodic reports


@dataclass(frozen=True)
class CampaignDetails:
    code: str
    status: CampaignStatus
    title: str
    start: date
    end: date
    plan_document: str | None
    levels: list[LevelCount]
    people: int
    deadlines: list[DeadlineRow]


def list_campaigns(engine: Engine) -> list[CampaignRow]:
    """Every campaign with its enrolled-unit count, oldest first (one query)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                col(Campaign.code),
                col(Campaign.status),
                col(Campaign.start_date),
                col(Campaign.end_date),
                col(Campaign.title),
                select(func.count())
                .where(col(EnrolledUnit.campaign_id) == col(Campaign.id))
                .scalar_subquery(),
            ).order_by(col(Campaign.start_date), col(Campaign.code))
        ).all()
    return [CampaignRow(r[0], CampaignStatus(r[1]), r[2], r[3], r[4], int(r[5])) for r in rows]


def campaign_details(engine: Engine, code: str) -> CampaignDetails:
    """One campaign: state, period, enrolment by level, people and the reporting calendar."""
    with engine.connect() as conn:
        c = get_campaign(conn, code)
        deadlines = conn.execute(
            select(col(Deadline.key), col(Deadline.label), col(Deadline.nominal_due), col(Deadline.due_date))
            .where(col(Deadline.campaign_id) == c.id)
            .order_by(col(Deadline.due_date), col(Deadline.key))
        ).all()
        by_level = conn.execute(
            select(
                col(EnrolledUnit.level),
                func.count(),
                func.sum(func.cast(col(EnrolledUnit.reports), type_=Integer())),
            )
            .where(col(EnrolledUnit.campaign_id) == c.id)
            .group_by(col(EnrolledUnit.level))
        ).all()
        people = conn.execute(
            select(func.count()).select_from(EnrolledPerson).where(col(EnrolledPerson.campaign_id) == c.id)
        ).scalar_one()
    return CampaignDetails(
        code=c.code,
        status=CampaignStatus(c.status),
        title=c.title,
        start=c.start_date,
        end=c.end_date,
        plan_document=c.plan_document,
        levels=[LevelCount(str(level), int(n), int(reporting or 0)) for level, n, reporting in by_level],
        people=int(people),
        deadlines=[DeadlineRow(k, lb, n, d) for k, lb, n, d in deadlines],
    )
