"""Which units declared they propose nobody for a campaign: read by the reminders, the close and the review.

The declaration itself is made and taken back in tasks/review/nominations/declines.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, select
from sqlmodel import Session, col

from thidua.models.campaign import EnrolledUnit
from thidua.models.review import NominationDecline

#: How the papers mark a unit that declared it proposes nobody.
NO_PROPOSAL = "không đề nghị"


@dataclass(frozen=True)
class Decline:
    unit_code: str
    unit_name: str
    reason: str | None
    declined_by: str | None
    declined_at: datetime

    def text(self) -> str:
        """“Chi cục THADS huyện Lâm Bình (TQ-LB): không đề nghị – lý do”, as the papers list it."""
        why = f" – {self.reason}" if self.reason else ""
        return f"{self.unit_name} ({self.unit_code}): {NO_PROPOSAL}{why}"


def declined_units(target: Session | Connection, campaign_id: int) -> list[Decline]:
    """The campaign's units that declared they propose nobody, by unit code."""
    rows = target.execute(
        select(
            col(NominationDecline.unit_code),
            col(EnrolledUnit.unit_name),
            col(NominationDecline.reason),
            col(NominationDecline.declined_by),
            col(NominationDecline.declined_at),
        )
        .outerjoin(
            EnrolledUnit,
            and_(
                col(EnrolledUnit.campaign_id) == col(NominationDecline.campaign_id),
                col(EnrolledUnit.unit_code) == col(NominationDecline.unit_code),
            ),
        )
        .where(col(NominationDecline.campaign_id) == campaign_id)
        .order_by(col(NominationDecline.unit_code))
    ).all()
    return [Decline(code, name or code, why, by, _utc(at)) for code, name, why, by, at in rows]


def _utc(moment: datetime) -> datetime:
    # Stored times are UTC; a driver may hand them back naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
