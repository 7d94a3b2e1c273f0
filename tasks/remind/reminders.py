"""The reminder sweep: who still owes what, which step is due, and the emails that follow (outbox).

The decision is set-based: a handful of queries load the whole campaign (deadlines, enrolled units, unit
heads, current submissions, exemptions), then pure Python (models/reminders.py) decides per deadline, which
is the same step for every unit that owes it. Queueing renders the templates, writes each unit's pre-filled
XLSX once under documents/<CODE>/templates/, cancels reminders that are no longer owed or have been
superseded, and inserts the rest with INSERT ... ON CONFLICT DO NOTHING on the dedupe key
`remind:<CODE>:<deadline>:<unit>:<step>`: two sweeps at once, or a re-run after a crash, queue each email
once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.errors import InvalidInput, ThiduaError
from thidua.models.campaign import (
    Campaign,
    CampaignStatus,
    Deadline,
    DeadlineKind,
    DomainEvent,
    EnrolledPerson,
    EnrolledUnit,
)
from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition, definition_from_json
from thidua.models.reminders import (
    KIND_DIGEST,
    KIND_ESCALATION,
    KIND_REMINDER,
    DeadlineRow,
    Head,
    PlannedEmail,
    ReminderPlan,
    UnitRow,
    decide,
    dedupe_key,
    reminder_key_prefix,
)
from thidua.models.report_rows import opens_on
from thidua.models.reporting import Exemption, Submission
from thidua.models.review import DossierFile
from thidua.models.settings import Settings
from thidua.models.storage import storage_for, storage_key
from thidua.models.text import nfc
from thidua.models.workdays import WorkCalendar, load_calendar
from thidua.notifications.outbox import cancel_unsent, enqueue_many, queued_keys, unsent
from thidua.notifications.templating import render_email
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.core.declines import declined_units
from thidua.tasks.core.dossiers import dossier_gaps
from thidua.tasks.core.events import DEADLINE_PASSED, PERIOD_OPENED, emit_domain_event

# Campaigns whose deadlines can still be owed: the final report and the dossier fall after the close.
_ACTIVE = {
    CampaignStatus.LAUNCHED,
    CampaignStatus.COLLECTING,
    CampaignStatus.CLOSED,
    CampaignStatus.IN_REVIEW,
}


class RemindError(ThiduaError):
    """The sweep or an exemption cannot be done."""


class ExemptionRefused(RemindError, InvalidInput):
    """An exemption without a reason, or for a unit or deadline the campaign does not have."""


def plan_reminders(
    engine: Engine,
    code: str,
    now: datetime,
    *,
    calendar: WorkCalendar | None = None,
    tz: ZoneInfo | None = None,
) -> ReminderPlan:
    """Who gets what at `now`: a handful of queries for the whole campaign, then the pure decision. Changes
    nothing."""
    from thidua.tasks.launch.emails import issuer_name

    calendar = calendar or load_calendar()
    tz = tz or Settings().tz
    with Session(engine) as s:
        campaign = get_campaign(s, code)
        assert campaign.id is not None
        cid = campaign.id
        defn = definition_from_json(campaign.definition_json)
        if campaign.status not in _ACTIVE:
            return ReminderPlan(code=campaign.code, campaign_id=cid, as_of=None, inactive=True)
        deadlines = [
            DeadlineRow(r.key, DeadlineKind(r.kind), r.label, r.due_date)
            for r in s.execute(
                select(
                    col(Deadline.key), col(Deadline.kind), col(Deadline.label), col(Deadline.due_date)
                ).where(col(Deadline.campaign_id) == cid)
            )
        ]
        units = [
            UnitRow(r.unit_code, r.unit_name, r.parent_code, r.email, r.reports)
            for r in s.execute(
                select(
                    col(EnrolledUnit.unit_code),
                    col(EnrolledUnit.unit_name),
                    col(EnrolledUnit.parent_code),
                    col(EnrolledUnit.email),
                    col(EnrolledUnit.reports),
                )
                .where(col(EnrolledUnit.campaign_id) == cid)
                .order_by(col(EnrolledUnit.unit_code))
            )
        ]
        heads: dict[str, Head] = {}
        for r in s.execute(
            select(
                col(EnrolledPerson.unit_code),
                col(EnrolledPerson.full_name),
                col(EnrolledPerson.title),
                col(EnrolledPerson.email),
            )
            .where(col(EnrolledPerson.campaign_id) == cid, col(EnrolledPerson.is_head).is_(True))
            .order_by(col(EnrolledPerson.person_code))
        ):
            heads.setdefault(r.unit_code, Head(r.full_name, r.title, r.email))
        submitted = {
            (r.unit_code, r.period_key)
            for r in s.execute(
                select(col(Submission.unit_code), col(Submission.period_key))
                .where(col(Submission.campaign_id) == cid, col(Submission.is_current).is_(True))
                .distinct()
            )
        }
        exempt = {
            (r.unit_code, r.deadline_key)
            for r in s.execute(
                select(col(Exemption.unit_code), col(Exemption.deadline_key)).where(
                    col(Exemption.campaign_id) == cid
                )
            )
        }
        issuer = issuer_name(s, defn)
        dossier_owed = _dossier_owed(s, cid, defn, units)
    return decide(
        code=campaign.code,
        campaign_id=cid,
        defn=defn,
        issuer=issuer,
        deadlines=deadlines,
        units=units,
        heads=heads,
        submitted=submitted,
        exempt=exempt,
        dossier_owed=dossier_owed,
        calendar=calendar,
        now=now,
        tz=tz,
    )


def _dossier_owed(
    s: Session, campaign_id: int, defn: CampaignDefinition, units: list[UnitRow]
) -> dict[str, dict[str, Any]]:
    """Who is reminded of the dossier deadline, and what its email adds.

    A unit whose nominations lack required parts: those parts, per nominee. A reporting unit that has
    neither nominated, nor sent a dossier file, nor declared it proposes nobody: an invitation (it may say
    it proposes nobody). A unit that declared so, or whose dossiers are complete, is not reminded.
    """
    declined = {d.unit_code for d in declined_units(s, campaign_id)}
    gaps = dossier_gaps(s, campaign_id, defn)
    sent_files = set(
        s.execute(
            select(col(DossierFile.unit_code))
            .where(col(DossierFile.campaign_id) == campaign_id, col(DossierFile.generated).is_(False))
            .distinct()
        ).scalars()
    )
    owed: dict[str, dict[str, Any]] = {
        unit: {"dossier_missing": lines} for unit, lines in gaps.items() if lines and unit not in declined
    }
    for u in units:
        if u.reports and u.code not in gaps and u.code not in sent_files and u.code not in declined:
            owed[u.code] = {"invitation": True}
    return owed


# ---------------------------------------------------------------- cancelling


def _parse_key(key: str) -> tuple[str, str, str] | None:
    """(deadline key, unit code, step id) of a reminder dedupe key."""
    parts = key.split(":")
    if len(parts) != 5 or parts[0] != "remind":
        return None
    return parts[2], parts[3], parts[4]


def cancel_pending_reminders(session: Session, campaign_id: int, unit_code: str, deadline_key: str) -> int:
    """Cancel the unit's unsent reminders for a deadline (it submitted, or was exempted).

    An escalation to the parent unit covers several units: the next sweep cancels it when none is late.
    """
    code = session.execute(select(col(Campaign.code)).where(col(Campaign.id) == campaign_id)).scalar_one()
    prefix = reminder_key_prefix(code, deadline_key, unit_code)
    return cancel_unsent(session, campaign_id, kind=KIND_REMINDER, key_prefix=prefix)


def _cancel_stale(session: Session, plan: ReminderPlan) -> int:
    """Cancel unsent reminders no longer owed, and unit steps superseded by today's (no late "before")."""
    rows = unsent(session, plan.campaign_id, [KIND_REMINDER, KIND_ESCALATION])
    stale: list[int] = []
    for row_id, kind, key in rows:
        parsed = _parse_key(key)
        if parsed is None:
            continue
        deadline_key, unit_code, step_id = parsed
        if kind == KIND_ESCALATION:
            if (deadline_key, unit_code) not in plan.escalation_owed:
                stale.append(row_id)
        elif (deadline_key, unit_code) not in plan.owed or (
            plan.as_of is not None and plan.current_steps.get((deadline_key, unit_code), step_id) != step_id
        ):
            stale.append(row_id)
    if stale:
        cancel_unsent(session, plan.campaign_id, ids=stale)
    return len(stale)


