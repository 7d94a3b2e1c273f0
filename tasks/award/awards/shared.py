"""What the parts of the award stage share: form names, certificate titles, labels, the tables."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from thidua.models.campaign import CampaignStatus, EnrolledPerson, EnrolledUnit
from thidua.models.definition import Award, AwardForm
from thidua.models.review import (
    AwardDecision,
    CampaignDocument,
    DecisionCounter,
    DecisionStatus,
    GrantStatus,
    SubjectKind,
)

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


def decision_document_ref(decision: AwardDecision, award: Award) -> str:
    """The decision document's ref (CampaignDocument.ref): "<number>/<year>" for our own registers; a decision
    numbered by a higher authority adds its unit, so it cannot replace the document of an own decision with
    the same number. The award stage writes it; the portal finds a unit's decisions by it."""
    ref = f"{decision.number}/{decision.year}"
    return ref if award.proposed_by is None else f"{ref}/{decision.authority_unit_code}"
