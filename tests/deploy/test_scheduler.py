"""The embedded scheduler: persistent jobs, catch-up after downtime, one leader per database, clean stop.

Real APScheduler on the real job store (SQLite file and PostgreSQL), real lease rows, a real `thidua serve`
subprocess. Jobs run small recording functions of this module instead of the flows.
"""

from __future__ import annotations

import ast
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, inspect, select, text, update
from sqlmodel import Session, col

from tests.factories import VN, at, launch_campaign_rows, load_demo_directory
from thidua.deploy.scheduler import (
    JOBSTORE_TABLE,
    JobFuncs,
    SchedulerModeError,
    SchedulerSettings,
    ServiceScheduler,
    acquire_lease,
    build_scheduler,
    campaign_job_specs,
    fires_within,
    load_snapshots,
    read_lease,
    release_lease,
    require_prefect_mode,
    sync_all,
)
from thidua.deploy.serve import EXIT_BUSY, EXIT_JOB_FAILED, EXIT_OK, EXIT_REFUSED, run_service
from thidua.models.campaign import Campaign, Deadline
from thidua.models.service import ServiceLease
from thidua.models.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CODE = "TQ-2024-GIAM-AN"
RUN_LOG = "THIDUA_TEST_JOB_LOG"


# ---------------------------------------------------------------- recording job callables


def _record(line: str) -> None:
    with open(os.environ[RUN_LOG], "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def record_remind(code: str) -> None:
    _record(f"remind {code}")


def record_collect(code: str, period: str) -> None:
    _record(f"collect {code} {period}")


def record_close(code: str) -> None:
    _record(f"close {code}")


def record_outbox() -> None:
    _record("outbox")


def record_marker(code: str) -> None:
    _record(f"marker {code}")  # must never appear: the marker job is paused


def fail_loudly() -> None:
    raise RuntimeError("flow failed")


TEST_FUNCS = JobFuncs(
    remind=f"{__name__}:record_remind",
    collect=f"{__name__}:record_collect",
    close=f"{__name__}:record_close",
    outbox=f"{__name__}:record_outbox",
    marker=f"{__name__}:record_marker",
)


@pytest.fixture
def run_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "runs.log"
    path.touch()
    monkeypatch.setenv(RUN_LOG, str(path))
    return path


def runs(path: Path, prefix: str = "") -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(prefix)]


@pytest.fixture
def tq_engine(engine: Engine, tmp_path: Path) -> Engine:
    """The Tuyên Quang 2024 campaign, launched (rows only)."""
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    return engine


def shift_campaign(engine: Engine, first_due: date, launched_at: datetime) -> None:
    """Move the whole campaign calendar so that its first deadline falls on `first_due`."""
    with Session(engine) as s, s.begin():
        campaign = s.scalars(select(Campaign).where(col(Campaign.code) == CODE)).one()
        rows = list(s.scalars(select(Deadline).where(col(Deadline.campaign_id) == campaign.id)).all())
        delta = first_due - min(d.due_date for d in rows)
        campaign.start_date += delta
        campaign.end_date += delta
        campaign.launched_at = launched_at
        for d in rows:
            d.due_date += delta
            d.nominal_due += delta
            if d.period_start:
                d.period_start += delta
            if d.period_end:
                d.period_end += delta


@pytest.fixture
def scheduler_on(db_url: str) -> Iterator[list[ServiceScheduler]]:
    """Schedulers started paused on the test database; shut down at the end if still running."""
    made: list[ServiceScheduler] = []
    yield made
    for s in made:
        if s.running:
            s.shutdown(wait=True)


def paused_scheduler(db_url: str, made: list[ServiceScheduler]) -> ServiceScheduler:
    s = build_scheduler(db_url, VN)
    s.start(paused=True)
    made.append(s)
    return s


def stored_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text(f"SELECT id FROM {JOBSTORE_TABLE}")))


