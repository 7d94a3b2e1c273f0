"""Look-ups every part of the council uses: the campaign, the awards a council reviews, its members."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.definition import Award, CampaignDefinition, definition_from_json
from thidua.models.review import (
    Council,
    CouncilMember,
    CouncilRole,
)
from thidua.tasks.core.campaigns import get_campaign, require_state
from thidua.tasks.review.council.errors import CouncilNotSetUp
from thidua.tasks.review.council.shared import _ROLE_ORDER, ROLE_LABELS


@dataclass(frozen=True)
class _Campaign:
    id: int
    code: str
    title: str
    definition: CampaignDefinition
    row: Campaign

    def require(self, *allowed: CampaignStatus) -> None:
        """WrongState (naming the state and the command that reaches one of `allowed`) unless in one."""
        require_state(self.row, allowed)


def _campaign(s: Session, code: str) -> _Campaign:
    found = get_campaign(s, code)
    assert found.id is not None
    return _Campaign(found.id, found.code, found.title, definition_from_json(found.definition_json), found)


def reviewed_awards(defn: CampaignDefinition, unit_code: str) -> list[Award]:
    """The award types a council of `unit_code` reviews: those it grants, and those it proposes upward."""
    return [
        a
        for a in defn.awards
        if a.authority_unit_code == unit_code
        or (a.proposed_by is not None and a.proposed_by.unit_code == unit_code)
    ]


def _council_name(defn: CampaignDefinition, unit_code: str) -> str:
    for award in defn.awards:
        if award.proposed_by is not None and award.proposed_by.unit_code == unit_code:
            return award.proposed_by.council
    return defn.council.name


def _council(s: Session, campaign_id: int, unit_code: str) -> Council:
    council = s.scalars(
        select(Council).where(col(Council.campaign_id) == campaign_id, col(Council.unit_code) == unit_code)
    ).first()
    if council is None:
        raise CouncilNotSetUp(
            f"Hội đồng thi đua – khen thưởng của đơn vị “{unit_code}” chưa được lập cho phong trào này.",
            hint="Lập Hội đồng: `thidua council setup CODE --unit ĐƠN_VỊ TỆP`.",
        )
    return council


def _members(s: Session, council_id: int) -> list[CouncilMember]:
    rows = s.scalars(select(CouncilMember).where(col(CouncilMember.council_id) == council_id)).all()
    return sorted(rows, key=lambda m: (_ROLE_ORDER[CouncilRole(m.role)], m.id or 0))


def _role_label(role: CouncilRole | str) -> str:
    return ROLE_LABELS[CouncilRole(role)]
