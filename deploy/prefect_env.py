"""Configure Prefect before it is imported: a named server when PREFECT_API_URL is set, else a local one.

Prefect reads its settings from the environment when first imported, so this must run before any import of
`prefect` or of `flows`. Without PREFECT_API_URL the process uses Prefect's local server with its home under
the data dir:

- warm (THIDUA_ENGINE_IDLE_SECONDS > 0, default 900): the one server of that home, started by the first
  command that needs it and reused by the next ones until it has been idle that long (deploy/local_engine.py);
- per command (THIDUA_ENGINE_IDLE_SECONDS=0): a server of this process only, gone when it ends, even by
  SIGKILL (deploy/prefect_server.py).

The first start may take long (it migrates a fresh database: ~25 s measured, more on a slow disk).

Usage reporting is off for every process that goes through here unless THIDUA_USAGE_REPORTING is on:
DO_NOT_TRACK=1 (Prefect's client, and any other library that honours it) and Prefect's server analytics off
(`apply_usage_policy`, also called by `thidua serve`).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from thidua.models.settings import Settings

LOGGING_CONFIG = Path(__file__).with_name("prefect_logging.yml")

# Seconds the local server may take to start; the first start migrates a fresh SQLite database.
LOCAL_SERVER_STARTUP_TIMEOUT = "600"

# One local server per process, even when two scheduler jobs configure Prefect at the same moment.
_starting = threading.Lock()
_engine: object | None = None  # the LocalEngine this process holds (kept referenced for the process's life)


def apply_usage_policy(settings: Settings) -> None:
    """Usage reporting off unless the operator enabled it (THIDUA_USAGE_REPORTING=1)."""
    if settings.usage_reporting:
        return
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"


def configure_prefect(settings: Settings) -> str:
    """Set Prefect's environment for this process; return a one-line description of the server used."""
    apply_usage_policy(settings)
    if "prefect" in sys.modules:
        # Settings already read (tests run under prefect_test_harness): leave them alone.
        return "Prefect đã được cấu hình sẵn trong tiến trình này"
    with _starting:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        # Run lines and tracebacks to a log file, not the terminal: the command prints its own error.
        os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(LOGGING_CONFIG))
        api_url = os.environ.get("PREFECT_API_URL", "").strip()
        if api_url:
            return f"Máy chủ Prefect: {api_url}"
        return _start_local(settings)


def _start_local(settings: Settings) -> str:
    global _engine
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    home = Path(os.environ["PREFECT_HOME"]).expanduser().resolve()
    os.environ["PREFECT_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", LOCAL_SERVER_STARTUP_TIMEOUT)
    timeout = float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    idle = settings.engine_idle_seconds
    if idle <= 0:
        from thidua.deploy.prefect_server import start_local_server

        server = start_local_server(home, timeout)
        os.environ["PREFECT_API_URL"] = server.api_url
        return f"Máy chủ Prefect cục bộ {server.api_url} (thư mục {home}; dừng cùng lệnh này)"
    from thidua.deploy.local_engine import attach

    engine = attach(home, timeout, idle)
    engine.keep_alive()
    _engine = engine
    os.environ["PREFECT_API_URL"] = engine.api_url
    how = "vừa khởi động" if engine.started_here else "đang chạy, dùng lại"
    return (
        f"Máy chủ Prefect cục bộ {engine.api_url} ({how}; thư mục {home}; tự dừng sau {idle:g} giây "
        "không có lệnh nào dùng; thidua engine stop để dừng ngay)"
    )


def release_local_engine() -> None:
    """Stop holding the warm server and stop its keeper (for a process that is done with flows)."""
    global _engine
    release = getattr(_engine, "release", None)
    if release is not None:
        release()
    _engine = None
