"""Writing a file so that no reader sees half of it: how documents, exports and emails are saved."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write `data` to `path` all at once: a temporary file beside it, flushed to disk, then renamed over it.

    Concurrent writers of the same path each write their own temporary file, so the last rename wins whole;
    a crash leaves the previous file intact and no temporary file behind (it is removed on any error).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
