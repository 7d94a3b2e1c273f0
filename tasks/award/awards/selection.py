"""Who is to be awarded: the campaign in review, the closed council meeting, its selected nominees."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlmodel import Session, col

from thidua.models.campaign import Campaign
from thidua.models.definition import Award, CampaignDefinition, definition_from_json
from thidua.models.directory import Person, Unit
from thidua.models.review import (
    AwardDecision,
    Council,
    CouncilMeeting,
    MeetingStatus,
    Nomination,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)
from thidua.models.text import fmt_date, nfc, vn_sort_key
from thidua.notifications.documents.decree30 import SignatureBlock
from thidua.tasks.award.awards.errors import NotReady, UnknownAward
from thidua.tasks.award.awards.shared import ENROLLED_PEOPLE, ENROLLED_UNITS
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.launch.emails import issuer_name


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
