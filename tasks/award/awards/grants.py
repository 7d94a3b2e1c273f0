"""Granting: one grant per selected nominee, its certificate, the money, the emails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session

from thidua.models.money import AwardAmounts, amount_in_words, vn_money
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    Council,
    DecisionStatus,
    DocumentKind,
    GrantStatus,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.storage import storage_for, storage_key
from thidua.notifications.documents.certificate import CertificateContent, render_certificate
from thidua.notifications.documents.decision import (
    Awardee,
    DecisionContent,
    decision_legal_basis,
    render_decision,
)
from thidua.notifications.documents.decree30 import DocumentHeader
from thidua.notifications.outbox import enqueue_many
from thidua.notifications.templating import render_email
from thidua.tasks.award.awards.numbering import decision_reference
from thidua.tasks.award.awards.paperwork import (
    _amounts,
    _award_dir,
    _certificate_key,
    _document_row,
    _form_name,
    _plan_clause,
    _result_from_stored,
    _safe,
    _store,
    _transition_when_all_decided,
    _upsert_documents,
    authority_title,
    campaign_phrase,
)
from thidua.tasks.award.awards.selection import _Agency, _agency, _Campaign, _Selected
from thidua.tasks.award.awards.shared import CERTIFICATE_TITLES, SUBJECT_LABELS, decision_document_ref
from thidua.tasks.award.awards.views import IssueResult
from thidua.tasks.core.events import AWARD_ISSUED, emit_domain_event, record_event
from thidua.tasks.launch.emails import issuer_name


@dataclass(frozen=True)
class _Granting:
    """One decision being granted: who, for how much, and under which body's name."""

    ctx: _Campaign
    decision: AwardDecision
    council: Council
    nominees: list[_Selected]
    grants: list[AwardGrant]
    amounts: AwardAmounts
    agency: _Agency

    @property
    def reference(self) -> str:
        return decision_reference(self.decision.number, self.decision.symbol)

    def pairs(self) -> list[tuple[_Selected, AwardGrant]]:
        return list(zip(self.nominees, self.grants, strict=True))


def _issue(
    session: Session,
    settings: Settings,
    ctx: _Campaign,
    decision: AwardDecision,
    council: Council,
    nominees: list[_Selected],
    *,
    before: dict[str, Any] | None,
    now: datetime,
    actor: str,
) -> IssueResult:
    """An issued decision (new, or a proposal the authority decided: `before`) becomes its audit event, the
    grants with their money, the decision DOCX, a certificate each, the document rows, the emails, the grants'
    audit events and the lifecycle event; the campaign moves on once every award type is decided."""
    record_event(
        session,
        campaign_id=ctx.id,
        kind="decision.issued",
        now=now,
        actor=actor,
        subject=decision_reference(decision.number, decision.symbol),
        payload={"before": before, "after": {"award_key": ctx.award.key, **_decision_payload(decision)}},
    )
    cert_paths = {n.nomination_id: _certificate_key(ctx.code, ctx.award, n) for n in nominees}
    amounts = _amounts(ctx, settings, decision.decided_on)
    grants = _create_grants(session, settings, ctx, decision, nominees, amounts, cert_paths)
    agency = _agency(session, ctx.defn, ctx.award.authority_unit_code)
    job = _Granting(ctx, decision, council, nominees, grants, amounts, agency)
    decision_doc = _write_decision(session, settings, job)
    doc_rows = [
        _document_row(
            ctx.id, DocumentKind.DECISION, decision_document_ref(decision, ctx.award), decision_doc, now
        ),
        *_write_certificates(settings, job, cert_paths, now),
    ]
    _upsert_documents(session, doc_rows)
    rows, without = _award_emails(session, settings, job, decision_doc[0])
    queued = enqueue_many(session, rows, now, storage=storage_for(settings))
    _record_grants(session, job, now=now, actor=actor)
    _transition_when_all_decided(session, ctx, now=now, actor=actor)
    documents = [row["path"] for row in doc_rows]
    return _result_from_stored(
        session, ctx, decision, created=True, emails=queued, without_email=without, documents=documents
    )


