"""Reminder policy: which reminder step of a deadline is due at a sweep moment (pure rules, no I/O).

Two tracks per deadline, both counted in working days of the civil-servant calendar:

- the unit's own track, one step at a time: before-N (N working days before the due date), on-day,
  overdue-k (every `overdue_every` working days after the due date, at most `overdue_max` times);
- escalation, once: after `escalate_after` working days overdue, to the head of the parent unit.

Escalation is its own track so that a catch-up sweep that lands on an overdue step does not swallow it.
Catch-up (the server was down): the most recent step whose day has come and is still meaningful is due; older
missed steps are skipped. A "before" step is never due on or after the due date. Nothing is due on a day off
or before the configured send hour. Whether a step was already sent is not known here: the outbox dedupe key
(campaign, deadline, recipient, step id) makes sending it again a no-op.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from thidua.models.campaign import DeadlineKind
from thidua.models.definition import CampaignDefinition, Reminders
from thidua.models.text import fmt_date
from thidua.models.workdays import WorkCalendar


class StepKind(StrEnum):
    BEFORE = "before"
    ON_DAY = "on_day"
    OVERDUE = "overdue"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Step:
    """One reminder step of a deadline; `id` is stable and goes into the outbox dedupe key."""

    id: str  # "before-5", "on-day", "overdue-1", "escalate"
    kind: StepKind
    day: date  # the working day it becomes due
    n: int = 0  # working days before (before-N) or the overdue ordinal (overdue-k)


def sweep_day(now: datetime, policy: Reminders, calendar: WorkCalendar, tz: ZoneInfo) -> date | None:
    """The local date a sweep at `now` acts for, or None: before the send hour, or on a day off."""
    if now.tzinfo is None:
        raise ValueError("thời điểm nhắc hạn phải kèm múi giờ")
    local = now.astimezone(tz)
    if local.hour < policy.send_hour:
        return None
    if not calendar.is_working_day(local.date()):
        return None
    return local.date()


def on_or_after(day: date, calendar: WorkCalendar) -> date:
    """`day` if it is a working day, else the next one: no step is ever due on a day off."""
    return day if calendar.is_working_day(day) else calendar.next_working_day(day)


def unit_steps(due: date, policy: Reminders, calendar: WorkCalendar) -> list[Step]:
    """The unit's own track for a deadline, in day order."""
    steps = [
        Step(f"before-{n}", StepKind.BEFORE, calendar.add_working_days(on_or_after(due, calendar), -n), n)
        for n in policy.before_days  # sorted descending by the definition: earliest first
    ]
    if policy.on_day:
        # A due date kept on a day off (day_off_rule "keep") is reminded on the next working day.
        steps.append(Step("on-day", StepKind.ON_DAY, on_or_after(due, calendar)))
    for k in range(1, policy.overdue_max + 1):
        steps.append(
            Step(
                f"overdue-{k}", StepKind.OVERDUE, calendar.add_working_days(due, k * policy.overdue_every), k
            )
        )
    return sorted(steps, key=lambda s: s.day)


def escalation_step(due: date, policy: Reminders, calendar: WorkCalendar) -> Step:
    return Step("escalate", StepKind.ESCALATE, calendar.add_working_days(due, policy.escalate_after))


def due_step(due: date, policy: Reminders, calendar: WorkCalendar, today: date) -> Step | None:
    """The ONE step of the unit's own track due on `today` (a working day at/after the send hour).

    The most recent step whose day has come; "before" steps only while the due date is still ahead.
    """
    if not policy.enabled:
        return None
    chosen: Step | None = None
    for step in unit_steps(due, policy, calendar):
        if step.day > today:
            break
        if step.kind == StepKind.BEFORE and today >= due:
            continue  # stale: the deadline has come
        chosen = step
    return chosen


