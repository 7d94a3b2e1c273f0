"""Award stage: decision numbers, decision and certificates, money, award emails, proposals, revocation.

- `allocate_decision_number`: the next number of an issuing authority's register for a year, inside the
  caller's transaction: gap-free and duplicate-free because the counter row stays locked until the issuance
  commits, and a rolled-back issuance takes its number back with it.
- `issue_awards`: for an award the campaign's own authority grants (seed 003, seed 000's Giấy khen), the
  council's selected nominees become a numbered decision (DOCX), one certificate per awardee (PDF), the money
  and one email per awardee to their unit. For an award a higher authority grants on a lower council's
  proposal (seed 000's Bằng khen of the Minister) it builds the proposal package instead (Tờ trình, Danh sách,
  the minutes).
- `record_external_decision`: the higher authority's decision on that proposal, recorded with its own number;
  then grants, certificates and emails as for an own decision.
- `revoke_award`: a grant withdrawn with a reason; the money to recover and an email to the unit.

Every run is idempotent: a decision exists once per campaign and award (a second run returns it and changes
nothing), emails carry dedupe keys, documents are upserted by (campaign, kind, ref). State changes are audit
events (decision.issued, decision.proposed, grant.issued, grant.revoked) with before/after.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, func, select, update
from sqlmodel import Session, col

from thidua.errors import Conflict, InvalidInput, NotFound, ThiduaError
from thidua.models.campaign import Campaign, CampaignStatus, EnrolledPerson, EnrolledUnit
from thidua.models.db import insert_ignore, upsert
from thidua.models.definition import KIND_LABELS, Award, AwardForm, CampaignDefinition, definition_from_json
from thidua.models.directory import Person, Unit
from thidua.models.labels import campaign_status
from thidua.models.money import (
    AwardAmounts,
    MoneyError,
    amount_in_words,
    award_amounts,
    base_salary_on,
    vn_money,
)
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    CampaignDocument,
    Council,
    CouncilMeeting,
    CouncilMember,
    DecisionCounter,
    DecisionStatus,
    DocumentKind,
    GrantStatus,
    MeetingStatus,
    Nomination,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.text import fmt_date, nfc, vn_sort_key
from thidua.notifications.documents.certificate import CertificateContent, render_certificate
from thidua.notifications.documents.decision import (
    Awardee,
    DecisionContent,
    decision_legal_basis,
    plan_clause,
    render_decision,
)
from thidua.notifications.documents.decree30 import DocumentHeader, SignatureBlock
from thidua.notifications.documents.proposal import (
    Nominee,
    ProposalContent,
    render_proposal,
    render_proposal_list,
)
from thidua.notifications.outbox import enqueue_many
from thidua.notifications.templating import render_email
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.core.events import AWARD_ISSUED, emit_domain_event
from thidua.tasks.launch.campaign import record_event, transition
from thidua.tasks.launch.emails import issuer_name

COUNTER = cast(Table, DecisionCounter.__table__)  # type: ignore[attr-defined]
DOCUMENTS = cast(Table, CampaignDocument.__table__)  # type: ignore[attr-defined]
ENROLLED_UNITS = cast(Table, EnrolledUnit.__table__)  # type: ignore[attr-defined]
ENROLLED_PEOPLE = cast(Table, EnrolledPerson.__table__)  # type: ignore[attr-defined]

FORM_NAMES: dict[AwardForm, str] = {
    AwardForm.GIAY_KHEN: "Giấy khen",
    AwardForm.BANG_KHEN: "Bằng khen",
    AwardForm.BANG_KHEN_THU_TUONG: "Bằng khen",
    AwardForm.CO_THI_DUA: "Cờ thi đua",
    AwardForm.CHIEN_SI_THI_DUA_CO_SO: "danh hiệu Chiến sĩ thi đua cơ sở",
    AwardForm.LAO_DONG_TIEN_TIEN: "danh hiệu Lao động tiên tiến",
    AwardForm.TAP_THE_LAO_DONG_TIEN_TIEN: "danh hiệu Tập thể lao động tiên tiến",
    AwardForm.TAP_THE_LAO_DONG_XUAT_SAC: "danh hiệu Tập thể lao động xuất sắc",
    AwardForm.KHAC: "hình thức khen thưởng",
}
CERTIFICATE_TITLES: dict[AwardForm, str] = {
    AwardForm.GIAY_KHEN: "GIẤY KHEN",
    AwardForm.BANG_KHEN: "BẰNG KHEN",
    AwardForm.BANG_KHEN_THU_TUONG: "BẰNG KHEN",
}
CAMPAIGN_STATUS_LABELS = {
    CampaignStatus.IN_REVIEW: "đang xét khen thưởng",
    CampaignStatus.AWARDED: "đã khen thưởng",
}
SUBJECT_LABELS = {SubjectKind.COLLECTIVE: "tập thể", SubjectKind.INDIVIDUAL: "cá nhân"}
STATUS_LABELS = {
    DecisionStatus.ISSUED: "đã ban hành",
    DecisionStatus.PROPOSED: "đã trình cấp trên",
    GrantStatus.REVOKED: "đã thu hồi",
}


# ---------------------------------------------------------------- errors


class AwardError(ThiduaError):
    """Base of this module's errors. A refused operation changes nothing (its transaction is rolled back)."""