def _create_grants(
    session: Session,
    settings: Settings,
    ctx: _Campaign,
    decision: AwardDecision,
    nominees: list[_Selected],
    amounts: AwardAmounts,
    cert_paths: dict[int, str],
) -> list[AwardGrant]:
    assert decision.id is not None
    grants = [
        AwardGrant(
            decision_id=decision.id,
            campaign_id=ctx.id,
            nomination_id=n.nomination_id,
            subject_kind=n.kind,
            subject_code=n.code,
            subject_name=n.name,
            unit_code=n.unit_code,
            amount_vnd=amounts.for_subject(n.kind.value),
            certificate_path=cert_paths[n.nomination_id],
            status=GrantStatus.ISSUED,
        )
        for n in nominees
    ]
    session.add_all(grants)
    session.flush()
    return grants


def _write_decision(session: Session, settings: Settings, job: _Granting) -> tuple[str, bytes]:
    """The Quyết định (DOCX), stored in the campaign's award folder: (key, bytes)."""
    award, defn, decision, agency = job.ctx.award, job.ctx.defn, job.decision, job.agency
    header = DocumentHeader(
        parent_agency=agency.parent_agency,
        agency=agency.agency,
        number=decision.number,
        symbol=decision.symbol,
        place=agency.place,
        date=decision.decided_on,
    )
    content = DecisionContent(
        header=header,
        form_name=_form_name(award),
        authority_title=authority_title(award.authority),
        authority_name=award.authority,
        achievement=campaign_phrase(defn),
        legal_basis=decision_legal_basis(decision.decided_on, _plan_clause(session, defn)),
        proposal=f"Theo đề nghị của {award.proposed_by.council if award.proposed_by else job.council.name}",
        awardees=[
            Awardee(n.kind.value, n.name, n.unit_name, g.amount_vnd, n.title)  # type: ignore[arg-type]
            for n, g in job.pairs()
        ],
        collective_multiplier=job.amounts.collective_multiplier,
        individual_multiplier=job.amounts.individual_multiplier,
        base_salary=job.amounts.base.amount,
        base_salary_source=job.amounts.base.source,
        fund_owner=agency.name,
        signature=agency.signer,
        recipients=["Như Điều 3", job.council.name, "Lưu: VT"],
    )
    k = f"{_award_dir(job.ctx.code)}/{storage_key(_safe(f'quyet-dinh-{award.key}.docx'))}"
    return _store(settings, k, lambda path: render_decision(content, path))


def _write_certificates(
    settings: Settings, job: _Granting, cert_paths: dict[int, str], now: datetime
) -> list[dict[str, Any]]:
    """One certificate (PDF) per awardee; their document rows."""
    award, decision, agency = job.ctx.award, job.decision, job.agency
    title = CERTIFICATE_TITLES.get(award.form, "GIẤY CHỨNG NHẬN")
    line = f"Đã có thành tích xuất sắc trong {campaign_phrase(job.ctx.defn)}"
    rows: list[dict[str, Any]] = []
    for n, grant in job.pairs():
        assert grant.id is not None
        detail = ", ".join(part for part in (n.title, n.unit_name) if part) or None
        content = CertificateContent(
            form_title=title,
            authority_title=authority_title(award.authority),
            recipient=n.name,
            recipient_detail=detail,
            achievement=line,
            decision_ref=job.reference,
            decided_on=decision.decided_on,
            place=agency.place,
            signature=agency.signer,
            register_number=f"{decision.number:02d}/{decision.year}-{grant.id}",
        )
        cert = _store(settings, cert_paths[n.nomination_id], partial(render_certificate, content))
        rows.append(_document_row(job.ctx.id, DocumentKind.CERTIFICATE, str(grant.id), cert, now))
    return rows


