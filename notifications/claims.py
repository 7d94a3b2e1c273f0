"""Who holds an outbox claim: the holder token a dispatcher writes, and what can be told about it.

A claim names its holder as `worker@host#pid:suffix` (the suffix differs per claim). Kept apart from
notifications/outbox.py so that `thidua outbox list`, which only reads, shows the holders without loading
the dispatcher (email, transports, the ORM).
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Literal


def holder_of(worker_id: str) -> str:
    """Who claims: the worker's name, the host and the process id, as `thidua outbox list` shows them."""
    return f"{worker_id[:40]}@{socket.gethostname()[:30]}#{os.getpid()}"


_TOKEN = re.compile(r"@(?P<host>[^@#]*)#(?P<pid>\d+):[0-9a-f]{12}$")
HolderState = Literal["running", "gone", "unknown"]


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but it exists
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self/stat").exists()  # gone meanwhile, or no procfs to ask
    except OSError:
        return True
    # A killed process its parent has not reaped yet is a zombie: it sends nothing any more.
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def holder_state(token: str | None) -> HolderState:
    """Whether the process holding a claim still runs: known only for a claim taken on this host."""
    match = _TOKEN.search(token or "")
    if match is None or match["host"] != socket.gethostname()[:30]:
        return "unknown"
    return "running" if _process_runs(int(match["pid"])) else "gone"


def holder_label(token: str) -> str:
    """The claim token without its per-claim suffix: worker@host#pid."""
    return token.rsplit(":", 1)[0] if _TOKEN.search(token) else token
