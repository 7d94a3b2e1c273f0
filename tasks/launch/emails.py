"""Queue the emails of a lifecycle stage into the outbox (rendered here, sent by the dispatcher)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.models.campaign import Deadline, DeadlineKind, EnrolledUnit
from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition
from thidua.models.directory import Unit
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.notifications.outbox import enqueue_many
from thidua.notifications.templating import render_email
from thidua.tasks.launch.campaign import plan_reference
from thidua.tasks.launch.plan import target_phrase


def main_target_text(defn: CampaignDefinition) -> str:
    main = next((i for i in defn.indicators if i.main), None)
    return f"{main.label}: {target_phrase(main)}" if main else ""


def issuer_name(session: Session, defn: CampaignDefinition) -> str:
    """The issuing body as written in a sentence: its directory name, not the capitalised header form."""
    name = session.execute(
        select(col(Unit.name)).where(col(Unit.code) == defn.issuer.unit_code)
    ).scalar_one_or_none()
    return name or defn.issuer.agency_short_name


def queue_launch_emails(
    engine: Engine,
    settings: Settings,
    campaign_id: int,
    defn: CampaignDefinition,
    plan_key: str,
    *,
    now: datetime,
) -> dict[str, int]:
    """One launch email per enrolled unit with an address, plan attached; one per campaign and unit."""
    with transaction(engine) as s:
        units = s.execute(
            select(col(EnrolledUnit.unit_code), col(EnrolledUnit.unit_name), col(EnrolledUnit.email))
            .where(col(EnrolledUnit.campaign_id) == campaign_id)
            .order_by(col(EnrolledUnit.id))
        ).all()
        deadlines = (
            s.execute(
                select(Deadline)
                .where(col(Deadline.campaign_id) == campaign_id)
                .order_by(col(Deadline.due_date), col(Deadline.key))
            )
            .scalars()
            .all()
        )
        base: dict[str, Any] = {
            "campaign_title": defn.title,
            "campaign_code": defn.code,
            "issuer_agency": issuer_name(s, defn),
            "plan_ref": plan_reference(defn),
            "period_start": defn.period.start,
            "period_end": defn.period.end,
            "target_text": main_target_text(defn),
            "deadlines": [
                {"label": d.label, "due_date": d.due_date}
                for d in deadlines
                if d.kind == DeadlineKind.PERIOD_REPORT
            ],
            "final_report_due": defn.reporting.final_report.due,
            "dossier_deadline": defn.dossier.deadline,
            "contact_department": defn.issuer.contact.department,
            "contact_email": defn.issuer.contact.email,
        }
        attachment = plan_key
        rows = []
        for code, name, email in units:
            if not email:
                continue
            subject, text, html = render_email("launch", {**base, "unit_name": name, "unit_code": code})
            rows.append(
                {
                    "dedupe_key": f"launch:{defn.code}:{code}",
                    "kind": "launch",
                    "recipient": email,
                    "recipient_name": name,
                    "subject": subject,
                    "text": text,
                    "html": html,
                    "attachments": [attachment],
                    "reply_to": defn.issuer.contact.email,
                    "cc": [],
                    "campaign_id": campaign_id,
                }
            )
        queued = enqueue_many(s, rows, now=now, storage=storage_for(settings))
        return {"recipients": len(rows), "queued": queued, "without_email": len(units) - len(rows)}
