"""Reading the decisions and grants of a campaign."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.models.definition import definition_from_json
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    DecisionStatus,
    GrantStatus,
    SubjectKind,
)
from thidua.tasks.award.awards.views import DecisionView, GrantView
from thidua.tasks.core.campaigns import get_campaign


def list_awards(engine: Engine, code: str) -> list[DecisionView]:
    """The campaign's decisions and proposals with their grants (two queries)."""
    with Session(engine) as s:
        campaign = get_campaign(s, code)
        defn = definition_from_json(campaign.definition_json)
        names = {a.key: a.name for a in defn.awards}
        decisions = s.scalars(
            select(AwardDecision)
            .where(col(AwardDecision.campaign_id) == campaign.id)
            .order_by(col(AwardDecision.id))
        ).all()
        grants = s.scalars(
            select(AwardGrant).where(col(AwardGrant.campaign_id) == campaign.id).order_by(col(AwardGrant.id))
        ).all()
        by_decision: dict[int, list[GrantView]] = {}
        for g in grants:
            assert g.id is not None
            by_decision.setdefault(g.decision_id, []).append(
                GrantView(
                    g.id,
                    SubjectKind(g.subject_kind),
                    g.subject_code,
                    g.subject_name,
                    g.unit_code,
                    g.amount_vnd,
                    GrantStatus(g.status),
                    g.certificate_path,
                    g.revoke_reason,
                    g.amount_to_recover,
                )
            )
        return [
            DecisionView(
                d.award_key,
                names.get(d.award_key, d.award_key),
                DecisionStatus(d.status),
                d.authority_unit_code,
                d.number,
                d.symbol,
                d.decided_on,
                d.base_salary,
                tuple(by_decision.get(d.id or 0, [])),
            )
            for d in decisions
        ]
