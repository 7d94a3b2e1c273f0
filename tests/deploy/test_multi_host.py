"""Issue 12, item 4: the production topology across hosts, built with network namespaces (tests/netns.py).

One server host (the bridge address: PostgreSQL through a relay, `prefect server start` on PostgreSQL, the
S3-compatible object store through a relay, and the SMTP server this test runs) and two worker hosts, each a
namespace with its own address and hostname, an empty working directory, its own data directory, temporary
directory and Prefect home, and nothing else: `prefect worker start --pool thidua --limit 1` with the settings
an operator gives a worker host (THIDUA_DATABASE_URL, THIDUA_STORAGE_URL and its keys, SMTP, PREFECT_API_URL).

A national slice runs on them through the stage deployments: the launch of the Ministry's 2026 campaign (seed
000: 534 units, ~10,000 staff), a reminder sweep, the close with its documents. During each stage, the SMTP
server holds the stage's own dispatcher at one message until a `stage-dispatch` run on the other worker has
sent some of the stage's emails (the stage's worker is busy: `--limit 1`), so every kind of email is sent by
both hosts, rendered on one. Then: every outbox row is sent exactly once (Message-IDs counted at the SMTP
server), each with the attachments stored in the bucket; every document is read back on both hosts; nothing
was written to a host's own directories. The figures (flow runs per worker, emails, duplicates, wall time) are
printed and written to `figures.json` in the test's directory.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from tests import netns
from tests.conftest import IN_CI, PG_ADMIN_URL, ReceivedMail, SmtpRecorder, free_port
from tests.factories import at, load_demo_directory
from tests.prefect_stack import FINAL, PREFECT, QUIET, PrefectApi, clean_environ, prefect_server
from thidua.deploy.demo.national import NATIONAL_CAMPAIGN, NATIONAL_DIRECTORY
from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.db import make_engine
from thidua.models.definition import load_definition
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.review import CampaignDocument

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

WORKERS = ("w1", "w2")
LAUNCH_AT = "25/02/2026 09:00"
REMIND_AT = "05/03/2026 08:05"  # one working day before the February report is due: 34 reminders
CLOSE_AT = "11/06/2026 07:30"
HOLD_AT = 3  # the stage's own dispatcher waits at its 4th message until the other host has sent some
BATCH = 25  # THIDUA_MAIL_BATCH_SIZE on the workers: what one dispatcher claims at a time
STAGE_TIMEOUT = 420.0
SUBMITTED = re.compile(r"Worker '(?P<worker>[^']+)' submitting flow run")

# Read on a worker host: the sha256 of every key given (the documents), through the storage of its settings.
READ_BACK = (
    "import hashlib, json, sys\n"
    "from thidua.models.settings import Settings\n"
    "from thidua.models.storage import storage_for\n"
    "store = storage_for(Settings())\n"
    "keys = json.loads(open(sys.argv[1], encoding='utf-8').read())\n"
    "print(json.dumps({k: hashlib.sha256(store.get(k)).hexdigest() for k in keys}))\n"
)


@dataclass
class WorkerHost:
    label: str
    host: netns.Host
    root: Path  # everything this host has of its own: cwd, data dir, temp dir, Prefect home, log
    env: dict[str, str]

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    @property
    def log(self) -> Path:
        return self.root.parent / f"worker-{self.label}.log"  # outside the host's own folder


@dataclass
class Topology:
    """The server host's services and the two worker hosts, up and running."""

    server: PrefectApi
    smtp: SmtpRecorder
    hosts: list[WorkerHost]
    engine: Engine  # the thidua database, from the server host
    bucket: Any  # the bucket's file system (s3fs), from the server host
    bucket_root: str  # "<bucket>/<prefix>"

    def address(self, label: str) -> str:
        return next(w.host.address for w in self.hosts if w.label == label)


@dataclass(frozen=True)
class Sent:
    """One email as the SMTP server received it (parsed once: a closing report carries three files)."""

    message_id: str
    kind: str
    peer: str  # the address of the host that sent it
    attachments: dict[str, str]  # file name -> sha256

    @classmethod
    def of(cls, mail: ReceivedMail) -> Sent:
        parsed = message_from_bytes(mail.data, policy=policy.compat32)
        files = {
            str(part.get_filename()): hashlib.sha256(part.get_payload(decode=True)).hexdigest()
            for part in parsed.walk()
            if part.get_content_disposition() == "attachment"
        }
        return cls(str(parsed["Message-ID"]), str(parsed["X-Thidua-Kind"]), mail.peer, files)


