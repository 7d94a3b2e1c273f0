"""Issuing the decision of an award type from the council's final result."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from thidua.models.campaign import CampaignStatus
from thidua.models.definition import definition_from_json
from thidua.models.review import (
    AwardDecision,
    DecisionStatus,
)
from thidua.models.settings import Settings
from thidua.models.text import fmt_date
from thidua.tasks.award.awards.errors import NotReady
from thidua.tasks.award.awards.grants import _issue
from thidua.tasks.award.awards.numbering import allocate_decision_number
from thidua.tasks.award.awards.paperwork import _amounts, _result_from_stored
from thidua.tasks.award.awards.proposals import _propose
from thidua.tasks.award.awards.selection import (
    _agency,
    _Campaign,
    _check_no_ties,
    _closed_meeting,
    _existing_decision,
    _load,
    _selected,
)
from thidua.tasks.award.awards.timing import check_decision_date
from thidua.tasks.award.awards.views import IssueResult
from thidua.tasks.core.campaigns import get_campaign, require_state


def issue_awards(
    engine: Engine,
    settings: Settings,
    code: str,
    award_key: str,
    *,
    decided_on: date,
    now: datetime,
    actor: str,
) -> IssueResult:
    """Issue the decision of one award type from the council's selected nominees (or, for an award granted by
    a higher authority on a proposal, build the proposal package). Idempotent: a second run returns the stored
    decision and changes nothing. Refused outside review (WrongState) and for a date before the council
    meeting or the close, or after `now` (DecisionDateRefused)."""
    with Session(engine) as s, s.begin():
        ctx = _load(s, code, award_key)
        existing = _existing_decision(s, ctx)
        if existing is not None:
            return _result_from_stored(s, ctx, existing, created=False)
        require_state(ctx.campaign, {CampaignStatus.IN_REVIEW})
        council, meeting = _closed_meeting(s, ctx)
        check_decision_date(s, settings, ctx, council, meeting, decided_on, now=now)
        _check_no_ties(s, ctx, meeting)
        nominees = _selected(s, ctx, meeting)
        if not nominees:
            raise NotReady(
                f"Phong trào {ctx.code}: {council.name} không chọn tập thể, cá nhân nào cho "
                f"“{ctx.award.name}” tại phiên họp ngày {fmt_date(meeting.held_at)}; không có gì để ban hành."
            )
        if ctx.award.proposed_by is not None:
            return _propose(
                s, settings, ctx, council, meeting, nominees, decided_on=decided_on, now=now, actor=actor
            )
        decision = _numbered_decision(s, settings, ctx, decided_on, now=now, actor=actor)
        return _issue(s, settings, ctx, decision, council, nominees, before=None, now=now, actor=actor)


def _numbered_decision(
    session: Session, settings: Settings, ctx: _Campaign, decided_on: date, *, now: datetime, actor: str
) -> AwardDecision:
    """The decision row with the next number of the authority's register for the year."""
    amounts = _amounts(ctx, settings, decided_on)  # fail on a missing base salary before taking a number
    number = allocate_decision_number(session, ctx.award.authority_unit_code, decided_on.year)
    agency_suffix = _agency(session, ctx.defn, ctx.award.authority_unit_code).suffix
    decision = AwardDecision(
        campaign_id=ctx.id,
        award_key=ctx.award.key,
        authority_unit_code=ctx.award.authority_unit_code,
        year=decided_on.year,
        number=number,
        symbol=f"QĐ-{agency_suffix}",
        decided_on=decided_on,
        base_salary=amounts.base.amount,
        status=DecisionStatus.ISSUED,
        issued_at=now,
        issued_by=actor,
    )
    session.add(decision)
    session.flush()
    return decision


def award_keys(engine: Engine, code: str) -> list[str]:
    """The keys of the campaign's award types, in the order its definition lists them."""
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
    """Issue (or propose) every award type whose council result is final; the others (NotReady) are reported,
    not failed: one award type waiting for a tie-break must not hold back the decision of another. A campaign
    outside review (WrongState) or a refused decision date fails the run."""
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
