"""The paperwork of a decision: names, paths, document rows, amounts, the result read back from storage."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from thidua.models.campaign import CampaignStatus
from thidua.models.db import upsert
from thidua.models.definition import KIND_LABELS, Award, CampaignDefinition
from thidua.models.money import (
    AwardAmounts,
    MoneyError,
    award_amounts,
)
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    CampaignDocument,
    DecisionStatus,
    DocumentKind,
    Nomination,
    ReviewOutcome,
    ReviewResult,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.storage import storage_for, storage_key
from thidua.models.text import nfc
from thidua.notifications.documents.decision import (
    plan_clause,
)
from thidua.tasks.award.awards.errors import NotReady
from thidua.tasks.award.awards.selection import _Campaign, _Selected
from thidua.tasks.award.awards.shared import DOCUMENTS, FORM_NAMES, decision_document_ref
from thidua.tasks.award.awards.views import IssueResult
from thidua.tasks.core.campaigns import transition
from thidua.tasks.launch.emails import issuer_name


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


def _award_dir(code: str) -> str:
    """The storage folder (key prefix) of a campaign's award papers."""
    return storage_key("documents", code, "khen-thuong")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _store(settings: Settings, k: str, render: Callable[[Path], object]) -> tuple[str, bytes]:
    """Render a document through a temporary file into the storage under `k`: (key, bytes)."""
    return k, storage_for(settings).put_rendered(k, render)


def _certificate_key(code: str, award: Award, nominee: _Selected) -> str:
    name = _safe(f"{nominee.kind.value}-{nominee.code}.pdf")
    return f"{_award_dir(code)}/{storage_key(_safe(award.key), name)}"


def _upsert_documents(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record generated files; a re-generated document replaces its row (same campaign, kind and ref)."""
    upsert(session, DOCUMENTS, rows, ["campaign_id", "kind", "ref"])


def _document_row(
    campaign_id: int, kind: DocumentKind, ref: str, stored: tuple[str, bytes], now: datetime
) -> dict[str, Any]:
    k, data = stored
    return {
        "campaign_id": campaign_id,
        "kind": kind.value,
        "ref": ref,
        "path": k,
        "sha256": hashlib.sha256(data).hexdigest(),
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
            kinds, ref = [DocumentKind.DECISION], decision_document_ref(decision, ctx.award)
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
