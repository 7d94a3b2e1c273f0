"""The embedded scheduler: job definitions, their registration in the job store, and the leader lease.

Jobs live in the application database (APScheduler's SQLAlchemyJobStore, table `apscheduler_jobs`), zone
Asia/Ho_Chi_Minh, with fixed ids:

    remind:<CODE>            daily at the campaign's reminder hour (definition.reminders.send_hour)
    collect:<CODE>:<period>  once, at 07:00 the day after the period's due date
    close:<CODE>             once, at 07:30 the day after the end date or the last report due date, if later
    outbox-dispatch          every minute
    mail-read                every 10 minutes: the mailbox units reply to (nothing without THIDUA_IMAP_HOST)
    campaign:<CODE>          a paused marker, never run: "this store has scheduled the campaign"

Registration compares each wanted job with the stored one and writes only what changed, with
replace_existing=True, so a restart neither duplicates jobs nor resets a pending run: a job that fell due
while the service was down keeps its past next_run_time and runs once (coalesce) when the service returns,
as long as it is within MISFIRE_GRACE. A one-off job that already ran is gone from the store; the campaign
marker tells "already ran" apart from "never scheduled" (a campaign launched while the service was down), so
re-registration never runs a collection or a close twice.

Only one process schedules per database: the leader holds the "scheduler" row of `service_lease`, taken and
renewed by one conditional UPDATE (or INSERT ... ON CONFLICT DO NOTHING for the first holder), which is
atomic on SQLite (one writer) and PostgreSQL (the losing UPDATE re-checks its WHERE clause on the winner's
row). We use the table rather than pg_try_advisory_lock so the code path, the holder's name and the expiry
are the same on both databases and visible to operators (SELECT * FROM service_lease), it survives
connection poolers, and tests can drive the expiry with an injected clock. The price: hosts' clocks must
agree to well within the lease (60 s lease, 15 s heartbeat).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, Table, case, literal, or_, select, update
from sqlmodel import col

from thidua.errors import Unavailable
from thidua.models.campaign import Campaign, CampaignStatus, Deadline, DeadlineKind
from thidua.models.db import insert_ignore, make_engine
from thidua.models.definition import definition_from_json
from thidua.models.service import ServiceLease

log = logging.getLogger("thidua.scheduler")

JOBSTORE_TABLE = "apscheduler_jobs"
LEASE_NAME = "scheduler"
OUTBOX_JOB_ID = "outbox-dispatch"
MAIL_JOB_ID = "mail-read"
# How often the mailbox units reply to is read between collections (a reply is answered within this).
MAIL_EVERY_MINUTES = 10
# Long enough for a holiday outage (Tết is up to 9 days off); a job missed by more is dropped with a warning.
MISFIRE_GRACE = timedelta(days=14)
COLLECT_AT = time(7, 0)
# After the collection of the same morning: the flow-job executor runs one job at a time, in due order.
CLOSE_AT = time(7, 30)
CLOSE_EARLY_EVERY_MINUTES = 10
# A fixed anchor keeps the interval trigger (and so its stored signature) the same on every start.
_OUTBOX_ANCHOR = datetime(2024, 1, 1, tzinfo=UTC)
# Campaigns whose jobs exist; the others (draft, awarded, archived) have theirs removed.
SCHEDULED_STATUSES = frozenset(
    {CampaignStatus.LAUNCHED, CampaignStatus.COLLECTING, CampaignStatus.CLOSED, CampaignStatus.IN_REVIEW}
)
CLOSABLE_STATUSES = frozenset({CampaignStatus.LAUNCHED, CampaignStatus.COLLECTING})
FLOW_EXECUTOR = "default"
OUTBOX_EXECUTOR = "outbox"
MAIL_EXECUTOR = "mail"

SchedulerMode = Literal["serve", "prefect"]


class SchedulerSettings(BaseSettings):
    """Who schedules this installation (THIDUA_SCHEDULER) and the lease timing of `thidua serve`.

    `serve` (default): `thidua serve` owns every job. `prefect`: the Prefect deployments of
    deploy/prefect.yaml own them and `thidua serve` refuses to start, so no job ever has two schedulers.
    """

    model_config = SettingsConfigDict(
        env_prefix="THIDUA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    scheduler: SchedulerMode = "serve"
    scheduler_lease_seconds: float = 60.0
    scheduler_heartbeat_seconds: float = 15.0
    scheduler_rescan_seconds: float = 60.0

    @field_validator("scheduler", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> SchedulerSettings:
        if not 0 < self.scheduler_heartbeat_seconds * 2 <= self.scheduler_lease_seconds:
            raise ValueError("nhịp gia hạn (heartbeat) phải dương và không quá nửa thời hạn quyền (lease)")
        if self.scheduler_rescan_seconds <= 0:
            raise ValueError("chu kỳ quét phong trào phải dương")
        return self

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.scheduler_lease_seconds)


class SchedulerModeError(Unavailable):
    """This scheduler must not act: the other one (serve or Prefect) owns the jobs."""


# ---------------------------------------------------------------- job definitions (pure)


@dataclass(frozen=True)
class JobFuncs:
    """Textual references of the job callables ("module:function"), stored in the job store instead of code.

    Tests substitute their own callables; production uses deploy.jobs.
    """

    remind: str = "thidua.deploy.jobs:run_reminders"
    collect: str = "thidua.deploy.jobs:run_collect"
    close: str = "thidua.deploy.jobs:run_close"
    close_early: str = "thidua.deploy.jobs:run_close_early"
    outbox: str = "thidua.deploy.jobs:dispatch_outbox"
    mail: str = "thidua.deploy.jobs:read_mailbox"
    marker: str = "thidua.deploy.jobs:campaign_marker"


DEFAULT_FUNCS = JobFuncs()


@dataclass(frozen=True)
class CampaignSnapshot:
    """What the schedule of one campaign depends on, read from the campaign and deadline rows."""

    code: str
    status: CampaignStatus
    start_date: date
    end_date: date
    launched_at: datetime | None
    reminders_enabled: bool
    send_hour: int
    reminder_tail_days: int  # calendar days the reminders go on after the last due date
    deadlines: tuple[tuple[str, DeadlineKind, date], ...]  # (key, kind, due date), by due date
    close_early: bool = False  # the definition's close_early_when_complete


@dataclass(frozen=True)
class JobSpec:
    id: str
    kind: Literal["remind", "collect", "close", "close_early", "outbox", "mail"]
    func: str
    args: tuple[Any, ...]
    trigger: BaseTrigger
    executor: str = FLOW_EXECUTOR

    def first_run(self, now: datetime) -> datetime | None:
        return cast(datetime | None, self.trigger.get_next_fire_time(None, now))


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def reminder_tail_days(overdue_every: int, overdue_max: int, escalate_after: int) -> int:
    """Calendar days after the last due date during which overdue reminders and escalations can still fall.

    Working days converted at 7/5, plus two weeks for public holidays (Tết alone is up to 9 days off).
    """
    working = max(overdue_every * overdue_max, escalate_after)
    return math.ceil(working * 7 / 5) + 14


def report_due_dates(snap: CampaignSnapshot) -> list[date]:
    """Due dates of the periodic and final reports."""
    return [
        due
        for _, kind, due in snap.deadlines
        if kind in (DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT)
    ]


def campaign_job_specs(
    snap: CampaignSnapshot, tz: ZoneInfo, funcs: JobFuncs = DEFAULT_FUNCS
) -> list[JobSpec]:
    """Every job a campaign should have, whatever the time: the registration decides what is still due."""
    if snap.status not in SCHEDULED_STATUSES:
        return []
    specs: list[JobSpec] = []
    code = snap.code
    dues = [due for _, _, due in snap.deadlines]
    if snap.reminders_enabled and dues:
        last_day = max(dues) + timedelta(days=snap.reminder_tail_days)
        specs.append(
            JobSpec(
                id=f"remind:{code}",
                kind="remind",
                func=funcs.remind,
                args=(code,),
                trigger=CronTrigger(
                    hour=snap.send_hour,
                    minute=0,
                    start_date=_local(snap.start_date, time.min, tz),
                    end_date=_local(last_day, time.max.replace(microsecond=0), tz),
                    timezone=tz,
                ),
            )
        )
    # One collection per morning: the run covers every started period, so two periods due the same day
    # (June and the final report in seed 003) share the job of the first one.
    seen_days: set[date] = set()
    for key, kind, due in snap.deadlines:
        if kind not in (DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT):
            continue
        run_day = due + timedelta(days=1)
        if run_day in seen_days:
            continue
        seen_days.add(run_day)
        specs.append(
            JobSpec(
                id=f"collect:{code}:{key}",
                kind="collect",
                func=funcs.collect,
                args=(code, key),
                trigger=DateTrigger(run_date=_local(run_day, COLLECT_AT, tz), timezone=tz),
            )
        )
    if snap.status in CLOSABLE_STATUSES:
        # Not before the last reports are in (seed 003: June and the final report due 03/07, end 30/06):
        # the close runs the morning after the last due date, after that morning's collection.
        close_day = max([snap.end_date, *report_due_dates(snap)]) + timedelta(days=1)
        specs.append(
            JobSpec(
                id=f"close:{code}",
                kind="close",
                func=funcs.close,
                args=(code,),
                trigger=DateTrigger(run_date=_local(close_day, CLOSE_AT, tz), timezone=tz),
            )
        )
        if snap.close_early:
            # The embedded counterpart of the on-final-reports trigger: reports arrive from other
            # processes (the inbox, the CLI), so the service looks every few minutes whether the last
            # final report is in. One small query a look; the close itself is idempotent.
            specs.append(
                JobSpec(
                    id=f"close-early:{code}",
                    kind="close_early",
                    func=funcs.close_early,
                    args=(code,),
                    trigger=IntervalTrigger(
                        minutes=CLOSE_EARLY_EVERY_MINUTES,
                        start_date=_local(snap.start_date, time.min, tz),
                        end_date=_local(close_day, CLOSE_AT, tz),
                        timezone=tz,
                    ),
                )
            )
    return specs


def outbox_job_spec(funcs: JobFuncs = DEFAULT_FUNCS) -> JobSpec:
    return JobSpec(
        id=OUTBOX_JOB_ID,
        kind="outbox",
        func=funcs.outbox,
        args=(),
        trigger=IntervalTrigger(minutes=1, start_date=_OUTBOX_ANCHOR, timezone=UTC),
        executor=OUTBOX_EXECUTOR,
    )


def mail_job_spec(funcs: JobFuncs = DEFAULT_FUNCS) -> JobSpec:
    """Reading the mailbox units reply to (a no-op without THIDUA_IMAP_HOST), on its own executor: a slow
    mail server delays neither the outbox nor the campaign flows."""
    return JobSpec(
        id=MAIL_JOB_ID,
        kind="mail",
        func=funcs.mail,
        args=(),
        trigger=IntervalTrigger(minutes=MAIL_EVERY_MINUTES, start_date=_OUTBOX_ANCHOR, timezone=UTC),
        executor=MAIL_EXECUTOR,
    )


def marker_id(code: str) -> str:
    return f"campaign:{code}"


def code_of(job_id: str) -> str | None:
    """The campaign code inside a campaign job id; None for global jobs such as outbox-dispatch."""
    parts = job_id.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] in ("remind", "collect", "close", "campaign") else None


def fires_within(spec: JobSpec, after: datetime, upto: datetime) -> bool:
    """Whether the job fires in (after, upto]: how a periodic sweep (Prefect mode) picks its work."""
    nxt = spec.trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return nxt is not None and after < nxt <= upto


# ---------------------------------------------------------------- reading campaigns


def _snapshot(campaign: Campaign, deadlines: Iterable[Deadline]) -> CampaignSnapshot:
    definition = definition_from_json(campaign.definition_json)
    reminders = definition.reminders
    return CampaignSnapshot(
        code=campaign.code,
        status=CampaignStatus(campaign.status),
        start_date=campaign.start_date,
        end_date=campaign.end_date,
        launched_at=campaign.launched_at,
        reminders_enabled=reminders.enabled,
        send_hour=reminders.send_hour,
        reminder_tail_days=reminder_tail_days(
            reminders.overdue_every, reminders.overdue_max, reminders.escalate_after
        ),
        deadlines=tuple(
            (d.key, DeadlineKind(d.kind), d.due_date)
            for d in sorted(deadlines, key=lambda d: (d.due_date, d.key))
        ),
        close_early=definition.close_early_when_complete,
    )


def load_snapshots(engine: Engine, codes: Sequence[str] | None = None) -> list[CampaignSnapshot]:
    """Campaigns (all, or the given codes) with their deadlines."""
    from sqlmodel import Session

    with Session(engine) as s:
        query = select(Campaign).order_by(col(Campaign.code))
        if codes is not None:
            query = query.where(col(Campaign.code).in_([c.upper() for c in codes]))
        campaigns = list(s.scalars(query).all())
        ids = [c.id for c in campaigns]
        by_campaign: dict[int, list[Deadline]] = {i: [] for i in ids if i is not None}
        if ids:
            for d in s.scalars(select(Deadline).where(col(Deadline.campaign_id).in_(ids))).all():
                by_campaign[d.campaign_id].append(d)
        return [_snapshot(c, by_campaign.get(c.id or -1, [])) for c in campaigns]


# ---------------------------------------------------------------- the scheduler object


class ServiceScheduler(BackgroundScheduler):
    """A BackgroundScheduler that reports when a processing round has run, for `serve --once` and tests.

    It also fixes a hazard of APScheduler 3.11: after shutdown() the scheduler thread wakes for one last round
    in the STOPPED state and processes due jobs with executors already shut down, so a due periodic job fails
    to submit and yet has its next run time moved on: a standby that stops would lose the missed run the next
    leader should catch up. Here a round runs only in the RUNNING state.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.round_done = threading.Event()
        self.failed_runs = 0  # job runs that raised, since start
        self.add_listener(self._count_failure, EVENT_JOB_ERROR)

    def _count_failure(self, _event: JobExecutionEvent) -> None:
        self.failed_runs += 1

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None  # paused: wait for resume(); stopped: the thread is about to exit
        wait: float | None = super()._process_jobs()
        self.round_done.set()
        return wait

    def run_due_now(self, timeout: float = 60.0) -> int:
        """Resume, let one round submit every due job (misfires coalesced), wait until those jobs finished.

        Leaves the scheduler stopped: this is the whole life of `thidua serve --once`. Returns how many job
        runs failed.
        """
        self.round_done.clear()
        self.resume()
        if not self.round_done.wait(timeout):
            raise TimeoutError("bộ lập lịch không xử lý công việc đến hạn trong thời gian chờ")
        self.shutdown(wait=True)
        return self.failed_runs


