"""Reading the nominations of a campaign, for a unit or all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.models.eligibility import Reason
from thidua.models.review import (
    EligibilityResult,
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.models.text import nfc, vn_sort_key
from thidua.tasks.review.nominations.lookups import campaign_and_definition


@dataclass(frozen=True)
class NominationView:
    """One nomination as the `nomination list` command and the review screens show it."""

    id: int
    award_key: str
    award_name: str
    subject_kind: SubjectKind
    subject_code: str
    subject_name: str
    subject_title: str | None
    unit_code: str
    nominated_by: str
    submitted_at: datetime
    is_late: bool
    status: NominationStatus
    missing_parts: list[str]
    eligible: bool | None  # None: not screened yet
    reasons: list[Reason]


def list_nominations(engine: Engine, code: str, *, unit_code: str | None = None) -> list[NominationView]:
    """The campaign's nominations (of one proposing unit if given) with their screening, in one query."""
    with Session(engine) as s:
        campaign, defn = campaign_and_definition(s, code)
        awards = {a.key: a.name for a in defn.awards}
        query = (
            select(Nomination, EligibilityResult)
            .join(
                EligibilityResult,
                col(EligibilityResult.nomination_id) == col(Nomination.id),
                isouter=True,
            )
            .where(col(Nomination.campaign_id) == campaign.id)
        )
        if unit_code:
            query = query.where(col(Nomination.nominated_by) == nfc(unit_code))
        out: list[NominationView] = []
        for n, result in s.execute(query).tuples():
            assert n.id is not None
            out.append(
                NominationView(
                    id=n.id,
                    award_key=n.award_key,
                    award_name=awards.get(n.award_key, n.award_key),
                    subject_kind=SubjectKind(n.subject_kind),
                    subject_code=n.subject_code,
                    subject_name=n.subject_name,
                    subject_title=n.subject_title,
                    unit_code=n.unit_code,
                    nominated_by=n.nominated_by,
                    submitted_at=n.submitted_at,
                    is_late=n.is_late,
                    status=NominationStatus(n.status),
                    missing_parts=list(json.loads(n.missing_parts_json or "[]")),
                    eligible=None if result is None else result.eligible,
                    reasons=[]
                    if result is None
                    else [Reason.from_json(r) for r in json.loads(result.reasons_json)],
                )
            )
    return sorted(out, key=lambda v: (v.nominated_by, v.award_key, v.subject_kind.value, _view_order(v)))


def _view_order(v: NominationView) -> tuple[tuple[str, str, str], str]:
    if v.subject_kind is SubjectKind.COLLECTIVE:
        return (("", "", ""), v.subject_code)
    return (vn_sort_key(v.subject_name), v.subject_code)
