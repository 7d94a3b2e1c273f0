"""A real Prefect server for the tests of the production path (issue 12): `prefect server start` on a
PostgreSQL database of its own, the `thidua` process work pool and `prefect deploy --all` of the installed
deploy/prefect.yaml, plus a small client of its REST API and the helpers to start and stop processes.

Shared by tests/deploy/test_prefect_deployments.py (one worker on this host) and
tests/deploy/test_multi_host.py (two worker hosts in network namespaces). Everything waits by polling with a
deadline, never by sleeping a fixed time.
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

import thidua.deploy
from tests.conftest import IN_CI, PG_ADMIN_URL

PREFECT = Path(sys.executable).with_name("prefect")
PREFECT_YAML = Path(thidua.deploy.__file__).with_name("prefect.yaml")  # the installed copy
SERVER_STARTUP = 240.0  # the first start migrates the server's PostgreSQL database
RUN_TIMEOUT = 300.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# No usage reports from any Prefect process the tests start (server, CLI, worker, flow runs).
QUIET = {"PYTHONIOENCODING": "utf-8", "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def clean_environ() -> dict[str, str]:
    """This process's environment without any Prefect or thidua setting (each process gets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(process: subprocess.Popen[bytes]) -> None:
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


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """`args` in its own process group (so `stop` ends its children too), output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_healthy(api: str, server: subprocess.Popen[bytes], timeout: float) -> str | None:
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


@dataclass
class PrefectApi:
    """A client of the running server: its CLI (`prefect`, with `env` in `work`) and its REST API."""

    api: str
    env: dict[str, str]  # a Prefect client's environment (CLI commands, event emitters)
    work: Path
    log_files: dict[str, Path] = field(default_factory=dict)  # shown when something fails

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

    def logs(self) -> str:
        return "".join(f"\n--- {name} ---\n{tail(path)}" for name, path in self.log_files.items())

    def deployment_id(self, name: str) -> str:
        return str(self.get(f"/deployments/name/{name}")["id"])

    def runs_of(self, deployment: str, states: list[str] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"deployments": {"id": {"any_": [self.deployment_id(deployment)]}}}
        if states:
            body["flow_runs"] = {"state": {"type": {"any_": states}}}
        return list(self.post("/flow_runs/filter", body))

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

    def run_state(self, run_id: str) -> str | None:
        run = self.get(f"/flow_runs/{run_id}")
        return str(run["state"]["type"]) if run["state"] else None

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

    def completed(self, run_id: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        run = self.wait_run(run_id, timeout)
        assert run["state"]["type"] == "COMPLETED", f"{run['name']}: {run['state']['message']}" + self.logs()
        return run

    def run_logs(self, run_id: str) -> list[str]:
        """The messages the server holds for one flow run (the worker's and the flow's own)."""
        body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}
        return [str(entry["message"]) for entry in self.post("/logs/filter", body)]


@contextmanager
def prefect_server(
    admin: Engine,
    tmp: Path,
    *,
    host: str = "127.0.0.1",
    port: int,
    server_settings: dict[str, str] | None = None,
) -> Iterator[PrefectApi]:
    """`prefect server start` on `host:port` with a throwaway PostgreSQL database, the `thidua` work pool and
    every deployment of the installed deploy/prefect.yaml; stopped and its database dropped on exit.

    A server that does not come up fails the test under CI=true and skips it elsewhere, with its log's end.
    `server_settings` are more PREFECT_SERVER_* variables for the server process."""
    prefect_db = f"thidua_prefect_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{prefect_db}"')
    prefect_url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=prefect_db)
    api = f"http://{host}:{port}/api"
    work = tmp / "empty-cwd"  # no checkout, no .env: what a host that only has the package has
    work.mkdir(exist_ok=True)
    server_log = tmp / "server.log"
    server_env = (
        clean_environ()
        | QUIET
        | {
            "PREFECT_HOME": str(tmp / "server-home"),
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_url.render_as_string(hide_password=False),
        }
        | (server_settings or {})
    )
    client_env = clean_environ() | QUIET | {"PREFECT_HOME": str(tmp / "client-home"), "PREFECT_API_URL": api}
    server = start(
        [str(PREFECT), "server", "start", "--host", host, "--port", str(port)], server_env, work, server_log
    )
    try:
        problem = wait_healthy(api, server, SERVER_STARTUP)
        if problem:
            message = f"prefect server start: {problem}\n{tail(server_log)}"
            if IN_CI:
                pytest.fail(message + " (CI=true: the Prefect server tests must run)", pytrace=False)
            pytest.skip(message)
        up = PrefectApi(api, client_env, work, {"server": server_log})
        created = up.prefect("work-pool", "create", "thidua", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = up.prefect("deploy", "--all", "--prefect-file", str(PREFECT_YAML), timeout=600)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        yield up
    finally:
        stop(server)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{prefect_db}" WITH (FORCE)')