def escalation_due(due: date, policy: Reminders, calendar: WorkCalendar, today: date) -> Step | None:
    """The escalation step once its day has come (sent once: the dedupe key does the rest)."""
    if not policy.enabled:
        return None
    step = escalation_step(due, policy, calendar)
    return step if step.day <= today else None


def steps_due_now(
    due: date, policy: Reminders, calendar: WorkCalendar, now: datetime, tz: ZoneInfo
) -> tuple[Step | None, Step | None]:
    """(unit step, escalation step) due for a unit that still owes, at the sweep moment `now`."""
    today = sweep_day(now, policy, calendar, tz)
    if today is None:
        return None, None
    return due_step(due, policy, calendar, today), escalation_due(due, policy, calendar, today)


def working_days_left(due: date, today: date, calendar: WorkCalendar) -> int:
    """Working days from `today` to the due date: positive ahead, 0 on the day, negative when overdue."""
    return (
        calendar.working_days_between(today, due)
        if today <= due
        else -calendar.working_days_between(due, today)
    )


__all__ = [
    "Step",
    "StepKind",
    "due_step",
    "escalation_due",
    "escalation_step",
    "on_or_after",
    "steps_due_now",
    "sweep_day",
    "unit_steps",
    "working_days_left",
]


KIND_REMINDER = "reminder"
KIND_ESCALATION = "escalation"
KIND_DIGEST = "admin_digest"


def dedupe_key(code: str, deadline_key: str, unit_code: str, step_id: str) -> str:
    """The outbox key of one reminder: a campaign, deadline, recipient unit and step are sent once."""
    return f"remind:{code}:{deadline_key}:{unit_code}:{step_id}"


def reminder_key_prefix(code: str, deadline_key: str, unit_code: str) -> str:
    """The keys of every step of one unit's reminders for one deadline."""
    return f"remind:{code}:{deadline_key}:{unit_code}:"


def digest_key(code: str, day: date, admin: str) -> str:
    return f"remind:{code}:digest:{day.isoformat()}:{admin}"


# Deadlines whose reminders carry the unit's pre-filled report template.
_TEMPLATE_KINDS = {DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT}


# ---------------------------------------------------------------- plain rows and the plan


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    parent_code: str | None
    email: str | None
    reports: bool


@dataclass(frozen=True)
class DeadlineRow:
    key: str
    kind: DeadlineKind
    label: str
    due_date: date


@dataclass(frozen=True)
class Head:
    name: str
    title: str
    email: str | None


@dataclass(frozen=True)
class PlannedEmail:
    dedupe_key: str
    kind: str
    step_id: str
    deadline_key: str | None
    unit_code: str | None  # the addressed unit (the parent unit for an escalation)
    recipient: str
    recipient_name: str | None
    context: dict[str, Any]
    attach_period: str | None = None  # a report period: attach this unit's pre-filled template

    def describe(self) -> str:
        what = self.context.get("item_label", "tổng hợp đơn vị chưa nộp")
        name = f" ({self.recipient_name})" if self.recipient_name else ""
        return f"{self.recipient}{name}: {what} — {step_label(self.step_id)}"


def step_label(step_id: str) -> str:
    """A step as the administrator reads it: "before-5" → "nhắc trước hạn 5 ngày làm việc"."""
    kind, _, n = step_id.partition("-")
    labels = {
        "before": f"nhắc trước hạn {n} ngày làm việc",
        "on": "nhắc đúng ngày hạn",
        "overdue": f"báo quá hạn lần {n}",
        "escalate": "báo cấp trên",
        "digest": "thư tổng hợp cho quản trị",
    }
    return labels.get(kind, step_id)


