"""`thidua db backup` / `thidua db restore`: the application database and every stored file, as one folder.

A backup folder holds `database.dump` (PostgreSQL, `pg_dump -Fc`) or `database.sqlite` (SQLite's online
backup), `files/<key>` for every file of the storage's folders, and `thidua-backup.json`: the schema revision,
the database kind, and each file's key, size and SHA-256. The database is copied first and the files after it:
a file is stored before the row that names it is committed, so every file the copied database names is
copied too (a file written in between is copied without a row, and nothing refers to it).

A restore goes into an empty database and an empty storage only, checks every file against the manifest before
it changes anything, then loads the database, puts the files and applies the migrations a newer version needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from thidua.errors import Conflict, InvalidInput, Unavailable
from thidua.models.db import current_revision, upgrade
from thidua.models.storage import Storage, check_key

MANIFEST = "thidua-backup.json"
FORMAT = 1
# The storage's top-level folders: documents (plans, templates, closing reports, minutes, award papers),
# reports (accepted and rejected files), the inbox, dossier files, and the `.eml` outbox.
FOLDERS = ("documents", "reports", "inbox", "dossiers", "outbox")


class BackupRefused(Conflict):
    """The backup's destination or the restore's target is not empty."""


class BadBackup(InvalidInput):
    """A backup folder that is incomplete or whose files do not match its manifest."""


class ToolMissing(Unavailable):
    """pg_dump / pg_restore cannot be run."""


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    database: str
    revision: str | None
    files: int
    bytes: int


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database as a libpq URL without its password, and the environment that carries the password
    (never on a command line, where `ps` shows it)."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise ToolMissing(
            f"Không chạy được {args[0]} ({what}): cài gói postgresql-client cùng phiên bản với máy chủ."
        ) from exc
    if done.returncode != 0:
        raise Unavailable(f"{args[0]} ({what}) báo lỗi: {done.stderr.strip()[:500]}")


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise InvalidInput("Cơ sở dữ liệu SQLite trong bộ nhớ không sao lưu được.")
    return Path(database)


def backup(engine: Engine, storage: Storage, dest: Path, now: datetime) -> BackupSummary:
    """Copy the database, then every stored file, into the new or empty folder `dest`."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupRefused(f"Thư mục sao lưu {dest} đã có nội dung: chọn một thư mục mới hoặc trống.")
    dest.mkdir(parents=True, exist_ok=True)
    revision = current_revision(engine)
    kind = engine.dialect.name
    if kind == "postgresql":
        url, env = _libpq(engine)
        _run(["pg_dump", "-Fc", "--no-owner", "-f", str(dest / "database.dump"), "-d", url], env, "sao lưu")
    elif kind == "sqlite":
        source = sqlite3.connect(_sqlite_path(engine))
        target = sqlite3.connect(dest / "database.sqlite")
        try:
            source.backup(target)  # consistent even while another process writes
        finally:
            target.close()
            source.close()
    else:
        raise InvalidInput(f"Chưa hỗ trợ sao lưu cơ sở dữ liệu loại {kind}.")
    files: list[dict[str, Any]] = []
    total = 0
    for folder in FOLDERS:
        for key in storage.walk(folder):
            data = storage.get(key)
            target_file = dest / "files" / key
            target_file.parent.mkdir(parents=True, exist_ok=True)
            target_file.write_bytes(data)
            files.append({"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            total += len(data)
    manifest = {"format": FORMAT, "created_at": now.isoformat(), "database": kind, "revision": revision,
                "files": files}  # fmt: skip
    (dest / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return BackupSummary(dest, kind, revision, len(files), total)


def _manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadBackup(f"{src} không phải thư mục sao lưu của thidua: thiếu {MANIFEST}.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBackup(f"{path}: không đọc được ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadBackup(f"{path}: định dạng sao lưu không được hỗ trợ.")
    return manifest


def _checked_files(src: Path, manifest: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Every file of the backup, read and checked against the manifest (size and SHA-256)."""
    found = []
    for entry in manifest.get("files", []):
        key = check_key(str(entry["key"]))
        path = src / "files" / key
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise BadBackup(f"Bản sao lưu thiếu tệp {path}.") from exc
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise BadBackup(
                f"Tệp {path} không khớp với bản kê sao lưu (kích thước hoặc mã SHA-256): bản sao lưu bị hỏng."
            )
        found.append((key, data))
    return found


def restore(engine: Engine, storage: Storage, src: Path) -> BackupSummary:
    """Load the backup `src` into the (empty) database and storage of these settings; nothing changes when
    the target is not empty or the backup does not check out."""
    manifest = _manifest(src)
    kind = engine.dialect.name
    if manifest["database"] != kind:
        raise BadBackup(
            f"Bản sao lưu là của cơ sở dữ liệu {manifest['database']}, còn nơi khôi phục là {kind}."
        )
    if inspect(engine).get_table_names():
        raise BackupRefused(
            f"Cơ sở dữ liệu {engine.url.render_as_string(hide_password=True)} đã có bảng: chỉ khôi phục vào"
            " một cơ sở dữ liệu mới, trống."
        )
    if any(storage.walk(folder) for folder in FOLDERS):
        raise BackupRefused(f"Kho lưu trữ {storage.url} đã có tệp: chỉ khôi phục vào một kho mới, trống.")
    files = _checked_files(src, manifest)
    if kind == "postgresql":
        dump = src / "database.dump"
        if not dump.is_file():
            raise BadBackup(f"Bản sao lưu thiếu {dump}.")
        url, env = _libpq(engine)
        _run(["pg_restore", "--no-owner", "--exit-on-error", "-d", url, str(dump)], env, "khôi phục")
    else:
        copy = src / "database.sqlite"
        if not copy.is_file():
            raise BadBackup(f"Bản sao lưu thiếu {copy}.")
        engine.dispose()
        source = sqlite3.connect(copy)
        target = sqlite3.connect(_sqlite_path(engine))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    total = 0
    for key, data in files:
        storage.put(key, data)
        total += len(data)
    upgrade(engine)
    return BackupSummary(src, kind, current_revision(engine), len(files), total)