# ---------------------------------------------------------------- queueing


def template_key(code: str, unit_code: str, period_key: str) -> str:
    """The storage key of a unit's pre-filled template for one period."""
    return storage_key("documents", code, "templates", f"{unit_code}-{period_key}.xlsx")


def already_queued(target: Engine | Session, plan: ReminderPlan) -> set[str]:
    """The dedupe keys of the plan's emails that an earlier sweep put in the outbox (sent or not)."""
    keys = [e.dedupe_key for e in plan.emails]
    if isinstance(target, Session):
        return queued_keys(target, keys)
    with target.connect() as conn:
        return queued_keys(conn, keys)


def queue_reminders(
    engine: Engine, settings: Settings, plan: ReminderPlan, *, now: datetime
) -> dict[str, Any]:
    """Render and queue the plan's emails (deduplicated), after cancelling what is no longer owed.

    "earlier" lists the dedupe keys an earlier sweep had already queued: read under the campaign's lock, so
    that the rest are exactly the emails this sweep queued.
    """
    from thidua.tasks.collect.reports import write_template

    already = already_queued(engine, plan)  # rendering is skipped for these; settled under the lock below
    fresh = [e for e in plan.emails if e.dedupe_key not in already]
    storage = storage_for(settings)
    rows: list[dict[str, Any]] = []
    for e in fresh:
        attachments: list[str] = []
        if e.attach_period and e.unit_code:
            k = template_key(plan.code, e.unit_code, e.attach_period)
            if not storage.exists(k):  # one file per unit and period, reused by every later step
                render = partial(write_template, engine, plan.code, e.unit_code, e.attach_period)
                storage.put_rendered(k, render)
            attachments.append(k)
        context = e.context
        if settings.public_url and e.attach_period and e.unit_code:
            # The portal's page of this unit and period (deploy/web/pages.py): download, upload, history.
            link = f"{settings.public_url.rstrip('/')}/don-vi/{e.unit_code}/{plan.code}/{e.attach_period}"
            context = {**context, "portal_link": link}
        subject, text, html = render_email(e.kind, context)
        rows.append(
            {
                "dedupe_key": e.dedupe_key,
                "kind": e.kind,
                "recipient": e.recipient,
                "recipient_name": e.recipient_name,
                "subject": subject,
                "text": text,
                "html": html,
                "attachments": attachments,
                "reply_to": e.context["contact_email"],
                "campaign_id": plan.campaign_id,
            }
        )
    with transaction(engine) as s:
        _lock_campaign(s, plan.campaign_id)
        earlier = already_queued(s, plan)
        cancelled = _cancel_stale(s, plan)
        queued = enqueue_many(s, [r for r in rows if r["dedupe_key"] not in earlier], now, storage=storage)
        events = 0 if plan.inactive else len(emit_calendar_events(s, plan, now=now, tz=settings.tz))
    return {
        "planned": len(plan.emails),
        "queued": queued,
        "cancelled": cancelled,
        "events": events,
        "earlier": sorted(earlier),
    }