FAST = SchedulerSettings(
    scheduler_heartbeat_seconds=0.05, scheduler_lease_seconds=60, scheduler_rescan_seconds=60
)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def wait_for(condition: object, what: str, timeout: float = 15.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# ---------------------------------------------------------------- jobs in the store


def test_jobs_persist_across_a_restart_and_re_registration_adds_no_duplicates(
    tq_engine: Engine, db_url: str, scheduler_on: list[ServiceScheduler]
) -> None:
    first = paused_scheduler(db_url, scheduler_on)
    sync_all(first, tq_engine, now=at("05/01/2024", 9))
    before = {job.id: job.next_run_time for job in first.get_jobs()}
    first.shutdown(wait=True)

    second = paused_scheduler(db_url, scheduler_on)
    after_restart = {job.id: job.next_run_time for job in second.get_jobs()}
    again = sync_all(second, tq_engine, now=at("05/01/2024", 9, 5))
    after_again = {job.id: job.next_run_time for job in second.get_jobs()}

    assert after_restart == before
    assert after_again == before
    assert again.added == [] and again.removed == []
    assert stored_ids(tq_engine) == sorted(before)
    assert sorted(before) == sorted(
        [
            "outbox-dispatch",
            "mail-read",
            f"remind:{CODE}",
            f"close:{CODE}",
            f"campaign:{CODE}",
            *(f"collect:{CODE}:2024-0{m}" for m in range(1, 7)),
        ]
    )
    # the final report is due the same day as June's: one collection that morning, not two
    assert before[f"collect:{CODE}:2024-01"] == at("08/02/2024", 7)
    assert before[f"collect:{CODE}:2024-06"] == at("04/07/2024", 7)
    assert before[f"close:{CODE}"] == at("04/07/2024", 7, 30)
    assert before[f"remind:{CODE}"] == at("06/01/2024", 8)
    assert before[f"campaign:{CODE}"] is None  # the paused marker never runs


def test_a_changed_reminder_hour_replaces_the_job_under_the_same_id(
    tq_engine: Engine, db_url: str, scheduler_on: list[ServiceScheduler]
) -> None:
    sched = paused_scheduler(db_url, scheduler_on)
    sync_all(sched, tq_engine, now=at("05/01/2024", 9))
    with Session(tq_engine) as s, s.begin():
        campaign = s.scalars(select(Campaign).where(col(Campaign.code) == CODE)).one()
        campaign.definition_json = campaign.definition_json.replace('"send_hour":8', '"send_hour":14')
        assert '"send_hour":14' in campaign.definition_json

    result = sync_all(sched, tq_engine, now=at("05/01/2024", 9))

    assert result.added == [f"remind:{CODE}"]
    assert sched.get_job(f"remind:{CODE}").next_run_time == at("05/01/2024", 14)
    assert stored_ids(tq_engine).count(f"remind:{CODE}") == 1


def test_a_job_missed_during_downtime_runs_once_when_the_service_returns(
    db_url: str, run_log: Path, scheduler_on: list[ServiceScheduler]
) -> None:
    now = datetime.now(VN)
    down = paused_scheduler(db_url, scheduler_on)
    # every minute, last run 30 minutes ago: 30 missed runs
    down.add_job(
        TEST_FUNCS.outbox,
        IntervalTrigger(minutes=1, start_date=now - timedelta(hours=1)),
        id="every-minute",
        next_run_time=now - timedelta(minutes=30),
    )
    down.add_job(TEST_FUNCS.close, DateTrigger(now - timedelta(hours=2)), args=("RECENT",), id="close:RECENT")
    down.add_job(TEST_FUNCS.close, DateTrigger(now - timedelta(days=20)), args=("OLD",), id="close:OLD")
    down.shutdown(wait=True)
    assert runs(run_log) == []

    back = paused_scheduler(db_url, scheduler_on)
    back.run_due_now()

    assert runs(run_log, "outbox") == ["outbox"]
    assert runs(run_log, "close") == ["close RECENT"]  # the 20-day-old one is past the grace: dropped
    engine_ids = stored_ids_from_url(db_url)
    assert engine_ids == ["every-minute"]


def test_stopping_a_paused_scheduler_leaves_due_jobs_for_the_next_leader(
    db_url: str, run_log: Path, scheduler_on: list[ServiceScheduler]
) -> None:
    # APScheduler 3.11 runs one last round after shutdown(); unguarded, it moves a due job's next run time
    # past the missed run without running it (and its thread dies on the shut-down executor).
    missed = datetime.now(VN) - timedelta(hours=1)
    standby = paused_scheduler(db_url, scheduler_on)
    every_six_hours = IntervalTrigger(hours=6, start_date=missed)
    standby.add_job(TEST_FUNCS.outbox, every_six_hours, id="due", next_run_time=missed)
    standby.shutdown(wait=True)

    again = paused_scheduler(db_url, scheduler_on)
    assert again.get_job("due").next_run_time == missed
    again.run_due_now()
    assert runs(run_log, "outbox") == ["outbox"]


def stored_ids_from_url(db_url: str) -> list[str]:
    from thidua.models.db import make_engine

    eng = make_engine(db_url)
    try:
        return stored_ids(eng)
    finally:
        eng.dispose()


def test_serve_once_catches_up_a_collection_missed_while_down_and_never_repeats_it(
    tq_engine: Engine, settings: Settings, run_log: Path
) -> None:
    today = datetime.now(VN).date()
    # the first period was due three days ago: its collection (the next morning) fell while nothing ran
    shift_campaign(tq_engine, today - timedelta(days=3), launched_at=datetime.now(UTC) - timedelta(days=10))

    first = run_service(settings, once=True, funcs=TEST_FUNCS, mode=FAST)
    second = run_service(settings, once=True, funcs=TEST_FUNCS, mode=FAST)

    assert first == EXIT_OK and second == EXIT_OK
    assert runs(run_log, "collect") == [f"collect {CODE} 2024-01"]
    assert runs(run_log, "marker") == []
    ids = stored_ids(tq_engine)
    assert f"collect:{CODE}:2024-01" not in ids
    assert f"collect:{CODE}:2024-02" in ids  # still ahead
    lease = read_lease(tq_engine)
    assert lease is not None and lease.until <= datetime.now(UTC)  # released


def test_serve_once_exits_1_when_a_due_job_fails_and_still_releases_the_lease(
    settings: Settings, db_url: str, scheduler_on: list[ServiceScheduler]
) -> None:
    down = paused_scheduler(db_url, scheduler_on)
    down.add_job(f"{__name__}:fail_loudly", DateTrigger(datetime.now(VN) - timedelta(hours=1)), id="broken")
    down.shutdown(wait=True)

    assert run_service(settings, once=True, funcs=TEST_FUNCS, mode=FAST) == EXIT_JOB_FAILED
    engine = make_test_engine(db_url)
    lease = read_lease(engine)
    engine.dispose()
    assert lease is not None and lease.until <= datetime.now(UTC)


# ---------------------------------------------------------------- the lease


def test_the_lease_has_one_holder_until_it_expires_then_passes_to_the_next(engine: Engine) -> None:
    t0 = at("05/01/2024", 9)
    s = timedelta(seconds=1)

    assert acquire_lease(engine, "A", now=t0).held
    busy = acquire_lease(engine, "B", now=t0 + 10 * s)
    renewed = acquire_lease(engine, "A", now=t0 + 15 * s)
    still_busy = acquire_lease(engine, "B", now=t0 + 74 * s)
    taken = acquire_lease(engine, "B", now=t0 + 76 * s)
    lost = acquire_lease(engine, "A", now=t0 + 77 * s)

    assert not busy.held and busy.holder == "A" and busy.until == t0 + 60 * s
    assert renewed.held and renewed.until == t0 + 75 * s
    assert not still_busy.held
    assert taken.held and taken.holder == "B"
    assert not lost.held and lost.holder == "B"
    assert not release_lease(engine, "A", now=t0 + 78 * s)  # not A's to release
    assert release_lease(engine, "B", now=t0 + 78 * s)
    assert acquire_lease(engine, "A", now=t0 + 79 * s).held
    with Session(engine) as session:
        assert session.get(ServiceLease, "scheduler") is not None


def _contend(
    engine: Engine,
    name: str,
    now: datetime,
    gate: threading.Barrier,
    held: list[str],
    errors: list[BaseException],
) -> None:
    try:
        gate.wait()
        if acquire_lease(engine, name, now=now).held:
            held.append(name)
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)


