"""What the parts of the award stage share: form names, certificate titles, labels, the tables."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from thidua.models.campaign import CampaignStatus, EnrolledPerson, EnrolledUnit
from thidua.models.definition import AwardForm
from thidua.models.review import (
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
