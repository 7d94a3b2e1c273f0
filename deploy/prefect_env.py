"""Configure Prefect before it is imported: a named server when PREFECT_API_URL is set, else a local one.

Prefect reads its settings from the environment when first imported, so this must run before any import of
`prefect` or of `flows`. Without PREFECT_API_URL the process starts Prefect's local server as its own child
(deploy/prefect_server.py: it stops when this process ends, even by SIGKILL) and points PREFECT_API_URL at
it. The server keeps its home under the data dir, may take long to start the first time (it migrates a
fresh database: ~25 s measured, more on a slow disk) and sends no analytics.
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


def configure_prefect(settings: Settings) -> str:
    """Set Prefect's environment for this process; return a one-line description of the server used."""
    if "prefect" in sys.modules:
        # Settings already read (tests run under prefect_test_harness): leave them alone.
        return "Prefect đã được cấu hình sẵn trong tiến trình này"
    with _starting:
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        # Run lines and tracebacks to a log file, not the terminal: the command prints its own error.
        os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(LOGGING_CONFIG))
        api_url = os.environ.get("PREFECT_API_URL", "").strip()
        if api_url:
            return f"Máy chủ Prefect: {api_url}"
        return _start_local(settings.prefect_home)


def _start_local(home: Path) -> str:
    from thidua.deploy.prefect_server import start_local_server

    os.environ.setdefault("PREFECT_HOME", str(home))
    home = Path(os.environ["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", LOCAL_SERVER_STARTUP_TIMEOUT)
    timeout = float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    server = start_local_server(home, timeout)
    os.environ["PREFECT_API_URL"] = server.api_url
    return f"Máy chủ Prefect cục bộ {server.api_url} (thư mục {home}; dừng cùng lệnh này)"
