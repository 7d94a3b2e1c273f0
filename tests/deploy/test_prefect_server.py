"""With THIDUA_ENGINE_IDLE_SECONDS=0 (a server per command), a `thidua` command without PREFECT_API_URL leaves
no Prefect server behind, even killed with SIGKILL (issue 11 item 10). Real `thidua` processes, a real local
Prefect server, a real SIGKILL. The warm shared server (the default) is tested in test_local_engine.py."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.models.db import make_engine

THIDUA = Path(sys.executable).with_name("thidua")
CODE = "TQ-2024-GIAM-AN"
REMIND = ["remind", CODE, "--as-of", "31/01/2024 08:05"]  # eight reminders are due
STARTUP = 600.0  # the first start of a local server migrates its database
GONE_WITHIN = 60.0
Command = subprocess.Popen[bytes]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while the table was read
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Running (a zombie has ended; its new parent reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "var"
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}
    clean["PYTHONIOENCODING"] = "utf-8"
    return clean | {
        "THIDUA_DATA_DIR": str(data),
        "THIDUA_DATABASE_URL": sqlite_url,
        "THIDUA_ENGINE_IDLE_SECONDS": "0",
    }


@contextmanager
def silent_smtp() -> Iterator[socket.socket]:
    """An SMTP port that accepts a connection and never greets: the command waits there, mid-flow."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener
    finally:
        listener.close()


@contextmanager
def started(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[tuple[Command, set[int]]]:
    """The command running, and the set the test fills with the processes it saw under it: whatever of
    those a failed assertion leaves running is killed at the end."""
    process = subprocess.Popen(
        [str(THIDUA), *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    seen: set[int] = set()
    try:
        yield process, seen
    finally:
        if process.poll() is None:
            seen.update(descendants(process.pid))
            process.kill()
        process.wait()
        for pid in seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_command_killed_mid_flow_takes_its_prefect_server_with_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    with silent_smtp() as smtp:
        port = smtp.getsockname()[1]
        smtp_env = env | {"THIDUA_SMTP_HOST": "127.0.0.1", "THIDUA_SMTP_PORT": str(port),
                          "THIDUA_SMTP_TIMEOUT_SECONDS": "900"}  # fmt: skip
        with started(REMIND, smtp_env, tmp_path) as (command, seen):
            deadline = time.monotonic() + STARTUP
            while not select.select([smtp], [], [], 0.5)[0]:
                assert command.poll() is None, command.communicate()[0].decode()
                assert time.monotonic() < deadline, "the command never reached the mail server"
            connection, _ = smtp.accept()  # the flow is dispatching: its Prefect server is up
            server = descendants(command.pid)
            seen.update(server)
            assert server, "no Prefect server under the command"

            command.send_signal(signal.SIGKILL)
            command.wait()

            assert wait_gone(server, GONE_WITHIN) == []
            connection.close()


@pytest.mark.slow
def test_a_command_that_ends_stops_its_prefect_server(env: dict[str, str], tmp_path: Path) -> None:
    with started(REMIND, env, tmp_path) as (command, seen):
        while command.poll() is None:
            seen.update(descendants(command.pid))
            time.sleep(0.05)
        output = command.communicate()[0].decode()
        assert command.returncode == 0, output
        assert "Máy chủ Prefect cục bộ http://127.0.0.1:" in output and "8 thư nhắc hạn" in output
        assert seen, "no Prefect server under the command"
        assert [p for p in seen if alive(p)] == []  # stopped before the command returned
