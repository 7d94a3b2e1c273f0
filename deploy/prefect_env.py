"""Configure Prefect before it is imported: a named server when PREFECT_API_URL is set, else the local one.

Prefect reads its settings from the environment when first imported, so this must run before any import of
`prefect` or of `flows`. The local server keeps its home under the data dir, waits long enough for the first
migration on a fresh machine (~25 s measured, more on a slow disk) and sends no analytics.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from thidua.models.settings import Settings

LOGGING_CONFIG = Path(__file__).with_name("prefect_logging.yml")

# Seconds the local server may take to start; the first start migrates a fresh SQLite database.
LOCAL_SERVER_STARTUP_TIMEOUT = "600"


def configure_prefect(settings: Settings) -> str:
    """Set Prefect's environment for this process; return a one-line description of the server used."""
    if "prefect" in sys.modules:
        # Settings already read (tests run under prefect_test_harness): leave them alone.
        return "Prefect đã được cấu hình sẵn trong tiến trình này"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # Run lines and tracebacks to a log file, not the terminal: the command prints its own Vietnamese error.
    os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(LOGGING_CONFIG))
    api_url = os.environ.get("PREFECT_API_URL", "").strip()
    if api_url:
        return f"Prefect server: {api_url}"
    home = settings.prefect_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", LOCAL_SERVER_STARTUP_TIMEOUT)
    return f"Prefect local server (home {os.environ['PREFECT_HOME']})"
