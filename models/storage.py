"""Where every file of the system lives: one interface over fsspec, a local folder or an S3-compatible bucket.

Plans, report templates and the reports units send, closing reports, minutes, decisions, certificates,
dossier files, the inbox and the email attachments are all addressed by a *key*: a relative POSIX path such
as ``documents/TQ-2024/ke-hoach.docx``. The outbox stores these keys, so whichever host rendered a document,
any worker that reaches the same storage can send it.

- By default the storage is the data directory (``THIDUA_DATA_DIR``): a key is the file of that relative
  path, written whole through a temporary file and a rename, read never through a symbolic link.
- With ``THIDUA_STORAGE_URL=s3://bucket/prefix`` it is an S3-compatible bucket through s3fs (MinIO, Ceph,
  SeaweedFS or a cloud; ``THIDUA_STORAGE_ENDPOINT_URL`` and the key settings for a private one): a put of
  one object is atomic on the server, so no reader sees half a file there either.

Keys are built by our code from checked parts (`storage_key`): a name that came from a user (a file dropped
in the inbox, a dossier's original name) never becomes a key unchecked, so no key leads outside the storage.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thidua.errors import InvalidInput, Unavailable
from thidua.models.files import read_regular_file, shown_name, write_atomic

if TYPE_CHECKING:
    from thidua.models.settings import Settings

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "ObjectStorage",
    "Storage",
    "StorageUnavailable",
    "check_key",
    "storage_for",
    "storage_key",
]

# Characters no key part may hold: separators, NUL and the invisible or direction-changing ones.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})
_MAX_PART = 255


class InvalidKey(InvalidInput):
    """A key part that would leave its folder (``..``, a separator) or hide what it is (control chars)."""


class StorageUnavailable(Unavailable):
    """The storage cannot be reached or refuses us (a bucket that does not exist, wrong keys)."""


def _check_part(part: str, *, strict: bool = False) -> str:
    """`part` when it stays in its folder (no separator, not ``.``/``..``, no NUL); `strict` (for names our
    code makes) also refuses backslashes, hidden or direction-changing characters and over 255 bytes."""
    if part in ("", ".", "..") or "/" in part or "\0" in part:
        raise InvalidKey(f"Tên “{shown_name(part)}” không dùng được làm tên tệp lưu trữ.")
    if strict and (
        "\\" in part
        or len(part.encode("utf-8")) > _MAX_PART
        or any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in part)
    ):
        raise InvalidKey(f"Tên “{shown_name(part)}” không dùng được làm tên tệp lưu trữ.")
    return part


def storage_key(*parts: str) -> str:
    """The key of the folders and name `parts`, each checked on its own (NFC): a part holding a separator,
    ``.``/``..``, a control character or more than 255 bytes is refused with InvalidKey."""
    return "/".join(_check_part(unicodedata.normalize("NFC", str(p)), strict=True) for p in parts)


def check_key(value: str) -> str:
    """`value` when it is a well-formed key (relative, no empty, ``.`` or ``..`` part, no NUL), else
    InvalidKey. A name as a user gave it (a file in the inbox) passes if it stays in its folder: it is
    shown escaped (models/files.shown_name), never trusted to name a new file."""
    if not value or value.startswith("/"):
        raise InvalidKey(f"Khóa lưu trữ “{shown_name(value)}” không hợp lệ.")
    for part in value.split("/"):
        _check_part(part)
    return value


class Storage:
    """Files by key over an fsspec file system rooted at `root` (a folder or ``bucket/prefix``)."""

    def __init__(self, fs: Any, root: str, url: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url.rstrip("/")
        self._locks: dict[str, threading.Lock] = {}

    @property
    def is_local(self) -> bool:
        return False

    def _path(self, k: str) -> str:
        return f"{self.root}/{check_key(k)}"

    def show(self, k: str) -> str:
        """Where the file of `k` is, as an operator finds it (a path or an ``s3://`` URL)."""
        return f"{self.url}/{check_key(k)}"

    def location(self, k: str) -> Path | str:
        """Where the file of `k` is for a person or a local tool: the local file (data dir), else its URL."""
        return self.show(k)

    def put(self, k: str, data: bytes) -> str:
        """Store `data` under `k` whole (one object put) and return `k`."""
        try:
            self.fs.pipe_file(self._path(k), bytes(data))
        except (OSError, ValueError) as exc:
            raise StorageUnavailable(f"Không ghi được tệp {shown_name(k)} vào kho lưu trữ: {exc}") from exc
        return k

    def get(self, k: str) -> bytes:
        """The bytes of `k`; FileNotFoundError (with the key as its filename) when there is none."""
        try:
            return bytes(self.fs.cat_file(self._path(k)))
        except FileNotFoundError as exc:
            raise FileNotFoundError(errno.ENOENT, "không có tệp", k) from exc

    def exists(self, k: str) -> bool:
        return bool(self.fs.isfile(self._path(k)))

    def size(self, k: str) -> int:
        try:
            return int(self.fs.size(self._path(k)))
        except FileNotFoundError as exc:
            raise FileNotFoundError(errno.ENOENT, "không có tệp", k) from exc

    def names(self, prefix: str) -> list[str]:
        """The names of the files directly under the folder `prefix` (not of sub-folders), sorted; a name
        that could not be a key part (an object written by another tool) is left out."""
        base = self._path(prefix)
        try:
            entries = self.fs.ls(base, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            if entry.get("type") != "file":
                continue
            name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            try:
                found.append(_check_part(name))
            except InvalidKey:
                continue
        return sorted(found)

    def walk(self, prefix: str) -> list[str]:
        """The keys of every file under the folder `prefix`, sub-folders included, sorted; an object whose
        name could not be a key (written by another tool) is left out."""
        base = self._path(prefix)
        try:
            paths = self.fs.find(base)
        except FileNotFoundError:
            return []
        keys = []
        for path in paths:
            k = str(path).removeprefix(self.root.split("://", 1)[-1] + "/")
            try:
                keys.append(check_key(k))
            except InvalidKey:
                continue
        return sorted(keys)

    def move(self, src: str, dst: str) -> None:
        """Move `src` to `dst` (a copy then a delete on a bucket); FileNotFoundError when `src` is gone."""
        source, target = self._path(src), self._path(dst)
        if not self.fs.isfile(source):
            raise FileNotFoundError(errno.ENOENT, "không có tệp", src)
        self.fs.copy(source, target)
        self.fs.rm_file(source)

    def delete(self, k: str) -> None:
        """Remove `k`; nothing when it is not there."""
        try:
            self.fs.rm_file(self._path(k))
        except FileNotFoundError:
            return

    def sha256(self, k: str) -> str:
        return hashlib.sha256(self.get(k)).hexdigest()

    def put_rendered(self, k: str, render: Callable[[Path], object]) -> bytes:
        """Store what `render(path)` writes to a temporary local file (document writers that take a path:
        python-docx, openpyxl, matplotlib) under `k`; the bytes are returned. The temporary file is outside
        the data directory and removed at once."""
        with tempfile.TemporaryDirectory(prefix="thidua-render-") as tmp:
            path = Path(tmp) / k.rsplit("/", 1)[-1]
            render(path)
            data = path.read_bytes()
        self.put(k, data)
        return data

    @contextmanager
    def local_copy(self, k: str) -> Iterator[Path]:
        """A temporary local file with the bytes of `k`, for a tool that needs a path; removed afterwards."""
        data = self.get(k)
        with tempfile.TemporaryDirectory(prefix="thidua-copy-") as tmp:
            path = Path(tmp) / k.rsplit("/", 1)[-1]
            path.write_bytes(data)
            yield path

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """One holder at a time of `name` in this process and on this host (a lock file in the system's
        temporary folder). A bucket has no lock of its own: across hosts the database's row locks order
        the work (PostgreSQL, as production uses)."""
        digest = hashlib.sha256(f"{self.url}\0{name}".encode()).hexdigest()[:24]
        local = self._locks.setdefault(digest, threading.Lock())
        with local, open(Path(tempfile.gettempdir()) / f"thidua-{digest}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ObjectStorage(Storage):
    """An S3-compatible bucket (s3fs)."""


class LocalStorage(Storage):
    """The data directory: atomic writes (temporary file + rename), reads never through a symbolic link."""

    def __init__(self, root: Path) -> None:
        self.base = Path(root).expanduser().resolve()
        # Every operation is overridden with the atomic, link-refusing one below, so fsspec's local file
        # system is not needed here (and read-only commands do not pay for importing it).
        super().__init__(None, str(self.base), str(self.base))

    @property
    def is_local(self) -> bool:
        return True

    def file(self, k: str) -> Path:
        """The local file of `k` (only the local storage has one)."""
        return self.base / check_key(k)

    def show(self, k: str) -> str:
        return str(self.file(k))

    def location(self, k: str) -> Path | str:
        return self.file(k)

    def put(self, k: str, data: bytes) -> str:
        write_atomic(self.file(k), bytes(data))
        return k

    def get(self, k: str) -> bytes:
        target = self.file(k)
        try:
            return read_regular_file(target)
        except FileNotFoundError as exc:
            raise FileNotFoundError(errno.ENOENT, "không có tệp", k) from exc

    def exists(self, k: str) -> bool:
        try:
            return stat.S_ISREG(self.file(k).lstat().st_mode)
        except FileNotFoundError:
            return False

    def size(self, k: str) -> int:
        try:
            return self.file(k).lstat().st_size
        except FileNotFoundError as exc:
            raise FileNotFoundError(errno.ENOENT, "không có tệp", k) from exc

    def names(self, prefix: str) -> list[str]:
        folder = self.file(prefix)
        try:
            entries = list(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        found = []
        for entry in entries:
            # lstat, not is_file(): a link is listed (and refused unread by `get`), a folder is not.
            if stat.S_ISDIR(entry.lstat().st_mode):
                continue
            try:
                found.append(_check_part(entry.name))
            except InvalidKey:
                continue
        return sorted(found)

    def walk(self, prefix: str) -> list[str]:
        keys = []
        for folder, dirs, files in os.walk(self.file(prefix)):  # links to folders are not followed
            for name in files:
                path = Path(folder) / name
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue  # a link is never copied out
                try:
                    keys.append(check_key(path.relative_to(self.base).as_posix()))
                except InvalidKey:
                    continue
            dirs.sort()
        return sorted(keys)

    def move(self, src: str, dst: str) -> None:
        source, target = self.file(src), self.file(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)  # a link is moved as a link: its target is never touched

    def delete(self, k: str) -> None:
        self.file(k).unlink(missing_ok=True)

    @contextmanager
    def local_copy(self, k: str) -> Iterator[Path]:
        self.get(k)  # refuses a link or a missing file as the bucket would
        yield self.file(k)

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        # Beside the folders units and clerks see, never in them.
        target = self.file(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        lock_file = target.parent / f".{target.name}.lock"
        with open(lock_file, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_CACHE: dict[tuple[Any, ...], Storage] = {}
_CACHE_LOCK = threading.Lock()


def storage_for(settings: Settings) -> Storage:
    """The storage named by the settings: `storage_url` when set (``s3://bucket/prefix`` or a folder),
    else the data directory. One instance per configuration in a process."""
    url = settings.storage_url.strip()
    secret = settings.storage_secret_key.get_secret_value()
    ident = (url, str(settings.data_dir), settings.storage_endpoint_url, settings.storage_access_key, secret,
             settings.storage_region)  # fmt: skip
    with _CACHE_LOCK:
        found = _CACHE.get(ident)
        if found is None:
            found = _CACHE[ident] = _open(settings, url, secret)
        return found


def _open(settings: Settings, url: str, secret: str) -> Storage:
    if not url:
        return LocalStorage(settings.data_dir)
    if url.startswith("file://"):
        return LocalStorage(Path(url.removeprefix("file://")))
    if "://" not in url:
        return LocalStorage(Path(url))
    scheme, rest = url.split("://", 1)
    if scheme not in ("s3", "s3a"):
        return _other_fsspec(url)
    bucket = rest.strip("/").split("/", 1)[0]
    if not bucket:
        raise InvalidInput("THIDUA_STORAGE_URL: thiếu tên bucket (s3://bucket/thư-mục).")
    import s3fs

    client: dict[str, Any] = {}
    if settings.storage_endpoint_url:
        client["endpoint_url"] = settings.storage_endpoint_url
    if settings.storage_region:
        client["region_name"] = settings.storage_region
    options: dict[str, Any] = {"client_kwargs": client, "skip_instance_cache": True}
    if settings.storage_access_key:
        options["key"] = settings.storage_access_key
        options["secret"] = secret
    fs = s3fs.S3FileSystem(**options)
    return ObjectStorage(fs, rest.strip("/"), f"s3://{rest.strip('/')}")


def _other_fsspec(url: str) -> Storage:
    # Any other file system fsspec knows (memory://, gcs://… when its package is installed): the same
    # interface, a put being whatever that file system makes of pipe_file.
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise InvalidInput(
            f"THIDUA_STORAGE_URL: “{shown_name(url)}” không dùng được ({exc}).",
            hint="Dùng s3://bucket/thư-mục (MinIO, Ceph, SeaweedFS, S3) hoặc một thư mục.",
        ) from exc
    return ObjectStorage(fs, str(root), url)
