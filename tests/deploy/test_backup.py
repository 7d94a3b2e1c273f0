"""`thidua db backup` / `thidua db restore`: a campaign backed up from PostgreSQL and a bucket (or SQLite and
the data dir) and restored into a fresh database and a fresh bucket, which then serves it as before."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect

from tests.conftest import PG_ADMIN_URL, THIDUA
from tests.factories import TQ_DEFINITION, at, load_demo_directory
from tests.tasks.close.test_closing import CLOSE_AT, CODE, final_reports
from thidua.deploy.backup import FOLDERS, MANIFEST
from thidua.flows.close import close_flow
from thidua.flows.launch import launch_flow
from thidua.models.db import make_engine
from thidua.models.settings import Settings
from thidua.models.storage import Storage, storage_for

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def thidua(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", THIDUA, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THIDUA_")}
    env.update(THIDUA_DATA_DIR=str(settings.data_dir), THIDUA_DATABASE_URL=settings.database_url, **extra)
    return env


def files_of(storage: Storage) -> dict[str, str]:
    return {key: storage.sha256(key) for folder in FOLDERS for key in storage.walk(folder)}


def a_closed_campaign(settings: Settings, tmp_path: Path) -> Engine:
    engine = make_engine(settings.database_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_flow(str(TQ_DEFINITION), at("05/01/2024", 9), settings)
    final_reports(engine)
    close_flow(CODE, CLOSE_AT, settings)
    return engine


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """A PostgreSQL database with nothing in it (not even the schema)."""
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"thidua_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.mark.postgres
def test_a_campaign_on_postgres_and_a_bucket_is_restored_into_fresh_ones_and_served_as_before(
    tmp_path: Path, pg_url: str, empty_pg: str, s3_server: Any, s3_bucket: str
) -> None:
    s3 = s3_server.settings_overrides(s3_bucket, "thidua")
    source = Settings(data_dir=tmp_path / "a", database_url=pg_url, smtp_host="", **s3)
    a_closed_campaign(source, tmp_path)
    source_env = environment(source, **s3_server.env(s3_bucket, "thidua"))
    before = {cmd: thidua(["campaign", cmd, CODE], source_env, tmp_path) for cmd in ("show", "status")}
    assert all(done.returncode == 0 for done in before.values())
    stored = files_of(storage_for(source))
    assert any(key.startswith("documents/") for key in stored) and any(
        k.startswith("outbox/") for k in stored
    )

    backup = tmp_path / "sao-luu"
    done = thidua(["db", "backup", str(backup)], source_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{len(stored)} tệp" in done.stdout
    assert (backup / "database.dump").is_file() and (backup / MANIFEST).is_file()

    # A fresh database and a fresh bucket, reached from another working directory.
    bucket = s3_server.new_bucket()
    target = Settings(data_dir=tmp_path / "b", database_url=empty_pg, smtp_host="",
                      **s3_server.settings_overrides(bucket, "thidua"))  # fmt: skip
    target_env = environment(target, **s3_server.env(bucket, "thidua"))
    elsewhere = tmp_path / "host-b"
    elsewhere.mkdir()
    done = thidua(["db", "restore", str(backup)], target_env, elsewhere)
    assert done.returncode == 0, done.stderr
    assert files_of(storage_for(target)) == stored
    after = {cmd: thidua(["campaign", cmd, CODE], target_env, elsewhere) for cmd in ("show", "status")}
    assert after["status"].stdout == before["status"].stdout
    assert after["show"].stdout == before["show"].stdout.replace(f"s3://{s3_bucket}/", f"s3://{bucket}/")
    assert thidua(["db", "status"], target_env, elsewhere).stdout.strip().endswith("đã cập nhật")

    # Restoring again over what is now there is refused, and changes nothing.
    again = thidua(["db", "restore", str(backup)], target_env, elsewhere)
    assert again.returncode == 4
    assert "đã có bảng" in again.stderr
    assert files_of(storage_for(target)) == stored


def test_a_damaged_backup_or_a_used_target_is_refused_and_nothing_changes(
    tmp_path: Path, sqlite_url: str
) -> None:
    source = Settings(data_dir=tmp_path / "a", database_url=sqlite_url, smtp_host="")
    a_closed_campaign(source, tmp_path)
    source_env = environment(source)
    backup = tmp_path / "sao-luu"
    assert thidua(["db", "backup", str(backup)], source_env, tmp_path).returncode == 0
    # A destination that already holds something is refused.
    refused = thidua(["db", "backup", str(backup)], source_env, tmp_path)
    assert refused.returncode == 4 and "đã có nội dung" in refused.stderr

    # One file of the backup damaged: the restore says which, and the target stays empty.
    stored = files_of(storage_for(source))
    damaged_key = next(key for key in stored if key.endswith(".docx"))
    (backup / "files" / damaged_key).write_bytes(b"not the document")
    target = Settings(data_dir=tmp_path / "b", database_url=f"sqlite:///{tmp_path / 'b.db'}", smtp_host="")
    target_env = environment(target)
    done = thidua(["db", "restore", str(backup)], target_env, tmp_path)
    assert done.returncode == 2
    assert damaged_key.rsplit("/", 1)[-1] in done.stderr and "bị hỏng" in done.stderr
    assert inspect(make_engine(target.database_url)).get_table_names() == []
    assert files_of(storage_for(target)) == {}

    # Repaired, the same backup restores the SQLite campaign with its files into the data dir.
    (backup / "files" / damaged_key).write_bytes(storage_for(source).get(damaged_key))
    done = thidua(["db", "restore", str(backup)], target_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert files_of(storage_for(target)) == stored
    shown = thidua(["campaign", "status", CODE], target_env, tmp_path)
    assert shown.stdout == thidua(["campaign", "status", CODE], source_env, tmp_path).stdout
    assert {hashlib.sha256((backup / "files" / k).read_bytes()).hexdigest() for k in stored} == set(
        stored.values()
    )
