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

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from thidua.models.definition import Reminders
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