class UnknownAward(AwardError, NotFound):
    pass


class NotReady(AwardError, Conflict):
    """The campaign, its council or its results do not allow issuing yet (state, meeting, ties, none)."""


class DecisionConflict(AwardError, Conflict):
    """A decision number or a recorded decision that contradicts what is stored."""


class UnknownGrant(AwardError, NotFound):
    pass


class AlreadyRevoked(AwardError, Conflict):
    pass


class RevocationReasonRequired(AwardError, InvalidInput):
    pass


# ---------------------------------------------------------------- decision numbers


def allocate_decision_number(session: Session, authority_unit_code: str, year: int) -> int:
    """The next number of the authority's register in `year` (1, 2, ...), in the caller's transaction.

    The UPDATE locks the counter row until the caller commits or rolls back: concurrent issuances of one
    authority queue on it (PostgreSQL) and a rolled-back issuance gives its number back, so numbers have
    neither gaps nor duplicates. A new year starts a new row, hence numbering restarts at 1.
    """
    code = nfc(authority_unit_code)
    insert_ignore(
        session,
        COUNTER,
        {"authority_unit_code": code, "year": year, "last_number": 0},
        ["authority_unit_code", "year"],
    )
    number = session.execute(
        update(COUNTER)
        .where(COUNTER.c.authority_unit_code == code, COUNTER.c.year == year)
        .values(last_number=COUNTER.c.last_number + 1)
        .returning(COUNTER.c.last_number)
    ).scalar_one()
    return int(number)


def decision_reference(number: int, symbol: str) -> str:
    """'05/QĐ-CTHADS' (Decree 30: a leading zero below 10)."""
    return f"{number:02d}/{symbol}"


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class IssueResult:
    campaign_code: str
    award_key: str
    award_name: str
    decision_id: int
    status: DecisionStatus
    number: int
    symbol: str
    year: int
    decided_on: date
    created: bool  # False: the decision (or proposal) already existed and nothing changed
    collectives: int
    individuals: int
    total_vnd: int  # 0 for a proposal: the authority sets the money
    documents: tuple[str, ...]  # relative to the data dir
    emails_queued: int
    without_email: tuple[str, ...]  # awardees' units with no email address
    campaign_status: CampaignStatus
    notes: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        return decision_reference(self.number, self.symbol)

    def lines(self) -> list[str]:
        kind = "Tờ trình" if self.status == DecisionStatus.PROPOSED else "Quyết định"
        state = "mới lập" if self.created else "đã có từ trước, không thay đổi gì"
        out = [
            f"{kind} số {self.reference} ngày {fmt_date(self.decided_on)} – {self.award_name} ({state}).",
            f"  {self.collectives} tập thể, {self.individuals} cá nhân"
            + (f"; tổng tiền thưởng {vn_money(self.total_vnd)}." if self.total_vnd else "."),
        ]
        if self.created:
            out.append(f"  Thư mới vào hộp thư đi: {self.emails_queued}.")
        if self.without_email:
            out.append("  Đơn vị không có địa chỉ email: " + ", ".join(self.without_email) + ".")
        out += [f"  Tài liệu: {path}" for path in self.documents]
        out += [f"  Lưu ý: {note}" for note in self.notes]
        state_label = CAMPAIGN_STATUS_LABELS.get(self.campaign_status, self.campaign_status.value)
        out.append(f"  Trạng thái phong trào: {state_label}.")
        return out


@dataclass(frozen=True)
class GrantView:
    id: int
    subject_kind: SubjectKind
    subject_code: str
    subject_name: str
    unit_code: str
    amount_vnd: int
    status: GrantStatus
    certificate_path: str | None
    revoke_reason: str | None
    amount_to_recover: int | None


@dataclass(frozen=True)
class DecisionView:
    award_key: str
    award_name: str
    status: DecisionStatus
    authority_unit_code: str
    number: int
    symbol: str
    decided_on: date
    base_salary: int
    grants: tuple[GrantView, ...] = field(default=())

    @property
    def reference(self) -> str:
        return decision_reference(self.number, self.symbol)


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Selected:
    """A council-selected nominee with what the documents and emails need."""

    nomination_id: int
    kind: SubjectKind
    code: str
    name: str
    title: str | None
    unit_code: str
    unit_name: str  # the person's unit, or the collective's parent unit
    unit_email: str | None
    person_email: str | None
    achievement: str | None
    approve: int
    position: int | None


@dataclass(frozen=True)
class _Agency:
    """An issuing or proposing body as its documents show it."""

    unit_code: str
    parent_agency: str | None
    agency: str  # header form
    name: str  # sentence form: "Cục Thi hành án dân sự tỉnh Tuyên Quang"
    place: str
    signer: SignatureBlock
    suffix: str  # the part after "QĐ-" / "TTr-": "CTHADS"


@dataclass
class _Campaign:
    campaign: Campaign
    defn: CampaignDefinition
    award: Award

    @property
    def id(self) -> int:
        assert self.campaign.id is not None
        return self.campaign.id

    @property
    def code(self) -> str:
        return self.campaign.code


