"""The warm local engine: one Prefect server per PREFECT_HOME, shared by the `thidua` commands that need one.

The first flow command starts the server (deploy/prefect_server.py, `start_detached_server`); the next ones
find it and reuse it, so a command pays a few hundred milliseconds for Prefect instead of the server's start
(10–28 s measured). The books, all in PREFECT_HOME (by default `<data dir>/prefect`):

- `engine.json`: pid, port, Prefect's version, start time and idle time of the running server. A command
  reuses it only when that process is a thidua engine of this home, answers `/api/health` and runs the same
  Prefect version; anything else is replaced (a dead or hung server) or refused (a healthy server of another
  Prefect version that other commands are using).
- `engine-start.lock` (exclusive, while looking and starting): two commands starting at once start one
  server; the second waits and reuses it.
- `engine-clients.lock` (shared, for the whole life of every process that uses the server): the server stops
  itself once nobody has held it for THIDUA_ENGINE_IDLE_SECONDS, so a detached server does not live forever.
  The kernel drops the lock of a process that dies, even by SIGKILL.

A server that dies while a command uses it is replaced by that command's keeper thread, on the same port when
it is free, so Prefect's client (which retries a refused connection with back-off for about a minute once it
has connected) carries on against the new one; the flow run and its states are in the server's database, which
the new server opens again. If no server can be started, the command fails with the message of
LocalServerUnavailable.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from thidua.deploy.prefect_server import (
    CLIENTS_LOCK,
    ENGINE_FILE,
    LocalServerUnavailable,
    answers,
    start_detached_server,
)

log = logging.getLogger("thidua.engine")

START_LOCK = "engine-start.lock"
_KEEPER_SECONDS = 1.0
_STOP_WAIT_SECONDS = 30.0
_MODULE_MARK = b"thidua.deploy.prefect_server\x00--detached\x00"


@dataclass(frozen=True)
class EngineRecord:
    """What `engine.json` says about the running warm server."""

    pid: int
    port: int
    prefect_version: str
    started_at: float  # Unix time
    idle_seconds: float

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"


def prefect_version() -> str:
    return version("prefect")


def read_record(home: Path) -> EngineRecord | None:
    try:
        data = json.loads((home / ENGINE_FILE).read_text())
        return EngineRecord(
            pid=int(data["pid"]),
            port=int(data["port"]),
            prefect_version=str(data["prefect_version"]),
            started_at=float(data["started_at"]),
            idle_seconds=float(data["idle_seconds"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none, or half-written by a process that died: treated as no server


def _write_record(home: Path, record: EngineRecord) -> None:
    tmp = home / f"{ENGINE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(record)))
    tmp.replace(home / ENGINE_FILE)  # atomic: a reader sees the old file or the new one


def is_engine_process(pid: int, home: Path) -> bool:
    """Whether `pid` is running the warm server of `home` (not a stranger that got the number since)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and _MODULE_MARK in cmdline and f"\x00{home}\x00".encode() in cmdline


def in_use(home: Path) -> bool:
    """Whether some process holds the clients lock (call it from a process that does not)."""
    fd = os.open(home / CLIENTS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if it was taken
    return False


class _FileLock:
    """An exclusive flock on a file of PREFECT_HOME, waited for at most `timeout` seconds."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout, self.fd = path, timeout, -1

    def __enter__(self) -> _FileLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise LocalServerUnavailable(
                        f"Một lệnh khác đang khởi động máy chủ Prefect cục bộ quá {self.timeout:g} giây "
                        f"({self.path}); thử lại sau, hoặc xem {self.path.parent / 'local-server.log'}."
                    ) from None
                time.sleep(0.1)

    def __exit__(self, *_: object) -> None:
        os.close(self.fd)


@dataclass
class LocalEngine:
    """This process's use of the warm server: the address, whether it was started here, and the keeper."""

    home: Path
    record: EngineRecord
    started_here: bool
    startup_timeout: float
    _clients_fd: int = -1
    _keeper: threading.Thread | None = None
    _stop: threading.Event | None = None

    @property
    def api_url(self) -> str:
        return self.record.api_url

    def keep_alive(self) -> None:
        """Watch the server for as long as this process lives; replace it if it dies."""
        if self._keeper is not None:
            return
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keep, daemon=True, name="engine-keeper")
        self._keeper.start()

    def _keep(self) -> None:
        assert self._stop is not None
        while not self._stop.wait(_KEEPER_SECONDS):
            if is_engine_process(self.record.pid, self.home):
                continue
            try:
                record, started = _find_or_start(self.home, self.startup_timeout, self.record.idle_seconds)
            except Exception:  # the keeper's edge: the command's own requests will fail and say so
                log.exception("Máy chủ Prefect cục bộ đã dừng và không khởi động lại được.")
                continue
            if record.port != self.record.port:
                log.warning(
                    "Máy chủ Prefect cục bộ đã dừng; máy chủ mới ở cổng %d, không phải %d: lệnh này có thể "
                    "lỗi, chạy lại lệnh.",
                    record.port,
                    self.record.port,
                )
            elif started:
                log.warning("Máy chủ Prefect cục bộ đã dừng giữa chừng; đã chạy lại ở %s.", record.api_url)
            self.record = record

    def release(self) -> None:
        """Stop watching and drop the shared lock (the process's end does both anyway)."""
        if self._stop is not None:
            self._stop.set()
        if self._clients_fd >= 0:
            os.close(self._clients_fd)
            self._clients_fd = -1