@dataclass
class ReminderPlan:
    code: str
    campaign_id: int
    as_of: date | None  # None: before the send hour or a day off — nothing is due
    emails: list[PlannedEmail] = field(default_factory=list)
    # (deadline, unit) still owed; (deadline, parent unit) whose escalation is still meaningful
    owed: set[tuple[str, str]] = field(default_factory=set)
    escalation_owed: set[tuple[str, str]] = field(default_factory=set)
    # (deadline key, unit code) -> the unit step due today: any other pending step of that pair is stale
    current_steps: dict[tuple[str, str], str] = field(default_factory=dict)
    without_email: list[str] = field(default_factory=list)
    inactive: bool = False  # the campaign is not in a state where anything is owed (draft, awarded, archived)

    def lines(self, earlier: Collection[str] = ()) -> list[str]:
        """The sweep for a terminal: the emails it sends, and only a count of those an earlier sweep queued
        for the same step (`earlier`: their dedupe keys), which are not sent again."""
        if self.inactive:
            return [f"Phong trào {self.code}: không ở giai đoạn cần nhắc hạn — không gửi gì."]
        if self.as_of is None:
            return [
                f"Phong trào {self.code}: chưa đến giờ gửi nhắc hoặc hôm nay là ngày nghỉ — không gửi gì."
            ]
        new = [e for e in self.emails if e.dedupe_key not in earlier]
        head = f"Phong trào {self.code}, ngày {fmt_date(self.as_of)}: {len(new)} thư nhắc hạn."
        out = [head] + ["  → " + e.describe() for e in new]
        if len(new) < len(self.emails):
            out.append(
                f"  {len(self.emails) - len(new)} thư cùng bước đã vào hộp thư đi ở lần nhắc trước"
                " — không gửi lại."
            )
        if self.without_email:
            out.append("  Không có địa chỉ thư: " + ", ".join(sorted(self.without_email)))
        return out


# ---------------------------------------------------------------- the decision (pure over rows)


def decide(
    *,
    code: str,
    campaign_id: int,
    defn: CampaignDefinition,
    issuer: str,
    deadlines: list[DeadlineRow],
    units: list[UnitRow],
    heads: dict[str, Head],
    submitted: set[tuple[str, str]],
    exempt: set[tuple[str, str]],
    dossier_owed: Mapping[str, Mapping[str, Any]],
    calendar: WorkCalendar,
    now: datetime,
    tz: ZoneInfo,
) -> ReminderPlan:
    """Every email due at `now` for the whole campaign; `submitted`/`exempt` hold (unit, deadline key).

    `dossier_owed`: the units reminded of the dossier deadline, each with what its email adds (the parts its
    nominations lack, or that it is invited to propose or say it proposes nobody)."""
    policy = defn.reminders
    today = sweep_day(now, policy, calendar, tz)
    plan = ReminderPlan(code=code, campaign_id=campaign_id, as_of=today)
    by_code = {u.code: u for u in units}
    contact = defn.issuer.contact
    common = {
        "campaign_code": code,
        "campaign_title": defn.title,
        "issuer_agency": issuer,
        "contact_department": contact.department,
        "contact_email": contact.email,
    }
    missing: list[dict[str, Any]] = []
    for d in sorted(deadlines, key=lambda d: (d.due_date, d.key)):
        owing = _owing(d, units, submitted, exempt, dossier_owed, now.astimezone(tz).date())
        for u in owing:
            plan.owed.add((d.key, u.code))
            if u.parent_code:
                plan.escalation_owed.add((d.key, u.parent_code))
        if today is None or not policy.enabled or not owing:
            continue
        left = working_days_left(d.due_date, today, calendar)
        item = {
            **common,
            "item_label": d.label,
            "item_kind": str(d.kind),
            "deadline_key": d.key,
            "due_date": d.due_date,
            "days_left": max(left, 0),
            "days_overdue": max(-left, 0),
        }
        step = due_step(d.due_date, policy, calendar, today)
        if step is not None:
            for u in owing:
                plan.current_steps[(d.key, u.code)] = step.id
                if not u.email:
                    plan.without_email.append(u.code)
                    continue
                attach = d.key if d.kind in _TEMPLATE_KINDS else None
                plan.emails.append(
                    PlannedEmail(
                        dedupe_key=dedupe_key(code, d.key, u.code, step.id),
                        kind=KIND_REMINDER,
                        step_id=step.id,
                        deadline_key=d.key,
                        unit_code=u.code,
                        recipient=u.email,
                        recipient_name=u.name,
                        context={
                            **item,
                            **(dossier_owed.get(u.code, {}) if d.kind == DeadlineKind.DOSSIER else {}),
                            "unit_name": u.name,
                            "step": str(step.kind),
                            "attached": bool(attach),
                        },
                        attach_period=attach,
                    )
                )
        if escalation_due(d.due_date, policy, calendar, today) is not None:
            plan.emails.extend(_escalations(code, d, owing, by_code, heads, item))
        if today > d.due_date:
            missing.append(
                {
                    "label": d.label,
                    "due_date": d.due_date,
                    "days_overdue": max(-left, 0),
                    "units": [{"code": u.code, "name": u.name} for u in owing],
                }
            )
    if today is not None and policy.enabled and policy.admin_digest and missing:
        for admin in defn.issuer.administrators:
            plan.emails.append(
                PlannedEmail(
                    dedupe_key=digest_key(code, today, admin),
                    kind=KIND_DIGEST,
                    step_id="digest",
                    deadline_key=None,
                    unit_code=None,
                    recipient=admin,
                    recipient_name=None,
                    context={**common, "today": today, "deadlines": missing},
                )
            )
    return plan