def test_contenders_at_the_same_instant_get_exactly_one_lease(engine: Engine) -> None:
    contenders = 6
    for round_no in range(3):
        now = at("05/01/2024", 9) + timedelta(minutes=5 * round_no)  # each round after the last lease expired
        gate = threading.Barrier(contenders)
        held: list[str] = []
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_contend, args=(engine, f"r{round_no}-{i}", now, gate, held, errors))
            for i in range(contenders)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(held) == 1, held


# ---------------------------------------------------------------- the service


def test_a_second_service_stands_by_while_the_lease_is_held_and_takes_over_after_expiry(
    settings: Settings,
    db_url: str,
    run_log: Path,
    caplog: pytest.LogCaptureFixture,
    scheduler_on: list[ServiceScheduler],
) -> None:
    caplog.set_level(logging.INFO, logger="thidua")
    now = datetime.now(VN)
    old = paused_scheduler(db_url, scheduler_on)
    an_hour_ago = DateTrigger(now - timedelta(hours=1))
    old.add_job(TEST_FUNCS.close, an_hour_ago, args=("X",), id="left-by-the-last-leader")
    old.shutdown(wait=True)
    clock = FakeClock(datetime.now(UTC))
    engine = make_test_engine(db_url)
    assert acquire_lease(engine, "other-host:42:abcd", now=clock.now).held
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_service(settings, stop=stop, clock=clock, mode=FAST, funcs=TEST_FUNCS)
        )
    )
    thread.start()
    try:
        wait_for(lambda: "dự phòng" in caplog.text, "the standby message")
        assert "other-host:42:abcd" in caplog.text
        assert runs(run_log, "close") == []
        assert "left-by-the-last-leader" in stored_ids(engine)  # the standby neither ran nor touched it

        clock.now += timedelta(seconds=61)  # the other holder stopped renewing
        wait_for(lambda: runs(run_log, "close"), "the takeover to run the missed job")
        wait_for(lambda: "đang chạy" in caplog.text, "the ready message")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [EXIT_OK]
    assert runs(run_log, "close") == ["close X"]
    lease = read_lease(engine)
    assert lease is not None and lease.holder != "other-host:42:abcd" and lease.until <= clock.now
    engine.dispose()


