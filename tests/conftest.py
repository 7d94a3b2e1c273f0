"""Shared fixtures: real SQLite files, a real PostgreSQL database, a real SMTP server, real Prefect runs.

The suite runs on two pytest-xdist workers (README: `pytest -q -n 2 --dist loadscope --no-loadscope-reorder`),
each a process with its own session fixtures; a module runs whole on one worker, so a module-scoped fixture is
built once, and tests that must never overlap belong in one module. What keeps the workers apart, and what a
new fixture or server should use too: folders from tmp_path / tmp_path_factory (per worker), ports from
free_port() (never a fixed one), database names with a uuid (pg_url / db_url, or pg_template's admin engine),
the Prefect home this module sets per process, network namespaces from tests/netns.network().

(`--dist loadgroup` and `xdist_group` do not work with pytest 9: xdist 3.8 tags the group onto `item._nodeid`,
which pytest 9 no longer reads, so the groups are silently ignored.)"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from thidua.models.db import make_engine, upgrade
from thidua.models.settings import Settings

PG_ADMIN_URL = os.environ.get("THIDUA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Prefect logs in the tests as in a `thidua` command (deploy/prefect_logging.yml: run lines to a file, only
# critical ones to the terminal). With Prefect's default configuration, its console handler keeps the stderr
# of whichever test first imported Prefect — a command run by CliRunner, whose stream is closed afterwards —
# and a later warning turns into "--- Logging error ---" in another command's output.
os.environ.setdefault(
    "PREFECT_LOGGING_SETTINGS_PATH", str(Path(__file__).parents[1] / "deploy" / "prefect_logging.yml")
)
# A Prefect home of this process's own, unless the developer set one. Under pytest-xdist each worker inherits
# the controller's environment: a home this conftest made in the controller (its pid in _HOME_OWNER) is
# replaced in each worker, because two workers must not share one local server's database and engine lock
# files, and the controller removes its home at exit while a worker may still use it.
_HOME_OWNER = "_THIDUA_TESTS_PREFECT_HOME_PID"
_OWN_HOMES: list[Path] = []  # the home made here, if any
if "PREFECT_HOME" not in os.environ or os.environ.get(_HOME_OWNER, str(os.getpid())) != str(os.getpid()):
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="thidua-tests-prefect-")
    os.environ[_HOME_OWNER] = str(os.getpid())
    _OWN_HOMES.append(Path(os.environ["PREFECT_HOME"]).resolve())
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)


# ---------------------------------------------------------------- databases


def _pg_admin_engine() -> Engine | None:
    engine = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            return engine
    except Exception:
        engine.dispose()
        return None


@pytest.fixture(scope="session")
def pg_template() -> Iterator[tuple[Engine, str]]:
    """A throwaway PostgreSQL database for this run, migrated once, used as a template per test."""
    admin = _pg_admin_engine()
    if admin is None:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)
    name = f"thidua_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield admin, name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _sqlite_url(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "thidua.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


class _PgSpare:
    """Copies of the template made one ahead, in a background thread: CREATE DATABASE takes ~0.4 s of mostly
    disk waits, which then overlap with the previous test instead of adding to each PostgreSQL test."""

    def __init__(self, admin: Engine, template: str) -> None:
        self.admin, self.template = admin, template
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-spare")
        self.next: Future[str] | None = None

    def _create(self) -> str:
        name = f"thidua_t_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def take(self) -> str:
        """A new, never used database from the template (the spare, or made now); the next spare starts."""
        name = self.next.result() if self.next is not None else self._create()
        self.next = self.pool.submit(self._create)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.next is not None:
            with contextlib.suppress(Exception):
                self.drop(self.next.result())
        self.pool.shutdown()


@pytest.fixture(scope="session")
def _pg_spare(pg_template: tuple[Engine, str]) -> Iterator[_PgSpare]:
    spare = _PgSpare(*pg_template)
    yield spare
    spare.close()


def _pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    spare: _PgSpare = request.getfixturevalue("_pg_spare")
    name = spare.take()
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    spare.drop(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database: a real SQLite file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        yield _sqlite_url(sqlite_template, tmp_path)
    else:
        yield from _pg_url(request)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    return _sqlite_url(sqlite_template, tmp_path)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _pg_url(request)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings for one test: its own data dir and database, emails to the file outbox."""
    return Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_host="")


