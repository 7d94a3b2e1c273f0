"""Prefect deployment mode: the schedules of `thidua serve`, run by a Prefect server and its workers instead.

### Chạy bằng Prefect server (cài đặt lớn) / Running the schedules on a Prefect server

Each job has exactly **one** scheduler. By default that is `thidua serve` (APScheduler, jobs stored in the
application database). Larger installations can hand every schedule to Prefect instead; then `thidua serve`
must not run, and it refuses to: set `THIDUA_SCHEDULER=prefect` (environment or `.env`) for the whole
installation. The Prefect flows below refuse in turn unless `THIDUA_SCHEDULER=prefect` and no `thidua serve`
holds the scheduler lease on the database.

```bash
# 1. a long-running Prefect server (PostgreSQL-backed for production: PREFECT_API_DATABASE_CONNECTION_URL)
prefect server start --host 0.0.0.0
# 2. on every machine below: point at it, and say who schedules
export PREFECT_API_URL=http://<prefect-host>:4200/api THIDUA_SCHEDULER=prefect
export THIDUA_DATABASE_URL=postgresql://thidua@<db-host>/thidua THIDUA_DATA_DIR=/srv/thidua/var
# 3. once: a process work pool, then the deployments (run from the project root)
prefect work-pool create thidua --type process
prefect deploy --all --prefect-file deploy/prefect.yaml
# 4. one or more workers (each runs flows as subprocesses in the project directory)
prefect worker start --pool thidua
```

| deployment | schedule (Asia/Ho_Chi_Minh) | what it does |
| --- | --- | --- |
| `thidua-reminders/hourly` | `0 * * * *` | reminder sweep of every campaign whose send hour is now |
| `thidua-collect/daily-0700` | `0 7 * * *` | collection for every campaign with a period due yesterday |
| `thidua-close/daily-0730` | `30 7 * * *` | closing run for every campaign that ended yesterday |
| `thidua-outbox/every-minute` | `* * * * *` | outbox dispatch |

A sweep decides what is due from the time its run was *scheduled* for, using the same job definitions
as `thidua serve` (deploy/scheduler.py), so a run that starts late (worker down) still does that slot's
work. Runs that were never created while the Prefect server itself was down are not replayed: after such an
outage, run the missed work by hand (e.g. `python -m flows.collect CODE`). To switch back, stop the workers
(or pause the deployments), unset `THIDUA_SCHEDULER` and start `thidua serve`: it registers the jobs again
from the campaigns table.

The outbox deployment creates 1,440 flow runs a day: the Prefect server should use PostgreSQL and prune its
run history (`PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,flow_runs` on the server).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from thidua.deploy import jobs
from thidua.deploy.scheduler import (
    JobSpec,
    campaign_job_specs,
    fires_within,
    load_snapshots,
    require_prefect_mode,
)
from thidua.models.db import make_engine
from thidua.models.settings import Settings

Kind = Literal["remind", "collect", "close"]

_RUNNERS: dict[Kind, Callable[[JobSpec], None]] = {
    "remind": lambda spec: jobs.run_reminders(spec.args[0]),
    "collect": lambda spec: jobs.run_collect(spec.args[0], spec.args[1]),
    "close": lambda spec: jobs.run_close(spec.args[0]),
}


def _slot(settings: Settings) -> datetime:
    """The time this run was scheduled for (a late run does its own slot's work), in the local zone."""
    expected = flow_run.get_scheduled_start_time()
    return datetime.fromtimestamp(expected.timestamp(), settings.tz)


def _sweep(kind: Kind, cadence: timedelta) -> list[str]:
    settings = Settings()
    logger = get_run_logger()
    engine = make_engine(settings.database_url)
    try:
        require_prefect_mode(engine, datetime.now(settings.tz))
        slot = _slot(settings)
        due = [
            spec
            for snap in load_snapshots(engine)
            for spec in campaign_job_specs(snap, settings.tz)
            if spec.kind == kind and fires_within(spec, slot - cadence, slot)
        ]
    finally:
        engine.dispose()
    failed: list[str] = []
    for spec in due:
        logger.info("%s: chạy %s", slot.isoformat(), spec.id)
        try:
            _RUNNERS[kind](spec)
        except Exception:  # one campaign's failure must not stop the others'
            logger.exception("%s lỗi", spec.id)
            failed.append(spec.id)
    if failed:
        raise RuntimeError("Các công việc lỗi: " + ", ".join(failed))
    return [spec.id for spec in due]


@flow(name="thidua-reminders")
def reminders_sweep() -> list[str]:
    """Reminder sweep of every campaign whose reminder hour is this hour."""
    return _sweep("remind", timedelta(hours=1))


@flow(name="thidua-collect")
def collect_sweep() -> list[str]:
    """Collection run for every campaign with a reporting period due the day before."""
    return _sweep("collect", timedelta(days=1))


@flow(name="thidua-close")
def close_sweep() -> list[str]:
    """Closing run for every campaign whose end date was the day before."""
    return _sweep("close", timedelta(days=1))


def _campaign_job(kind: Kind, code: str) -> None:
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        require_prefect_mode(engine, datetime.now(settings.tz))
    finally:
        engine.dispose()
    if kind == "collect":
        jobs.run_collect(code, "event")
    else:
        jobs.run_close(code, only_if_complete=True)


@flow(name="thidua-collect-campaign")
def collect_campaign(code: str) -> None:
    """Collection run of one campaign, started by its thidua.deadline.passed event (on-deadline)."""
    _campaign_job("collect", code)


@flow(name="thidua-close-campaign")
def close_campaign(code: str) -> None:
    """Early closing run of one campaign whose final reports are all in (deployment on-final-reports).

    The event may be replayed or arrive late: the run checks completeness itself; the close is idempotent."""
    _campaign_job("close", code)


@flow(name="thidua-outbox")
def outbox_dispatch() -> None:
    """Send due outbox emails."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        require_prefect_mode(engine, datetime.now(settings.tz))
    finally:
        engine.dispose()
    jobs.dispatch_outbox()


if __name__ == "__main__":
    import sys

    flows: dict[str, Callable[[], object]] = {
        "reminders": reminders_sweep,
        "collect": collect_sweep,
        "close": close_sweep,
        "outbox": outbox_dispatch,
    }
    flows[sys.argv[1]]()