def _lock_campaign(session: Session, campaign_id: int) -> None:
    """Two sweeps of one campaign at once take turns here (PostgreSQL row lock; SQLite has one writer).

    First in the transaction: taken after the outbox inserts, it could deadlock with the other sweep's.
    """
    session.execute(select(col(Campaign.id)).where(col(Campaign.id) == campaign_id).with_for_update())


# ---------------------------------------------------------------- calendar events


@dataclass(frozen=True)
class CalendarEvent:
    kind: str  # PERIOD_OPENED or DEADLINE_PASSED
    deadline_key: str
    payload: dict[str, Any]


def due_calendar_events(
    deadlines: list[tuple[str, str, date | None, date | None, date]],
    owed: set[tuple[str, str]],
    today: date,
) -> list[CalendarEvent]:
    """Every period.opened and deadline.passed that has happened by `today` (pure).

    `deadlines`: (key, label, period_start, period_end, due_date). A period opens on the day its report is
    first accepted (models.report_rows.opens_on: periods are cumulative, so not the campaign's first day);
    the dossier has no period. A deadline has passed once its due date is over; the payload names the
    units that still owe it, as of `owed` ((deadline key, unit code) pairs).
    """
    out: list[CalendarEvent] = []
    for key, label, start, end, due in sorted(deadlines, key=lambda d: (d[4], d[0])):
        if start is not None and end is not None and opens_on(start, end) <= today:
            payload: dict[str, Any] = {
                "deadline": key,
                "label": label,
                "opens_on": opens_on(start, end).isoformat(),
                "due_date": due.isoformat(),
            }
            out.append(CalendarEvent(PERIOD_OPENED, key, payload))
        if due < today:
            owing = sorted(unit for deadline, unit in owed if deadline == key)
            passed: dict[str, Any] = {
                "deadline": key,
                "label": label,
                "due_date": due.isoformat(),
                "owing": owing,
            }
            out.append(CalendarEvent(DEADLINE_PASSED, key, passed))
    return out