@dataclass
class Phase:
    """One stage: its run, the helper dispatch run(s) on the other host, the emails it produced."""

    name: str
    stage_run: str = ""
    helper_runs: list[str] = field(default_factory=list)
    mails: list[Sent] = field(default_factory=list)
    seconds: float = 0.0


def _fail_or_skip(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " (CI=true: the multi-host test must run)", pytrace=False)
    pytest.skip(message)


def _worker_of(server: PrefectApi, run_id: str, timeout: float = 30) -> str:
    """The worker that took a flow run, from the run's own log on the server (logs arrive in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        for message in server.run_logs(run_id):
            if found := SUBMITTED.search(message):
                return found.group("worker")
        if time.monotonic() > deadline:
            return ""
        time.sleep(0.5)


def _wait_workers_online(server: PrefectApi, names: set[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    online: set[str] = set()
    while time.monotonic() < deadline:
        workers = server.post("/work_pools/thidua/workers/filter", {})
        online = {w["name"] for w in workers if w.get("status") == "ONLINE"}
        if names <= online:
            return
        time.sleep(0.5)
    raise AssertionError(f"workers online: {sorted(online)}, expected {sorted(names)}" + server.logs())


def _run_stage(server: PrefectApi, smtp: SmtpRecorder, phase: Phase, deployment: str, **params: Any) -> None:
    """The stage's run on one worker; while its dispatcher is held at a message, dispatch runs on the other
    worker until that host has sent some of the stage's emails; then both finish."""
    started = time.monotonic()
    first = len(smtp.received)
    gate = smtp.gate("DATA", passing=smtp.commands["DATA"] + HOLD_AT)
    try:
        phase.stage_run = server.run_deployment(deployment, **params)
        deadline = time.monotonic() + STAGE_TIMEOUT
        while not gate.arrived.is_set():
            assert server.run_state(phase.stage_run) not in FINAL, (
                f"{deployment} ended before its dispatcher reached the SMTP server's hold" + server.logs()
            )
            assert time.monotonic() < deadline, (
                f"{deployment}: no email in {STAGE_TIMEOUT:.0f} s" + server.logs()
            )
            time.sleep(0.2)
        # The stage's worker is busy (--limit 1): the dispatch run goes to the other host.
        helper = ""
        while len({m.peer for m in smtp.received[first:]}) < 2:
            if not helper or server.run_state(helper) in FINAL:
                if helper:
                    server.completed(helper)  # a failure shows here, with the logs
                helper = server.run_deployment("stage-dispatch/dispatch")
                phase.helper_runs.append(helper)
            assert time.monotonic() < deadline, f"{deployment}: the other host sent nothing" + server.logs()
            time.sleep(0.2)
    finally:
        gate.release.set()
    server.completed(phase.stage_run, STAGE_TIMEOUT)
    for helper in phase.helper_runs:
        server.completed(helper, STAGE_TIMEOUT)
    phase.seconds = time.monotonic() - started
    phase.mails = [Sent.of(m) for m in smtp.received[first:]]


