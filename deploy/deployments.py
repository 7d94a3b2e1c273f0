"""Prefect deployment mode: the schedules of `thidua serve` and every lifecycle stage, run by a Prefect server
and its workers.

### Chạy bằng Prefect server (cài đặt lớn) / Running on a Prefect server

Each job has exactly **one** scheduler. By default that is `thidua serve` (APScheduler, jobs stored in the
application database). Larger installations can hand every schedule to Prefect instead; then `thidua serve`
must not run, and it refuses to: set `THIDUA_SCHEDULER=prefect` (environment or `.env`) for the whole
installation. The scheduled and event-started flows below refuse in turn unless `THIDUA_SCHEDULER=prefect` and
no `thidua serve` holds the scheduler lease on the database. The stage deployments (`stage-*`) are what an
administrator starts by hand, like the CLI command of the same stage; they run in either mode.

```bash
# 1. a long-running Prefect server (PostgreSQL-backed for production: PREFECT_API_DATABASE_CONNECTION_URL)
prefect server start --host 0.0.0.0
# 2. on every machine below: point at it, say who schedules, and send no usage data
export PREFECT_API_URL=http://<prefect-host>:4200/api THIDUA_SCHEDULER=prefect
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
export THIDUA_DATABASE_URL=postgresql://thidua@<db-host>/thidua THIDUA_DATA_DIR=/srv/thidua/var
# 3. once, from any machine with the package installed: a process work pool, then the deployments
prefect work-pool create thidua --type process
prefect deploy --all --prefect-file deploy/prefect.yaml  # or the copy installed as thidua/deploy/prefect.yaml
# 4. one or more workers: the installed package and the settings above are all a worker host needs
prefect worker start --pool thidua
```

The entry points are module paths of the installed package (`thidua.deploy.deployments.<flow>`) and the
deployments have no pull step: a flow run starts in a fresh temporary directory on the worker and imports the
code from the worker's own installation, never from the deploying machine's checkout. Settings come from the
worker's environment (a `.env` file is read only from the directory a process starts in, which for a flow run
is that temporary directory).

| deployment | started by | what it does |
| --- | --- | --- |
| `thidua-reminders/hourly` | `0 * * * *` (Vietnam time) | reminder sweep of the campaigns whose hour it is |
| `thidua-collect/daily-0700` | `0 7 * * *` | collection for every campaign with a period due yesterday |
| `thidua-close/daily-0730` | `30 7 * * *` | closing run for every campaign that ended yesterday |
| `thidua-outbox/every-minute` | `* * * * *` | outbox dispatch |
| `thidua-mail/every-10-minutes` | `*/10 * * * *` | the mailbox units reply to (reports sent by email) |
| `thidua-collect-campaign/on-deadline` | event `thidua.deadline.passed` | collection of that campaign |
| `thidua-close-campaign/on-final-reports` | event `thidua.report.accepted` (close early) | early close |
| `stage-launch/launch` | hand: `definition`, `as_of` | `thidua campaign launch FILE --as-of …` |
| `stage-remind/remind` | hand: `code`, `as_of`, `dry_run` | `thidua remind CODE --as-of … [--dry-run]` |
| `stage-collect/collect` | hand: `code`, `as_of` | `thidua collect CODE --as-of …` |
| `stage-close/close` | hand: `code`, `as_of` | `thidua close CODE --as-of …` |
| `stage-review/review` | hand: `code`, `as_of`, `meeting` | `thidua review CODE [--meeting N] --as-of …` |
| `stage-award/award` | hand: `code`, `decision_date`, `as_of` | `thidua award run CODE [--date …]` |
| `stage-dispatch/dispatch` | hand | `thidua outbox dispatch` |

For example `prefect deployment run stage-award/award --param code=TQ-2024-GIAM-AN --param
decision_date=19/07/2024`. A stage reads its text parameters with the command line's parsers, so a wrong date
fails the run with the command's Vietnamese message (the thidua error tree, thidua/errors.py) before any work.

A sweep decides what is due from the time its run was *scheduled* for, using the same job definitions
as `thidua serve` (deploy/scheduler.py), so a run that starts late (worker down) still does that slot's
work. Runs that were never created while the Prefect server itself was down are not replayed: after such an
outage, run the missed work by hand (the stage deployments, or the CLI). To switch back, stop the workers
(or pause the deployments), unset `THIDUA_SCHEDULER` and start `thidua serve`: it registers the jobs again
from the campaigns table.

The outbox deployment creates 1,440 flow runs a day: the Prefect server should use PostgreSQL and prune its
run history (`PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,flow_runs` on the server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from thidua.deploy import jobs
from thidua.deploy.cli_common import Invocation, parse_now
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


def _require_prefect_mode() -> None:
    """Refuse to run unless Prefect owns the jobs and no `thidua serve` is active (scheduler.py)."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        require_prefect_mode(engine, datetime.now(settings.tz))
    finally:
        engine.dispose()


def _campaign_job(kind: Kind, code: str) -> None:
    _require_prefect_mode()
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
    _require_prefect_mode()
    jobs.dispatch_outbox()


@flow(name="thidua-mail")
def mailbox_read() -> None:
    """Read the mailbox units reply to (reports sent by email; nothing without THIDUA_IMAP_HOST)."""
    _require_prefect_mode()
    jobs.read_mailbox()