def emit_calendar_events(
    session: Session, plan: ReminderPlan, *, now: datetime, tz: ZoneInfo
) -> list[CalendarEvent]:
    """Store (and emit to Prefect after commit) each period.opened / deadline.passed not yet recorded.

    Set-based: one query for the deadlines, one for the events already there (identified by kind and the
    payload's "deadline"), one insert batch at flush. Catch-up safe: after downtime each missed event is
    emitted once, dated `now`. The caller owns the transaction (queue_reminders, after _lock_campaign).
    """
    today = now.astimezone(tz).date()
    deadlines = [
        (r.key, r.label, r.period_start, r.period_end, r.due_date)
        for r in session.execute(
            select(
                col(Deadline.key),
                col(Deadline.label),
                col(Deadline.period_start),
                col(Deadline.period_end),
                col(Deadline.due_date),
            ).where(col(Deadline.campaign_id) == plan.campaign_id)
        )
    ]
    recorded = {
        (kind, json.loads(payload or "{}").get("deadline"))
        for kind, payload in session.execute(
            select(col(DomainEvent.kind), col(DomainEvent.payload_json)).where(
                col(DomainEvent.campaign_id) == plan.campaign_id,
                col(DomainEvent.kind).in_([PERIOD_OPENED, DEADLINE_PASSED]),
            )
        )
    }
    fresh = [
        e
        for e in due_calendar_events(deadlines, plan.owed, today)
        if (e.kind, e.deadline_key) not in recorded
    ]
    for e in fresh:
        emit_domain_event(
            session,
            campaign_code=plan.code,
            campaign_id=plan.campaign_id,
            kind=e.kind,
            now=now,
            payload=e.payload,
            actor="remind",
        )
    return fresh


# ---------------------------------------------------------------- exemptions


def grant_exemption(
    engine: Engine,
    code: str,
    unit_code: str,
    deadline_key: str,
    reason: str,
    *,
    granted_by: str,
    now: datetime,
) -> tuple[bool, int]:
    """Record that a unit does not owe a deadline; cancel its pending reminders. (new?, cancelled)"""
    unit_code, deadline_key, reason = nfc(unit_code), nfc(deadline_key), nfc(reason).strip()
    if not reason:
        raise ExemptionRefused("Cần ghi lý do miễn nộp.")
    with transaction(engine) as s:
        campaign = get_campaign(s, code)
        cid = cast(int, campaign.id)
        if (
            s.scalars(
                select(EnrolledUnit).where(
                    col(EnrolledUnit.campaign_id) == cid, col(EnrolledUnit.unit_code) == unit_code
                )
            ).first()
            is None
        ):
            raise ExemptionRefused(f"Đơn vị “{unit_code}” không tham gia phong trào {campaign.code}.")
        keys = list(s.scalars(select(col(Deadline.key)).where(col(Deadline.campaign_id) == cid)))
        if deadline_key not in keys:
            raise ExemptionRefused(
                f"Hạn “{deadline_key}” không có trong lịch của phong trào"
                f" (các hạn: {', '.join(sorted(keys))})."
            )
        exists = s.scalars(
            select(Exemption).where(
                col(Exemption.campaign_id) == cid,
                col(Exemption.unit_code) == unit_code,
                col(Exemption.deadline_key) == deadline_key,
            )
        ).first()
        if exists is None:
            s.add(
                Exemption(
                    campaign_id=cid,
                    unit_code=unit_code,
                    deadline_key=deadline_key,
                    reason=reason,
                    granted_by=granted_by,
                    granted_at=now,
                )
            )
            s.add(
                DomainEvent(
                    campaign_id=cid,
                    kind="exemption_granted",
                    subject=unit_code,
                    actor=granted_by,
                    at=now,
                    payload_json=json.dumps({"deadline": deadline_key, "reason": reason}, ensure_ascii=False),
                )
            )
        cancelled = cancel_pending_reminders(s, cid, unit_code, deadline_key)
    return exists is None, cancelled


__all__ = [
    "KIND_DIGEST",
    "KIND_ESCALATION",
    "KIND_REMINDER",
    "CalendarEvent",
    "PlannedEmail",
    "RemindError",
    "ReminderPlan",
    "already_queued",
    "cancel_pending_reminders",
    "decide",
    "dedupe_key",
    "due_calendar_events",
    "emit_calendar_events",
    "grant_exemption",
    "plan_reminders",
    "queue_reminders",
    "template_key",
]
