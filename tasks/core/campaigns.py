"""The one way to find a campaign by its code, and to require the state a piece of work needs."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlmodel import Session, col

from thidua.errors import CampaignNotFound, WrongState
from thidua.models.campaign import Campaign, CampaignStatus, DomainEvent
from thidua.models.labels import REACHED_BY, campaign_status
from thidua.models.lifecycle import check_transition
from thidua.tasks.core.events import CAMPAIGN_CLOSED, record_event
from thidua.tasks.core.queries import campaign_code


def get_campaign(target: Session | Connection, code: str, *, lock: bool = False) -> Campaign:
    """The campaign with this code, or CampaignNotFound.

    `lock` takes the row lock (SELECT … FOR UPDATE on PostgreSQL): writers of one campaign (ingest, close,
    revision numbers) serialise on it. On a Core connection the row is loaded through a session bound to
    that connection, so it shares the caller's transaction.
    """
    wanted = campaign_code(code)
    query = select(Campaign).where(col(Campaign.code) == wanted)
    if lock:
        query = query.with_for_update()
    if isinstance(target, Session):
        campaign = target.scalars(query).first()
    else:
        with Session(bind=target) as session:
            campaign = session.scalars(query).first()
    if campaign is None:
        raise CampaignNotFound(wanted)
    return campaign


def require_state(
    campaign: Campaign, allowed: Collection[CampaignStatus], error: type[WrongState] = WrongState
) -> CampaignStatus:
    """The campaign's state when it is one of `allowed`; otherwise WrongState (or a stage's own subclass,
    `error`) naming the state it is in and the command to run."""
    status = CampaignStatus(campaign.status)
    if status in allowed:
        return status
    order = list(CampaignStatus)
    ordered = [s for s in order if s in allowed]
    needed = " hoặc ".join(campaign_status(s) for s in ordered)
    ahead = [s for s in ordered if order.index(s) > order.index(status) and s in REACHED_BY]
    if status == CampaignStatus.CLOSED and CampaignStatus.COLLECTING in allowed:
        command: str | None = f"thidua reopen {campaign.code} --reason LÝ_DO"
    elif ahead:
        command = REACHED_BY[ahead[0]].replace("CODE", campaign.code)
    else:
        command = None  # the campaign is past the needed state: no command goes back
    hint = f"Chạy `{command}` trước." if command else None
    raise error(campaign.code, campaign_status(status), needed, hint=hint)


def last_closed_at(target: Session | Connection, campaign_id: int) -> datetime | None:
    """When the campaign last closed (its latest `campaign.closed` audit row), as an aware UTC moment."""
    at = target.execute(
        select(func.max(col(DomainEvent.at))).where(
            col(DomainEvent.campaign_id) == campaign_id, col(DomainEvent.kind) == CAMPAIGN_CLOSED
        )
    ).scalar_one_or_none()
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # stored as UTC
    return at


def transition(
    session: Session,
    campaign: Campaign,
    target: CampaignStatus,
    *,
    now: datetime,
    actor: str,
    details: dict[str, Any] | None = None,
) -> None:
    """The one way a campaign changes state: check the move, write it, audit it (with `details`, e.g. why)."""
    before = CampaignStatus(campaign.status)
    check_transition(before, target)
    campaign.status = target
    session.add(campaign)
    record_event(
        session,
        campaign_id=campaign.id,
        kind=f"campaign.{target.value}",
        now=now,
        actor=actor,
        payload={**(details or {}), "before": before.value, "after": target.value},
    )
