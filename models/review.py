"""Closing, review and award: final results, documents, nominations and dossiers, eligibility, the council
and its secret ballot, decisions and the awards they grant.

Secrecy of the ballot is a property of the schema, not of the queries: a member's participation
(BallotCast: who voted on which nominee) and the choices (BallotTally: counters per nominee) are stored apart,
and no row, id or timestamp ties a choice to a member.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel, UniqueConstraint

# ---------------------------------------------------------------- closing


class FinalResult(SQLModel, table=True):
    """A unit's or person's final figures and indicators, frozen by the close run, with its rank."""

    __tablename__ = "final_result"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subject_kind", "subject_code", name="uq_final_result"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    subject_kind: str = Field(max_length=10)  # "unit" | "person"
    subject_code: str = Field(max_length=40)
    unit_code: str = Field(max_length=40)  # the unit itself, or the person's unit
    # {"carried_over": 120, "arising": 30, "finished": 20} (rolled up for units)
    values_json: str = Field(sa_column=Column(Text, nullable=False))
    # {"reduction": {"num": 20, "den": 150, "target": "0.10", "met": true}}
    indicators_json: str = Field(sa_column=Column(Text, nullable=False))
    main_met: bool | None = None  # the main indicator's target met (None: no figures)
    rank: int | None = None  # 1 = best on the main indicator among subjects of the same kind; ties share
    has_report: bool = True  # units: a final report (or ledger figures) exists
    computed_at: datetime


class DocumentKind(StrEnum):
    PLAN = "plan"
    CLOSING_REPORT = "closing_report"  # DOCX
    CLOSING_TABLE = "closing_table"  # XLSX
    CLOSING_CHART = "closing_chart"  # PNG
    MINUTES = "minutes"  # Biên bản họp Hội đồng
    DECISION = "decision"  # Quyết định khen thưởng
    CERTIFICATE = "certificate"  # PDF, one per grant
    PROPOSAL = "proposal"  # Tờ trình to a higher authority
    PROPOSAL_LIST = "proposal_list"  # Danh sách
    DRAFT_LIST = "draft_list"  # a unit's Danh sách drafted from the system's data
    DRAFT_SUMMARY = "draft_summary"  # a unit's Tổng hợp kết quả drafted from the system's data


class CampaignDocument(SQLModel, table=True):
    """A document the system generated for a campaign; `ref` tells documents of the same kind apart
    (the meeting, the decision number, the grant)."""

    __tablename__ = "campaign_document"
    __table_args__ = (UniqueConstraint("campaign_id", "kind", "ref", name="uq_campaign_document"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    kind: DocumentKind = Field(max_length=20)
    ref: str = Field(default="", max_length=100)
    path: str = Field(max_length=500)  # relative to the data dir
    sha256: str = Field(max_length=64)
    created_at: datetime


# ---------------------------------------------------------------- nominations and dossiers


class SubjectKind(StrEnum):
    COLLECTIVE = "collective"  # tập thể: a unit
    INDIVIDUAL = "individual"  # cá nhân: a person


class NominationStatus(StrEnum):
    SUBMITTED = "submitted"  # parts may still be missing before the deadline
    COMPLETE = "complete"  # every required part arrived before the dossier deadline
    INCOMPLETE = "incomplete"  # the deadline passed with parts missing: kept, marked, not reviewed
    WITHDRAWN = "withdrawn"


class Nomination(SQLModel, table=True):
    """A unit's proposal of one collective or individual for one award type."""

    __tablename__ = "nomination"
    __table_args__ = (
        UniqueConstraint("campaign_id", "award_key", "subject_kind", "subject_code", name="uq_nomination"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    award_key: str = Field(max_length=60)
    subject_kind: SubjectKind = Field(max_length=12)
    subject_code: str = Field(max_length=40)  # unit code (collective) or person code (individual)
    subject_name: str = Field(max_length=300)
    subject_title: str | None = Field(default=None, max_length=100)  # a person's title ("Chấp hành viên")
    unit_code: str = Field(max_length=40)  # the collective itself, or the person's unit
    nominated_by: str = Field(max_length=40)  # the proposing unit's code
    submitted_at: datetime
    is_late: bool = False  # submitted after the dossier deadline
    status: NominationStatus = Field(default=NominationStatus.SUBMITTED, max_length=12, index=True)
    missing_parts_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    achievement: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    submitted_by: str | None = Field(default=None, max_length=254)


class NominationDecline(SQLModel, table=True):
    """A unit's declaration that it proposes nobody for the campaign: it gets no nomination or dossier
    reminder, and the closing and review papers list it as "không đề nghị". A later nomination of the unit
    takes it back (the row is deleted; both moves are audit events)."""

    __tablename__ = "nomination_decline"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_code", name="uq_nomination_decline"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_code: str = Field(max_length=40)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    declined_by: str | None = Field(default=None, max_length=254)
    declined_at: datetime


class DossierFile(SQLModel, table=True):
    """One stored file of a dossier part. A re-upload adds a revision; the previous one stays.

    A file with nomination_id None belongs to the proposing unit's whole dossier (Tờ trình, Danh sách, Biên
    bản); one with a nomination_id to that nominee only (Báo cáo thành tích)."""

    __tablename__ = "dossier_file"
    __table_args__ = (
        UniqueConstraint(
            "campaign_id", "unit_code", "nomination_id", "part_key", "revision", name="uq_dossier_file"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_code: str = Field(max_length=40)  # the proposing unit
    nomination_id: int | None = Field(default=None, foreign_key="nomination.id", index=True)
    part_key: str = Field(max_length=60)
    revision: int = 1
    is_current: bool = True
    original_name: str = Field(max_length=300)  # as the user named it: shown, never used as a path
    stored_path: str = Field(max_length=500)  # relative to the data dir, chosen by the system
    sha256: str = Field(max_length=64)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_type: str = Field(max_length=100)
    uploaded_at: datetime
    uploaded_by: str | None = Field(default=None, max_length=254)
    generated: bool = False  # drafted by the system from its own data
    on_time: bool = True


class EligibilityResult(SQLModel, table=True):
    """The screening of one nomination: pass or fail, every reason in Vietnamese. Re-screening replaces it."""

    __tablename__ = "eligibility_result"
    __table_args__ = (UniqueConstraint("nomination_id", name="uq_eligibility_nomination"),)
    id: int | None = Field(default=None, primary_key=True)
    nomination_id: int = Field(foreign_key="nomination.id")
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    eligible: bool
    # [{"rule": "discipline_window", "passed": false, "reason": "Bị kỷ luật khiển trách ngày 01/10/2023 ..."}]
    reasons_json: str = Field(sa_column=Column(Text, nullable=False))
    checked_at: datetime


# ---------------------------------------------------------------- the council


class CouncilRole(StrEnum):
    CHAIR = "chair"  # Chủ tịch
    DEPUTY = "deputy"  # Phó Chủ tịch
    SECRETARY = "secretary"  # Thư ký
    MEMBER = "member"  # Ủy viên


class Council(SQLModel, table=True):
    """An emulation council reviewing a campaign's nominations for the award types of one authority unit."""

    __tablename__ = "council"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_code", name="uq_council_campaign_unit"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_code: str = Field(max_length=40)  # the unit whose council this is (TQ; CQL)
    name: str = Field(max_length=300)


class CouncilMember(SQLModel, table=True):
    __tablename__ = "council_member"
    __table_args__ = (UniqueConstraint("council_id", "person_code", name="uq_council_member"),)
    id: int | None = Field(default=None, primary_key=True)
    council_id: int = Field(foreign_key="council.id", index=True)
    person_code: str = Field(max_length=40)
    full_name: str = Field(max_length=200)
    title: str | None = Field(default=None, max_length=200)  # "Phó Cục trưởng"
    unit_code: str | None = Field(default=None, max_length=40)
    role: CouncilRole = Field(default=CouncilRole.MEMBER, max_length=10)


class MeetingStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CouncilMeeting(SQLModel, table=True):
    __tablename__ = "council_meeting"
    id: int | None = Field(default=None, primary_key=True)
    council_id: int = Field(foreign_key="council.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    held_at: datetime
    place: str | None = Field(default=None, max_length=200)
    status: MeetingStatus = Field(default=MeetingStatus.OPEN, max_length=10)
    closed_at: datetime | None = None
    quorum_met: bool | None = None  # fixed when the meeting closes


class Attendance(SQLModel, table=True):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id", name="uq_attendance"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="council_meeting.id", index=True)
    member_id: int = Field(foreign_key="council_member.id")
    present: bool


class BallotCast(SQLModel, table=True):
    """That a member has voted on a nominee (never how): the guard against a second vote."""

    __tablename__ = "ballot_cast"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id", "nomination_id", name="uq_ballot_cast"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="council_meeting.id", index=True)
    member_id: int = Field(foreign_key="council_member.id")
    nomination_id: int = Field(foreign_key="nomination.id")
    written: bool = False  # an absent member's written vote


class BallotTally(SQLModel, table=True):
    """The counts of choices on one nominee at one meeting: incremented in the same transaction as the
    BallotCast row, so the sum always equals the number of casts and no choice is stored per member."""

    __tablename__ = "ballot_tally"
    __table_args__ = (UniqueConstraint("meeting_id", "nomination_id", name="uq_ballot_tally"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="council_meeting.id", index=True)
    nomination_id: int = Field(foreign_key="nomination.id")
    approve: int = 0
    reject: int = 0
    abstain: int = 0


class ReviewOutcome(StrEnum):
    SELECTED = "selected"  # approved and within the quota
    OVER_QUOTA = "over_quota"  # approved, but the quota was filled by nominees ranked higher
    NOT_APPROVED = "not_approved"  # fewer approving votes than the threshold
    TIE = "tie"  # approved, tied at the quota's edge: the chair decides, with a recorded reason


class ReviewResult(SQLModel, table=True):
    """The council's result for one nominee at one meeting, with the explanation."""

    __tablename__ = "review_result"
    __table_args__ = (UniqueConstraint("meeting_id", "nomination_id", name="uq_review_result"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="council_meeting.id", index=True)
    nomination_id: int = Field(foreign_key="nomination.id")
    approve: int
    reject: int
    abstain: int
    approved: bool
    outcome: ReviewOutcome = Field(max_length=12)
    position: int | None = None  # order within its award type and subject kind
    explanation: str = Field(sa_column=Column(Text, nullable=False))
    decided_by: str | None = Field(default=None, max_length=254)  # the chair, when a tie was broken
    tie_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


# ---------------------------------------------------------------- decisions and awards


class DecisionCounter(SQLModel, table=True):
    """The last decision number of an issuing authority in a year: numbers restart each year, without gaps."""

    __tablename__ = "decision_counter"
    authority_unit_code: str = Field(max_length=40, primary_key=True)
    year: int = Field(primary_key=True)
    last_number: int = 0


class DecisionStatus(StrEnum):
    ISSUED = "issued"
    PROPOSED = "proposed"  # a package sent to a higher authority, waiting for its decision


class AwardDecision(SQLModel, table=True):
    __tablename__ = "award_decision"
    __table_args__ = (
        UniqueConstraint("authority_unit_code", "year", "number", name="uq_decision_number"),
        UniqueConstraint("campaign_id", "award_key", name="uq_decision_campaign_award"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    award_key: str = Field(max_length=60)
    authority_unit_code: str = Field(max_length=40)
    year: int
    number: int
    symbol: str = Field(max_length=40)  # "QĐ-CTHADS"
    decided_on: date
    base_salary: int = Field(sa_column=Column(BigInteger, nullable=False))  # VND in force on decided_on
    status: DecisionStatus = Field(default=DecisionStatus.ISSUED, max_length=10)
    issued_at: datetime
    issued_by: str | None = Field(default=None, max_length=254)


class GrantStatus(StrEnum):
    ISSUED = "issued"
    REVOKED = "revoked"


class AwardGrant(SQLModel, table=True):
    """One award to one collective or individual under a decision."""

    __tablename__ = "award_grant"
    __table_args__ = (UniqueConstraint("nomination_id", name="uq_grant_nomination"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="award_decision.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    nomination_id: int = Field(foreign_key="nomination.id")
    subject_kind: SubjectKind = Field(max_length=12)
    subject_code: str = Field(max_length=40)
    subject_name: str = Field(max_length=300)
    unit_code: str = Field(max_length=40)
    amount_vnd: int = Field(sa_column=Column(BigInteger, nullable=False))
    certificate_path: str | None = Field(default=None, max_length=500)
    status: GrantStatus = Field(default=GrantStatus.ISSUED, max_length=10)
    revoked_at: datetime | None = None
    revoked_by: str | None = Field(default=None, max_length=254)
    revoke_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    amount_to_recover: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
