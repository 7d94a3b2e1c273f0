"""The review and award stages' bookkeeping: the move to "in review", and issuing every award type at once."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlmodel import col

from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.db import transaction
from thidua.models.definition import definition_from_json
from thidua.models.settings import Settings
from thidua.tasks.award.awards import IssueResult, NotReady, issue_awards
from thidua.tasks.launch.campaign import transition


class ReviewError(RuntimeError):
    pass


_REVIEWED = (CampaignStatus.IN_REVIEW, CampaignStatus.AWARDED, CampaignStatus.ARCHIVED)


def start_review(engine: Engine, code: str, *, now: datetime, actor: str) -> CampaignStatus:
    """Closed → in review (the nominations are screened and the council may meet). Idempotent."""
    with transaction(engine) as s:
        campaign = s.scalars(select(Campaign).where(col(Campaign.code) == code.upper())).first()
        if campaign is None:
            raise ReviewError(f"Không có phong trào mã “{code}”.")
        status = CampaignStatus(campaign.status)
        if status in _REVIEWED:
            return status
        if status != CampaignStatus.CLOSED:
            raise ReviewError(
                f"Phong trào “{campaign.code}” chưa tổng kết (trạng thái “{status.value}”): "
                "chạy `thidua close` trước khi xét khen thưởng."
            )
        transition(s, campaign, CampaignStatus.IN_REVIEW, now=now, actor=actor)
        return CampaignStatus.IN_REVIEW


def award_keys(engine: Engine, code: str) -> list[str]:
    with engine.connect() as conn:
        raw = conn.scalar(select(col(Campaign.definition_json)).where(col(Campaign.code) == code.upper()))
    if raw is None:
        raise ReviewError(f"Không có phong trào mã “{code}”.")
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