def attach(home: Path, startup_timeout: float, idle_seconds: float) -> LocalEngine:
    """Use the warm server of `home`, starting it if there is none; hold it for this process's life."""
    home.mkdir(parents=True, exist_ok=True)
    # Shared lock first: from now on the server cannot idle out under us. A server that is exiting holds
    # the exclusive lock until it is gone, so this waits for it and then finds no record.
    fd = os.open(home / CLIENTS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        record, started = _find_or_start(home, startup_timeout, idle_seconds, clients_fd=fd)
    except BaseException:
        os.close(fd)
        raise
    return LocalEngine(home, record, started, startup_timeout, _clients_fd=fd)


def _find_or_start(
    home: Path, startup_timeout: float, idle_seconds: float, clients_fd: int = -1
) -> tuple[EngineRecord, bool]:
    with _FileLock(home / START_LOCK, startup_timeout):
        record = read_record(home)
        port = 0
        if record is not None:
            port = record.port
            if is_engine_process(record.pid, home):
                if record.prefect_version == prefect_version() and answers(record.api_url, timeout=10):
                    return record, False
                _replace(home, record, clients_fd)
        started = time.time()

        def spawned(pid: int, bound: int) -> None:
            _write_record(home, EngineRecord(pid, bound, prefect_version(), started, idle_seconds))

        server = start_detached_server(home, startup_timeout, idle_seconds, port, on_spawn=spawned)
        return EngineRecord(server.process.pid, server.port, prefect_version(), started, idle_seconds), True


def _replace(home: Path, record: EngineRecord, clients_fd: int) -> None:
    """Stop a server that cannot be reused: hung (no health answer), or of another Prefect version.

    A healthy server of another version is stopped only when no other process uses it."""
    if record.prefect_version != prefect_version() and answers(record.api_url):
        if clients_fd >= 0:
            fcntl.flock(clients_fd, fcntl.LOCK_UN)  # our own shared lock would count as a user
        try:
            busy = in_use(home)
        finally:
            if clients_fd >= 0:
                fcntl.flock(clients_fd, fcntl.LOCK_SH)
        if busy:
            raise LocalServerUnavailable(
                f"Máy chủ Prefect cục bộ đang chạy (pid {record.pid}) dùng Prefect {record.prefect_version}, "
                f"khác bản {prefect_version()} của lệnh này, và đang có lệnh khác dùng. Chờ các lệnh đó xong "
                "rồi chạy lại, hoặc dừng máy chủ: thidua engine stop."
            )
    stop_server(home, record)


def stop_server(home: Path, record: EngineRecord, wait: float = _STOP_WAIT_SECONDS) -> bool:
    """SIGTERM the warm server (SIGKILL if still there after `wait` s); forget it. True if it was running."""
    running = is_engine_process(record.pid, home)
    if running:
        os.kill(record.pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while is_engine_process(record.pid, home) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_engine_process(record.pid, home):
            os.kill(record.pid, signal.SIGKILL)
    current = read_record(home)
    if current is not None and current.pid == record.pid:
        (home / ENGINE_FILE).unlink(missing_ok=True)
    return running
