"""Launch-stage units of work: persist a campaign, enrol its scope, store its calendar, queue launch emails.

Each function opens its own transaction and is idempotent, so a launch killed half-way can simply be re-run:
a step whose result is already stored does nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlmodel import Session, col

from thidua.errors import Conflict
from thidua.models.campaign import (
    Campaign,
    CampaignStatus,
    Deadline,
    DeadlineKind,
    EnrolledPerson,
    EnrolledUnit,
)
from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition, canonical_json, definition_hash
from thidua.models.directory import Person, Unit
from thidua.models.schedule import ScheduledDeadline
from thidua.models.scope import UnitNode, resolve_scope
from thidua.models.text import fmt_date
from thidua.tasks.core.campaigns import transition
from thidua.tasks.core.events import record_event


class CampaignConflict(Conflict):
    """The code is already used by a launched campaign with a different definition."""


@dataclass(frozen=True)
class PersistResult:
    campaign_id: int
    created: bool


def persist_campaign(
    engine: Engine, defn: CampaignDefinition, *, now: datetime, actor: str = "launch"
) -> PersistResult:
    """Store the definition as a draft campaign, or recognise it as already stored.

    Raises CampaignConflict when the code exists with another definition: amendments need a versioned
    change, not a silent overwrite of what units were told.
    """
    digest = definition_hash(defn)
    with transaction(engine) as s:
        existing = s.scalars(select(Campaign).where(col(Campaign.code) == defn.code)).first()
        if existing is not None:
            if existing.definition_hash != digest:
                launched = existing.launched_at.strftime("%d/%m/%Y") if existing.launched_at else "trước đây"
                raise CampaignConflict(
                    f"Phong trào mã “{defn.code}” đã được phát động ({launched}) với nội dung khác. "
                    "Không phát động lại bằng định nghĩa đã sửa: hãy dùng mã mới, "
                    "hoặc giữ nguyên tệp đã phát động."
                )
            assert existing.id is not None
            return PersistResult(existing.id, created=False)
        campaign = Campaign(
            code=defn.code,
            title=defn.title,
            kind=str(defn.kind.value if hasattr(defn.kind, "value") else defn.kind),
            status=CampaignStatus.DRAFT,
            definition_json=canonical_json(defn),
            definition_hash=digest,
            start_date=defn.period.start,
            end_date=defn.period.end,
        )
        s.add(campaign)
        s.flush()
        assert campaign.id is not None
        record_event(s, campaign_id=campaign.id, kind="campaign.created", now=now, actor=actor)
        return PersistResult(campaign.id, created=True)


@dataclass(frozen=True)
class EnrolmentResult:
    units: int
    people: int
    created: bool
    units_without_email: list[str]


class EmptyDirectory(Conflict):
    """No unit has been imported: a campaign has nobody to enrol."""


def _directory_units(s: Session) -> list[Any]:
    rows = s.execute(
        select(
            col(Unit.id),
            col(Unit.code),
            col(Unit.parent_id),
            col(Unit.level),
            col(Unit.active),
            col(Unit.name),
            col(Unit.email),
            col(Unit.place_name),
        )
    ).all()
    if not rows:
        raise EmptyDirectory(
            "Danh bạ đơn vị trống.", hint="Nhập danh bạ trước: `thidua directory import TỆP…`."
        )
    return list(rows)


def check_scope(engine: Engine, defn: CampaignDefinition) -> int:
    """The number of units the definition's scope enrols from the directory as it is; nothing is written.

    Raises ScopeError (every unit the scope names that the directory lacks) or EmptyDirectory, so a launch
    refuses a definition before it stores anything, and `campaign validate` can say the same in advance.
    """
    with Session(engine) as s:
        rows = _directory_units(s)
    nodes = [UnitNode(r.id, r.code, r.parent_id, str(r.level), bool(r.active)) for r in rows]
    return len(resolve_scope(nodes, defn.scope.units))


def enrol(engine: Engine, campaign_id: int, defn: CampaignDefinition) -> EnrolmentResult:
    """Snapshot the units and people in scope. Done once: a re-run keeps the first snapshot."""
    with transaction(engine) as s:
        already = s.execute(
            select(func.count()).select_from(EnrolledUnit).where(col(EnrolledUnit.campaign_id) == campaign_id)
        ).scalar_one()
        if already:
            return _enrolment_counts(s, campaign_id, created=False)

        rows = _directory_units(s)
        info = {r.id: r for r in rows}
        nodes = [UnitNode(r.id, r.code, r.parent_id, str(r.level), bool(r.active)) for r in rows]
        chosen = resolve_scope(nodes, defn.scope.units)
        code_of = {r.id: r.code for r in rows}
        unit_rows = [
            {
                "campaign_id": campaign_id,
                "unit_id": n.id,
                "unit_code": n.code,
                "unit_name": info[n.id].name,
                "parent_code": code_of.get(n.parent_id) if n.parent_id is not None else None,
                "level": n.level,
                "email": info[n.id].email,
                "place_name": info[n.id].place_name,
                "reports": defn.scope.reports(n.code, n.level),
            }
            for n in chosen
        ]
        if unit_rows:
            s.execute(insert(EnrolledUnit), unit_rows)

        # People: one INSERT ... SELECT over the enrolled units, filtered by the scope's titles.
        people_rule = defn.scope.people
        person_select = (
            select(
                col(EnrolledUnit.campaign_id),
                col(Person.id),
                col(Person.code),
                col(Person.full_name),
                col(Person.title),
                col(EnrolledUnit.unit_code),
                col(Person.email),
                col(Person.is_head),
            )
            .join(EnrolledUnit, col(EnrolledUnit.unit_id) == col(Person.unit_id))
            .where(col(EnrolledUnit.campaign_id) == campaign_id)
        )
        if people_rule.active_only:
            person_select = person_select.where(col(Person.active).is_(True))
        if people_rule.titles is not None:
            person_select = person_select.where(col(Person.title).in_(list(people_rule.titles)))
        s.execute(
            insert(EnrolledPerson).from_select(
                [
                    "campaign_id",
                    "person_id",
                    "person_code",
                    "full_name",
                    "title",
                    "unit_code",
                    "email",
                    "is_head",
                ],
                person_select,
            )
        )
        return _enrolment_counts(s, campaign_id, created=True)


def _enrolment_counts(s: Session, campaign_id: int, *, created: bool) -> EnrolmentResult:
    units = s.execute(
        select(col(EnrolledUnit.unit_code), col(EnrolledUnit.email)).where(
            col(EnrolledUnit.campaign_id) == campaign_id
        )
    ).all()
    people = s.execute(
        select(func.count()).select_from(EnrolledPerson).where(col(EnrolledPerson.campaign_id) == campaign_id)
    ).scalar_one()
    return EnrolmentResult(
        units=len(units),
        people=int(people),
        created=created,
        units_without_email=sorted(code for code, email in units if not email),
    )


def store_deadlines(engine: Engine, campaign_id: int, schedule: list[ScheduledDeadline]) -> int:
    """Store the reporting calendar once; returns how many deadlines were new."""
    with transaction(engine) as s:
        known = set(
            s.execute(select(col(Deadline.key)).where(col(Deadline.campaign_id) == campaign_id)).scalars()
        )
        rows = [
            {
                "campaign_id": campaign_id,
                "key": d.key,
                "kind": DeadlineKind(d.kind),
                "label": d.label,
                "period_start": d.period_start,
                "period_end": d.period_end,
                "nominal_due": d.nominal_due,
                "due_date": d.due_date,
            }
            for d in schedule
            if d.key not in known
        ]
        if rows:
            s.execute(insert(Deadline), rows)
        return len(rows)


def mark_launched(
    engine: Engine,
    campaign_id: int,
    *,
    now: datetime,
    as_of: date,
    plan_document: str | Path | None,
    actor: str = "launch",
) -> bool:
    """Move a draft to launched (once). Returns False when it was already launched."""
    with transaction(engine) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        if plan_document is not None:
            campaign.plan_document = Path(plan_document).as_posix()
        if campaign.status != CampaignStatus.DRAFT:
            s.add(campaign)
            return False
        campaign.launched_at = now
        campaign.launch_as_of = as_of
        transition(s, campaign, CampaignStatus.LAUNCHED, now=now, actor=actor)
        return True


def plan_reference(defn: CampaignDefinition) -> str:
    number = (
        f"{int(defn.plan.number):02d}"
        if defn.plan.number and defn.plan.number.isdigit()
        else (defn.plan.number or "    ")
    )
    return f"Kế hoạch số {number}/{defn.plan.symbol} ngày {fmt_date(defn.plan.date)}"