def _load(session: Session, code: str, award_key: str) -> _Campaign:
    # Locks the campaign row (PostgreSQL): two issuances of one campaign run one after the other, so the
    # second finds the first's decision instead of racing it.
    campaign = get_campaign(session, code, lock=True)
    defn = definition_from_json(campaign.definition_json)
    key = nfc(award_key)
    award = next((a for a in defn.awards if a.key == key), None)
    if award is None:
        known = ", ".join(a.key for a in defn.awards)
        raise UnknownAward(
            f"Phong trào {campaign.code} không có hình thức khen thưởng “{key}” (có: {known})."
        )
    return _Campaign(campaign, defn, award)


def _existing_decision(session: Session, ctx: _Campaign) -> AwardDecision | None:
    return session.scalars(
        select(AwardDecision).where(
            col(AwardDecision.campaign_id) == ctx.id, col(AwardDecision.award_key) == ctx.award.key
        )
    ).first()


def _council_unit(award: Award) -> str:
    return award.proposed_by.unit_code if award.proposed_by else award.authority_unit_code


def _closed_meeting(session: Session, ctx: _Campaign) -> tuple[Council, CouncilMeeting]:
    unit = _council_unit(ctx.award)
    council = session.scalars(
        select(Council).where(col(Council.campaign_id) == ctx.id, col(Council.unit_code) == unit)
    ).first()
    if council is None:
        raise NotReady(
            f"Phong trào {ctx.code}: chưa có Hội đồng thi đua – khen thưởng của đơn vị {unit} xét "
            f"“{ctx.award.name}”."
        )
    meeting = session.scalars(
        select(CouncilMeeting)
        .where(
            col(CouncilMeeting.council_id) == council.id, col(CouncilMeeting.status) == MeetingStatus.CLOSED
        )
        .order_by(col(CouncilMeeting.closed_at).desc(), col(CouncilMeeting.id).desc())
        .limit(1)
    ).first()
    if meeting is None:
        raise NotReady(
            f"Phong trào {ctx.code}: {council.name} chưa có phiên họp nào đã kết thúc; chỉ ban hành sau khi "
            "Hội đồng họp, bỏ phiếu và kết thúc phiên họp."
        )
    if meeting.quorum_met is False:
        raise NotReady(
            f"Phong trào {ctx.code}: phiên họp ngày {fmt_date(meeting.held_at)} của {council.name} không "
            "đủ số thành viên tham dự; kết quả không được dùng để khen thưởng."
        )
    return council, meeting


def _check_no_ties(session: Session, ctx: _Campaign, meeting: CouncilMeeting) -> None:
    tied = (
        session.execute(
            select(col(Nomination.subject_name))
            .join(ReviewResult, col(ReviewResult.nomination_id) == col(Nomination.id))
            .where(
                col(ReviewResult.meeting_id) == meeting.id,
                col(ReviewResult.outcome) == ReviewOutcome.TIE,
                col(Nomination.award_key) == ctx.award.key,
            )
            .order_by(col(Nomination.subject_name))
        )
        .scalars()
        .all()
    )
    if tied:
        raise NotReady(
            f"Phong trào {ctx.code}: còn {len(tied)} trường hợp bằng nhau ở giới hạn chỉ tiêu chưa được "
            f"Chủ tịch Hội đồng quyết định ({', '.join(tied)}); quyết định khen thưởng chỉ ban hành sau khi "
            "xử lý xong."
        )


def _selected(session: Session, ctx: _Campaign, meeting: CouncilMeeting) -> list[_Selected]:
    unit, parent, person = ENROLLED_UNITS.alias("u"), ENROLLED_UNITS.alias("pu"), ENROLLED_PEOPLE.alias("p")
    rows = session.execute(
        select(
            Nomination,
            col(ReviewResult.approve),
            col(ReviewResult.position),
            unit.c.unit_name,
            unit.c.email,
            parent.c.unit_name,
            person.c.email,
            person.c.title,
        )
        .join(ReviewResult, col(ReviewResult.nomination_id) == col(Nomination.id))
        .outerjoin(unit, and_(unit.c.campaign_id == ctx.id, unit.c.unit_code == col(Nomination.unit_code)))
        .outerjoin(parent, and_(parent.c.campaign_id == ctx.id, parent.c.unit_code == unit.c.parent_code))
        .outerjoin(
            person,
            and_(
                person.c.campaign_id == ctx.id,
                person.c.person_code == col(Nomination.subject_code),
                col(Nomination.subject_kind) == SubjectKind.INDIVIDUAL,
            ),
        )
        .where(
            col(ReviewResult.meeting_id) == meeting.id,
            col(ReviewResult.outcome) == ReviewOutcome.SELECTED,
            col(Nomination.award_key) == ctx.award.key,
        )
    ).all()
    out: list[_Selected] = []
    for nom, approve, position, unit_name, unit_email, parent_name, person_email, person_title in rows:
        assert nom.id is not None
        kind = SubjectKind(nom.subject_kind)
        collective = kind == SubjectKind.COLLECTIVE
        out.append(
            _Selected(
                nomination_id=nom.id,
                kind=kind,
                code=nom.subject_code,
                name=nfc(nom.subject_name),
                title=None if collective else nfc(nom.subject_title or person_title) or None,
                unit_code=nom.unit_code,
                unit_name=nfc((parent_name if collective else unit_name) or ""),
                unit_email=unit_email,
                person_email=None if collective else person_email,
                achievement=nom.achievement,
                approve=approve,
                position=position,
            )
        )
    out.sort(key=_print_order)
    return out


