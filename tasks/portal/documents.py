"""A unit's documents in one campaign: the plan, the closing report (its current version, with its table),
and the award paperwork that concerns the unit — each decision that grants it or one of its people an award,
and the certificates of those grants.

Every file is named here by a storage key read from the database (never from a request): a page asks for a
document by the id this listing gives it, and gets it only if it is in the unit's own listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.errors import NotFound
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    CampaignDocument,
    DecisionStatus,
    DocumentKind,
    GrantStatus,
    SubjectKind,
)
from thidua.tasks.award.awards.shared import decision_document_ref
from thidua.tasks.core.campaigns import campaign_code
from thidua.tasks.review.nominations.lookups import campaign_and_definition

#: The id of the plan in a unit's listing (the plan has no CampaignDocument row of its own).
PLAN_ID = "ke-hoach"

_CLOSING = (DocumentKind.CLOSING_REPORT, DocumentKind.CLOSING_TABLE)
_KIND_LABELS = {
    DocumentKind.PLAN: "Kế hoạch phong trào",
    DocumentKind.CLOSING_REPORT: "Báo cáo tổng kết",
    DocumentKind.CLOSING_TABLE: "Biểu tổng hợp kết quả",
    DocumentKind.DECISION: "Quyết định khen thưởng",
    DocumentKind.CERTIFICATE: "Giấy chứng nhận khen thưởng",
}


@dataclass(frozen=True)
class UnitDocument:
    id: str  # PLAN_ID or the CampaignDocument id, as the pages and the API name it
    kind: DocumentKind
    label: str  # what the page shows: “Quyết định khen thưởng số 01/2024”
    key: str  # the storage key (models/storage.py), from the database only
    created_at: datetime | None

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix.lower()


def unit_documents(engine: Engine, unit_code: str, code: str) -> list[UnitDocument]:
    """The documents of campaign `code` that concern `unit_code`, in the order a reader wants them.
    The caller has checked that the unit takes part in the campaign (tasks/portal/units.unit_overview)."""
    with Session(engine) as s:
        campaign, defn = campaign_and_definition(s, campaign_code(code))
        assert campaign.id is not None
        docs: list[UnitDocument] = []
        plan_row = s.execute(
            select(col(CampaignDocument.path)).where(
                col(CampaignDocument.campaign_id) == campaign.id,
                col(CampaignDocument.kind) == DocumentKind.PLAN,
            )
        ).scalar()
        plan = campaign.plan_document or plan_row
        if plan:
            docs.append(UnitDocument(PLAN_ID, DocumentKind.PLAN, _KIND_LABELS[DocumentKind.PLAN], plan, None))
        # The closing documents without a ref are the current version (write_closing_documents replaces them).
        for row in s.scalars(
            select(CampaignDocument)
            .where(
                col(CampaignDocument.campaign_id) == campaign.id,
                col(CampaignDocument.kind).in_(list(_CLOSING)),
                col(CampaignDocument.ref) == "",
            )
            .order_by(col(CampaignDocument.kind))
        ):
            assert row.id is not None
            docs.append(UnitDocument(str(row.id), row.kind, _KIND_LABELS[row.kind], row.path, row.created_at))
        grants = s.execute(
            select(AwardGrant, AwardDecision)
            .join(AwardDecision, col(AwardDecision.id) == col(AwardGrant.decision_id))
            .where(
                col(AwardGrant.campaign_id) == campaign.id,
                col(AwardGrant.unit_code) == unit_code,
                col(AwardGrant.status) == GrantStatus.ISSUED,
                col(AwardDecision.status) == DecisionStatus.ISSUED,
            )
            .order_by(col(AwardDecision.id), col(AwardGrant.id))
        ).all()
        decision_refs: dict[str, AwardDecision] = {}
        for _grant, decision in grants:
            decision_refs.setdefault(
                decision_document_ref(decision, defn.award(decision.award_key)), decision
            )
        grant_refs = {str(g.id): g for g, _d in grants}
        wanted = [*decision_refs, *grant_refs]
        rows = (
            s.scalars(
                select(CampaignDocument)
                .where(
                    col(CampaignDocument.campaign_id) == campaign.id,
                    col(CampaignDocument.kind).in_([DocumentKind.DECISION, DocumentKind.CERTIFICATE]),
                    col(CampaignDocument.ref).in_(wanted),
                )
                .order_by(col(CampaignDocument.id))
            ).all()
            if wanted
            else []
        )
        for row in rows:
            assert row.id is not None
            if row.kind == DocumentKind.DECISION and row.ref in decision_refs:
                d = decision_refs[row.ref]
                label = f"Quyết định khen thưởng số {d.number:02d}/{d.symbol}"
            elif row.kind == DocumentKind.CERTIFICATE and row.ref in grant_refs:
                g = grant_refs[row.ref]
                who = "tập thể" if g.subject_kind == SubjectKind.COLLECTIVE else "cá nhân"
                label = f"Giấy chứng nhận khen thưởng — {who} {g.subject_name}"
            else:
                continue  # a ref of the other kind that happens to match: not this unit's document
            docs.append(UnitDocument(str(row.id), row.kind, label, row.path, row.created_at))
    return docs


def unit_document(engine: Engine, unit_code: str, code: str, doc_id: str) -> UnitDocument:
    """One document of the unit's listing by its id; NotFound for any other (another unit's certificate
    answers exactly as an id that does not exist)."""
    for doc in unit_documents(engine, unit_code, code):
        if doc.id == doc_id:
            return doc
    raise NotFound(f"Không có tài liệu “{doc_id[:40]}” của đơn vị {unit_code} trong phong trào này.")
