"""Writing a file so that no reader sees half of it: how documents, exports and emails are saved."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from thidua.errors import InvalidInput


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write `data` to `path` all at once: a temporary file beside it, flushed to disk, then renamed over it.

    Concurrent writers of the same path each write their own temporary file, so the last rename wins whole;
    a crash leaves the previous file intact and no temporary file behind (it is removed on any error).
    """
    with atomic_file(path, mode=mode) as handle:
        handle.write(data)
    return Path(path)


@contextmanager
def atomic_file(path: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces `path` whole when the block ends (as `write_atomic`), for a
    file written piece by piece; on an error in the block the previous file stays and the piece is gone."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class NotARegularFile(InvalidInput):
    """A path that is a link, a device or a folder, or that leads outside the folder it must stay in."""


def read_regular_file(path: Path, *, within: Path | None = None) -> bytes:
    """The bytes of `path` when it is a regular file (never through a symbolic link) inside `within`.

    The file is opened with O_NOFOLLOW and checked on the open descriptor, so a link swapped in between the
    check and the read is refused too.
    """
    target = Path(path)
    shown = shown_name(target.name)
    if within is not None and target.parent.resolve() != Path(within).resolve():
        raise NotARegularFile(f"{shown}: tệp không nằm trong thư mục {shown_name(str(within))}.")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotARegularFile(f"{shown}: là liên kết (symlink), không phải tệp — không đọc.") from exc
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise NotARegularFile(f"{shown}: không phải tệp thường — không đọc.")
        return handle.read()


# Control characters, line and paragraph separators and bidirectional overrides (U+202E turns
# "báo-cáo‮xslx.exe" into what looks like an .xlsx) are shown as escapes, never echoed as they are.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


def shown_name(name: str) -> str:
    """A file name as it is safe to print: every invisible or direction-changing character as \\uXXXX."""
    return "".join(
        ch if unicodedata.category(ch) not in _HIDDEN_CATEGORIES else f"\\u{ord(ch):04x}" for ch in name
    )
