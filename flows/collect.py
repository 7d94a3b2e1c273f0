"""Stage 2 of the lifecycle — periodic data collection (thu thập số liệu định kỳ).

start (campaign → collecting, periods to compute) → read the mailbox (reports sent by email, when
THIDUA_IMAP_HOST is set) → ingest the inbox (accepted / rejected files) →
snapshots for every enrolled unit and person, rolled up the hierarchy → timeliness and completeness of the
current period → dispatch the outbox (rejection emails, answers to emailed reports) → record the run.
Task runs per flow run are fixed: every loop over units, people or periods lives inside a task.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from thidua.flows.local import flow
from thidua.models.db import ensure_schema, make_engine
from thidua.models.indicators import fmt_percent
from thidua.models.settings import Settings
from thidua.notifications.outbox import dispatch
from thidua.tasks.collect.collection import record_collection, start_collection
from thidua.tasks.collect.mailbox import sweep_mailbox
from thidua.tasks.collect.progress import PeriodStatus, compute_all_snapshots, period_status
from thidua.tasks.collect.reports import process_inbox

start_task = task(name="start collection", cache_policy=NO_CACHE)(start_collection)
mailbox_task = task(name="read mailbox", cache_policy=NO_CACHE)(sweep_mailbox)
inbox_task = task(name="ingest inbox", cache_policy=NO_CACHE)(process_inbox)
snapshot_task = task(name="compute snapshots", cache_policy=NO_CACHE)(compute_all_snapshots)
timeliness_task = task(name="timeliness and completeness", cache_policy=NO_CACHE)(period_status)
dispatch_task = task(name="dispatch outbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])(
    dispatch
)
record_task = task(name="record collection run", cache_policy=NO_CACHE)(record_collection)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _timeliness(status: PeriodStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {
        "period": status.period_key,
        "due_date": status.due_date.isoformat(),
        "expected": status.expected,
        "received": status.received,
        "on_time": status.on_time,
        "late": status.late,
        "missing": status.missing,
        "pending": status.pending,
        "reporting_rate": fmt_percent(status.reporting_rate),
        "on_time_rate": fmt_percent(status.on_time_rate),
        "summary": status.summary(),
    }


@flow(name="collect")
def collect_flow(code: str, now: datetime, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    today = now.astimezone(settings.tz).date()

    plan = start_task(engine, code, now=now, today=today)
    # Every message in the mailbox, whichever campaign its report is for: a message is never left waiting
    # for another campaign's run. One task, whatever the number of messages.
    mail = mailbox_task(engine, settings, now=now)
    inbox = inbox_task(engine, settings, plan.code, now=now)
    snapshots = snapshot_task(engine, plan.code, plan.periods, now=now)
    status = (
        timeliness_task(engine, plan.code, plan.current_period, as_of=today) if plan.current_period else None
    )
    sent = dispatch_task(engine, settings, worker_id="collect")

    summary = {
        "code": plan.code,
        "as_of": today.isoformat(),
        "periods": plan.periods,
        "current_period": plan.current_period,
        "inbox": inbox.as_dict(),
        "mail": mail.as_dict(),
        "snapshots": _plain(snapshots),
        "timeliness": _timeliness(status),
        "emails": _plain(sent),
    }
    record_task(engine, plan, summary, now=now)
    engine.dispose()
    return summary


if __name__ == "__main__":
    import sys

    print(collect_flow(sys.argv[1], datetime.now().astimezone()))