def test_a_leader_that_loses_its_lease_pauses_and_resumes_when_it_has_it_again(
    settings: Settings, db_url: str, run_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thidua")
    clock = FakeClock(datetime.now(UTC))
    engine = make_test_engine(db_url)
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_service(settings, stop=stop, clock=clock, mode=FAST, funcs=TEST_FUNCS)
        )
    )
    thread.start()
    try:
        wait_for(lambda: "đang chạy" in caplog.text, "the leader to start")
        with engine.begin() as conn:  # someone else now holds it (e.g. after this process stalled)
            conn.execute(
                update(ServiceLease)
                .where(col(ServiceLease.name) == "scheduler")
                .values(holder="thief:1:x", lease_until=clock.now + timedelta(seconds=30))
            )
        wait_for(lambda: "Mất quyền lập lịch" in caplog.text, "the leader to pause")
        clock.now += timedelta(seconds=31)
        wait_for(lambda: caplog.text.count("đang chạy") == 2, "the leader to resume")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [EXIT_OK]
    engine.dispose()


def test_exit_if_busy_exits_with_code_3_and_schedules_nothing(
    settings: Settings, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thidua")
    engine = make_test_engine(db_url)
    acquire_lease(engine, "other-host:42:abcd", now=datetime.now(UTC))

    code = run_service(settings, exit_if_busy=True, mode=FAST, funcs=TEST_FUNCS)

    assert code == EXIT_BUSY
    assert "other-host:42:abcd" in caplog.text and "mã 3" in caplog.text
    assert not inspect(engine).has_table(JOBSTORE_TABLE) or stored_ids(engine) == []
    engine.dispose()


def test_in_prefect_mode_serve_refuses_and_the_sweeps_refuse_while_serve_runs(
    settings: Settings, db_url: str
) -> None:
    engine = make_test_engine(db_url)
    prefect_mode = SchedulerSettings(scheduler="prefect")

    assert run_service(settings, mode=prefect_mode, funcs=TEST_FUNCS) == EXIT_REFUSED
    assert not inspect(engine).has_table(JOBSTORE_TABLE)
    now = datetime.now(UTC)
    require_prefect_mode(engine, now, prefect_mode)  # no serve running: allowed
    with pytest.raises(SchedulerModeError, match="THIDUA_SCHEDULER"):
        require_prefect_mode(engine, now, SchedulerSettings(scheduler="serve"))
    acquire_lease(engine, "serve-host:7:beef", now=now)
    with pytest.raises(SchedulerModeError, match="serve-host:7:beef"):
        require_prefect_mode(engine, now, prefect_mode)
    engine.dispose()


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "America/New_York"])
def test_the_refusal_shows_the_serve_lease_end_in_the_configured_zone(db_url: str, zone: str) -> None:
    engine = make_test_engine(db_url)
    tz = Settings(timezone=zone).tz
    now = datetime.now(tz)
    acquire_lease(engine, "serve-host:7:beef", now=now)
    lease = read_lease(engine)
    assert lease is not None
    with pytest.raises(SchedulerModeError) as refused:
        require_prefect_mode(engine, now, SchedulerSettings(scheduler="prefect"))
    assert f"{lease.until.astimezone(tz):%d/%m/%Y %H:%M:%S}" in str(refused.value)
    other = "America/New_York" if zone == "Asia/Ho_Chi_Minh" else "Asia/Ho_Chi_Minh"
    assert f"{lease.until.astimezone(ZoneInfo(other)):%d/%m/%Y %H:%M:%S}" not in str(refused.value)
    engine.dispose()


