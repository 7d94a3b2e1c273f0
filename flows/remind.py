"""Stage 3 of the lifecycle — reminders (nhắc hạn): due dates × who has not submitted → emails.

plan the sweep (who still owes which deadline, which step is due now; set-based) → queue the reminders,
escalations and the administrators' digest in the outbox (deduplicated; what is no longer owed is cancelled)
and record the calendar's events (period.opened, deadline.passed with the units still owing; each once,
caught up after downtime) → dispatch. Three task runs per flow run, whatever the number of units; a dry run
stops after the plan.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from thidua.flows.local import flow
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings
from thidua.notifications.outbox import dispatch
from thidua.tasks.remind.reminders import already_queued, plan_reminders, queue_reminders

plan_task = task(name="plan reminders", cache_policy=NO_CACHE)(plan_reminders)
queue_task = task(name="queue reminders", cache_policy=NO_CACHE)(queue_reminders)
dispatch_task = task(name="dispatch outbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])(
    dispatch
)


@flow(name="remind")
def remind_flow(
    code: str, now: datetime, settings: Settings | None = None, dry_run: bool = False
) -> dict[str, Any]:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)

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


if __name__ == "__main__":
    import sys

    print(remind_flow(sys.argv[1], datetime.now().astimezone()))