# ---------------------------------------------------------------- SMTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: str = ""  # the sending client's address (which test host sent it)

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Gate:
    """Holds the server at one SMTP command until the test lets it go, so the test acts (kills a process,
    runs a second dispatcher, cancels a row) at a known point: `passing` commands of that kind go through
    first, the next one waits (without blocking the server's other sessions) until `release` is set."""

    command: str  # "MAIL" or "DATA"
    passing: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class SmtpRecorder:
    """What a real aiosmtpd server received.

    `reject_rcpt` makes it answer RCPT for an address with an error; `answers` makes it answer every MAIL or
    DATA with the given reply (a "421 ..." or a "451 ..."); `drop_for` makes it close the connection instead
    of answering the DATA of a message to one of these addresses; `gates` hold it at a chosen command.
    """

    host: str
    port: int
    received: list[ReceivedMail] = field(default_factory=list)
    connections: int = 0
    reject_rcpt: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    drop_for: set[str] = field(default_factory=set)
    gates: list[Gate] = field(default_factory=list)
    commands: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Any = None

    def gate(self, command: str, passing: int = 0) -> Gate:
        held = Gate(command, passing)
        self.gates.append(held)
        return held

    async def _pass(self, command: str) -> str | None:
        """Count the command, wait at a gate set for it, then the reply the test asked for (None: 250)."""
        with self.lock:
            seen = self.commands[command]
            self.commands[command] += 1
            gates = [g for g in self.gates if g.command == command and g.passing == seen]
        for held in gates:
            held.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, held.release.wait, 120)
        return self.answers.get(command)

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        recorder = self

        class Handler:
            async def handle_MAIL(
                self, server: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                answer = await recorder._pass("MAIL")
                if answer:
                    return answer
                envelope.mail_from = address
                envelope.mail_options.extend(options)
                return "250 OK"

            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                if address in recorder.reject_rcpt:
                    return recorder.reject_rcpt[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                answer = await recorder._pass("DATA")
                if recorder.drop_for & set(envelope.rcpt_tos):
                    server.transport.close()  # the reply below never reaches the client
                    return "421 dropped"
                if answer:
                    return answer
                with recorder.lock:
                    recorder.received.append(
                        ReceivedMail(
                            envelope.mail_from,
                            list(envelope.rcpt_tos),
                            bytes(envelope.content),
                            str(session.peer[0]) if session.peer else "",
                        )
                    )
                return "250 Message accepted for delivery"

        class CountingSMTP(SMTP):
            def connection_made(self, transport: Any) -> None:
                with recorder.lock:
                    recorder.connections += 1
                super().connection_made(transport)

        class CountingController(Controller):
            def factory(self) -> SMTP:
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        self._controller = CountingController(Handler(), hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings_overrides(self) -> dict[str, Any]:
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_security": "none"}


#: `thidua ARGS` in a fresh interpreter: sys.executable -c THIDUA ARGS...
THIDUA = "import sys; from thidua.deploy.cli import main; sys.argv = ['thidua', *sys.argv[1:]]; main()"


def kill_at(gate: Gate, args: list[str], env: dict[str, str], cwd: Path) -> int:
    """Run `thidua ARGS` in its own process, kill it with SIGKILL once the SMTP server reaches `gate`, then
    let the server go on; returns the killed process id."""
    child = subprocess.Popen(
        [sys.executable, "-c", THIDUA, *args], env=env, cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert gate.arrived.wait(300), "the process never reached the SMTP command it was to be killed at"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(60) == -signal.SIGKILL
    finally:
        gate.release.set()
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.pid


@pytest.fixture
def smtp_server() -> Iterator[SmtpRecorder]:
    recorder = SmtpRecorder(host="127.0.0.1", port=free_port())
    recorder.start()
    yield recorder
    for held in recorder.gates:
        held.release.set()
    recorder.stop()


# ---------------------------------------------------------------- S3-compatible storage


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real SeaweedFS S3 gateway for this run (tests/storage_server.py); a test takes its own bucket."""
    from tests.storage_server import start_s3_server

    try:
        server = start_s3_server(tmp_path_factory.mktemp("seaweedfs"), _free_ports(8))
    except RuntimeError as exc:
        message = f"the S3-compatible server (SeaweedFS) could not start: {exc}"
        if IN_CI:
            pytest.fail(message + " (CI=true: storage tests must run)", pytrace=False)
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: Any) -> str:
    """A new, empty bucket on the test S3 server."""
    return str(s3_server.new_bucket())


# ---------------------------------------------------------------- Prefect


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Real Prefect flow runs against a temporary local server (one per test session)."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield


# ---------------------------------------------------------------- pytest-xdist


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist the modules with slow end-to-end tests are handed out first (`--dist loadscope
    --no-loadscope-reorder` hands out whole modules in collection order), so the run does not end with one
    worker busy on a long test while the other idles. Every worker sorts the same way, so they still agree on
    the collection; without xdist the order is left alone."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _warm_engines_under(root: Path) -> list[int]:
    """Detached warm Prefect servers (deploy/local_engine.py) whose home lies under `root`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"thidua.deploy.prefect_server" in args and any(a.startswith(bytes(root)) for a in args):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session", autouse=True)
def _stop_leftover_warm_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A `thidua` command run by a test leaves the warm Prefect server of its home running for its idle time
    (15 minutes by default): at the end of the session (of this worker), stop those of this session's
    temporary folders and Prefect home, so they do not outlive the run."""
    yield
    roots = [tmp_path_factory.getbasetemp().resolve(), *_OWN_HOMES]  # never a home the developer set
    for pid in {pid for root in roots for pid in _warm_engines_under(root)}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