def _print_order(n: _Selected) -> tuple[int, int, tuple[str, str, str], str]:
    """Collectives first in the council's order; people the Vietnamese way (given name, middle, family)."""
    if n.kind == SubjectKind.COLLECTIVE:
        return (0, n.position if n.position is not None else 1_000_000, vn_sort_key(n.name), n.code)
    return (1, 0, vn_sort_key(n.name), n.code)


def _issuer_suffix(defn: CampaignDefinition) -> str:
    symbol = defn.plan.symbol
    return symbol.split("-", 1)[1] if "-" in symbol else defn.issuer.unit_code


def _agency(session: Session, defn: CampaignDefinition, unit_code: str) -> _Agency:
    """The body's header, name, place and signer: the plan's issuer as the definition states it, any other
    unit from the directory (its head signs)."""
    issuer = defn.issuer
    if unit_code == issuer.unit_code:
        signer = SignatureBlock(issuer.signer.on_behalf, issuer.signer.title, issuer.signer.name)
        return _Agency(
            unit_code,
            issuer.parent_agency,
            issuer.agency,
            issuer_name(session, defn),
            issuer.place,
            signer,
            _issuer_suffix(defn),
        )
    unit = session.scalars(select(Unit).where(col(Unit.code) == unit_code)).first()
    if unit is None:
        raise NotReady(f"Không có đơn vị mã “{unit_code}” trong danh mục đơn vị (thidua directory import).")
    parent = session.get(Unit, unit.parent_id) if unit.parent_id is not None else None
    head = session.scalars(
        select(Person)
        .where(col(Person.unit_id) == unit.id, col(Person.is_head).is_(True), col(Person.active).is_(True))
        .order_by(col(Person.code))
    ).first()
    if head is None:
        raise NotReady(
            f"Đơn vị {unit_code} ({unit.name}) chưa có thủ trưởng trong danh mục cán bộ: không xác định được "
            "người ký văn bản."
        )
    return _Agency(
        unit_code,
        parent.name.upper() if parent is not None else None,
        unit.name.upper(),
        unit.name,
        unit.place_name or issuer.place,
        SignatureBlock(None, head.title.upper(), head.full_name),
        re.sub(r"[^A-Z0-9]", "", unit_code.upper()) or unit_code,
    )


def authority_title(authority: str) -> str:
    """'Cục trưởng Cục THADS tỉnh Tuyên Quang' → 'CỤC TRƯỞNG CỤC THI HÀNH ÁN DÂN SỰ TỈNH TUYÊN QUANG'."""
    return re.sub(r"\bTHADS\b", "Thi hành án dân sự", nfc(authority)).upper()


def campaign_phrase(defn: CampaignDefinition) -> str:
    """'phong trào thi đua chuyên đề “Giảm án có điều kiện trên một năm chưa thi hành xong”'."""
    label = KIND_LABELS[defn.kind]
    return f"{label[:1].lower()}{label[1:]} “{defn.title}”"


def _plan_clause(session: Session, defn: CampaignDefinition) -> str:
    subject = defn.plan.subject or f"Phát động {campaign_phrase(defn)}"
    reference = defn.plan.reference if defn.plan.number else None
    return plan_clause(reference, defn.plan.date, issuer_name(session, defn), subject)


def _form_name(award: Award) -> str:
    return FORM_NAMES.get(award.form, "hình thức khen thưởng")


def _award_dir(settings: Settings, code: str) -> Path:
    return settings.documents_dir / code / "khen-thuong"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _relative(settings: Settings, path: Path) -> str:
    return path.relative_to(settings.data_dir).as_posix()


def _decision_ref(decision: AwardDecision, award: Award) -> str:
    """The decision document's ref: "<number>/<year>" for our own registers; a decision numbered by a higher
    authority adds its unit, so it cannot replace the document of an own decision with the same number."""
    ref = f"{decision.number}/{decision.year}"
    return ref if award.proposed_by is None else f"{ref}/{decision.authority_unit_code}"


