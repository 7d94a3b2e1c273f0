"""Proposals to a higher authority, and recording the decision that authority takes."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import partial

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from thidua.models.campaign import CampaignStatus
from thidua.models.money import (
    MoneyError,
    base_salary_on,
)
from thidua.models.review import (
    AwardDecision,
    CampaignDocument,
    Council,
    CouncilMeeting,
    CouncilMember,
    DecisionStatus,
    DocumentKind,
)
from thidua.models.settings import Settings
from thidua.models.storage import storage_key
from thidua.models.text import fmt_date, nfc
from thidua.notifications.documents.decision import (
    decision_legal_basis,
)
from thidua.notifications.documents.decree30 import DocumentHeader
from thidua.notifications.documents.proposal import (
    Nominee,
    ProposalContent,
    render_proposal,
    render_proposal_list,
)
from thidua.tasks.award.awards.errors import DecisionConflict, NotReady
from thidua.tasks.award.awards.grants import _decision_payload, _issue
from thidua.tasks.award.awards.numbering import allocate_decision_number, decision_reference
from thidua.tasks.award.awards.paperwork import (
    _amounts,
    _award_dir,
    _document_row,
    _form_name,
    _plan_clause,
    _result_from_stored,
    _safe,
    _store,
    _transition_when_all_decided,
    _upsert_documents,
    campaign_phrase,
)
from thidua.tasks.award.awards.selection import (
    _agency,
    _Campaign,
    _closed_meeting,
    _existing_decision,
    _load,
    _Selected,
    _selected,
)
from thidua.tasks.award.awards.timing import check_decision_date
from thidua.tasks.award.awards.views import IssueResult
from thidua.tasks.core.campaigns import require_state
from thidua.tasks.core.events import record_event


def _minutes(session: Session, campaign_id: int, meeting_id: int | None) -> CampaignDocument | None:
    """The council's minutes (written by the review stage): the meeting's own, else the latest."""
    docs = session.scalars(
        select(CampaignDocument)
        .where(
            col(CampaignDocument.campaign_id) == campaign_id,
            col(CampaignDocument.kind) == DocumentKind.MINUTES,
        )
        .order_by(col(CampaignDocument.created_at).desc(), col(CampaignDocument.id).desc())
    ).all()
    return next((d for d in docs if d.ref == str(meeting_id)), docs[0] if docs else None)


def _propose(
    session: Session,
    settings: Settings,
    ctx: _Campaign,
    council: Council,
    meeting: CouncilMeeting,
    nominees: list[_Selected],
    *,
    decided_on: date,
    now: datetime,
    actor: str,
) -> IssueResult:
    award, defn = ctx.award, ctx.defn
    assert award.proposed_by is not None
    proposer = _agency(session, defn, award.proposed_by.unit_code)
    try:
        base = base_salary_on(decided_on)
    except MoneyError as exc:
        raise NotReady(f"Phong trào {ctx.code}: {exc}.") from exc
    number = allocate_decision_number(session, proposer.unit_code, decided_on.year)
    symbol = f"TTr-{proposer.suffix}"
    decision = AwardDecision(
        campaign_id=ctx.id,
        award_key=award.key,
        # Until the authority decides, the row holds the Tờ trình: the proposing unit's register and number.
        authority_unit_code=proposer.unit_code,
        year=decided_on.year,
        number=number,
        symbol=symbol,
        decided_on=decided_on,
        base_salary=base,
        status=DecisionStatus.PROPOSED,
        issued_at=now,
        issued_by=actor,
    )
    session.add(decision)
    session.flush()
    reference = decision_reference(number, symbol)
    members = session.execute(
        select(func.count()).select_from(CouncilMember).where(col(CouncilMember.council_id) == council.id)
    ).scalar_one()
    minutes = _minutes(session, ctx.id, meeting.id)
    addressee = re.sub(r"\bTHADS\b", "Thi hành án dân sự", award.authority)
    attachments = [
        f"Danh sách tập thể, cá nhân đề nghị tặng {award.name}",
        f"Biên bản họp {council.name} ngày {fmt_date(meeting.held_at)}",
        "Báo cáo thành tích của các tập thể, cá nhân",
    ]
    content = ProposalContent(
        header=DocumentHeader(
            parent_agency=proposer.parent_agency,
            agency=proposer.agency,
            number=number,
            symbol=symbol,
            place=proposer.place,
            date=decided_on,
        ),
        form_name=_form_name(award),
        award_name=award.name,
        addressee=addressee,
        proposer=proposer.name,
        council=council.name,
        meeting_date=meeting.held_at.astimezone(settings.tz).date(),
        achievement=campaign_phrase(defn),
        legal_basis=decision_legal_basis(decided_on, _plan_clause(session, defn)),
        nominees=[
            Nominee(n.kind.value, n.name, n.unit_name, n.title, n.achievement, n.approve, members)  # type: ignore[arg-type]
            for n in nominees
        ],
        attachments=attachments,
        signature=proposer.signer,
        recipients=["Như trên", "Lưu: VT"],
    )
    folder = _award_dir(ctx.code)
    to_trinh = _store(settings, f"{folder}/{storage_key(_safe(f'to-trinh-{award.key}.docx'))}",
                      partial(render_proposal, content))  # fmt: skip
    danh_sach = _store(settings, f"{folder}/{storage_key(_safe(f'danh-sach-{award.key}.docx'))}",
                       partial(render_proposal_list, content))  # fmt: skip
    ref = f"{number}/{decided_on.year}"
    _upsert_documents(
        session,
        [
            _document_row(ctx.id, DocumentKind.PROPOSAL, ref, to_trinh, now),
            _document_row(ctx.id, DocumentKind.PROPOSAL_LIST, ref, danh_sach, now),
        ],
    )
    documents = [to_trinh[0], danh_sach[0]]
    notes: list[str] = []
    if minutes is not None:
        documents.append(minutes.path)
    else:
        notes.append(
            f"chưa có Biên bản họp {council.name} trong hệ thống: gửi kèm bản giấy hoặc tạo biên bản "
            "trước khi trình."
        )
    record_event(
        session,
        campaign_id=ctx.id,
        kind="decision.proposed",
        now=now,
        actor=actor,
        subject=reference,
        payload={
            "before": None,
            "after": {
                "award_key": award.key,
                **_decision_payload(decision),
                "to": award.authority_unit_code,
                "nominations": [n.nomination_id for n in nominees],
                "minutes": minutes.path if minutes is not None else None,
            },
        },
    )
    _transition_when_all_decided(session, ctx, now=now, actor=actor)
    return _result_from_stored(session, ctx, decision, created=True, documents=documents, notes=notes)


def record_external_decision(
    engine: Engine,
    settings: Settings,
    code: str,
    award_key: str,
    *,
    number: int,
    symbol: str,
    decided_on: date,
    now: datetime,
    actor: str,
) -> IssueResult:
    """The higher authority's decision on our proposal (its own number and symbol): the proposal becomes an
    issued decision with grants, certificates and emails. Recording the same decision again changes
    nothing. Refused before the proposal exists, outside review (WrongState), and for a date before the
    council meeting, the close or the Tờ trình, or after `now` (DecisionDateRefused)."""
    symbol = nfc(symbol)
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        raise DecisionConflict(f"Số quyết định phải là số nguyên dương, nhận được {number!r}.")
    if not symbol:
        raise DecisionConflict("Thiếu ký hiệu của quyết định (ví dụ QĐ-BTP).")
    with Session(engine) as s, s.begin():
        ctx = _load(s, code, award_key)
        award = ctx.award
        if award.proposed_by is None:
            raise DecisionConflict(
                f"“{award.name}” do {award.authority} ban hành trực tiếp trong hệ thống; dùng lệnh ban hành "
                "(award issue), không ghi quyết định của cấp trên."
            )
        decision = _existing_decision(s, ctx)
        if decision is not None and decision.status == DecisionStatus.ISSUED:
            _check_same_decision(ctx, decision, number, symbol, decided_on)
            return _result_from_stored(s, ctx, decision, created=False)
        require_state(ctx.campaign, {CampaignStatus.IN_REVIEW, CampaignStatus.AWARDED})
        if decision is None:
            raise NotReady(
                f"Phong trào {ctx.code}: chưa có Tờ trình đề nghị “{award.name}”; lập tờ trình trước "
                "(award issue)."
            )
        _check_number_free(s, ctx, number, decided_on.year)
        council, meeting = _closed_meeting(s, ctx)
        check_decision_date(s, settings, ctx, council, meeting, decided_on, now=now, proposal=decision)
        nominees = _selected(s, ctx, meeting)
        if not nominees:
            raise NotReady(
                f"Phong trào {ctx.code}: không còn tập thể, cá nhân nào được chọn cho “{award.name}”."
            )
        amounts = _amounts(ctx, settings, decided_on)
        before = _decision_payload(decision)
        decision.authority_unit_code = award.authority_unit_code
        decision.year = decided_on.year
        decision.number = number
        decision.symbol = symbol
        decision.decided_on = decided_on
        decision.base_salary = amounts.base.amount
        decision.status = DecisionStatus.ISSUED
        decision.issued_at = now
        decision.issued_by = actor
        s.add(decision)
        s.flush()
        return _issue(s, settings, ctx, decision, council, nominees, before=before, now=now, actor=actor)


def _check_same_decision(
    ctx: _Campaign, decision: AwardDecision, number: int, symbol: str, decided_on: date
) -> None:
    """A decision already recorded may be recorded again as it is, never replaced by another."""
    if (decision.number, decision.symbol, decision.decided_on) == (number, symbol, decided_on):
        return
    raise DecisionConflict(
        f"Phong trào {ctx.code}: đã ghi Quyết định số {decision_reference(decision.number, decision.symbol)} "
        f"ngày {fmt_date(decision.decided_on)} cho “{ctx.award.name}”; không ghi đè bằng số "
        f"{decision_reference(number, symbol)}."
    )


def _check_number_free(session: Session, ctx: _Campaign, number: int, year: int) -> None:
    """The authority's number for the year is not already another decision's."""
    authority = ctx.award.authority_unit_code
    taken = session.scalars(
        select(AwardDecision).where(
            col(AwardDecision.authority_unit_code) == authority,
            col(AwardDecision.year) == year,
            col(AwardDecision.number) == number,
        )
    ).first()
    if taken is not None:
        raise DecisionConflict(
            f"Số {number} năm {year} của {authority} đã được dùng cho "
            f"quyết định {decision_reference(taken.number, taken.symbol)} "
            f"(phong trào #{taken.campaign_id}, “{taken.award_key}”)."
        )
