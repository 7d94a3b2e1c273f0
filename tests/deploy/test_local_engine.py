"""The warm local engine (issue 12 item 5): one Prefect server per PREFECT_HOME, shared by `thidua` commands.

Real `thidua` processes on the Tuyên Quang demo database, real detached Prefect servers, real SIGKILLs: a
second command reuses the first one's server (and is faster), an idle server stops itself, a dead server is
replaced (between commands and in the middle of one, whose flow run then completes on the new server), and
two commands started at once start one server.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.test_prefect_server import CODE, STARTUP, THIDUA, silent_smtp
from tests.factories import launch_campaign_rows, load_demo_directory
from thidua.deploy.local_engine import is_engine_process, read_record
from thidua.models.db import make_engine

REMIND = ["remind", CODE, "--as-of", "31/01/2024 08:05"]  # eight reminders are due
AGAIN = ["remind", CODE, "--as-of", "01/02/2024 08:05"]


def engine_pids(home: Path) -> set[int]:
    """Every running warm server of `home`."""
    return {
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and is_engine_process(int(p.name), home)
    }


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = (tmp_path / "var" / "prefect").resolve()
    yield home
    for pid in engine_pids(home):  # whatever a failed assertion left running
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path, home: Path) -> dict[str, str]:
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    engine.dispose()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}
    return clean | {
        "PYTHONIOENCODING": "utf-8",
        "THIDUA_DATA_DIR": str(tmp_path / "var"),
        "THIDUA_DATABASE_URL": sqlite_url,
        "THIDUA_ENGINE_IDLE_SECONDS": "60",
    }


def thidua(args: list[str], env: dict[str, str], cwd: Path) -> tuple[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(THIDUA), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=STARTUP
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, took


def flow_runs(api_url: str) -> list[dict[str, object]]:
    request = urllib.request.Request(
        f"{api_url}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as answer:
        runs: list[dict[str, object]] = json.loads(answer.read())
    return runs


@pytest.mark.slow
def test_a_second_command_reuses_the_first_commands_server_and_an_idle_one_stops(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    env = env | {"THIDUA_ENGINE_IDLE_SECONDS": "20"}
    cold_out, cold = thidua(REMIND, env, tmp_path)
    assert "vừa khởi động" in cold_out and "8 thư nhắc hạn" in cold_out
    first = read_record(home)
    assert first is not None and engine_pids(home) == {first.pid}  # it outlived its command

    warm_out, warm = thidua(AGAIN, env, tmp_path)
    assert "đang chạy, dùng lại" in warm_out and first.api_url in warm_out
    assert engine_pids(home) == {first.pid} and read_record(home) == first
    print(f"\nthidua remind: cold {cold:.1f} s (server started), warm {warm:.1f} s (server reused)")
    assert warm < cold
    assert [run["state_type"] for run in flow_runs(first.api_url)] == ["COMPLETED", "COMPLETED"]

    status = subprocess.run(
        [str(THIDUA), "engine", "status"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert first.api_url in status.stdout and "không có lệnh nào dùng" in status.stdout

    deadline = time.monotonic() + 20 + 60  # the idle time, then the check and the graceful stop
    while engine_pids(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert engine_pids(home) == set()
    assert read_record(home) is None


@pytest.mark.slow
def test_a_dead_server_is_replaced_between_commands_and_in_the_middle_of_one(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    thidua(["engine", "start"], env, tmp_path)
    first = read_record(home)
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)

    with silent_smtp() as smtp:
        port = smtp.getsockname()[1]
        smtp_env = env | {"THIDUA_SMTP_HOST": "127.0.0.1", "THIDUA_SMTP_PORT": str(port),
                          "THIDUA_SMTP_TIMEOUT_SECONDS": "900"}  # fmt: skip
        command = subprocess.Popen(
            [str(THIDUA), *REMIND],
            env=smtp_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP
            while not select.select([smtp], [], [], 0.5)[0]:
                assert command.poll() is None, command.communicate()[0].decode()
                assert time.monotonic() < deadline, "the command never reached the mail server"
            connection, _ = smtp.accept()  # the flow run is dispatching
            second = read_record(home)
            assert second is not None and second.pid != first.pid  # the dead one was replaced
            os.kill(second.pid, signal.SIGKILL)  # and now this one dies mid-flow
            deadline = time.monotonic() + STARTUP
            while (third := read_record(home)) is None or third.pid == second.pid:
                assert time.monotonic() < deadline, "the command did not replace its server"
                time.sleep(0.2)
            connection.close()  # the mail server drops the session: the emails wait, the flow run ends
            output = command.communicate(timeout=STARTUP)[0].decode()
        finally:
            if command.poll() is None:
                command.kill()
                command.wait()
    assert command.returncode == 0, output
    assert third.port == second.port  # the replacement took the same address: the command carried on
    runs = flow_runs(third.api_url)
    assert [run["state_type"] for run in runs] == ["COMPLETED"], runs
    assert engine_pids(home) == {third.pid}


@pytest.mark.slow
def test_two_commands_started_at_once_start_one_server(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    commands = [
        subprocess.Popen(
            [str(THIDUA), *args], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for args in (REMIND, AGAIN)
    ]
    seen: set[int] = set()
    try:
        while any(c.poll() is None for c in commands):
            seen |= engine_pids(home)
            time.sleep(0.1)
        outputs = [c.communicate()[0].decode() for c in commands]
    finally:
        for c in commands:
            if c.poll() is None:
                c.kill()
                c.wait()
    assert [c.returncode for c in commands] == [0, 0], outputs
    seen |= engine_pids(home)
    assert len(seen) == 1, seen
    assert sorted("vừa khởi động" in out for out in outputs) == [False, True], outputs
    assert all("đang chạy, dùng lại" in out or "vừa khởi động" in out for out in outputs)