# ---------------------------------------------------------------- stages started by hand


def _moment(settings: Settings, as_of: str | None) -> datetime:
    """The moment a stage acts at, read like the CLI's --as-of (empty: now)."""
    return parse_now(settings, as_of)


def _definition_path(settings: Settings, definition: str) -> Path:
    """A definition file on the worker host: absolute, or relative to the data directory (THIDUA_DATA_DIR)."""
    path = Path(definition.strip()).expanduser()
    return path if path.is_absolute() else settings.data_dir / path


@flow(name="stage-launch")
def launch_stage(definition: str, as_of: str | None = None) -> dict[str, Any]:
    """Phát động phong trào từ tệp định nghĩa (như `thidua campaign launch`).

    Args:
        definition: Tệp định nghĩa phong trào (YAML) trên máy worker: đường dẫn tuyệt đối, hoặc tương đối với
            thư mục dữ liệu (THIDUA_DATA_DIR).
        as_of: Thời điểm coi là "bây giờ" (dd/mm/yyyy [HH:MM]); bỏ trống: bây giờ.
    """
    from thidua.flows.launch import launch_flow
    from thidua.models.definition import load_definition

    settings = Settings()
    now = _moment(settings, as_of)
    path = _definition_path(settings, definition)
    load_definition(path)  # a bad file is refused before anything is stored, as on the command line
    return launch_flow(str(path), now, settings)


@flow(name="stage-remind")
def remind_stage(code: str, as_of: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Gửi thư nhắc hạn của một phong trào (như `thidua remind`).

    Args:
        code: Mã phong trào.
        as_of: Thời điểm coi là "bây giờ" (dd/mm/yyyy [HH:MM]); bỏ trống: bây giờ.
        dry_run: Chỉ liệt kê ai sẽ nhận thư gì, không thay đổi gì.
    """
    from thidua.flows.remind import remind_flow

    settings = Settings()
    return remind_flow(code, _moment(settings, as_of), settings, dry_run=dry_run)


@flow(name="stage-collect")
def collect_stage(code: str, as_of: str | None = None) -> dict[str, Any]:
    """Thu thập số liệu của một phong trào (như `thidua collect`).

    Args:
        code: Mã phong trào.
        as_of: Thời điểm coi là "bây giờ" (dd/mm/yyyy [HH:MM]); bỏ trống: bây giờ.
    """
    from thidua.flows.collect import collect_flow

    settings = Settings()
    return collect_flow(code, _moment(settings, as_of), settings)


@flow(name="stage-close")
def close_stage(code: str, as_of: str | None = None) -> dict[str, Any]:
    """Tổng kết phong trào (như `thidua close`).

    Args:
        code: Mã phong trào.
        as_of: Thời điểm coi là "bây giờ" (dd/mm/yyyy [HH:MM]); bỏ trống: bây giờ.
    """
    from thidua.flows.close import close_flow

    settings = Settings()
    return close_flow(code, _moment(settings, as_of), settings)


@flow(name="stage-review")
def review_stage(code: str, as_of: str | None = None, meeting: int | None = None) -> dict[str, Any]:
    """Xét khen thưởng; với số cuộc họp, kết thúc cuộc họp Hội đồng đó (như `thidua review`).

    Args:
        code: Mã phong trào.
        as_of: Thời điểm coi là "bây giờ" (dd/mm/yyyy [HH:MM]); bỏ trống: bây giờ.
        meeting: Số cuộc họp Hội đồng cần kết thúc (kiểm phiếu, chỉ tiêu, biên bản); bỏ trống: chỉ xét.
    """
    from thidua.flows.review import review_flow

    settings = Settings()
    return review_flow(code, _moment(settings, as_of), settings, meeting_id=meeting, actor="prefect")


@flow(name="stage-award")
def award_stage(code: str, decision_date: str | None = None, as_of: str | None = None) -> dict[str, Any]:
    """Ban hành mọi hình thức khen thưởng đã có kết quả của Hội đồng, rồi gửi thư (như `thidua award run`).

    Args:
        code: Mã phong trào.
        decision_date: Ngày ký quyết định (dd/mm/yyyy); bỏ trống: ngày của as_of.
        as_of: Thời điểm coi là "bây giờ" (dd/mm/yyyy [HH:MM]); bỏ trống: bây giờ.
    """
    from thidua.flows.award import award_flow

    settings = Settings()
    now = _moment(settings, as_of)
    # The CLI's own reading of --date: the same formats and the same message for a wrong one.
    decided_on = Invocation(settings, now, migrate=False).day(decision_date) if decision_date else None
    return award_flow(code, now, settings, decided_on=decided_on, actor="prefect")


@flow(name="stage-dispatch")
def dispatch_stage() -> dict[str, Any]:
    """Gửi ngay các thư đến hạn trong hộp thư đi (như `thidua outbox dispatch`)."""
    from thidua.notifications.outbox import dispatch

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        result = dispatch(engine, settings, worker_id="prefect")
    finally:
        engine.dispose()
    return asdict(result)


if __name__ == "__main__":
    import sys

    flows: dict[str, Callable[[], object]] = {
        "reminders": reminders_sweep,
        "collect": collect_sweep,
        "close": close_sweep,
        "outbox": outbox_dispatch,
    }
    flows[sys.argv[1]]()