def _owing(
    d: DeadlineRow,
    units: list[UnitRow],
    submitted: set[tuple[str, str]],
    exempt: set[tuple[str, str]],
    dossier_owed: Mapping[str, Mapping[str, Any]],
    today: date,
) -> list[UnitRow]:
    """The units that still owe deadline `d`.

    Periodic and final reports are owed by the units that report. The dossier is an invitation, not a duty:
    only up to the deadline, and only the units `dossier_owed` names — proposing nobody is a unit's right,
    so nobody is told it is overdue with a dossier (what a dossier lacked is said by the screening).
    """
    if d.kind == DeadlineKind.DOSSIER:
        if today > d.due_date:
            return []
        return [u for u in units if u.code in dossier_owed and (u.code, d.key) not in exempt]
    return [
        u for u in units if u.reports and (u.code, d.key) not in exempt and (u.code, d.key) not in submitted
    ]


def _escalations(
    code: str,
    d: DeadlineRow,
    owing: list[UnitRow],
    by_code: dict[str, UnitRow],
    heads: dict[str, Head],
    item: dict[str, Any],
) -> list[PlannedEmail]:
    """One escalation per parent unit, listing its late subordinate units (once: keyed by the parent)."""
    late_by_parent: dict[str, list[UnitRow]] = defaultdict(list)
    for u in owing:
        if u.parent_code:
            late_by_parent[u.parent_code].append(u)
    out = []
    for parent_code, late in sorted(late_by_parent.items()):
        parent = by_code.get(parent_code)
        head = heads.get(parent_code)
        recipient = (head.email if head else None) or (parent.email if parent else None)
        if recipient is None:
            continue  # nobody to escalate to: the administrators' digest still lists these units
        out.append(
            PlannedEmail(
                dedupe_key=dedupe_key(code, d.key, parent_code, "escalate"),
                kind=KIND_ESCALATION,
                step_id="escalate",
                deadline_key=d.key,
                unit_code=parent_code,
                recipient=recipient,
                recipient_name=head.name if head and head.email else (parent.name if parent else None),
                context={
                    **item,
                    "head_name": head.name if head else "",
                    "head_title": head.title if head else "",
                    "parent_name": parent.name if parent else parent_code,
                    "late_units": [
                        {"code": u.code, "name": u.name} for u in sorted(late, key=lambda u: u.code)
                    ],
                },
            )
        )
    return out


# ---------------------------------------------------------------- loading
