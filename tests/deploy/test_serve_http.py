"""`thidua serve` is operable (issue 12 item 6): a health check and Prometheus metrics over real HTTP from a
real service loop on a real database; one log line per event with the campaign code; usage reporting off
unless the operator enables it (checked in a fresh process, where Prefect reads its settings)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.deploy.test_scheduler import FAST, RUN_LOG, TEST_FUNCS, wait_for
from tests.factories import at, launch_campaign_rows, load_demo_directory
from thidua.deploy.jobs import for_campaign
from thidua.deploy.serve import OneLineFormatter, run_service
from thidua.deploy.serve_http import ServiceState, ThiduaCollector, health
from thidua.models.db import make_engine
from thidua.models.settings import Settings
from thidua.tasks.remind.reminders import plan_reminders, queue_reminders

CODE = "TQ-2024-GIAM-AN"
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[int, str]:
    try:
        with DIRECT.open(url, timeout=30) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening (yet)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_serve_answers_health_and_metrics_over_http(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RUN_LOG, str(tmp_path / "runs.log"))
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, serve_http_port=free_port())
    plan = plan_reminders(engine, CODE, at("31/01/2024", 8, 5), tz=settings.tz)
    assert queue_reminders(engine, settings, plan, now=at("31/01/2024", 8, 5))["queued"] == 8  # not sent

    base = f"http://127.0.0.1:{settings.serve_http_port}"
    stop = threading.Event()
    thread = threading.Thread(
        target=run_service, args=(settings,), kwargs={"stop": stop, "mode": FAST, "funcs": TEST_FUNCS,
                                                      "holder": "test-host:1:abcd"},
    )  # fmt: skip
    thread.start()
    try:
        wait_for(lambda: "leader" in get(f"{base}/healthz")[1], "a healthy leading service")
        status, body = get(f"{base}/healthz")
        assert json.loads(body) | {"loop_age_seconds": 0} == {
            "status": "ok", "role": "leader", "holder": "test-host:1:abcd", "loop_age_seconds": 0,
        }  # fmt: skip

        status, text = get(f"{base}/metrics")
        assert status == 200
        values = samples(text)
        assert values[("thidua_outbox_messages", (("campaign", CODE), ("status", "pending")))] == 8
        age = values[("thidua_outbox_oldest_pending_age_seconds", (("campaign", CODE),))]
        # Measured from the row's created_at, the moment the sweep acted at (here a replayed 2024 morning).
        assert abs(age - (time.time() - at("31/01/2024", 8, 5).timestamp())) < 600
        assert values[("thidua_scheduler_lease_info", (("holder", "test-host:1:abcd"),))] == 1
        assert values[("thidua_scheduler_leader", ())] == 1
        assert values[("thidua_scheduler_lease_expires_timestamp_seconds", ())] > time.time()
        assert get(f"{base}/nothing")[0] == 404
    finally:
        stop.set()
        thread.join(60)
    with pytest.raises(urllib.error.URLError):
        DIRECT.open(f"{base}/healthz", timeout=5)  # the endpoint stops with the service
    engine.dispose()


def test_the_last_run_of_each_job_and_a_stalled_loop_show(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    state = ServiceState("me", heartbeat_seconds=15)
    state.job_done(f"remind:{CODE}", ok=True)
    state.job_done(f"collect:{CODE}:2024-01", ok=False)
    text = b"".join(
        f"{m.name} {s.labels} {s.value}\n".encode()
        for m in ThiduaCollector(engine, state).collect()
        for s in m.samples
    ).decode()
    assert f"'job': 'remind:{CODE}', 'campaign': '{CODE}', 'outcome': 'ok'" in text
    assert f"'job': 'collect:{CODE}:2024-01', 'campaign': '{CODE}', 'outcome': 'error'" in text
    assert health(engine, state)[0] == 200
    state.loop_at -= 61  # the loop has not turned for a minute: not healthy
    code, body = health(engine, state)
    assert code == 503 and "vòng lặp" in body["reason"]
    engine.dispose()


def test_a_log_event_is_one_line_with_the_campaign_code() -> None:
    formatter = OneLineFormatter()
    try:
        raise RuntimeError("máy chủ thư\nkhông trả lời")
    except RuntimeError:
        record = logging.LogRecord(
            "thidua.jobs", logging.ERROR, __file__, 1, "Nhắc hạn lỗi.", (), sys.exc_info()
        )
    with for_campaign(CODE):
        line = formatter.format(record)
    assert "\n" not in line
    assert (
        f"ERROR campaign={CODE} Nhắc hạn lỗi." in line and "RuntimeError: máy chủ thư ⏎ không trả lời" in line
    )
    plain = logging.LogRecord("thidua.serve", logging.INFO, __file__, 1, "Đang dừng.", (), None)
    assert "campaign=" not in formatter.format(plain)


PROBE = """
import os
from thidua.deploy.prefect_env import configure_prefect
from thidua.models.settings import Settings
print(configure_prefect(Settings()))
from prefect._internal.analytics.enabled import is_telemetry_enabled
from prefect.settings import get_current_settings
print("client", is_telemetry_enabled(), "server", get_current_settings().server.analytics_enabled)
"""


@pytest.mark.parametrize(
    ("setting", "expected"), [(None, "client False server False"), ("1", "client True server True")]
)
def test_usage_reporting_is_off_unless_the_operator_turns_it_on(
    tmp_path: Path, setting: str | None, expected: str
) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_", "DO_NOT_TRACK", "CI"))
    }
    # What an operator's environment might say: Prefect's own default (analytics on), a named server.
    env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "true", "PREFECT_API_URL": "http://127.0.0.1:9/api",
            "PREFECT_HOME": str(tmp_path / "prefect"), "THIDUA_DATA_DIR": str(tmp_path)}  # fmt: skip
    if setting is not None:
        env["THIDUA_USAGE_REPORTING"] = setting
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == expected
