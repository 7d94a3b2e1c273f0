"""Stage 3 of the lifecycle — reminders (nhắc hạn): due dates × who has not submitted → emails.

plan the sweep (who still owes which deadline, which step is due now; set-based) → queue the reminders,
escalations and the administrators' digest in the outbox (deduplicated; what is no longer owed is cancelled)
and record the calendar's events (period.opened, deadline.passed with the units still owing; each once,
caught up after downtime) → dispatch. Three task runs per flow run, whatever the number of units; a dry run
stops after the plan.

With `until`, one flow run replays the daily sweep of every working day from `now` to `until` (at `now`'s time
of day), in order: each day is planned, queued and dispatched exactly as its own run would be (same emails,
same dedupe keys, same calendar events; dispatched before the next day is planned, or the next day would
cancel a step still waiting as superseded), then a last dispatch with retries. Two task runs, whatever the
number of units or days: replaying two weeks of mornings costs one flow run, not ten.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from thidua.flows.local import flow
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings
from thidua.models.workdays import load_calendar
from thidua.notifications.outbox import dispatch
from thidua.tasks.remind.reminders import already_queued, plan_reminders, queue_reminders

plan_task = task(name="plan reminders", cache_policy=NO_CACHE)(plan_reminders)
queue_task = task(name="queue reminders", cache_policy=NO_CACHE)(queue_reminders)


def sweep_days(engine: Any, settings: Settings, code: str, mornings: list[datetime]) -> list[dict[str, Any]]:
    """The daily sweep at each of `mornings`, in order: plan, queue, dispatch (as one `remind_flow` run)."""
    calendar = load_calendar()
    days: list[dict[str, Any]] = []
    for moment in mornings:
        plan = plan_reminders(engine, code, moment, calendar=calendar, tz=settings.tz)
        queue = queue_reminders(engine, settings, plan, now=moment)
        sent = dispatch(engine, settings, worker_id="remind")
        days.append(
            {
                "as_of": moment.isoformat(),
                "queue": queue,
                "lines": plan.lines(queue["earlier"]),
                "emails": sent,
            }
        )
    return days


def mornings_between(now: datetime, until: datetime, tz: Any) -> list[datetime]:
    """`now`, then the same time of day on every later working day up to `until`'s date."""
    calendar = load_calendar()
    local = now.astimezone(tz)
    last = until.astimezone(tz).date()
    out = [now]
    day = local.date() + timedelta(days=1)
    while day <= last:
        if calendar.is_working_day(day):
            out.append(datetime.combine(day, local.timetz()))
        day += timedelta(days=1)
    return out


sweep_task = task(name="sweep reminders", cache_policy=NO_CACHE)(sweep_days)
dispatch_task = task(name="dispatch outbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])(
    dispatch
)


@flow(name="remind")
def remind_flow(
    code: str,
    now: datetime,
    settings: Settings | None = None,
    dry_run: bool = False,
    until: datetime | None = None,
) -> dict[str, Any]:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    if until is not None and not dry_run:
        return _sweep_range(engine, settings, code, mornings_between(now, until, settings.tz))

    plan = plan_task(engine, code, now, tz=settings.tz)
    summary: dict[str, Any] = {
        "code": plan.code,
        "as_of": plan.as_of.isoformat() if plan.as_of else None,
        "dry_run": dry_run,
        "planned": [e.describe() for e in plan.emails],
        "without_email": sorted(set(plan.without_email)),
    }
    if dry_run:
        summary["lines"] = plan.lines(already_queued(engine, plan))
    else:
        summary["queue"] = queue_task(engine, settings, plan, now=now)
        summary["lines"] = plan.lines(summary["queue"]["earlier"])
        sent = dispatch_task(engine, settings, worker_id="remind")
        summary["emails"] = asdict(sent) if is_dataclass(sent) and not isinstance(sent, type) else sent
    engine.dispose()
    return summary


def _sweep_range(engine: Any, settings: Settings, code: str, mornings: list[datetime]) -> dict[str, Any]:
    days = sweep_task(engine, settings, code, mornings)
    totals: dict[str, int] = {}
    lines: list[str] = []
    for day in days:
        for key in ("planned", "queued", "cancelled", "events"):
            totals[key] = totals.get(key, 0) + int(day["queue"].get(key, 0))
        lines += [
            f"{datetime.fromisoformat(day['as_of']).astimezone(settings.tz):%d/%m/%Y %H:%M}:",
            *day["lines"],
        ]
    sent = dispatch_task(engine, settings, worker_id="remind")
    for day in days:
        sent = sent + day.pop("emails")
    engine.dispose()
    return {
        "code": code,
        "as_of": mornings[0].isoformat(),
        "until": mornings[-1].isoformat(),
        "dry_run": False,
        "days": days,
        "queue": totals,
        "lines": lines,
        "emails": asdict(sent) if is_dataclass(sent) and not isinstance(sent, type) else sent,
    }


if __name__ == "__main__":
    import sys

    print(remind_flow(sys.argv[1], datetime.now().astimezone()))