def _certificate_path(settings: Settings, code: str, award: Award, nominee: _Selected) -> Path:
    return _award_dir(settings, code) / _safe(award.key) / _safe(f"{nominee.kind.value}-{nominee.code}.pdf")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _upsert_documents(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record generated files; a re-generated document replaces its row (same campaign, kind and ref)."""
    upsert(session, DOCUMENTS, rows, ["campaign_id", "kind", "ref"])


def _document_row(
    settings: Settings, campaign_id: int, kind: DocumentKind, ref: str, path: Path, now: datetime
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "kind": kind.value,
        "ref": ref,
        "path": _relative(settings, path),
        "sha256": _sha256(path),
        "created_at": now,
    }


def _transition_when_all_decided(session: Session, ctx: _Campaign, *, now: datetime, actor: str) -> None:
    """IN_REVIEW → AWARDED once every award type of the campaign has a decision or a proposal."""
    decided = set(
        session.execute(
            select(col(AwardDecision.award_key)).where(col(AwardDecision.campaign_id) == ctx.id)
        ).scalars()
    )
    if CampaignStatus(ctx.campaign.status) == CampaignStatus.IN_REVIEW and all(
        a.key in decided for a in ctx.defn.awards
    ):
        transition(session, ctx.campaign, CampaignStatus.AWARDED, now=now, actor=actor)


def _require_in_review(ctx: _Campaign) -> None:
    status = CampaignStatus(ctx.campaign.status)
    if status != CampaignStatus.IN_REVIEW:
        raise NotReady(
            f"Phong trào {ctx.code} đang ở trạng thái {campaign_status(status)}: chỉ ban hành quyết định "
            f"khen thưởng khi phong trào ở trạng thái {campaign_status(CampaignStatus.IN_REVIEW)}.",
            hint=f"Chạy `thidua review {ctx.code}` trước." if status == CampaignStatus.CLOSED else None,
        )


def _amounts(ctx: _Campaign, settings: Settings, decided_on: date) -> AwardAmounts:
    multiplier = ctx.award.multiplier
    try:
        return award_amounts(
            decided_on, multiplier.collective, multiplier.individual, settings.award_collective_factor
        )
    except MoneyError as exc:
        raise NotReady(f"Phong trào {ctx.code}: không tính được tiền thưởng: {exc}.") from exc


def _result_from_stored(
    session: Session,
    ctx: _Campaign,
    decision: AwardDecision,
    *,
    created: bool,
    emails: int = 0,
    without_email: Sequence[str] = (),
    notes: Sequence[str] = (),
    documents: Sequence[str] | None = None,
) -> IssueResult:
    assert decision.id is not None
    grants = session.execute(
        select(
            col(AwardGrant.subject_kind), col(AwardGrant.amount_vnd), col(AwardGrant.certificate_path)
        ).where(col(AwardGrant.decision_id) == decision.id)
    ).all()
    if documents is None:
        if decision.status == DecisionStatus.PROPOSED:
            kinds, ref = (
                [DocumentKind.PROPOSAL, DocumentKind.PROPOSAL_LIST],
                f"{decision.number}/{decision.year}",
            )
        else:
            kinds, ref = [DocumentKind.DECISION], _decision_ref(decision, ctx.award)
        docs = (
            session.execute(
                select(col(CampaignDocument.path))
                .where(
                    col(CampaignDocument.campaign_id) == ctx.id,
                    col(CampaignDocument.kind).in_(kinds),
                    col(CampaignDocument.ref) == ref,
                )
                .order_by(col(CampaignDocument.id))
            )
            .scalars()
            .all()
        )
        documents = [*docs, *(path for _, _, path in grants if path)]
    if decision.status == DecisionStatus.PROPOSED:
        nominated = session.execute(
            select(col(Nomination.subject_kind), func.count(func.distinct(col(Nomination.id))))
            .join(ReviewResult, col(ReviewResult.nomination_id) == col(Nomination.id))
            .where(
                col(Nomination.campaign_id) == ctx.id,
                col(Nomination.award_key) == ctx.award.key,
                col(ReviewResult.outcome) == ReviewOutcome.SELECTED,
            )
            .group_by(col(Nomination.subject_kind))
        ).all()
        counts = {SubjectKind(kind): int(n) for kind, n in nominated}
    else:
        counts = {k: sum(1 for kind, _, _ in grants if kind == k) for k in SubjectKind}
    return IssueResult(
        campaign_code=ctx.code,
        award_key=ctx.award.key,
        award_name=ctx.award.name,
        decision_id=decision.id,
        status=DecisionStatus(decision.status),
        number=decision.number,
        symbol=decision.symbol,
        year=decision.year,
        decided_on=decision.decided_on,
        created=created,
        collectives=counts.get(SubjectKind.COLLECTIVE, 0),
        individuals=counts.get(SubjectKind.INDIVIDUAL, 0),
        total_vnd=sum(amount for _, amount, _ in grants),
        documents=tuple(documents),
        emails_queued=emails,
        without_email=tuple(without_email),
        campaign_status=CampaignStatus(ctx.campaign.status),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- grants, documents, emails


def _grant_all(
    session: Session,
    settings: Settings,
    ctx: _Campaign,
    decision: AwardDecision,
    council: Council,
    nominees: list[_Selected],
    *,
    now: datetime,
    actor: str,
) -> tuple[list[str], int, list[str]]:
    """Grants with their money, the decision DOCX, a certificate each, the document rows, the emails, the
    audit events and the lifecycle event of an issued decision. Returns (documents, emails queued, units
    without an email address)."""
    assert decision.id is not None
    award, defn = ctx.award, ctx.defn
    amounts = _amounts(ctx, settings, decision.decided_on)
    form_name = _form_name(award)
    folder = _award_dir(settings, ctx.code)
    cert_paths = {n.nomination_id: _certificate_path(settings, ctx.code, award, n) for n in nominees}
    grants = [
        AwardGrant(
            decision_id=decision.id,
            campaign_id=ctx.id,
            nomination_id=n.nomination_id,
            subject_kind=n.kind,
            subject_code=n.code,
            subject_name=n.name,
            unit_code=n.unit_code,
            amount_vnd=amounts.for_subject(n.kind.value),
            certificate_path=_relative(settings, cert_paths[n.nomination_id]),
            status=GrantStatus.ISSUED,
        )
        for n in nominees
    ]
    session.add_all(grants)
    session.flush()

    agency = _agency(session, defn, award.authority_unit_code)
    reference = decision_reference(decision.number, decision.symbol)
    header = DocumentHeader(
        parent_agency=agency.parent_agency,
        agency=agency.agency,
        number=decision.number,
        symbol=decision.symbol,
        place=agency.place,
        date=decision.decided_on,
    )
    achievement = campaign_phrase(defn)
    content = DecisionContent(
        header=header,
        form_name=form_name,
        authority_title=authority_title(award.authority),
        authority_name=award.authority,
        achievement=achievement,
        legal_basis=decision_legal_basis(decision.decided_on, _plan_clause(session, defn)),
        proposal=f"Theo đề nghị của {award.proposed_by.council if award.proposed_by else council.name}",
        awardees=[
            Awardee(n.kind.value, n.name, n.unit_name, g.amount_vnd, n.title)  # type: ignore[arg-type]
            for n, g in zip(nominees, grants, strict=True)
        ],
        collective_multiplier=amounts.collective_multiplier,
        individual_multiplier=amounts.individual_multiplier,
        base_salary=amounts.base.amount,
        base_salary_source=amounts.base.source,
        fund_owner=agency.name,
        signature=agency.signer,
        recipients=["Như Điều 3", council.name, "Lưu: VT"],
    )
    decision_path = render_decision(content, folder / f"quyet-dinh-{_safe(award.key)}.docx")
    title = CERTIFICATE_TITLES.get(award.form, "GIẤY CHỨNG NHẬN")
    doc_rows = [
        _document_row(
            settings, ctx.id, DocumentKind.DECISION, _decision_ref(decision, award), decision_path, now
        )
    ]
    line = f"Đã có thành tích xuất sắc trong {achievement}"
    for n, grant in zip(nominees, grants, strict=True):
        assert grant.id is not None
        detail = ", ".join(part for part in (n.title, n.unit_name) if part) or None
        cert = render_certificate(
            CertificateContent(
                form_title=title,
                authority_title=authority_title(award.authority),
                recipient=n.name,
                recipient_detail=detail,
                achievement=line,
                decision_ref=reference,
                decided_on=decision.decided_on,
                place=agency.place,
                signature=agency.signer,
                register_number=f"{decision.number:02d}/{decision.year}-{grant.id}",
            ),
            cert_paths[n.nomination_id],
        )
        doc_rows.append(_document_row(settings, ctx.id, DocumentKind.CERTIFICATE, str(grant.id), cert, now))
    _upsert_documents(session, doc_rows)

    # Emails: one per awardee, to their unit (the person in copy), the decision and the certificate attached.
    base: dict[str, Any] = {
        "campaign_code": ctx.code,
        "campaign_title": defn.title,
        "issuer_agency": issuer_name(session, defn),
        "authority": award.authority,
        "award_name": award.name,
        "form_name": form_name,
        "decision_ref": reference,
        "decided_on": decision.decided_on,
        "achievement": achievement,
        "contact_department": defn.issuer.contact.department,
        "contact_email": defn.issuer.contact.email,
    }
    rows: list[dict[str, Any]] = []
    without: list[str] = []
    decision_rel = _relative(settings, decision_path)
    for n, grant in zip(nominees, grants, strict=True):
        if not n.unit_email:
            if n.unit_code not in without:
                without.append(n.unit_code)
            continue
        unit_name = n.name if n.kind == SubjectKind.COLLECTIVE else n.unit_name
        context = {
            **base,
            "unit_name": unit_name,
            "subject_label": SUBJECT_LABELS[n.kind],
            "subject_name": n.name,
            "subject_detail": None
            if n.kind == SubjectKind.COLLECTIVE
            else ", ".join(p for p in (n.title, n.unit_name) if p),
            "amount_text": vn_money(grant.amount_vnd),
            "amount_words": amount_in_words(grant.amount_vnd),
        }
        subject, text, html = render_email("award_issued", context)
        rows.append(
            {
                "dedupe_key": f"award:{ctx.code}:{grant.id}",
                "kind": "award_issued",
                "recipient": n.unit_email,
                "recipient_name": unit_name,
                "subject": subject,
                "text": text,
                "html": html,
                "attachments": [decision_rel, grant.certificate_path],
                "reply_to": defn.issuer.contact.email,
                "cc": [n.person_email] if n.person_email else [],
                "campaign_id": ctx.id,
            }
        )
    queued = enqueue_many(session, rows, now, data_dir=settings.data_dir)

    for n, grant in zip(nominees, grants, strict=True):
        record_event(
            session,
            campaign_id=ctx.id,
            kind="grant.issued",
            now=now,
            actor=actor,
            subject=n.code,
            payload={
                "before": None,
                "after": {
                    "grant_id": grant.id,
                    "decision": reference,
                    "award_key": award.key,
                    "subject_kind": n.kind.value,
                    "subject_name": n.name,
                    "amount_vnd": grant.amount_vnd,
                    "status": GrantStatus.ISSUED.value,
                },
            },
        )
    total = sum(g.amount_vnd for g in grants)
    emit_domain_event(
        session,
        campaign_code=ctx.code,
        campaign_id=ctx.id,
        kind=AWARD_ISSUED,
        now=now,
        unit_code=decision.authority_unit_code,
        actor=actor,
        payload={
            "award_key": award.key,
            "decision": reference,
            "decided_on": decision.decided_on.isoformat(),
            "collectives": sum(1 for n in nominees if n.kind == SubjectKind.COLLECTIVE),
            "individuals": sum(1 for n in nominees if n.kind == SubjectKind.INDIVIDUAL),
            "total_vnd": total,
        },
    )
    documents = [row["path"] for row in doc_rows]
    return documents, queued, without


def _decision_payload(decision: AwardDecision) -> dict[str, Any]:
    return {
        "status": DecisionStatus(decision.status).value,
        "authority_unit_code": decision.authority_unit_code,
        "number": decision.number,
        "symbol": decision.symbol,
        "reference": decision_reference(decision.number, decision.symbol),
        "decided_on": decision.decided_on.isoformat(),
        "base_salary": decision.base_salary,
    }


# ---------------------------------------------------------------- issue


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
    decision and changes nothing."""
    with Session(engine) as s, s.begin():
        ctx = _load(s, code, award_key)
        existing = _existing_decision(s, ctx)
        if existing is not None:
            return _result_from_stored(s, ctx, existing, created=False)
        _require_in_review(ctx)
        council, meeting = _closed_meeting(s, ctx)
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

        amounts = _amounts(ctx, settings, decided_on)  # fail on a missing base salary before taking a number
        number = allocate_decision_number(s, ctx.award.authority_unit_code, decided_on.year)
        agency_suffix = _agency(s, ctx.defn, ctx.award.authority_unit_code).suffix
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
        s.add(decision)
        s.flush()
        record_event(
            s,
            campaign_id=ctx.id,
            kind="decision.issued",
            now=now,
            actor=actor,
            subject=decision_reference(number, decision.symbol),
            payload={"before": None, "after": {"award_key": ctx.award.key, **_decision_payload(decision)}},
        )
        documents, queued, without = _grant_all(
            s, settings, ctx, decision, council, nominees, now=now, actor=actor
        )
        _transition_when_all_decided(s, ctx, now=now, actor=actor)
        return _result_from_stored(
            s, ctx, decision, created=True, emails=queued, without_email=without, documents=documents
        )


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
    folder = _award_dir(settings, ctx.code)
    to_trinh = render_proposal(content, folder / f"to-trinh-{_safe(award.key)}.docx")
    danh_sach = render_proposal_list(content, folder / f"danh-sach-{_safe(award.key)}.docx")
    ref = f"{number}/{decided_on.year}"
    _upsert_documents(
        session,
        [
            _document_row(settings, ctx.id, DocumentKind.PROPOSAL, ref, to_trinh, now),
            _document_row(settings, ctx.id, DocumentKind.PROPOSAL_LIST, ref, danh_sach, now),
        ],
    )
    documents = [_relative(settings, to_trinh), _relative(settings, danh_sach)]
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
    nothing."""
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
        if decision is None:
            raise NotReady(
                f"Phong trào {ctx.code}: chưa có Tờ trình đề nghị “{award.name}”; lập tờ trình trước "
                "(award issue)."
            )
        if decision.status == DecisionStatus.ISSUED:
            same = (decision.number, decision.symbol, decision.decided_on) == (number, symbol, decided_on)
            if same:
                return _result_from_stored(s, ctx, decision, created=False)
            raise DecisionConflict(
                f"Phong trào {ctx.code}: đã ghi Quyết định số "
                f"{decision_reference(decision.number, decision.symbol)} "
                f"ngày {fmt_date(decision.decided_on)} cho “{award.name}”; không ghi đè bằng số "
                f"{decision_reference(number, symbol)}."
            )
        taken = s.scalars(
            select(AwardDecision).where(
                col(AwardDecision.authority_unit_code) == award.authority_unit_code,
                col(AwardDecision.year) == decided_on.year,
                col(AwardDecision.number) == number,
            )
        ).first()
        if taken is not None:
            raise DecisionConflict(
                f"Số {number} năm {decided_on.year} của {award.authority_unit_code} đã được dùng cho "
                f"quyết định {decision_reference(taken.number, taken.symbol)} "
                f"(phong trào #{taken.campaign_id}, “{taken.award_key}”)."
            )
        council, meeting = _closed_meeting(s, ctx)
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
        record_event(
            s,
            campaign_id=ctx.id,
            kind="decision.issued",
            now=now,
            actor=actor,
            subject=decision_reference(number, symbol),
            payload={"before": before, "after": {"award_key": award.key, **_decision_payload(decision)}},
        )
        documents, queued, without = _grant_all(
            s, settings, ctx, decision, council, nominees, now=now, actor=actor
        )
        _transition_when_all_decided(s, ctx, now=now, actor=actor)
        return _result_from_stored(
            s, ctx, decision, created=True, emails=queued, without_email=without, documents=documents
        )


# ---------------------------------------------------------------- revoke


def _aware(moment: datetime) -> datetime:
    # Stored times are UTC; a driver may hand them back naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def revoke_award(
    engine: Engine, settings: Settings, grant_id: int, *, reason: str, now: datetime, actor: str
) -> AwardGrant:
    """Withdraw one grant (Law 2022, ch. VII): status, reason, the money to recover, an email to the unit and
    an audit event. A grant is revoked once; a second revocation is refused."""
    why = nfc(reason)
    if not why:
        raise RevocationReasonRequired("Cần ghi lý do thu hồi khen thưởng (--reason).")
    with Session(engine, expire_on_commit=False) as s, s.begin():
        grant = s.scalars(select(AwardGrant).where(col(AwardGrant.id) == grant_id).with_for_update()).first()
        if grant is None:
            raise UnknownGrant(f"Không có khen thưởng mã số {grant_id}.")
        if grant.status == GrantStatus.REVOKED:
            when = (
                fmt_date(_aware(grant.revoked_at).astimezone(settings.tz))
                if grant.revoked_at
                else "trước đây"
            )
            raise AlreadyRevoked(
                f"Khen thưởng mã số {grant_id} ({grant.subject_name}) đã bị thu hồi ngày {when}"
                f"{' bởi ' + grant.revoked_by if grant.revoked_by else ''} (lý do: {grant.revoke_reason}); "
                "không thu hồi lần thứ hai."
            )
        decision = s.get(AwardDecision, grant.decision_id)
        campaign = s.get(Campaign, grant.campaign_id)
        assert decision is not None and campaign is not None and campaign.id is not None
        defn = definition_from_json(campaign.definition_json)
        award = next((a for a in defn.awards if a.key == decision.award_key), None)
        before = {"status": GrantStatus(grant.status).value, "amount_vnd": grant.amount_vnd}
        grant.status = GrantStatus.REVOKED
        grant.revoked_at = now
        grant.revoked_by = actor
        grant.revoke_reason = why
        grant.amount_to_recover = grant.amount_vnd
        s.add(grant)
        s.flush()
        reference = decision_reference(decision.number, decision.symbol)
        record_event(
            s,
            campaign_id=campaign.id,
            kind="grant.revoked",
            now=now,
            actor=actor,
            subject=grant.subject_code,
            payload={
                "before": before,
                "after": {
                    "status": GrantStatus.REVOKED.value,
                    "reason": why,
                    "amount_to_recover": grant.amount_to_recover,
                    "decision": reference,
                    "grant_id": grant.id,
                },
            },
        )
        unit = s.scalars(
            select(EnrolledUnit).where(
                col(EnrolledUnit.campaign_id) == campaign.id, col(EnrolledUnit.unit_code) == grant.unit_code
            )
        ).first()
        person = None
        if grant.subject_kind == SubjectKind.INDIVIDUAL:
            person = s.scalars(
                select(EnrolledPerson).where(
                    col(EnrolledPerson.campaign_id) == campaign.id,
                    col(EnrolledPerson.person_code) == grant.subject_code,
                )
            ).first()
        if unit is not None and unit.email:
            collective = grant.subject_kind == SubjectKind.COLLECTIVE
            award_name = award.name if award else decision.award_key
            subject, text, html = render_email(
                "award_revoked",
                {
                    "unit_name": unit.unit_name,
                    "campaign_code": campaign.code,
                    "issuer_agency": issuer_name(s, defn),
                    "award_name": award_name,
                    "form_name": _form_name(award) if award else award_name,
                    "subject_label": SUBJECT_LABELS[SubjectKind(grant.subject_kind)],
                    "subject_name": grant.subject_name,
                    "subject_detail": None
                    if collective
                    else ", ".join(p for p in (person.title if person else None, unit.unit_name) if p),
                    "decision_ref": reference,
                    "decided_on": decision.decided_on,
                    "revoked_on": now.astimezone(settings.tz).date(),
                    "reason": why,
                    "amount_text": vn_money(grant.amount_to_recover or 0),
                    "amount_words": amount_in_words(grant.amount_to_recover or 0),
                    "contact_department": defn.issuer.contact.department,
                    "contact_email": defn.issuer.contact.email,
                },
            )
            enqueue_many(
                s,
                [
                    {
                        "dedupe_key": f"award-revoked:{campaign.code}:{grant.id}",
                        "kind": "award_revoked",
                        "recipient": unit.email,
                        "recipient_name": unit.unit_name,
                        "subject": subject,
                        "text": text,
                        "html": html,
                        "reply_to": defn.issuer.contact.email,
                        "cc": [person.email] if person is not None and person.email else [],
                        "campaign_id": campaign.id,
                    }
                ],
                now,
            )
        return grant


# ---------------------------------------------------------------- reading


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


__all__ = [
    "CERTIFICATE_TITLES",
    "FORM_NAMES",
    "AlreadyRevoked",
    "AwardError",
    "DecisionConflict",
    "DecisionView",
    "GrantView",
    "IssueResult",
    "NotReady",
    "UnknownAward",
    "UnknownGrant",
    "allocate_decision_number",
    "authority_title",
    "campaign_phrase",
    "decision_reference",
    "issue_awards",
    "list_awards",
    "record_external_decision",
    "revoke_award",
]
