"""Read-only views for the command line and the coming web portal: the campaigns (what exists, in what
state) and the outbox.

These queries go through the light table views of models/core_tables.py (SQLAlchemy Core), not the table
models: a command that only reads loads neither the ORM nor pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, Integer, func, select

from thidua.errors import CampaignNotFound
from thidua.models.core_tables import CAMPAIGN, DEADLINE, ENROLLED_PERSON, ENROLLED_UNIT, OUTBOX_MESSAGE
from thidua.models.states import CampaignStatus, OutboxStatus, UnitLevel
from thidua.models.text import nfc


def campaign_code(code: str) -> str:
    """A campaign code as stored: NFC, trimmed, upper case."""
    return (nfc(code) or "").upper()


# Levels are listed down the THADS tree, whatever order the database groups them in.
TREE_ORDER = list(UnitLevel)


@dataclass(frozen=True)
class CampaignHead:
    """What the read-only views need of a campaign row."""

    id: int
    code: str
    title: str
    status: CampaignStatus
    start_date: date
    end_date: date
    plan_document: str | None
    definition_json: str


def find_campaign(conn: Connection, code: str) -> CampaignHead:
    """The campaign with this code (read only, no lock), or CampaignNotFound."""
    wanted = campaign_code(code)
    c = CAMPAIGN.c
    row = conn.execute(
        select(
            c.id, c.code, c.title, c.status, c.start_date, c.end_date, c.plan_document, c.definition_json
        ).where(c.code == wanted)
    ).first()
    if row is None:
        raise CampaignNotFound(wanted)
    return CampaignHead(*row)


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
    c, u = CAMPAIGN.c, ENROLLED_UNIT.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                c.code,
                c.status,
                c.start_date,
                c.end_date,
                c.title,
                select(func.count()).where(u.campaign_id == c.id).scalar_subquery(),
            ).order_by(c.start_date, c.code)
        ).all()
    return [CampaignRow(r[0], CampaignStatus(r[1]), r[2], r[3], r[4], int(r[5])) for r in rows]


def campaign_details(engine: Engine, code: str) -> CampaignDetails:
    """One campaign: state, period, enrolment by level, people and the reporting calendar."""
    d, u, p = DEADLINE.c, ENROLLED_UNIT.c, ENROLLED_PERSON.c
    with engine.connect() as conn:
        c = find_campaign(conn, code)
        deadlines = conn.execute(
            select(d.key, d.label, d.nominal_due, d.due_date)
            .where(d.campaign_id == c.id)
            .order_by(d.due_date, d.key)
        ).all()
        by_level = conn.execute(
            select(u.level, func.count(), func.sum(func.cast(u.reports, type_=Integer())))
            .where(u.campaign_id == c.id)
            .group_by(u.level)
        ).all()
        people = conn.execute(
            select(func.count()).select_from(ENROLLED_PERSON).where(p.campaign_id == c.id)
        ).scalar_one()
    return CampaignDetails(
        code=c.code,
        status=CampaignStatus(c.status),
        title=c.title,
        start=c.start_date,
        end=c.end_date,
        plan_document=c.plan_document,
        levels=[
            LevelCount(str(level), int(n), int(reporting or 0))
            for level, n, reporting in sorted(by_level, key=lambda row: TREE_ORDER.index(UnitLevel(row[0])))
        ],
        people=int(people),
        deadlines=[DeadlineRow(k, lb, n, d) for k, lb, n, d in deadlines],
    )


@dataclass(frozen=True)
class OutboxRow:
    """One email of the outbox as `thidua outbox list` shows it."""

    id: int
    status: OutboxStatus
    recipient: str
    subject: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    claimed_by: str | None
    lease_until: datetime | None


def list_outbox(engine: Engine, *, status: OutboxStatus | None = None, limit: int = 50) -> list[OutboxRow]:
    """The newest emails of the outbox first (at most `limit`), of one status or of all."""
    o = OUTBOX_MESSAGE.c
    query = select(
        o.id, o.status, o.recipient, o.subject, o.attempts, o.last_error, o.next_attempt_at, o.claimed_by,
        o.lease_until,
    ).order_by(o.id.desc())  # fmt: skip
    if status is not None:
        query = query.where(o.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).all()
    return [OutboxRow(*row) for row in rows]