def make_test_engine(db_url: str) -> Engine:
    from thidua.models.db import make_engine

    return make_engine(db_url)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_real_serve_process_cleanly_and_releases_the_lease(
    db_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THIDUA_", "PREFECT_"))}
    env.update(
        THIDUA_DATABASE_URL=db_url,
        THIDUA_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "thidua.deploy.serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "đang chạy" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(30), "".join(lines)
        proc.send_signal(sig)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    output = "".join(lines)
    assert code == 0, output
    assert "đã trả quyền" in output
    engine = make_test_engine(db_url)
    lease = read_lease(engine)
    engine.dispose()
    assert lease is not None and lease.until <= datetime.now(UTC)


# ---------------------------------------------------------------- Prefect deployment mode


def test_prefect_sweeps_pick_the_same_jobs_the_service_schedules(tq_engine: Engine) -> None:
    [snap] = load_snapshots(tq_engine)
    specs = campaign_job_specs(snap, VN)

    def due(kind: str, slot: datetime, cadence: timedelta) -> list[str]:
        return [s.id for s in specs if s.kind == kind and fires_within(s, slot - cadence, slot)]

    day, hour = timedelta(days=1), timedelta(hours=1)
    assert due("collect", at("08/02/2024", 7), day) == [f"collect:{CODE}:2024-01"]
    assert due("collect", at("09/02/2024", 7), day) == []
    assert due("collect", at("04/07/2024", 7), day) == [f"collect:{CODE}:2024-06"]
    assert due("close", at("04/07/2024", 7, 30), day) == [f"close:{CODE}"]
    assert due("remind", at("08/01/2024", 8), hour) == [f"remind:{CODE}"]
    assert due("remind", at("08/01/2024", 9), hour) == []
    assert due("remind", at("01/01/2024", 8), hour) == []  # before the campaign starts


def test_prefect_yaml_schedules_every_job_in_vietnam_time_on_existing_flows() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text(encoding="utf-8"))
    module = ast.parse((ROOT / "deploy" / "deployments.py").read_text(encoding="utf-8"))
    flows = {
        node.name
        for node in module.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "flow" for d in node.decorator_list)
    }
    # No pull step: a worker imports the installed package; `pull: null` would freeze the deployer's $PWD.
    assert config["pull"] == []
    entry_points = set()
    for dep in config["deployments"]:
        module_path, name = dep["entrypoint"].rsplit(".", 1)
        assert module_path == "thidua.deploy.deployments"  # a module path, not a file of a checkout
        entry_points.add(name)
        assert dep["work_pool"]["name"] == "thidua"
        # A deployment is started by its clock, by its event triggers, or by hand (stage-*), never two ways.
        assert not (dep.get("schedules") and dep.get("triggers")), dep["name"]
        assert bool(dep.get("schedules") or dep.get("triggers")) != name.endswith("_stage"), dep["name"]
        for schedule in dep.get("schedules") or []:
            assert schedule["timezone"] == "Asia/Ho_Chi_Minh"
            assert len(schedule["cron"].split()) == 5
    assert (
        entry_points
        == flows
        == {
            "reminders_sweep",
            "collect_sweep",
            "close_sweep",
            "outbox_dispatch",
            "mailbox_read",
            "collect_campaign",
            "close_campaign",
            # every lifecycle stage, by hand
            "launch_stage",
            "remind_stage",
            "collect_stage",
            "close_stage",
            "review_stage",
            "award_stage",
            "dispatch_stage",
        }
    )
