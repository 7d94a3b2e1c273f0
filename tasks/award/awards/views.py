"""What the award stage reports back: an issued (or proposed) decision, its grants, a listing row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from thidua.models.campaign import CampaignStatus
from thidua.models.labels import campaign_status
from thidua.models.money import (
    vn_money,
)
from thidua.models.review import (
    DecisionStatus,
    GrantStatus,
    SubjectKind,
)
from thidua.models.text import fmt_date
from thidua.tasks.award.awards.numbering import decision_reference
from thidua.tasks.award.awards.shared import CAMPAIGN_STATUS_LABELS


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
        status = self.campaign_status
        state_label = CAMPAIGN_STATUS_LABELS.get(status) or campaign_status(status)
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