def _award_emails(
    session: Session, settings: Settings, job: _Granting, decision_rel: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """One email per awardee, to their unit (the person in copy), the decision and the certificate attached;
    and the units that have no address."""
    ctx, award, defn = job.ctx, job.ctx.award, job.ctx.defn
    base: dict[str, Any] = {
        "campaign_code": ctx.code,
        "campaign_title": defn.title,
        "issuer_agency": issuer_name(session, defn),
        "authority": award.authority,
        "award_name": award.name,
        "form_name": _form_name(award),
        "decision_ref": job.reference,
        "decided_on": job.decision.decided_on,
        "achievement": campaign_phrase(defn),
        "contact_department": defn.issuer.contact.department,
        "contact_email": defn.issuer.contact.email,
    }
    rows: list[dict[str, Any]] = []
    without: list[str] = []
    for n, grant in job.pairs():
        if not n.unit_email:
            if n.unit_code not in without:
                without.append(n.unit_code)
            continue
        unit_name = n.name if n.kind == SubjectKind.COLLECTIVE else n.unit_name
        context = {
            **base,
            "unit_name": unit_name,
            "subject_label": SUBJECT_LABELS[n.kind],
            "subject_name": n.name,
            "subject_detail": None
            if n.kind == SubjectKind.COLLECTIVE
            else ", ".join(p for p in (n.title, n.unit_name) if p),
            "amount_text": vn_money(grant.amount_vnd),
            "amount_words": amount_in_words(grant.amount_vnd),
        }
        subject, text, html = render_email("award_issued", context)
        rows.append(
            {
                "dedupe_key": f"award:{ctx.code}:{grant.id}",
                "kind": "award_issued",
                "recipient": n.unit_email,
                "recipient_name": unit_name,
                "subject": subject,
                "text": text,
                "html": html,
                "attachments": [decision_rel, grant.certificate_path],
                "reply_to": defn.issuer.contact.email,
                "cc": [n.person_email] if n.person_email else [],
                "campaign_id": ctx.id,
            }
        )
    return rows, without


def _record_grants(session: Session, job: _Granting, *, now: datetime, actor: str) -> None:
    """An audit event per grant, and the lifecycle event of the issued decision."""
    ctx, award, decision = job.ctx, job.ctx.award, job.decision
    for n, grant in job.pairs():
        record_event(
            session,
            campaign_id=ctx.id,
            kind="grant.issued",
            now=now,
            actor=actor,
            subject=n.code,
            payload={
                "before": None,
                "after": {
                    "grant_id": grant.id,
                    "decision": job.reference,
                    "award_key": award.key,
                    "subject_kind": n.kind.value,
                    "subject_name": n.name,
                    "amount_vnd": grant.amount_vnd,
                    "status": GrantStatus.ISSUED.value,
                },
            },
        )
    emit_domain_event(
        session,
        campaign_code=ctx.code,
        campaign_id=ctx.id,
        kind=AWARD_ISSUED,
        now=now,
        unit_code=decision.authority_unit_code,
        actor=actor,
        payload={
            "award_key": award.key,
            "decision": job.reference,
            "decided_on": decision.decided_on.isoformat(),
            "collectives": sum(1 for n in job.nominees if n.kind == SubjectKind.COLLECTIVE),
            "individuals": sum(1 for n in job.nominees if n.kind == SubjectKind.INDIVIDUAL),
            "total_vnd": sum(g.amount_vnd for g in job.grants),
        },
    )


def _decision_payload(decision: AwardDecision) -> dict[str, Any]:
    return {
        "status": DecisionStatus(decision.status).value,
        "authority_unit_code": decision.authority_unit_code,
        "number": decision.number,
        "symbol": decision.symbol,
        "reference": decision_reference(decision.number, decision.symbol),
        "decided_on": decision.decided_on.isoformat(),
        "base_salary": decision.base_salary,
    }
