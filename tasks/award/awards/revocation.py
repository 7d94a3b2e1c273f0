"""Revoking a grant: the recorded reason, the revised documents, the audit event."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.models.campaign import Campaign, CampaignStatus, EnrolledPerson, EnrolledUnit
from thidua.models.definition import definition_from_json
from thidua.models.money import (
    amount_in_words,
    vn_money,
)
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    GrantStatus,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.text import fmt_date, nfc
from thidua.notifications.outbox import enqueue_many
from thidua.notifications.templating import render_email
from thidua.tasks.award.awards.errors import AlreadyRevoked, RevocationReasonRequired, UnknownGrant
from thidua.tasks.award.awards.numbering import decision_reference
from thidua.tasks.award.awards.paperwork import _form_name
from thidua.tasks.award.awards.shared import SUBJECT_LABELS
from thidua.tasks.core.campaigns import require_state
from thidua.tasks.core.events import record_event
from thidua.tasks.launch.emails import issuer_name


def _aware(moment: datetime) -> datetime:
    # Stored times are UTC; a driver may hand them back naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def revoke_award(
    engine: Engine, settings: Settings, grant_id: int, *, reason: str, now: datetime, actor: str
) -> AwardGrant:
    """Withdraw one grant (Law 2022, ch. VII): status, reason, the money to recover, an email to the unit and
    an audit event. A grant is revoked once; a second revocation is refused, and so is one while the
    campaign is in neither review nor awarded (WrongState)."""
    why = nfc(reason)
    if not why:
        raise RevocationReasonRequired("Cần ghi lý do thu hồi khen thưởng (--reason).")
    with Session(engine, expire_on_commit=False) as s, s.begin():
        grant = s.scalars(select(AwardGrant).where(col(AwardGrant.id) == grant_id).with_for_update()).first()
        if grant is None:
            raise UnknownGrant(f"Không có khen thưởng mã số {grant_id}.")
        if grant.status == GrantStatus.REVOKED:
            when = (
                fmt_date(_aware(grant.revoked_at).astimezone(settings.tz))
                if grant.revoked_at
                else "trước đây"
            )
            raise AlreadyRevoked(
                f"Khen thưởng mã số {grant_id} ({grant.subject_name}) đã bị thu hồi ngày {when}"
                f"{' bởi ' + grant.revoked_by if grant.revoked_by else ''} (lý do: {grant.revoke_reason}); "
                "không thu hồi lần thứ hai."
            )
        decision = s.get(AwardDecision, grant.decision_id)
        campaign = s.get(Campaign, grant.campaign_id)
        assert decision is not None and campaign is not None and campaign.id is not None
        require_state(campaign, {CampaignStatus.IN_REVIEW, CampaignStatus.AWARDED})
        before = {"status": GrantStatus(grant.status).value, "amount_vnd": grant.amount_vnd}
        grant.status = GrantStatus.REVOKED
        grant.revoked_at = now
        grant.revoked_by = actor
        grant.revoke_reason = why
        grant.amount_to_recover = grant.amount_vnd
        s.add(grant)
        s.flush()
        reference = decision_reference(decision.number, decision.symbol)
        record_event(
            s,
            campaign_id=campaign.id,
            kind="grant.revoked",
            now=now,
            actor=actor,
            subject=grant.subject_code,
            payload={
                "before": before,
                "after": {
                    "status": GrantStatus.REVOKED.value,
                    "reason": why,
                    "amount_to_recover": grant.amount_to_recover,
                    "decision": reference,
                    "grant_id": grant.id,
                },
            },
        )
        _notify_revocation(s, settings, campaign, decision, grant, now=now)
        return grant


def _notify_revocation(
    s: Session,
    settings: Settings,
    campaign: Campaign,
    decision: AwardDecision,
    grant: AwardGrant,
    *,
    now: datetime,
) -> None:
    """The email to the awardee's unit (the person in copy): what was withdrawn, why, the money to return."""
    unit = s.scalars(
        select(EnrolledUnit).where(
            col(EnrolledUnit.campaign_id) == campaign.id, col(EnrolledUnit.unit_code) == grant.unit_code
        )
    ).first()
    if unit is None or not unit.email:
        return
    person = None
    if grant.subject_kind == SubjectKind.INDIVIDUAL:
        person = s.scalars(
            select(EnrolledPerson).where(
                col(EnrolledPerson.campaign_id) == campaign.id,
                col(EnrolledPerson.person_code) == grant.subject_code,
            )
        ).first()
    defn = definition_from_json(campaign.definition_json)
    award = next((a for a in defn.awards if a.key == decision.award_key), None)
    collective = grant.subject_kind == SubjectKind.COLLECTIVE
    award_name = award.name if award else decision.award_key
    subject, text, html = render_email(
        "award_revoked",
        {
            "unit_name": unit.unit_name,
            "campaign_code": campaign.code,
            "issuer_agency": issuer_name(s, defn),
            "award_name": award_name,
            "form_name": _form_name(award) if award else award_name,
            "subject_label": SUBJECT_LABELS[SubjectKind(grant.subject_kind)],
            "subject_name": grant.subject_name,
            "subject_detail": None
            if collective
            else ", ".join(p for p in (person.title if person else None, unit.unit_name) if p),
            "decision_ref": decision_reference(decision.number, decision.symbol),
            "decided_on": decision.decided_on,
            "revoked_on": now.astimezone(settings.tz).date(),
            "reason": grant.revoke_reason,
            "amount_text": vn_money(grant.amount_to_recover or 0),
            "amount_words": amount_in_words(grant.amount_to_recover or 0),
            "contact_department": defn.issuer.contact.department,
            "contact_email": defn.issuer.contact.email,
        },
    )
    enqueue_many(
        s,
        [
            {
                "dedupe_key": f"award-revoked:{campaign.code}:{grant.id}",
                "kind": "award_revoked",
                "recipient": unit.email,
                "recipient_name": unit.unit_name,
                "subject": subject,
                "text": text,
                "html": html,
                "reply_to": defn.issuer.contact.email,
                "cc": [person.email] if person is not None and person.email else [],
                "campaign_id": campaign.id,
            }
        ],
        now,
    )
