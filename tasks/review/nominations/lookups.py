"""Look-ups the nomination work shares: the campaign and its definition, the dossier deadline, the day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from thidua.models.campaign import Campaign, Deadline
from thidua.models.definition import CampaignDefinition, definition_from_json
from thidua.models.directory_rows import fold
from thidua.models.review import (
    SubjectKind,
)
from thidua.models.schedule import DOSSIER_KEY
from thidua.models.settings import Settings
from thidua.models.text import nfc
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.review.nominations.shared import _KIND_WORDS


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (the clock carries its zone)")
    return now


def local_day(now: datetime) -> date:
    """The calendar day in Vietnam at `now`: deadlines end at the end of that day there."""
    return _aware(now).astimezone(Settings().tz).date()


def campaign_and_definition(
    session: Session, code: str, *, lock: bool = False
) -> tuple[Campaign, CampaignDefinition]:
    campaign = get_campaign(session, code, lock=lock)
    return campaign, definition_from_json(campaign.definition_json)


def dossier_deadline(session: Session, campaign_id: int, defn: CampaignDefinition) -> date:
    """The dossier due date of the stored calendar (after the working-day rule), else the plan's date."""
    due = session.execute(
        select(col(Deadline.due_date)).where(
            col(Deadline.campaign_id) == campaign_id, col(Deadline.key) == DOSSIER_KEY
        )
    ).scalar_one_or_none()
    return due if due is not None else defn.dossier.deadline


def _actor(actor: str | None, limit: int) -> str | None:
    text = nfc(actor) if actor else None
    return text[:limit] if text else None


def parse_subject_kind(text: str | SubjectKind) -> SubjectKind:
    """'collective' / 'Tập thể' -> COLLECTIVE; 'individual' / 'Cá nhân' -> INDIVIDUAL; else ValueError."""
    if isinstance(text, SubjectKind):
        return text
    found = _KIND_WORDS.get(fold(str(text)).replace("_", " "))
    if found is None:
        raise ValueError(f"“{text}” không rõ là tập thể hay cá nhân; ghi “Tập thể” hoặc “Cá nhân”")
    return found
