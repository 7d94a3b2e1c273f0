"""A lifecycle slice with THIDUA_STORAGE_URL=s3://… on a real S3-compatible server (SeaweedFS): launch
with its plan, reports taken from the inbox in the bucket (one accepted, one rejected), the close with its
documents, and the emails with their attachments over a real SMTP server. Nothing is written under the data
dir; a second, fresh process in an empty working directory reads every document back and sends the emails
that the first host rendered but could not send."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from tests.conftest import THIDUA, SmtpRecorder, free_port
from tests.factories import TQ_DEFINITION, at, load_demo_directory
from tests.tasks.close.test_closing import CLOSE_AT, CODE, final_reports
from thidua.deploy.demo.months import fill_template
from thidua.flows.close import close_flow
from thidua.flows.collect import collect_flow
from thidua.flows.launch import launch_flow
from thidua.models.campaign import Campaign
from thidua.models.db import make_engine
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.reporting import RejectedFile, Submission
from thidua.models.review import CampaignDocument
from thidua.models.settings import Settings
from thidua.models.storage import ObjectStorage, storage_for

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def attachments(mail: Any) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in mail.message.iter_attachments()}


def test_a_campaign_slice_runs_on_a_bucket_and_a_fresh_process_reads_and_sends_from_it(
    tmp_path: Path, sqlite_url: str, s3_server: Any, s3_bucket: str, smtp_server: SmtpRecorder
) -> None:
    data_dir = tmp_path / "data"
    s3 = s3_server.settings_overrides(s3_bucket, "thidua/prod")
    settings = Settings(data_dir=data_dir, database_url=sqlite_url, **s3, **smtp_server.settings_overrides())
    storage = storage_for(settings)
    assert isinstance(storage, ObjectStorage)
    bucket = s3_server.filesystem()
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)

    # Launch: the plan is rendered into the bucket and attached to every launch email.
    launched = launch_flow(str(TQ_DEFINITION), at("05/01/2024", 9), settings)
    with engine.connect() as conn:
        plan_key = conn.execute(select(col(Campaign.plan_document))).scalar_one()
    assert launched["plan"] == f"s3://{s3_bucket}/thidua/prod/{plan_key}"
    plan = bucket.cat_file(f"{s3_bucket}/thidua/prod/{plan_key}")
    assert plan[:2] == b"PK"
    launch_mails = list(smtp_server.received)
    assert len(launch_mails) == launched["emails_queued"] > 0
    assert all(attachments(m) == {plan_key.rsplit("/", 1)[1]: plan} for m in launch_mails)

    # Reports dropped in the bucket's inbox (as a clerk's upload would): one good, one with an error.
    inbox = f"{s3_bucket}/thidua/prod/inbox/{CODE}"
    good = fill_template(engine, CODE, "TQ-YS", "2024-01", tmp_path / "up" / "yen-son.xlsx",
                         {"carried_over": 40, "arising": 10, "finished": 6}, {})  # fmt: skip
    bad = fill_template(engine, CODE, "TQ-SD", "2024-01", tmp_path / "up" / "son-duong.xlsx",
                        {"carried_over": 20, "arising": 5, "finished": 31}, {})  # fmt: skip
    bucket.pipe_file(f"{inbox}/yen-son.xlsx", good.read_bytes())
    bucket.pipe_file(f"{inbox}/son-duong.xlsx", bad.read_bytes())

    collected = collect_flow(CODE, at("08/02/2024", 7), settings)

    assert (collected["inbox"]["accepted"], collected["inbox"]["rejected"]) == (1, 1)
    assert collected["inbox"]["inbox"] == f"s3://{inbox}"
    assert sorted(bucket.find(inbox)) == [
        f"{inbox}/processed/yen-son.xlsx",
        f"{inbox}/rejected/son-duong.xlsx",
        f"{inbox}/rejected/son-duong.xlsx.errors.txt",
    ]
    with engine.connect() as conn:
        stored = conn.execute(select(col(Submission.stored_path))).scalar_one()
        rejected_key = conn.execute(select(col(RejectedFile.stored_path))).scalar_one()
    assert storage.get(stored) == good.read_bytes()
    [rejection] = [m for m in smtp_server.received if m.message["X-Thidua-Kind"] == "report_rejected"]
    assert attachments(rejection) == {rejected_key.rsplit("/", 1)[1]: bad.read_bytes()}

    # The close on a host whose SMTP server cannot be reached: documents stored, emails queued, not sent.
    final_reports(engine)
    unreachable = settings.model_copy(update={"smtp_port": free_port()})
    closed = close_flow(CODE, CLOSE_AT, unreachable)
    assert closed["emails_queued"] == 12 and closed["emails"]["sent"] == 0
    for k in closed["documents"].values():
        assert bucket.isfile(f"{s3_bucket}/thidua/prod/{k}")
    with engine.connect() as conn:
        documents = {path: digest for path, digest in conn.execute(
            select(col(CampaignDocument.path), col(CampaignDocument.sha256)))}  # fmt: skip
        pending = conn.execute(
            select(col(OutboxMessage.attachments_json)).where(
                col(OutboxMessage.status) == OutboxStatus.PENDING
            )
        ).scalars()
        assert {tuple(json.loads(a)) for a in pending} == {
            (closed["documents"]["report"], closed["documents"]["table"])
        }
    with engine.begin() as conn:
        # Half of them as rows queued before messages were rendered at enqueue (or too large to be): the
        # dispatcher on the other host builds them, reading the attachments from the bucket by key.
        waiting = col(OutboxMessage.status) == OutboxStatus.PENDING
        ids = list(
            conn.execute(
                select(col(OutboxMessage.id)).where(waiting).order_by(col(OutboxMessage.id))
            ).scalars()
        )
        conn.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids[:6])).values(mime=None))
    engine.dispose()

    # Nothing under the data dir: the database is a file beside it, every document is in the bucket.
    assert not data_dir.exists() or not [p for p in data_dir.rglob("*")]

    # A second host: a fresh process, an empty working directory, only settings in its environment.
    empty = tmp_path / "second-host"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THIDUA_")}
    env.update(s3_server.env(s3_bucket, "thidua/prod"))
    env.update({"THIDUA_DATABASE_URL": sqlite_url, "THIDUA_DATA_DIR": str(empty / "var"),
                "THIDUA_SMTP_HOST": smtp_server.host, "THIDUA_SMTP_PORT": str(smtp_server.port)})  # fmt: skip
    reader = (
        "import hashlib, json, sys\n"
        "from thidua.models.settings import Settings\n"
        "from thidua.models.storage import storage_for\n"
        "store = storage_for(Settings())\n"
        "keys = json.loads(sys.argv[1])\n"
        "print(json.dumps({k: hashlib.sha256(store.get(k)).hexdigest() for k in keys}))\n"
    )
    keys = sorted([*documents, plan_key])
    read = subprocess.run([sys.executable, "-c", reader, json.dumps(keys)], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    expected = {**documents, plan_key: hashlib.sha256(plan).hexdigest()}
    assert json.loads(read.stdout) == {k: expected[k] for k in keys}

    before = len(smtp_server.received)
    sent = subprocess.run([sys.executable, "-c", THIDUA, "outbox", "dispatch"], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    closing_mails = smtp_server.received[before:]
    assert len(closing_mails) == 12
    report, table = closed["documents"]["report"], closed["documents"]["table"]
    expected_files = {
        report.rsplit("/", 1)[1]: storage.get(report),
        table.rsplit("/", 1)[1]: storage.get(table),
    }
    assert all(attachments(m) == expected_files for m in closing_mails)
    assert expected_files[report.rsplit("/", 1)[1]][:2] == b"PK"
    assert list(empty.iterdir()) == [] or [p.name for p in empty.iterdir()] == ["var"]
