"""The production path of issue 12, against the real thing: a `prefect server start` on PostgreSQL, the work
pool, `prefect deploy --all --prefect-file deploy/prefect.yaml`, and a process worker that runs the flows with
thidua's settings (a PostgreSQL database, a data directory, a real SMTP server).

One server and one worker serve the whole module. The worker and `prefect deploy` run in empty directories:
the deployments must work from the installed package alone, not from a checkout. Everything waits by polling
with a deadline, never by sleeping a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlmodel import col

import thidua.deploy
from tests.conftest import IN_CI, PG_ADMIN_URL, SmtpRecorder, free_port
from tests.factories import TQ_DEFINITION, edited_definition, launch_campaign_rows, load_demo_directory
from thidua.deploy.demo.months import run_months
from thidua.deploy.demo.review import ReviewLog, hold_council, submit_nominations
from thidua.models.campaign import Campaign, CampaignStatus, DomainEvent
from thidua.models.db import make_engine
from thidua.models.review import AwardDecision, AwardGrant, EligibilityResult
from thidua.models.settings import Settings
from thidua.tasks.collect.collection import start_collection
from thidua.tasks.collect.progress import compute_all_snapshots
from thidua.tasks.collect.reports import process_inbox

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

PREFECT = Path(sys.executable).with_name("prefect")
PREFECT_YAML = Path(thidua.deploy.__file__).with_name("prefect.yaml")  # the installed copy
CODE = "TQ-2024-GIAM-AN"
EVENT_CODE = "TQ-2024-SU-KIEN"  # a second campaign, only for the event-started collection
SERVER_STARTUP = 240.0  # the first start migrates the server's PostgreSQL database
RUN_TIMEOUT = 300.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
SCHEDULED_DEPLOYMENTS = ("thidua-reminders/hourly", "thidua-collect/daily-0700", "thidua-close/daily-0730")
ALL_DEPLOYMENTS = {
    "thidua-reminders/hourly",
    "thidua-collect/daily-0700",
    "thidua-close/daily-0730",
    "thidua-outbox/every-minute",
    "thidua-collect-campaign/on-deadline",
    "thidua-close-campaign/on-final-reports",
    "stage-launch/launch",
    "stage-remind/remind",
    "stage-collect/collect",
    "stage-close/close",
    "stage-review/review",
    "stage-award/award",
    "stage-dispatch/dispatch",
}


@dataclass
class Stack:
    """The running server and worker, and what the worker's flows write to."""

    api: str
    env: dict[str, str]  # a Prefect client's environment (CLI commands, event emitters)
    settings: Settings
    engine: Engine
    smtp: SmtpRecorder
    work: Path
    worker_log: Path
    server_log: Path

    def prefect(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PREFECT), *args],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.api}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def deployment_id(self, name: str) -> str:
        return str(self.get(f"/deployments/name/{name}")["id"])

    def runs_of(self, deployment: str, states: list[str] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"deployments": {"id": {"any_": [self.deployment_id(deployment)]}}}
        if states:
            body["flow_runs"] = {"state": {"type": {"any_": states}}}
        return list(self.post("/flow_runs/filter", body))

    def logs(self) -> str:
        return "\n--- worker ---\n" + _tail(self.worker_log) + "\n--- server ---\n" + _tail(self.server_log)

    def run_deployment(self, name: str, **params: Any) -> str:
        """`prefect deployment run NAME --param k=v ...`; the new flow run's id."""
        args = ["deployment", "run", name]
        for key, value in params.items():
            args += ["--param", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        done = self.prefect(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        found = re.search(r"UUID:\s*([0-9a-f-]{36})", done.stdout)
        assert found, done.stdout
        return found.group(1)

    def wait_run(self, run_id: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        """The flow run once it has reached a final state (Completed, Failed, Crashed, Cancelled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.get(f"/flow_runs/{run_id}")
            if run["state"] and run["state"]["type"] in FINAL:
                return dict(run)
            time.sleep(0.5)
        raise AssertionError(f"flow run {run_id} did not finish in {timeout:.0f} s" + self.logs())

    def run_to_completion(self, name: str, **params: Any) -> dict[str, Any]:
        run = self.wait_run(self.run_deployment(name, **params))
        assert run["state"]["type"] == "COMPLETED", f"{name}: {run['state']['message']}" + self.logs()
        return run


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the process and everything it started (its own process group): SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_healthy(api: str, server: subprocess.Popen[bytes], timeout: float) -> str | None:
    """None once the server answers its health check, else why it did not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return f"the server exited with {server.returncode}"
        try:
            if httpx.get(f"{api}/health", timeout=5).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return f"no answer from {api}/health in {timeout:.0f} s"


def _collect_without_prefect(engine: Engine, settings: Settings) -> Any:
    """The demo months' collection as plain calls: the months are not what this module is about."""

    def collect(moment: datetime) -> dict[str, Any]:
        plan = start_collection(engine, CODE, now=moment, today=moment.astimezone(settings.tz).date())
        process_inbox(engine, settings, plan.code, now=moment)
        compute_all_snapshots(engine, plan.code, plan.periods, now=moment)
        return {}

    return collect


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    admin, template = request.getfixturevalue("pg_template")  # fails in CI, skips elsewhere, without PG
    tmp = tmp_path_factory.mktemp("prefect-deployments")
    prefect_db = f"thidua_prefect_{uuid.uuid4().hex[:10]}"
    thidua_db = f"thidua_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{prefect_db}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{thidua_db}" TEMPLATE "{template}"')
    thidua_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + thidua_db
    prefect_url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=prefect_db)

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}
    quiet = {
        "PYTHONIOENCODING": "utf-8",
        # No usage reports from any Prefect process the tests start (server, CLI, worker, flow runs).
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server_env = (
        clean
        | quiet
        | {
            "PREFECT_HOME": str(tmp / "server-home"),
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_url.render_as_string(hide_password=False),
            # The scheduler makes the cron deployments' runs; every 2 s instead of every 60 s.
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
        }
    )
    client_env = clean | quiet | {"PREFECT_HOME": str(tmp / "client-home"), "PREFECT_API_URL": api}
    smtp = SmtpRecorder(host="127.0.0.1", port=free_port())
    smtp.start()
    settings = Settings(data_dir=tmp / "data", database_url=thidua_url, **smtp.settings_overrides())
    worker_env = client_env | {
        "PREFECT_HOME": str(tmp / "worker-home"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "THIDUA_SCHEDULER": "prefect",
        "THIDUA_DATABASE_URL": thidua_url,
        "THIDUA_DATA_DIR": str(settings.data_dir),
        "THIDUA_SMTP_HOST": smtp.host,
        "THIDUA_SMTP_PORT": str(smtp.port),
        "THIDUA_SMTP_SECURITY": "none",
    }
    work = tmp / "empty-cwd"  # no checkout, no .env: what a worker host has
    work.mkdir()
    server_log, worker_log = tmp / "server.log", tmp / "worker.log"
    engine = make_engine(thidua_url)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        load_demo_directory(engine, "tuyen-quang-2024", tmp)
        server = _start(
            [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            server_env,
            work,
            server_log,
        )
        processes.append(server)
        problem = _wait_healthy(api, server, SERVER_STARTUP)
        if problem:
            message = f"prefect server start: {problem}\n{_tail(server_log)}"
            if IN_CI:
                pytest.fail(message + " (CI=true: the Prefect server tests must run)", pytrace=False)
            pytest.skip(message)
        up = Stack(api, client_env, settings, engine, smtp, work, worker_log, server_log)
        created = up.prefect("work-pool", "create", "thidua", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = up.prefect("deploy", "--all", "--prefect-file", str(PREFECT_YAML), timeout=600)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        processes.append(
            _start([str(PREFECT), "worker", "start", "--pool", "thidua"], worker_env, work, worker_log)
        )
        yield up
    finally:
        for process in reversed(processes):
            _stop(process)
        smtp.stop()
        engine.dispose()
        with admin.connect() as conn:
            for name in (prefect_db, thidua_db):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_prefect_deploy_creates_every_deployment_and_both_automations(stack: Stack) -> None:
    deployments = stack.post("/deployments/filter", {})
    flows = {f["id"]: f["name"] for f in stack.post("/flows/filter", {})}
    assert {f"{flows[d['flow_id']]}/{d['name']}" for d in deployments} == ALL_DEPLOYMENTS
    # Module paths of the installed package, and no pull step bound to the deploying machine's directory.
    assert all(d["entrypoint"].startswith("thidua.deploy.deployments.") for d in deployments)
    assert all(not d["pull_steps"] for d in deployments)
    automations = stack.post("/automations/filter", {})
    assert sorted(a["name"].split("__")[0] for a in automations) == ["on-deadline", "on-final-reports"]
    listed = stack.prefect("deployment", "ls")  # the client's own listing (failed with 422 on FastAPI 0.154)
    assert listed.returncode == 0, listed.stdout + listed.stderr


def test_a_campaign_runs_by_hand_through_the_stage_deployments_on_the_worker(stack: Stack) -> None:
    """Launch, remind, dispatch, close, review (and the council's end), award: `prefect deployment run`."""
    engine, settings = stack.engine, stack.settings

    stack.run_to_completion("stage-launch/launch", definition=str(TQ_DEFINITION), as_of="05/01/2024 09:00")
    with engine.connect() as conn:
        status = conn.execute(select(col(Campaign.status)).where(col(Campaign.code) == CODE)).scalar_one()
    assert status == CampaignStatus.LAUNCHED
    assert list((settings.data_dir).rglob("*.docx")), "the launch wrote no plan"
    launch_mails = len(stack.smtp.received)
    assert launch_mails > 0
    stack.run_to_completion("stage-remind/remind", code=CODE, as_of="31/01/2024 08:05")  # reminders are due
    stack.run_to_completion("stage-dispatch/dispatch")
    assert len(stack.smtp.received) > launch_mails

    # The months' reports and the nominations are people's work: done here, as the demo does them.
    run_months(settings, engine, CODE, _collect_without_prefect(engine, settings), lambda _line: None)
    log = ReviewLog()
    submit_nominations(settings, engine, CODE, log)

    stack.run_to_completion("stage-close/close", code=CODE, as_of="04/07/2024 07:30")
    stack.run_to_completion("stage-review/review", code=CODE, as_of="05/07/2024 08:00")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EligibilityResult)).scalar_one() > 0

    def review(moment: datetime, meeting_id: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"code": CODE, "as_of": moment.strftime("%d/%m/%Y %H:%M")}
        if meeting_id is not None:
            params["meeting"] = meeting_id
        stack.run_to_completion("stage-review/review", **params)
        return {}

    hold_council(settings, engine, CODE, log, review)

    # A wrong date is refused with the command line's message, before any work.
    refused = stack.wait_run(
        stack.run_deployment("stage-award/award", code=CODE, decision_date="32/07/2024", as_of="20/07/2024")
    )
    assert refused["state"]["type"] == "FAILED"
    assert "“32/07/2024” không phải ngày hợp lệ." in refused["state"]["message"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AwardDecision)).scalar_one() == 0

    before = len(stack.smtp.received)
    stack.run_to_completion(
        "stage-award/award", code=CODE, decision_date="19/07/2024", as_of="20/07/2024 09:00"
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AwardDecision)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(AwardGrant)).scalar_one() == 5
        status = conn.execute(select(col(Campaign.status)).where(col(Campaign.code) == CODE)).scalar_one()
    assert status == CampaignStatus.AWARDED
    assert len(stack.smtp.received) - before >= 5  # one per awardee, to its unit


def test_a_deadline_passed_event_makes_the_automation_collect_that_campaign(stack: Stack) -> None:
    engine = stack.engine
    definition = edited_definition(stack.work.parent, TQ_DEFINITION, f"code: {CODE}", f"code: {EVENT_CODE}")
    campaign_id = launch_campaign_rows(engine, definition)

    emit = (
        "import prefect\n"
        "from thidua.tasks.core.events import emit_prefect_event\n"
        f"assert emit_prefect_event({EVENT_CODE!r}, 'deadline.passed', payload={{'period': '2024-01'}})\n"
    )
    emitted = subprocess.run(
        [sys.executable, "-c", emit],
        env=stack.env,
        cwd=stack.work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr

    deadline = time.monotonic() + RUN_TIMEOUT
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not runs:
        runs = stack.runs_of("thidua-collect-campaign/on-deadline")
        time.sleep(0.5)
    assert len(runs) == 1, "the automation started no collection run" + stack.logs()
    assert runs[0]["parameters"] == {"code": EVENT_CODE}
    run = stack.wait_run(runs[0]["id"])
    assert run["state"]["type"] == "COMPLETED", run["state"]["message"] + stack.logs()
    with engine.connect() as conn:
        kinds = conn.execute(
            select(col(DomainEvent.kind)).where(col(DomainEvent.campaign_id) == campaign_id)
        ).scalars()
        assert "collection.completed" in set(kinds)


def test_cron_deployments_get_scheduled_runs_and_the_worker_completes_one(stack: Stack) -> None:
    """Last in the module: by now the every-minute deployment's first slot has usually come."""
    for name in SCHEDULED_DEPLOYMENTS:
        assert stack.runs_of(name, ["SCHEDULED"]), (
            f"{name}: the server's scheduler made no run" + stack.logs()
        )
    deadline = time.monotonic() + 150
    completed: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not completed:
        completed = stack.runs_of("thidua-outbox/every-minute", ["COMPLETED"])
        failed = stack.runs_of("thidua-outbox/every-minute", ["FAILED", "CRASHED"])
        assert not failed, failed[0]["state"]["message"] + stack.logs()
        time.sleep(1)
    assert completed, "no every-minute run completed" + stack.logs()
    assert completed[0]["auto_scheduled"] is True