@pytest.fixture
def thidua_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated PostgreSQL database of its own (the worker hosts reach it through the relay)."""
    admin, template = request.getfixturevalue("pg_template")
    name = f"thidua_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _worker_env(
    root: Path, server: PrefectApi, database_url: str, storage: dict[str, str], smtp: SmtpRecorder
) -> dict[str, str]:
    """What an operator sets on a worker host (README: "Adding a worker host"), and the test's folders."""
    return (
        clean_environ()
        | QUIET
        | storage
        | {
            "PREFECT_API_URL": server.api,
            "PREFECT_HOME": str(root / "prefect-home"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "TMPDIR": str(root / "tmp"),  # a flow run's working directory is made there
            "THIDUA_SCHEDULER": "prefect",
            "THIDUA_DATABASE_URL": database_url,
            "THIDUA_DATA_DIR": str(root / "data"),
            "THIDUA_SMTP_HOST": smtp.host,
            "THIDUA_SMTP_PORT": str(smtp.port),
            "THIDUA_SMTP_SECURITY": "none",
            # The stage's dispatcher is held at a message for a while (see _run_stage).
            "THIDUA_SMTP_TIMEOUT_SECONDS": "300",
            "THIDUA_MAIL_BATCH_SIZE": str(BATCH),
        }
    )


@pytest.fixture
def topology(
    request: pytest.FixtureRequest, tmp_path: Path, thidua_db: str, s3_server: Any, s3_bucket: str
) -> Iterator[Topology]:
    """The bridge (the server host) with PostgreSQL and the object store relayed onto it, the SMTP server and
    `prefect server start` bound to it; two worker hosts running `prefect worker start --limit 1`."""
    if problem := netns.available():
        _fail_or_skip(f"test hosts cannot be built here: {problem}")
    admin, _template = request.getfixturevalue("pg_template")
    pg = make_url(PG_ADMIN_URL)
    engine = make_engine(pg.set(database=thidua_db).render_as_string(hide_password=False))
    s3 = urlsplit(s3_server.endpoint_url)
    with netns.network() as net:
        pg_port, s3_port = free_port(), free_port()
        net.relay(pg_port, (pg.host or "127.0.0.1", pg.port or 5432))
        net.relay(s3_port, (s3.hostname or "127.0.0.1", int(s3.port or 0)))
        smtp = SmtpRecorder(host=net.server_address, port=free_port())
        smtp.start()
        quiet = {
            # Only the runs this test starts: no cron runs of the schedules in between.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
        }
        try:
            with prefect_server(
                admin, tmp_path, host=net.server_address, port=free_port(), server_settings=quiet
            ) as server:
                storage = s3_server.env(s3_bucket, "thidua") | {
                    "THIDUA_STORAGE_ENDPOINT_URL": f"http://{net.server_address}:{s3_port}"
                }
                database = pg.set(host=net.server_address, port=pg_port, database=thidua_db)
                hosts: list[WorkerHost] = []
                for label in WORKERS:
                    root = tmp_path / "hosts" / label
                    for folder in ("cwd", "data", "tmp", "prefect-home"):
                        (root / folder).mkdir(parents=True)
                    url = database.render_as_string(hide_password=False)
                    worker = WorkerHost(
                        label, net.add_host(label), root, _worker_env(root, server, url, storage, smtp)
                    )
                    hosts.append(worker)
                    server.log_files[f"worker {label}"] = worker.log
                    start = [str(PREFECT), "worker", "start", "--pool", "thidua", "--name", label]
                    worker.host.popen(
                        [*start, "--limit", "1"], env=worker.env, cwd=worker.cwd, log=worker.log
                    )
                try:
                    _wait_workers_online(server, set(WORKERS))
                    yield Topology(server, smtp, hosts, engine, s3_server.filesystem(), f"{s3_bucket}/thidua")
                finally:
                    # The workers go while their server still answers, not after it (when they would be
                    # retrying a dead API while being asked to stop).
                    for worker in hosts:
                        worker.host.stop()
        finally:
            for held in smtp.gates:
                held.release.set()
            smtp.stop()
            engine.dispose()


def test_a_national_slice_runs_on_two_worker_hosts_and_every_email_goes_once(
    tmp_path: Path, topology: Topology
) -> None:
    started = time.monotonic()
    server, smtp, engine = topology.server, topology.smtp, topology.engine
    code = load_definition(NATIONAL_CAMPAIGN).code
    load_demo_directory(engine, NATIONAL_DIRECTORY, tmp_path, now=at("20/02/2026"))  # the operator's import
    phases = [Phase("launch"), Phase("remind"), Phase("close")]

    launch = {"definition": str(NATIONAL_CAMPAIGN), "as_of": LAUNCH_AT}  # the installed package's copy
    _run_stage(server, smtp, phases[0], "stage-launch/launch", **launch)
    _run_stage(server, smtp, phases[1], "stage-remind/remind", code=code, as_of=REMIND_AT)
    _run_stage(server, smtp, phases[2], "stage-close/close", code=code, as_of=CLOSE_AT)
    slice_seconds = time.monotonic() - started

    # Flow runs: every one completed; each deployment run taken by one of the two workers, both busy.
    every_run = server.post("/flow_runs/filter", {})
    not_completed = [
        (r["name"], r["state"]["message"]) for r in every_run if r["state"]["type"] != "COMPLETED"
    ]
    assert not not_completed
    # The stages' flows are subflows of the deployments' runs, in the same process.
    deployment_runs = [r for r in every_run if r["deployment_id"]]
    runs_by_worker = Counter(_worker_of(server, str(r["id"])) for r in deployment_runs)
    assert set(runs_by_worker) == set(WORKERS), runs_by_worker
    for run in deployment_runs:
        # No pull step: Prefect copies "flow code" from the run's own directory, a temporary folder of the
        # worker's host, never from the deploying machine's.
        copied = [m for m in server.run_logs(str(run["id"])) if m.startswith("Downloading flow code")]
        assert len(copied) == 1, copied
        worker = next(w for w in topology.hosts if w.label == _worker_of(server, str(run["id"])))
        assert f"'{worker.root / 'tmp'}/" in copied[0], copied
    with engine.connect() as conn:
        status = conn.execute(select(col(Campaign.status)).where(col(Campaign.code) == code)).scalar_one()
    assert status == CampaignStatus.CLOSED

    # Every document, read back on both hosts through their own settings: the same bytes as in the bucket.
    documents = _read_back_on_every_host(topology, code)

    # Emails: every outbox row sent, each exactly once, with its attachments as stored in the bucket.
    sent = [mail for phase in phases for mail in phase.mails]
    assert len(sent) == len(smtp.received)  # nothing was sent between the stages
    by_id = Counter(mail.message_id for mail in sent)
    duplicates = sum(n - 1 for n in by_id.values())
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                col(OutboxMessage.message_id), col(OutboxMessage.status), col(OutboxMessage.attachments_json)
            )
        ).all()
    assert [r for r in rows if r.status != OutboxStatus.SENT] == []
    assert duplicates == 0, [mid for mid, n in by_id.items() if n > 1][:5]
    assert set(by_id) == {r.message_id for r in rows}
    attached = {r.message_id: json.loads(r.attachments_json) for r in rows}
    for mail in sent:
        keys = attached[mail.message_id]
        assert mail.attachments == {k.rsplit("/", 1)[1]: documents[k] for k in keys}, mail
    assert sum(bool(mail.attachments) for mail in sent) == len(sent)  # every email of the slice has files

    # Each stage: rendered on one host, its emails sent by both (the stage's own run and the other's).
    figures: dict[str, Any] = {"stages": {}}
    for phase in phases:
        renderer = _worker_of(server, phase.stage_run)
        helpers = {_worker_of(server, run) for run in phase.helper_runs}
        assert renderer in WORKERS and helpers == set(WORKERS) - {renderer}, (phase.name, renderer, helpers)
        senders = Counter(m.peer for m in phase.mails)
        assert set(senders) == {topology.address(w) for w in WORKERS}, senders
        figures["stages"][phase.name] = {
            "rendered_on": renderer,
            "emails": len(phase.mails),
            "sent_by": {w: senders[topology.address(w)] for w in WORKERS},
            "kinds": dict(Counter(m.kind for m in phase.mails)),
            "dispatch_runs_on_the_other_host": len(phase.helper_runs),
            "seconds": round(phase.seconds, 1),
        }

    # No shared file system: a worker host kept nothing in its working or data directory.
    for worker in topology.hosts:
        kept = [p for folder in ("cwd", "data") for p in (worker.root / folder).rglob("*") if p.is_file()]
        assert kept == [], (worker.label, kept[:5])

    figures |= {
        "deployment_runs_per_worker": dict(runs_by_worker),
        "flow_runs_with_subflows": len(every_run),
        "emails_sent": len(sent),
        "outbox_rows": len(rows),
        "duplicates": duplicates,
        "documents_read_back_on_both_hosts": len(documents),
        "slice_seconds": round(slice_seconds, 1),
        "test_seconds": round(time.monotonic() - started, 1),
    }
    (tmp_path / "figures.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print("\nmulti-host figures:", json.dumps(figures, ensure_ascii=False))


def _read_back_on_every_host(topology: Topology, code: str) -> dict[str, str]:
    """Every document of the campaign (the plan, the closing documents, every attachment queued) read on each
    worker host through its storage settings; the sha256 by key, the same on both hosts as in the bucket."""
    with topology.engine.connect() as conn:
        campaign_id, plan = conn.execute(
            select(col(Campaign.id), col(Campaign.plan_document)).where(col(Campaign.code) == code)
        ).one()
        closing = set(
            conn.execute(
                select(col(CampaignDocument.path)).where(col(CampaignDocument.campaign_id) == campaign_id)
            ).scalars()
        )
        attachments = {
            key
            for keys in conn.execute(select(col(OutboxMessage.attachments_json))).scalars()
            for key in json.loads(keys)
        }
    assert plan and closing, "the launch stored no plan or the close no document"
    keys = sorted({plan, *closing, *attachments})
    bucket = topology.bucket
    expected = {k: hashlib.sha256(bucket.cat_file(f"{topology.bucket_root}/{k}")).hexdigest() for k in keys}
    for worker in topology.hosts:
        listing = worker.root / "tmp" / "keys.json"  # the host's own temporary folder
        listing.write_text(json.dumps(keys), encoding="utf-8")
        try:
            out = worker.host.run(
                [sys.executable, "-c", READ_BACK, str(listing)], env=worker.env, cwd=worker.cwd, timeout=300
            )
        finally:
            listing.unlink()
        assert json.loads(out) == expected, worker.label
    return expected
