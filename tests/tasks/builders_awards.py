"""Builders for the award tests: a launched campaign in review with a council, a closed meeting, nominations
and review results inserted directly (the review stage is another helper's), optionally the minutes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from tests.factories import NATIONAL_DEFINITION, TQ_DEFINITION, at, launch_campaign_rows, load_demo_directory
from thidua.models.campaign import Campaign, CampaignStatus, EnrolledPerson, EnrolledUnit
from thidua.models.review import (
    CampaignDocument,
    Council,
    CouncilMeeting,
    CouncilMember,
    DocumentKind,
    MeetingStatus,
    Nomination,
    NominationStatus,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.tasks.core.events import CAMPAIGN_CLOSED, record_event

TQ_CODE = "TQ-2024-GIAM-AN"
TQ_AWARD = "giay_khen_cuc_truong"
NATIONAL_CODE = "BTP-2026-80-NAM-THADS"
BANG_KHEN = "bang_khen_bo_truong"
GIAY_KHEN_CQL = "giay_khen_cuc_truong"

# Seed 003's quota: 2 collectives, 3 individuals (Chấp hành viên of three Chi cục, and a clean unit head).
TQ_COLLECTIVES = ("TQ-TP", "TQ-NH")
TQ_INDIVIDUALS = ("TQ-YS-05", "TQ-HY-05", "TQ-CH-01")


@dataclass(frozen=True)
class Pick:
    """One council result: who, for which award, with what outcome."""

    kind: SubjectKind
    code: str
    award_key: str = TQ_AWARD
    outcome: ReviewOutcome = ReviewOutcome.SELECTED
    approve: int = 6
    position: int | None = None
    achievement: str | None = None


def collective(code: str, award_key: str = TQ_AWARD, **kw: object) -> Pick:
    return Pick(SubjectKind.COLLECTIVE, code, award_key, **kw)  # type: ignore[arg-type]


def individual(code: str, award_key: str = TQ_AWARD, **kw: object) -> Pick:
    return Pick(SubjectKind.INDIVIDUAL, code, award_key, **kw)  # type: ignore[arg-type]


def tq_picks() -> list[Pick]:
    return [collective(c, position=i) for i, c in enumerate(TQ_COLLECTIVES, 1)] + [
        individual(c, position=i) for i, c in enumerate(TQ_INDIVIDUALS, 1)
    ]


@dataclass
class Ready:
    campaign_id: int
    code: str
    council_id: int
    meeting_id: int
    nominations: dict[str, int] = field(default_factory=dict)  # subject code -> nomination id


def launch_tq(engine: Engine, tmp_path: Path, definition: Path = TQ_DEFINITION) -> int:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    return launch_campaign_rows(engine, definition)


def launch_national(engine: Engine, tmp_path: Path) -> int:
    load_demo_directory(engine, "national-2026", tmp_path, now=at("02/01/2026"))
    return launch_campaign_rows(engine, NATIONAL_DEFINITION, at("25/02/2026", 9))


def in_review(
    engine: Engine,
    campaign_id: int,
    picks: Sequence[Pick],
    *,
    council_unit: str = "TQ",
    council_name: str = "Hội đồng Thi đua - Khen thưởng các cơ quan Thi hành án dân sự tỉnh Tuyên Quang",
    held_at: datetime | None = None,
    meeting_status: MeetingStatus = MeetingStatus.CLOSED,
    quorum_met: bool = True,
    status: CampaignStatus = CampaignStatus.IN_REVIEW,
    members: int = 7,
    closed_at: datetime | None = None,
) -> Ready:
    """Council, members, one meeting, nominations and review results for `picks`; the campaign in `status`
    (with the audit row of its close at `closed_at`, as the close run writes it, when given)."""
    held = held_at or at("10/07/2024", 14)
    with Session(engine) as s, s.begin():
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        s.execute(update(Campaign).where(col(Campaign.id) == campaign_id).values(status=status))
        if closed_at is not None:
            payload = {"before": CampaignStatus.COLLECTING.value, "after": CampaignStatus.CLOSED.value}
            record_event(
                s,
                campaign_id=campaign_id,
                kind=CAMPAIGN_CLOSED,
                now=closed_at,
                actor="close",
                payload=payload,
            )
        council = Council(campaign_id=campaign_id, unit_code=council_unit, name=council_name)
        s.add(council)
        s.flush()
        assert council.id is not None
        staff = s.execute(
            select(col(EnrolledPerson.person_code), col(EnrolledPerson.full_name))
            .where(col(EnrolledPerson.campaign_id) == campaign_id)
            .order_by(col(EnrolledPerson.person_code))
            .limit(members)
        ).all()
        s.add_all(CouncilMember(council_id=council.id, person_code=c, full_name=n) for c, n in staff)
        closed = meeting_status == MeetingStatus.CLOSED
        meeting = CouncilMeeting(
            council_id=council.id,
            campaign_id=campaign_id,
            held_at=held,
            status=meeting_status,
            closed_at=held.replace(hour=17) if closed else None,
            quorum_met=quorum_met if closed else None,
        )
        s.add(meeting)
        s.flush()
        assert meeting.id is not None
        ready = Ready(campaign_id, campaign.code, council.id, meeting.id)
        for pick in picks:
            if pick.kind == SubjectKind.INDIVIDUAL:
                person = s.scalars(
                    select(EnrolledPerson).where(
                        col(EnrolledPerson.campaign_id) == campaign_id,
                        col(EnrolledPerson.person_code) == pick.code,
                    )
                ).one()
                name, title, unit = person.full_name, person.title, person.unit_code
            else:
                enrolled = s.scalars(
                    select(EnrolledUnit).where(
                        col(EnrolledUnit.campaign_id) == campaign_id, col(EnrolledUnit.unit_code) == pick.code
                    )
                ).one()
                name, title, unit = enrolled.unit_name, None, enrolled.unit_code
            nomination = Nomination(
                campaign_id=campaign_id,
                award_key=pick.award_key,
                subject_kind=pick.kind,
                subject_code=pick.code,
                subject_name=name,
                subject_title=title,
                unit_code=unit,
                nominated_by=unit,
                submitted_at=at("02/07/2024", 9),
                status=NominationStatus.COMPLETE,
                achievement=pick.achievement,
            )
            s.add(nomination)
            s.flush()
            assert nomination.id is not None
            ready.nominations[pick.code] = nomination.id
            s.add(
                ReviewResult(
                    meeting_id=meeting.id,
                    nomination_id=nomination.id,
                    approve=pick.approve,
                    reject=members - pick.approve,
                    abstain=0,
                    approved=pick.outcome != ReviewOutcome.NOT_APPROVED,
                    outcome=pick.outcome,
                    position=pick.position,
                    explanation="Kết quả do bộ dựng dữ liệu kiểm thử ghi.",
                )
            )
    return ready


def national_in_review(engine: Engine, campaign_id: int, picks: Sequence[Pick]) -> Ready:
    return in_review(
        engine,
        campaign_id,
        picks,
        council_unit="CQL",
        council_name="Hội đồng Thi đua - Khen thưởng Cục Quản lý THADS",
        held_at=at("22/06/2026", 14),
        members=9,
    )


def add_minutes(engine: Engine, settings: Settings, ready: Ready) -> str:
    """The council's minutes as the review stage would record them (ref = the meeting id)."""
    relative = f"documents/{ready.code}/bien-ban-hop-hoi-dong-{ready.meeting_id}.docx"
    path = settings.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK minutes")
    with Session(engine) as s, s.begin():
        s.add(
            CampaignDocument(
                campaign_id=ready.campaign_id,
                kind=DocumentKind.MINUTES,
                ref=str(ready.meeting_id),
                path=relative,
                sha256="0" * 64,
                created_at=at("22/06/2026", 17),
            )
        )
    return relative
