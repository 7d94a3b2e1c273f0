"""The review and award stages' bookkeeping: the move to "in review", and issuing every award type at once."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine

from thidua.models.campaign import CampaignStatus
from thidua.models.db import transaction
from thidua.models.definition import definition_from_json
from thidua.models.settings import Settings
from thidua.tasks.award.awards import IssueResult, NotReady, issue_awards
from thidua.tasks.core.campaigns import get_campaign, require_state
from thidua.tasks.launch.campaign import transition

_REVIEWED = (CampaignStatus.IN_REVIEW, CampaignStatus.AWARDED, CampaignStatus.ARCHIVED)


def start_review(engine: Engine, code: str, *, now: datetime, actor: str) -> CampaignStatus:
    """Closed → in review (the nominations are screened and the council may meet). Idempotent."""
    with transaction(engine) as s:
        campaign = get_campaign(s, code)
        status = CampaignStatus(campaign.status)
        if status in _REVIEWED:
            return status
        require_state(campaign, {CampaignStatus.CLOSED})
        transition(s, campaign, CampaignStatus.IN_REVIEW, now=now, actor=actor)
        return CampaignStatus.IN_REVIEW


def award_keys(engine: Engine, code: str) -> list[str]:
    with engine.connect() as conn:
        raw = get_campaign(conn, code).definition_json
    return [a.key for a in definition_from_json(raw).awards]


def issue_all(
    engine: Engine,
    settings: Settings,
    code: str,
    *,
    decided_on: date,
    now: datetime,
    actor: str,
    keys: list[str] | None = None,
) -> tuple[list[IssueResult], list[str]]:
    """Issue (or propose) every award type whose council result is final; the others are reported, not
    failed: one award type waiting for a tie-break must not hold back the decision of another."""
    issued: list[IssueResult] = []
    waiting: list[str] = []
    for key in keys or award_keys(engine, code):
        try:
            issued.append(
                issue_awards(engine, settings, code, key, decided_on=decided_on, now=now, actor=actor)
            )
        except NotReady as exc:
            waiting.append(f"{key}: {exc}")
    return issued, waiting
