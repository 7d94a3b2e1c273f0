"""What a person reads for an internal value: Vietnamese labels of states, kinds, levels and choices.

Output (terminal, emails, documents, pages) shows these labels, never stored keys (`in_review`, `khu_vuc`).
"""

from __future__ import annotations

from thidua.models.states import CampaignStatus, DisciplineForm, UnitLevel

CAMPAIGN_STATUS: dict[CampaignStatus, str] = {
    CampaignStatus.DRAFT: "Chưa phát động",
    CampaignStatus.LAUNCHED: "Đã phát động",
    CampaignStatus.COLLECTING: "Đang nhận báo cáo",
    CampaignStatus.CLOSED: "Đã kết thúc",
    CampaignStatus.IN_REVIEW: "Đang xét khen thưởng",
    CampaignStatus.AWARDED: "Đã khen thưởng",
    CampaignStatus.ARCHIVED: "Đã lưu trữ",
}

LEVEL_LABELS: dict[UnitLevel, str] = {
    UnitLevel.BO: "Bộ",
    UnitLevel.CUC: "Cục",
    UnitLevel.BAN: "Ban",
    UnitLevel.TINH: "Tỉnh",
    UnitLevel.KHU_VUC: "Khu vực",
    UnitLevel.PHONG: "Phòng",
}

DISCIPLINE_LABELS: dict[DisciplineForm, str] = {
    DisciplineForm.KHIEN_TRACH: "Khiển trách",
    DisciplineForm.CANH_CAO: "Cảnh cáo",
    DisciplineForm.HA_BAC_LUONG: "Hạ bậc lương",
    DisciplineForm.GIANG_CHUC: "Giáng chức",
    DisciplineForm.CACH_CHUC: "Cách chức",
    DisciplineForm.BUOC_THOI_VIEC: "Buộc thôi việc",
    DisciplineForm.VI_PHAM_PHAP_LUAT: "Vi phạm pháp luật",
}


def unit_level(value: str) -> str:
    """The Vietnamese label of a unit level (an unknown value is shown as it is)."""
    try:
        return LEVEL_LABELS[UnitLevel(value)]
    except ValueError:
        return value


#: The command that moves a campaign into a state, as a person types it (CODE stands for the campaign's code).
REACHED_BY: dict[CampaignStatus, str] = {
    CampaignStatus.LAUNCHED: "thidua campaign launch TỆP_KẾ_HOẠCH",
    CampaignStatus.COLLECTING: "thidua collect CODE",
    CampaignStatus.CLOSED: "thidua close CODE",
    CampaignStatus.IN_REVIEW: "thidua review CODE",
    CampaignStatus.AWARDED: "thidua award run CODE",
}


def campaign_status(value: str | CampaignStatus) -> str:
    """The Vietnamese label of a campaign state (an unknown value is shown as it is)."""
    try:
        return CAMPAIGN_STATUS[CampaignStatus(value)]
    except ValueError:
        return str(value)


#: A council member's choice on a nominee (stored key → what a person reads and may type).
VOTE_CHOICE: dict[str, str] = {
    "approve": "Đồng ý",
    "reject": "Không đồng ý",
    "abstain": "Không ý kiến",
}


def vote_choice_key(text: str) -> str | None:
    """The stored key of a choice typed as the key (`approve`) or its label in any case (`đồng ý`); None if
    neither."""
    from thidua.models.text import nfc

    typed = nfc(text).strip().casefold()
    for key, label in VOTE_CHOICE.items():
        if typed in (key, label.casefold()):
            return key
    return None


#: By the stored value of `models.review.NominationStatus` (a StrEnum: its members find the same entries);
#: keyed by text so that reading a label does not load the review models.
NOMINATION_STATUS: dict[str, str] = {
    "submitted": "Đã gửi, hồ sơ chưa đủ",
    "complete": "Hồ sơ đầy đủ",
    "incomplete": "Hồ sơ không đầy đủ",
    "withdrawn": "Đã rút",
}


def nomination_counts(counts: dict[str, int]) -> str:
    """Counts per nomination status as a person reads them: “Hồ sơ đầy đủ 12 · Hồ sơ không đầy đủ 2”."""
    parts = []
    for key, n in counts.items():
        parts.append(f"{NOMINATION_STATUS.get(str(key), str(key))} {n}")
    return " · ".join(parts) if parts else "chưa có đề nghị nào"
