"""The review stage's bookkeeping: the move of a closed campaign to "in review"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from thidua.models.campaign import CampaignStatus
from thidua.models.db import transaction
from thidua.tasks.core.campaigns import get_campaign, require_state, transition

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
