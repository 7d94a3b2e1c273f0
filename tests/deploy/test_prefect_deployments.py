"""The production path of issue 12, against the real thing: a `prefect server start` on PostgreSQL, the work
pool, `prefect deploy --all --prefect-file deploy/prefect.yaml`, and a process worker that runs the flows with
thidua's settings (a PostgreSQL database, a data directory, a real SMTP server).

One server and one worker serve the whole module. The worker and `prefect deploy` run in empty directories:
the deployments must work from the installed package alone, not from a checkout. Everything waits by polling
with a deadline, never by sleeping a fixed time.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import col

from tests.conftest import PG_ADMIN_URL, SmtpRecorder, free_port
from tests.factories import TQ_DEFINITION, edited_definition, launch_campaign_rows, load_demo_directory
from tests.prefect_stack import PREFECT, RUN_TIMEOUT, PrefectApi, prefect_server, start, stop
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

CODE = "TQ-2024-GIAM-AN"
EVENT_CODE = "TQ-2024-SU-KIEN"  # a second campaign, only for the event-started collection
SCHEDULED_DEPLOYMENTS = ("thidua-reminders/hourly", "thidua-collect/daily-0700", "thidua-close/daily-0730")
ALL_DEPLOYMENTS = {
    "thidua-reminders/hourly",
    "thidua-collect/daily-0700",
    "thidua-close/daily-0730",
    "thidua-outbox/every-minute",
    "thidua-mail/every-10-minutes",
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


@dataclass(kw_only=True)
class Stack(PrefectApi):
    """The running server and worker, and what the worker's flows write to."""

    settings: Settings
    engine: Engine
    smtp: SmtpRecorder


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
    thidua_db = f"thidua_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{thidua_db}" TEMPLATE "{template}"')
    thidua_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + thidua_db
    smtp = SmtpRecorder(host="127.0.0.1", port=free_port())
    smtp.start()
    settings = Settings(data_dir=tmp / "data", database_url=thidua_url, **smtp.settings_overrides())
    engine = make_engine(thidua_url)
    worker: subprocess.Popen[bytes] | None = None
    try:
        load_demo_directory(engine, "tuyen-quang-2024", tmp)
        server_settings = {
            # The scheduler makes the cron deployments' runs; every 2 s instead of every 60 s.
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
        }
        with prefect_server(admin, tmp, port=free_port(), server_settings=server_settings) as server:
            worker_env = server.env | {
                "PREFECT_HOME": str(tmp / "worker-home"),
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "THIDUA_SCHEDULER": "prefect",
                "THIDUA_DATABASE_URL": thidua_url,
                "THIDUA_DATA_DIR": str(settings.data_dir),
                "THIDUA_SMTP_HOST": smtp.host,
                "THIDUA_SMTP_PORT": str(smtp.port),
                "THIDUA_SMTP_SECURITY": "none",
            }
            worker_log = tmp / "worker.log"
            up = Stack(
                server.api,
                server.env,
                server.work,
                {"worker": worker_log, **server.log_files},
                settings=settings,
                engine=engine,
                smtp=smtp,
            )
            worker = start(
                [str(PREFECT), "worker", "start", "--pool", "thidua"], worker_env, up.work, worker_log
            )
            try:
                yield up
            finally:
                stop(worker)
    finally:
        smtp.stop()
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{thidua_db}" WITH (FORCE)')


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