def _log_job_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning(
            "Công việc %s lỡ lượt chạy lúc %s quá thời gian ân hạn (%s ngày) — bỏ qua lượt này.",
            event.job_id,
            event.scheduled_run_time,
            MISFIRE_GRACE.days,
        )
    elif event.exception is not None:
        # APScheduler's executor logs the traceback itself.
        when = event.scheduled_run_time
        log.error("Công việc %s (lượt %s) bị lỗi: %s", event.job_id, when, event.exception)


def build_scheduler(database_url: str, tz: ZoneInfo) -> ServiceScheduler:
    """An unstarted scheduler on the application database.

    Campaign flows run one at a time (a collection and a close due the same morning must not overlap) on one
    executor; the outbox dispatch has its own, so a long flow never delays email.
    """
    store = SQLAlchemyJobStore(engine=make_engine(database_url), tablename=JOBSTORE_TABLE)
    scheduler = ServiceScheduler(
        jobstores={"default": store},
        executors={
            FLOW_EXECUTOR: ThreadPoolExecutor(1),
            OUTBOX_EXECUTOR: ThreadPoolExecutor(1),
            MAIL_EXECUTOR: ThreadPoolExecutor(1),
        },
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
        },
        timezone=tz,
    )
    scheduler.add_listener(_log_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


# ---------------------------------------------------------------- registration


@dataclass
class Registration:
    added: list[str] = field(default_factory=list)  # new or changed
    kept: list[str] = field(default_factory=list)  # identical (a pending run stays pending)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # past and already run, or too old to matter

    def __iadd__(self, other: Registration) -> Registration:
        self.added += other.added
        self.kept += other.kept
        self.removed += other.removed
        self.skipped += other.skipped
        return self


def _signature(func: str, args: Sequence[Any], trigger: BaseTrigger, executor: str) -> tuple[Any, ...]:
    return (func, tuple(args), repr(trigger), executor)


def _job_signature(job: Job) -> tuple[Any, ...]:
    return _signature(job.func_ref, job.args, job.trigger, job.executor)


def _add(scheduler: BackgroundScheduler, spec: JobSpec, next_run: datetime | None) -> None:
    scheduler.add_job(
        spec.func,
        trigger=spec.trigger,
        args=spec.args,
        id=spec.id,
        name=spec.id,
        executor=spec.executor,
        replace_existing=True,
        next_run_time=next_run,
    )


def _apply(
    scheduler: BackgroundScheduler,
    specs: Sequence[JobSpec],
    existing: dict[str, Job],
    *,
    now: datetime,
    known: bool,
    launched_at: datetime | None,
) -> Registration:
    result = Registration()
    for spec in specs:
        job = existing.get(spec.id)
        if job is not None and _job_signature(job) == _signature(
            spec.func, spec.args, spec.trigger, spec.executor
        ):
            result.kept.append(spec.id)
            continue
        first = spec.first_run(now)
        if first is None:  # a cron job past its end date
            if job is not None:
                scheduler.remove_job(spec.id)
                result.removed.append(spec.id)
            else:
                result.skipped.append(spec.id)
            continue
        if first >= now or job is not None:
            # Future, or changed while still pending: (re)write it; a pending past run stays due.
            _add(scheduler, spec, first)
            result.added.append(spec.id)
            continue
        # Past and not in the store. For a campaign this store has scheduled before, that means it ran.
        # For one it has not (launched while the service was down), a run missed recently is caught up once.
        recent = now - first <= MISFIRE_GRACE
        after_launch = launched_at is None or first >= launched_at
        if not known and recent and after_launch:
            _add(scheduler, spec, first)
            result.added.append(spec.id)
        else:
            result.skipped.append(spec.id)
    return result


def _jobs_by_id(scheduler: BackgroundScheduler) -> dict[str, Job]:
    return {job.id: job for job in scheduler.get_jobs()}


def _remove_campaign_jobs(scheduler: BackgroundScheduler, code: str, jobs: dict[str, Job]) -> list[str]:
    removed = []
    for job_id in jobs:
        if code_of(job_id) == code:
            scheduler.remove_job(job_id)
            removed.append(job_id)
    return removed


def _register_snapshot(
    scheduler: BackgroundScheduler,
    snap: CampaignSnapshot,
    jobs: dict[str, Job],
    *,
    now: datetime,
    tz: ZoneInfo,
    funcs: JobFuncs,
) -> Registration:
    if snap.status not in SCHEDULED_STATUSES:
        return Registration(removed=_remove_campaign_jobs(scheduler, snap.code, jobs))
    specs = campaign_job_specs(snap, tz, funcs)
    known = marker_id(snap.code) in jobs
    result = _apply(scheduler, specs, jobs, now=now, known=known, launched_at=snap.launched_at)
    wanted = {s.id for s in specs} | {marker_id(snap.code)}
    for job_id in jobs:
        if code_of(job_id) == snap.code and job_id not in wanted:  # a deadline that no longer exists
            scheduler.remove_job(job_id)
            result.removed.append(job_id)
    if not known:
        # Paused (next_run_time=None): it never runs, it only remembers that the campaign was scheduled.
        scheduler.add_job(
            funcs.marker,
            trigger=DateTrigger(run_date=_local(snap.end_date, time.min, tz), timezone=tz),
            args=(snap.code,),
            id=marker_id(snap.code),
            name=marker_id(snap.code),
            replace_existing=True,
            next_run_time=None,
        )
    return result


def register_outbox_job(
    scheduler: BackgroundScheduler, *, now: datetime | None = None, funcs: JobFuncs = DEFAULT_FUNCS
) -> Registration:
    """The global jobs: the outbox dispatch and the mailbox read."""
    tz = cast(ZoneInfo, scheduler.timezone)
    moment = (now or datetime.now(tz)).astimezone(tz)
    return _apply(
        scheduler,
        [outbox_job_spec(funcs), mail_job_spec(funcs)],
        _jobs_by_id(scheduler),
        now=moment,
        known=True,
        launched_at=None,
    )


def sync_all(
    scheduler: BackgroundScheduler,
    engine: Engine,
    *,
    now: datetime | None = None,
    funcs: JobFuncs = DEFAULT_FUNCS,
) -> Registration:
    """Bring the store in line with the campaigns table: what `thidua serve` does at start and every minute.

    This is how launching a campaign registers its jobs: the next scan (within a minute) finds it.
    """
    tz = cast(ZoneInfo, scheduler.timezone)
    moment = (now or datetime.now(tz)).astimezone(tz)
    result = register_outbox_job(scheduler, now=moment, funcs=funcs)
    jobs = _jobs_by_id(scheduler)
    snaps = load_snapshots(engine)
    for snap in snaps:
        result += _register_snapshot(scheduler, snap, jobs, now=moment, tz=tz, funcs=funcs)
    present = {s.code for s in snaps}
    for job_id in jobs:
        code = code_of(job_id)
        if code is not None and code not in present:  # the campaign row is gone
            scheduler.remove_job(job_id)
            result.removed.append(job_id)
    return result


# ---------------------------------------------------------------- the leader lease

_LEASE = cast(Table, ServiceLease.__table__)  # type: ignore[attr-defined]
_L = _LEASE.c


@dataclass(frozen=True)
class LeaseState:
    held: bool  # by the caller
    holder: str
    until: datetime  # UTC


def new_holder_id() -> str:
    """host:pid:random — a restarted process is a new holder and never mistakes an old lease for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required (the clock must carry its zone)")
    return moment.astimezone(UTC)


def acquire_lease(
    engine: Engine,
    holder: str,
    *,
    now: datetime,
    ttl: timedelta = timedelta(seconds=60),
    name: str = LEASE_NAME,
) -> LeaseState:
    """Take the lease if free, expired or already ours (that is also the heartbeat); else say who has it."""
    now_utc = _utc(now)
    until = now_utc + ttl
    stamp = literal(now_utc, _L.acquired_at.type)
    with engine.begin() as conn:
        taken = conn.execute(
            update(_LEASE)
            .where(_L.name == name, or_(_L.holder == holder, _L.lease_until <= now_utc))
            .values(
                holder=holder,
                acquired_at=case((_L.holder == holder, _L.acquired_at), else_=stamp),
                heartbeat_at=now_utc,
                lease_until=until,
            )
        ).rowcount
        if taken == 1:
            return LeaseState(True, holder, until)
        row_values = {
            "name": name,
            "holder": holder,
            "acquired_at": now_utc,
            "heartbeat_at": now_utc,
            "lease_until": until,
        }
        if insert_ignore(conn, _LEASE, row_values, ["name"], returning=_L.name):
            return LeaseState(True, holder, until)
        row = conn.execute(select(_LEASE).where(_L.name == name)).one()
        return LeaseState(False, row.holder, _utc(row.lease_until))


def release_lease(engine: Engine, holder: str, *, now: datetime, name: str = LEASE_NAME) -> bool:
    """Expire our lease now (a standby takes over at its next try); the row keeps who held it last."""
    now_utc = _utc(now)
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(_LEASE)
                .where(_L.name == name, _L.holder == holder)
                .values(heartbeat_at=now_utc, lease_until=now_utc)
            ).rowcount
        )


def read_lease(engine: Engine, name: str = LEASE_NAME) -> LeaseState | None:
    """The current row (held=False: this reads, it does not hold)."""
    with engine.connect() as conn:
        row = conn.execute(select(_LEASE).where(_L.name == name)).first()
    return None if row is None else LeaseState(False, row.holder, _utc(row.lease_until))


# A job run checks that it still leads before acting: if its process stalled past the lease (and another took
# over), the heartbeat has not paused the scheduler yet, but this check stops the job.
_fence_lock = threading.Lock()
_fence: tuple[Engine, str] | None = None


def set_leader_fence(engine: Engine | None, holder: str | None = None) -> None:
    global _fence
    with _fence_lock:
        _fence = (engine, holder) if engine is not None and holder is not None else None


def still_leader(now: datetime | None = None) -> bool:
    """True outside `thidua serve` (a job called directly); inside, True only while our lease is valid."""
    with _fence_lock:
        fence = _fence
    if fence is None:
        return True
    engine, holder = fence
    state = read_lease(engine)
    moment = _utc(now or datetime.now(UTC))
    return state is not None and state.holder == holder and state.until > moment


def live_serve_lease(engine: Engine, now: datetime) -> LeaseState | None:
    """The lease of a running `thidua serve` on this database, if any."""
    state = read_lease(engine)
    return state if state is not None and state.until > _utc(now) else None


def require_prefect_mode(engine: Engine, now: datetime, mode: SchedulerSettings | None = None) -> None:
    """Refuse a Prefect-scheduled sweep unless Prefect owns the jobs and no `thidua serve` is active.

    ``now`` is aware, in the configured zone (THIDUA_TIMEZONE): a refusal shows the lease's end in that zone.
    """
    mode = mode or SchedulerSettings()
    if mode.scheduler != "prefect":
        raise SchedulerModeError(
            "THIDUA_SCHEDULER chưa đặt là “prefect”: lịch chạy thuộc về `thidua serve`; "
            "deployment Prefect không chạy để tránh mỗi việc có hai bộ lập lịch."
        )
    lease = live_serve_lease(engine, now)
    if lease is not None:
        raise SchedulerModeError(
            f"`thidua serve` đang chạy trên cơ sở dữ liệu này ({lease.holder}, giữ quyền đến "
            f"{lease.until.astimezone(now.tzinfo):%d/%m/%Y %H:%M:%S}); "
            "hãy dừng nó trước khi dùng lịch Prefect."
        )
