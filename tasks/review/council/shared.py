"""What the parts of the council share: vote choices, role and outcome labels, tables written set-based."""

from __future__ import annotations

from typing import Literal, cast

from sqlalchemy import Table
from sqlmodel import SQLModel

from thidua.models.review import (
    BallotTally,
    CampaignDocument,
    CouncilRole,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)

Choice = Literal["approve", "reject", "abstain"]
CHOICES: tuple[str, ...] = ("approve", "reject", "abstain")

ROLE_LABELS: dict[CouncilRole, str] = {
    CouncilRole.CHAIR: "Chủ tịch",
    CouncilRole.DEPUTY: "Phó Chủ tịch",
    CouncilRole.SECRETARY: "Thư ký",
    CouncilRole.MEMBER: "Ủy viên",
}
OUTCOME_LABELS: dict[ReviewOutcome, str] = {
    ReviewOutcome.SELECTED: "Được chọn",
    ReviewOutcome.OVER_QUOTA: "Vượt chỉ tiêu",
    ReviewOutcome.NOT_APPROVED: "Không đủ phiếu",
    ReviewOutcome.TIE: "Bằng nhau, chờ Chủ tịch quyết định",
}
KIND_WORDS: dict[str, str] = {
    SubjectKind.COLLECTIVE.value: "tập thể",
    SubjectKind.INDIVIDUAL.value: "cá nhân",
}
_ROLE_ORDER = {CouncilRole.CHAIR: 0, CouncilRole.DEPUTY: 1, CouncilRole.MEMBER: 2, CouncilRole.SECRETARY: 3}
MINUTES_SYMBOL = "BB-HĐTĐKT"

BALLOT_TALLY = cast(Table, SQLModel.metadata.tables[BallotTally.__tablename__])
REVIEW_RESULT = cast(Table, SQLModel.metadata.tables[ReviewResult.__tablename__])
CAMPAIGN_DOCUMENT = cast(Table, SQLModel.metadata.tables[CampaignDocument.__tablename__])
