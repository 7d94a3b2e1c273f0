"""Benchmark: the national campaign's units upload their monthly report through the portal in the last hour.

    python bench/bench_portal.py [--units 534] [--clients 16] [--sequential 40]
                                 [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A throwaway PostgreSQL database (created and dropped by the bench) gets the national demo directory and the
national 2026 campaign with every enrolled unit reporting (the plan has only the provinces report), one API
token per reporting unit, and each unit's filled template for three monthly
periods (none of this is timed). Then the portal `thidua web` serves (the same app under uvicorn, in its own
process, started as that command does but with `create_app(clock=…)`), and:

1. floor: `ingest_upload` in this process (period A, --sequential units): what an upload costs without HTTP;
2. the same file of period B through HTTP, one client, right after each floor ingest (so both see the same
   load): the ratio of the two medians is the cost of the portal around the ingest (goal ≤ 1.5×);
3. the rush: every unit uploads period C at once through --clients concurrent httpx clients (threads),
   bounded; throughput, latency p50/p95/p99 and errors;
4. the database is checked: exactly one current submission per unit and period, no more rows than uploads;
5. the national figures page's time (`/api/v1/units/{unit}/campaigns/{code}/indicators`: the campaign's
   status table of every period, 534 units) and a unit's home page, after the rush.

The periods differ only in their key: the same workbook, the same checks, the same rows written.

Every upload happens in the last hour before its period's deadline (the due date ends at midnight, Vietnam
time), as the issue describes, and is stored on time: the server's clock and the in-process ingest's `now`
start at 23:00 of the due date and run with the real clock. The server is started once for the sequential
uploads (its period's deadline) and once more for the rush (its own); the restart is not timed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from thidua.deploy.demo.directory import write_demo  # noqa: E402
from thidua.deploy.demo.months import fill_template  # noqa: E402
from thidua.models.db import make_engine, upgrade  # noqa: E402
from thidua.models.definition import load_definition  # noqa: E402
from thidua.models.schedule import build_schedule  # noqa: E402
from thidua.models.settings import Settings  # noqa: E402
from thidua.models.workdays import load_calendar  # noqa: E402
from thidua.tasks.collect.reports import ingest_upload  # noqa: E402
from thidua.tasks.core.directory import import_directory  # noqa: E402
from thidua.tasks.launch.campaign import enrol, mark_launched, persist_campaign, store_deadlines  # noqa: E402
from thidua.tasks.portal.identity import Principal, create_api_token, grant_admin  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LAUNCH = datetime(2026, 2, 26, 9, 0, tzinfo=VN)
FLOOR, SEQUENTIAL, RUSH = "2026-02", "2026-03", "2026-04"
ADMIN = Principal(email="bench@thidua.example.vn", name="Bench", admin=True)
FIGURES = {"carried_over": 120, "arising": 30, "finished": 20}


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def create_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    name = f"bench_portal_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def setup(engine: Engine, tmp: Path, units: int) -> tuple[str, list[str]]:
    """The national campaign launched (no Prefect, no email); the first `units` reporting units."""
    upgrade(engine)
    import_directory(engine, write_demo("national-2026", tmp / "directory"), now=LAUNCH)
    defn = load_definition(ROOT / "examples" / "national-2026.yaml")
    # The plan has only the 34 provinces report; the rush the issue describes is every enrolled unit (534),
    # so every level reports here. The checks and rows of one report are the same at any level.
    defn = defn.model_copy(update={"scope": defn.scope.model_copy(update={"reporting_levels": None})})
    persisted = persist_campaign(engine, defn, now=LAUNCH)
    enrol(engine, persisted.campaign_id, defn)
    store_deadlines(engine, persisted.campaign_id, build_schedule(defn, load_calendar()))
    mark_launched(engine, persisted.campaign_id, now=LAUNCH, as_of=LAUNCH.date(), plan_document=None)
    with engine.connect() as conn:
        codes = list(
            conn.execute(
                text(
                    "SELECT unit_code FROM enrolled_unit WHERE campaign_id = :c AND reports "
                    "ORDER BY unit_code"
                ),
                {"c": persisted.campaign_id},
            ).scalars()
        )
    return defn.code, codes[:units]


def files_for(engine: Engine, code: str, units: list[str], period: str, folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for unit in units:
        path = fill_template(engine, code, unit, period, folder / f"{unit}-{period}.xlsx", FIGURES, {})
        out[unit] = path.read_bytes()
    return out


#: `thidua web` (deploy/cli_web.py) with the clock injected: the same settings from the environment, the
#: same uvicorn options. The app's clock starts at argv[3] and runs with the real one.
SERVE = """
import sys, time
from datetime import datetime, timedelta
import uvicorn
from thidua.deploy.cli_common import current_settings
from thidua.deploy.web.app import create_app
start, origin = datetime.fromisoformat(sys.argv[3]), time.monotonic()
app = create_app(current_settings(), clock=lambda: start + timedelta(seconds=time.monotonic() - origin))
uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), proxy_headers=True, log_level="warning")
"""


def last_hour(due: date) -> datetime:
    """The start of the last hour before the deadline: 23:00 of the due date, Vietnam time."""
    return datetime.combine(due, day_time(23, 0), tzinfo=VN)


def running_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads `start` now and runs with the real one (what the server's clock does too)."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def due_dates(engine: Engine, code: str) -> dict[str, date]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.key, d.due_date FROM deadline d JOIN campaign c ON c.id = d.campaign_id "
                "WHERE c.code = :code"
            ),
            {"code": code},
        ).all()
    return {str(key): due for key, due in rows}


def start_server(database_url: str, data_dir: Path, port: int, start: datetime) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "THIDUA_DATABASE_URL": database_url,
        "THIDUA_DATA_DIR": str(data_dir),
        "THIDUA_SMTP_HOST": "",
        "THIDUA_PUBLIC_URL": "",
    }
    cmd = [sys.executable, "-c", SERVE, "127.0.0.1", str(port), start.isoformat()]
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"thidua web exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/dang-nhap", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("thidua web did not answer within 60 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def upload(client: httpx.Client, code: str, unit: str, token: str, period: str, data: bytes) -> float:
    start = time.perf_counter()
    answer = client.post(
        f"/api/v1/units/{unit}/campaigns/{code}/reports",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (f"bao-cao-{unit}-{period}.xlsx", data, "application/octet-stream")},
    )
    took = time.perf_counter() - start
    if answer.status_code != 200 or answer.json().get("status") != "accepted":
        raise RuntimeError(f"{unit} {period}: HTTP {answer.status_code} {answer.text[:200]}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=534, help="reporting units that upload (all: 534)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the rush")
    parser.add_argument("--sequential", type=int, default=40, help="units in the floor and sequential runs")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)

    database_url, drop = create_database(args.pg)
    server: subprocess.Popen[bytes] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-portal-") as tmp_name:
            tmp = Path(tmp_name)
            data_dir = tmp / "data"
            settings = Settings(data_dir=data_dir, database_url=database_url, smtp_host="", public_url="")
            engine = make_engine(database_url)
            t0 = time.perf_counter()
            code, units = setup(engine, tmp, args.units)
            sample = units[: args.sequential]
            # The tokens' creator must keep the right to act for the units: an administrator.
            grant_admin(engine, ADMIN.email, by="bench", now=LAUNCH)
            tokens = {u: create_api_token(engine, ADMIN, u, "bench", now=LAUNCH)[1] for u in units}
            floor_files = files_for(engine, code, sample, FLOOR, tmp / "a")
            seq_files = files_for(engine, code, sample, SEQUENTIAL, tmp / "b")
            rush_files = files_for(engine, code, units, RUSH, tmp / "c")
            print(
                f"setup: {len(units)} units, tokens and {len(floor_files) * 2 + len(rush_files)} files "
                f"in {time.perf_counter() - t0:.1f} s (not timed below)"
            )

            due = due_dates(engine, code)
            port = free_port()
            server = start_server(database_url, data_dir, port, last_hour(due[SEQUENTIAL]))
            base = f"http://127.0.0.1:{port}"

            # 1-2. The floor (the ingest in this process) and the same file of another period through HTTP,
            # one after the other for each unit, so both see the same load on the machine.
            floor, seq = Run(), Run()
            floor_clock = running_from(last_hour(due[FLOOR]))
            with httpx.Client(base_url=base, timeout=120) as client:
                for unit in sample:
                    start = time.perf_counter()
                    result = ingest_upload(
                        engine,
                        settings,
                        code,
                        f"{unit}.xlsx",
                        floor_files[unit],
                        now=floor_clock(),
                        submitted_by="bench",
                        unit_code=unit,
                    )
                    floor.latencies.append(time.perf_counter() - start)
                    if result.status != "accepted":
                        floor.errors.append(f"{unit}: {result.status} {result.errors[:1]}")
                    try:
                        seq.latencies.append(
                            upload(client, code, unit, tokens[unit], SEQUENTIAL, seq_files[unit])
                        )
                    except (RuntimeError, httpx.HTTPError) as exc:
                        seq.errors.append(str(exc))

            # 3. The rush: every unit at once, --clients at a time, in the last hour before its deadline.
            stop_server(server)
            server = None
            server = start_server(database_url, data_dir, port, last_hour(due[RUSH]))
            rush = Run()
            lock = threading.Lock()
            local = threading.local()

            def one(unit: str) -> None:
                client = getattr(local, "client", None)
                if client is None:
                    client = local.client = httpx.Client(base_url=base, timeout=300)
                try:
                    took = upload(client, code, unit, tokens[unit], RUSH, rush_files[unit])
                    with lock:
                        rush.latencies.append(took)
                except (RuntimeError, httpx.HTTPError) as exc:
                    with lock:
                        rush.errors.append(str(exc))

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                list(pool.map(one, units))
            rush.wall = time.perf_counter() - start

            # 4. Every report stored once.
            with engine.connect() as conn:
                counted = conn.execute(
                    text(
                        "SELECT period_key, count(*) FROM submission WHERE is_current "
                        "AND period_key IN (:a, :b, :c) GROUP BY period_key ORDER BY period_key"
                    ),
                    {"a": FLOOR, "b": SEQUENTIAL, "c": RUSH},
                ).all()
                stored = {str(key): int(n) for key, n in counted}
                rows = conn.execute(text("SELECT count(*) FROM submission")).scalar_one()
                late = conn.execute(text("SELECT count(*) FROM submission WHERE NOT on_time")).scalar_one()
                twice = conn.execute(
                    text(
                        "SELECT count(*) FROM (SELECT unit_code, period_key FROM submission "
                        "GROUP BY unit_code, period_key HAVING count(*) > 1) AS t"
                    )
                ).scalar_one()

            # 5. The national figures and a unit's home, after the rush.
            unit = units[0]
            with httpx.Client(base_url=base, timeout=300) as client:
                auth = {"Authorization": f"Bearer {tokens[unit]}"}
                status_times, home_times = [], []
                for _ in range(3):
                    start = time.perf_counter()
                    answer = client.get(f"/api/v1/units/{unit}/campaigns/{code}/indicators", headers=auth)
                    status_times.append(time.perf_counter() - start)
                    assert answer.status_code == 200, answer.text
                    start = time.perf_counter()
                    answer = client.get(f"/api/v1/units/{unit}/campaigns", headers=auth)
                    home_times.append(time.perf_counter() - start)
                    assert answer.status_code == 200, answer.text
            engine.dispose()
    finally:
        if server is not None:
            stop_server(server)
        drop()

    ms = 1000
    floor_med, seq_med = statistics.median(floor.latencies), statistics.median(seq.latencies)
    ratio = seq_med / floor_med
    print(
        f"floor      ingest_upload in-process, {len(floor.latencies)} files: "
        f"median {floor_med * ms:.0f} ms, "
        f"p95 {pct(floor.latencies, 95) * ms:.0f} ms, errors {len(floor.errors)}"
    )
    print(
        f"sequential HTTP upload, 1 client, {len(seq.latencies)} files: median {seq_med * ms:.0f} ms, "
        f"p95 {pct(seq.latencies, 95) * ms:.0f} ms, errors {len(seq.errors)}"
    )
    print(
        f"ratio      HTTP ÷ in-process at the median: {ratio:.2f}×  (goal ≤ 1.5×: "
        f"{'met' if ratio <= 1.5 else 'NOT met'})"
    )
    n = len(rush.latencies)
    if n:
        print(
            f"rush       {len(units)} units, {args.clients} clients: {n} accepted in {rush.wall:.1f} s = "
            f"{n / rush.wall:.1f} uploads/s; latency p50 {pct(rush.latencies, 50) * ms:.0f} ms, "
            f"p95 {pct(rush.latencies, 95) * ms:.0f} ms, p99 {pct(rush.latencies, 99) * ms:.0f} ms, "
            f"max {max(rush.latencies) * ms:.0f} ms"
        )
    print(
        f"errors     {len(rush.errors)} in the rush" + (f"; first: {rush.errors[0]}" if rush.errors else "")
    )
    deadlines = ", ".join(f"{k}: {due[k]:%d/%m/%Y}" for k in (FLOOR, SEQUENTIAL, RUSH))
    expected = {FLOOR: len(floor_files), SEQUENTIAL: len(seq_files), RUSH: len(units)}
    once = stored == expected and twice == 0 and rows == sum(expected.values()) and late == 0
    print(
        f"stored     current submissions {stored} (expected {expected}), {rows} rows, "
        f"{twice} unit-period(s) stored twice, {late} stored late (deadlines {deadlines}, "
        "uploads from 23:00) → "
        f"{'every report stored once' if once else 'NOT once'}"
    )
    print(
        f"status     national figures (indicators of every period): median "
        f"{statistics.median(status_times) * ms:.0f} ms; unit home (campaigns): median "
        f"{statistics.median(home_times) * ms:.0f} ms (3 requests each)"
    )
    ok = once and not rush.errors and not seq.errors and not floor.errors
    print(
        f"goal       no error, every report stored once, upload ≤ 1.5× in-process at the median → "
        f"{'met' if ok and ratio <= 1.5 else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
