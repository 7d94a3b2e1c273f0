"""`thidua serve`: the embedded scheduler service.

One loop in the main thread: take or renew the leader lease (every ~15 s), re-scan the campaigns table
(every minute: this is how a newly launched campaign gets its jobs), and wait for SIGTERM/SIGINT.
APScheduler runs the jobs in its own threads. Without the lease the process is a standby: it schedules
nothing and takes over when the lease expires. A leader whose heartbeat fails pauses its scheduler at once
and resumes only after it holds the lease again.

Prefect: flows run against PREFECT_API_URL when it is set; otherwise against the warm local Prefect server of
the data dir (deploy/local_engine.py), started by the first flow that needs it and held, like by any command,
for as long as the service runs (fine for one machine). The production setup is a long-running
`prefect server start` and PREFECT_API_URL=http://<host>:4200/api in the service's environment, so flow runs
outlive the process and show in one UI.

Operations: an HTTP endpoint (THIDUA_SERVE_HTTP_HOST/PORT, default 127.0.0.1:9464) answers /healthz and
/metrics (deploy/serve_http.py); the log is one line per event, with `campaign=<CODE>` when a job works for a
campaign (a traceback is folded into the same line); usage reporting is off unless THIDUA_USAGE_REPORTING.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from thidua.deploy.cli_common import ThiduaGroup
from thidua.deploy.prefect_env import apply_usage_policy
from thidua.deploy.scheduler import (
    DEFAULT_FUNCS,
    JobFuncs,
    LeaseState,
    SchedulerSettings,
    ServiceScheduler,
    acquire_lease,
    build_scheduler,
    new_holder_id,
    release_lease,
    set_leader_fence,
    sync_all,
)
from thidua.deploy.serve_http import ServiceEndpoint, ServiceState
from thidua.models.db import SchemaOutOfDate, ensure_schema, make_engine
from thidua.models.settings import Settings

log = logging.getLogger("thidua.serve")

EXIT_OK = 0
EXIT_REFUSED = 2  # THIDUA_SCHEDULER=prefect, or the schema is behind
EXIT_JOB_FAILED = 1  # --once: a job run raised (its traceback is in the log)
EXIT_BUSY = 3  # another scheduler holds the lease (--exit-if-busy, --once)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _prefect_target() -> str:
    url = os.environ.get("PREFECT_API_URL", "").strip()
    return (
        f"máy chủ Prefect {url}"
        if url
        else "máy chủ Prefect cục bộ dùng chung của thư mục dữ liệu (đặt PREFECT_API_URL khi chạy thật)"
    )


def run_service(
    settings: Settings,
    *,
    once: bool = False,
    exit_if_busy: bool = False,
    stop: threading.Event | None = None,
    clock: Clock = _utc_now,
    mode: SchedulerSettings | None = None,
    funcs: JobFuncs = DEFAULT_FUNCS,
    holder: str | None = None,
) -> int:
    """Run the scheduler service until `stop` is set (or once); return the process exit code.

    `clock` drives the lease only (tests make it expire without waiting); APScheduler runs on real time.
    `--once` never waits for the lease: a busy database is exit code 3, like --exit-if-busy.
    """
    mode = mode or SchedulerSettings()
    if mode.scheduler == "prefect":
        log.error(
            "THIDUA_SCHEDULER=prefect: các lịch chạy do deployment Prefect (deploy/prefect.yaml) đảm nhiệm; "
            "`thidua serve` không lập lịch để mỗi việc chỉ có một bộ lập lịch."
        )
        return EXIT_REFUSED
    stop = stop or threading.Event()
    tz = settings.tz
    apply_usage_policy(settings)
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
    except SchemaOutOfDate as exc:
        log.error("%s", exc)
        engine.dispose()
        return EXIT_REFUSED
    me = holder or new_holder_id()
    status = ServiceState(me, mode.scheduler_heartbeat_seconds)
    endpoint = _start_endpoint(settings, engine, status) if not once else None
    where = engine.url.render_as_string(hide_password=True)
    scheduler: ServiceScheduler | None = None
    leading = False
    last_other: str | None = None
    next_scan = 0.0

    def local(moment: datetime) -> str:
        return f"{moment.astimezone(tz):%H:%M:%S %d/%m/%Y}"

    try:
        while not stop.is_set():
            state: LeaseState | None
            try:
                state = acquire_lease(engine, me, now=clock(), ttl=mode.lease)
            except SQLAlchemyError as exc:
                log.warning("Không gia hạn được quyền lập lịch (lỗi cơ sở dữ liệu): %s", exc)
                state = None

            if state is not None and state.held:
                if scheduler is None:
                    scheduler = build_scheduler(settings.database_url, tz)
                    scheduler.add_listener(
                        lambda event: status.job_done(event.job_id, event.exception is None),
                        EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
                    )
                    scheduler.start(paused=True)
                if not leading:
                    try:
                        sync_all(scheduler, engine, funcs=funcs)
                    except Exception:  # the loop edge: log, stay paused, try again at the next heartbeat
                        log.exception("Không đăng ký được lịch; sẽ thử lại.")
                        if once:
                            return EXIT_JOB_FAILED
                        stop.wait(mode.scheduler_heartbeat_seconds)
                        continue
                    set_leader_fence(engine, me)
                    next_scan = time.monotonic() + mode.scheduler_rescan_seconds
                    leading = True
                    last_other = None
                    if once:
                        log.info("Bộ lập lịch thidua chạy một lượt (--once) trên %s.", where)
                        failed = scheduler.run_due_now()
                        scheduler = None
                        if failed:
                            log.error("%d công việc bị lỗi trong lượt chạy (--once).", failed)
                            return EXIT_JOB_FAILED
                        break
                    scheduler.resume()
                    log.info(
                        "Bộ lập lịch thidua đang chạy trên %s — giữ quyền (%s) đến %s; %d công việc; %s.",
                        where,
                        me,
                        local(state.until),
                        len(scheduler.get_jobs()),
                        _prefect_target(),
                    )
                elif time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + mode.scheduler_rescan_seconds
                    try:
                        result = sync_all(scheduler, engine, funcs=funcs)
                        if result.added or result.removed:
                            log.info(
                                "Cập nhật lịch: thêm/sửa %s; gỡ %s.",
                                ", ".join(result.added) or "—",
                                ", ".join(result.removed) or "—",
                            )
                    except Exception:  # the loop edge: log, keep the service up, try again next scan
                        log.exception("Không quét được danh sách phong trào; sẽ thử lại.")
            else:
                if leading and scheduler is not None:
                    scheduler.pause()
                    set_leader_fence(None)
                    leading = False
                    log.error("Mất quyền lập lịch — đã tạm dừng mọi công việc; sẽ thử nhận lại quyền.")
                if state is None and once:
                    return EXIT_JOB_FAILED
                if state is not None:
                    message = (
                        f"Một bộ lập lịch khác đang giữ quyền trên {where}: {state.holder}, "
                        f"đến {local(state.until)}."
                    )
                    if once or exit_if_busy:
                        log.error("%s Thoát, không lập lịch (mã 3).", message)
                        return EXIT_BUSY
                    if state.holder != last_other:
                        log.warning(
                            "%s Tiến trình này (%s) chờ ở chế độ dự phòng và sẽ tiếp quản khi quyền hết hạn.",
                            message,
                            me,
                        )
                        last_other = state.holder
            status.turned(leading)
            stop.wait(mode.scheduler_heartbeat_seconds)
        return EXIT_OK
    finally:
        if endpoint is not None:
            endpoint.stop()
        if scheduler is not None:
            log.info("Đang dừng bộ lập lịch (chờ công việc đang chạy xong)…")
            _shutdown_keeping_the_lease(scheduler, engine, me if leading else None, clock, mode)
        set_leader_fence(None)
        if leading:
            try:
                release_lease(engine, me, now=clock())
            except SQLAlchemyError as exc:
                log.warning("Không trả được quyền lập lịch (sẽ tự hết hạn): %s", exc)
        engine.dispose()
        if leading and not once:
            log.info("Bộ lập lịch đã dừng; đã trả quyền.")


def _shutdown_keeping_the_lease(
    scheduler: ServiceScheduler, engine: Engine, holder: str | None, clock: Clock, mode: SchedulerSettings
) -> None:
    """Stop the scheduler, waiting for running jobs, and keep renewing the lease meanwhile.

    A flow can outlast the lease; without the heartbeat a standby would take over and start jobs beside it.
    """
    closer = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, name="scheduler-shutdown")
    closer.start()
    while closer.is_alive():
        closer.join(mode.scheduler_heartbeat_seconds)
        if holder is not None and closer.is_alive():
            try:
                acquire_lease(engine, holder, now=clock(), ttl=mode.lease)
            except SQLAlchemyError as exc:
                log.warning("Không gia hạn được quyền lập lịch khi đang dừng: %s", exc)


def _start_endpoint(settings: Settings, engine: Engine, status: ServiceState) -> ServiceEndpoint | None:
    if not settings.serve_http_port:
        return None
    try:
        endpoint = ServiceEndpoint(settings.serve_http_host, settings.serve_http_port, engine, status)
    except OSError as exc:  # the port is taken (a second `thidua serve` on this host): run without it
        log.warning(
            "Không mở được cổng HTTP %s:%d (%s): chạy không có /healthz và /metrics; đặt "
            "THIDUA_SERVE_HTTP_PORT khác cho tiến trình này.",
            settings.serve_http_host,
            settings.serve_http_port,
            exc.strerror or exc,
        )
        return None
    endpoint.start()
    log.info("Kiểm tra sức khoẻ và số đo: %s/healthz, %s/metrics", endpoint.address, endpoint.address)
    return endpoint


class OneLineFormatter(logging.Formatter):
    """One line per event: time, level, `campaign=<CODE>` when a job works for one, the message; a traceback
    is folded into the same line (` ⏎ ` between its lines), so a log shipper never splits an event."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", "%d/%m/%Y %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        from thidua.deploy.jobs import CAMPAIGN

        code = getattr(record, "campaign", "") or CAMPAIGN.get()
        line = super().format(record)
        if code:
            head, _, rest = line.partition(f" {record.levelname} ")
            line = f"{head} {record.levelname} campaign={code} {rest}"
        return " ⏎ ".join(part for part in line.splitlines() if part.strip())


def _configure_logging() -> None:
    root = logging.getLogger("thidua")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def serve(
    once: Annotated[
        bool, typer.Option("--once", help="Nhận quyền, đăng ký lịch, chạy các việc đã đến hạn rồi thoát.")
    ] = False,
    exit_if_busy: Annotated[
        bool,
        typer.Option("--exit-if-busy", help="Thoát với mã 3 nếu tiến trình khác đang giữ quyền lập lịch."),
    ] = False,
) -> None:
    """Chạy bộ lập lịch: nhắc hạn hằng ngày, thu thập sau mỗi hạn báo cáo, tổng kết, gửi thư mỗi phút."""
    _configure_logging()
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("Nhận tín hiệu %s — đang dừng.", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = run_service(Settings(), once=once, exit_if_busy=exit_if_busy, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise typer.Exit(code)


serve_app = typer.Typer(cls=ThiduaGroup, add_completion=False)
serve_app.command("serve")(serve)


def main() -> None:
    serve_app()


if __name__ == "__main__":
    main()
