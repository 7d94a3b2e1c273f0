"""The storage interface on both backends: the data directory and a real S3-compatible server (SeaweedFS)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from thidua.models.files import NotARegularFile
from thidua.models.settings import Settings
from thidua.models.storage import InvalidKey, LocalStorage, ObjectStorage, Storage, storage_for
from thidua.models.storage import storage_key as key


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return storage_for(Settings(data_dir=tmp_path / "data", database_url="sqlite://"))
    server = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    return storage_for(
        Settings(data_dir=tmp_path / "data", database_url="sqlite://", **server.settings_overrides(bucket))
    )


def test_the_settings_choose_the_backend(tmp_path: Path, s3_server: Any) -> None:
    local = storage_for(Settings(data_dir=tmp_path / "d", database_url="sqlite://"))
    assert isinstance(local, LocalStorage) and local.base == (tmp_path / "d").resolve()
    remote = storage_for(
        Settings(
            data_dir=tmp_path / "d", database_url="sqlite://", **s3_server.settings_overrides("b", "p/q")
        )
    )
    assert isinstance(remote, ObjectStorage) and remote.show("x/y.docx") == "s3://b/p/q/x/y.docx"


def test_put_get_exists_size_and_names(store: Storage) -> None:
    k = key("documents", "TQ-2024", "Kế hoạch số 05.docx")
    assert not store.exists(k)
    assert store.put(k, b"PK first") == k
    assert store.put(k, b"PK second version") == k
    assert store.get(k) == b"PK second version"
    assert store.exists(k) and store.size(k) == len(b"PK second version")
    store.put(key("documents", "TQ-2024", "a.xlsx"), b"x")
    store.put(key("documents", "TQ-2024", "sub", "b.xlsx"), b"y")
    # Files only, sorted, sub-folders left out; NFC names come back as they were stored.
    assert store.names("documents/TQ-2024") == sorted(["a.xlsx", "Kế hoạch số 05.docx"])
    assert store.names("documents/none") == []
    assert store.sha256(k) == __import__("hashlib").sha256(b"PK second version").hexdigest()


def test_a_missing_key_is_file_not_found_with_the_key(store: Storage) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        store.get("documents/không có.docx")
    assert caught.value.filename == "documents/không có.docx"
    with pytest.raises(FileNotFoundError):
        store.move("inbox/X/gone.xlsx", "inbox/X/processed/gone.xlsx")


def test_move_and_delete(store: Storage) -> None:
    store.put("inbox/TQ/a.xlsx", b"report")
    store.move("inbox/TQ/a.xlsx", "inbox/TQ/processed/a.xlsx")
    assert not store.exists("inbox/TQ/a.xlsx")
    assert store.get("inbox/TQ/processed/a.xlsx") == b"report"
    assert store.names("inbox/TQ") == []
    store.delete("inbox/TQ/processed/a.xlsx")
    store.delete("inbox/TQ/processed/a.xlsx")  # twice: nothing to do
    assert not store.exists("inbox/TQ/processed/a.xlsx")


def test_rendered_documents_and_local_copies(store: Storage, tmp_path: Path) -> None:
    def render(path: Path) -> Path:
        path.write_bytes(b"%PDF-1.4 rendered")
        return path

    assert store.put_rendered("documents/C/cert.pdf", render) == b"%PDF-1.4 rendered"
    assert store.get("documents/C/cert.pdf") == b"%PDF-1.4 rendered"
    with store.local_copy("documents/C/cert.pdf") as path:
        assert path.read_bytes() == b"%PDF-1.4 rendered"


@pytest.mark.parametrize(
    "bad",
    ["..", ".", "", "a/b", "a\\b", "x\x00y", "evil\u202exslx.exe", "line\nbreak", "é" * 200],
)
def test_key_parts_from_users_are_refused(bad: str) -> None:
    with pytest.raises(InvalidKey):
        key("dossiers", bad)


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "documents/../../x", "a//b", "a/./b"])
def test_no_key_leads_outside_the_storage(store: Storage, bad: str, tmp_path: Path) -> None:
    for action in (
        lambda: store.put(bad, b"x"),
        lambda: store.get(bad),
        lambda: store.move("inbox/a.xlsx", bad),
        lambda: store.names(bad),
    ):
        with pytest.raises(InvalidKey):
            action()
    assert not (tmp_path / "x").exists() and not (tmp_path / "etc").exists()


def test_the_local_storage_never_reads_through_a_link(tmp_path: Path) -> None:
    store = storage_for(Settings(data_dir=tmp_path / "data", database_url="sqlite://"))
    assert isinstance(store, LocalStorage)
    secret = tmp_path / "secret.txt"
    secret.write_text("mật khẩu")
    store.put("inbox/TQ/real.xlsx", b"r")
    os.symlink(secret, store.file("inbox/TQ/link.xlsx"))
    assert store.names("inbox/TQ") == ["link.xlsx", "real.xlsx"]  # listed, so it can be moved aside
    with pytest.raises(NotARegularFile):
        store.get("inbox/TQ/link.xlsx")
    store.move("inbox/TQ/link.xlsx", "inbox/TQ/rejected/link.xlsx")
    assert store.file("inbox/TQ/rejected/link.xlsx").is_symlink() and secret.read_text() == "mật khẩu"


def test_local_writes_are_atomic_and_leave_no_temporary_file(tmp_path: Path) -> None:
    store = storage_for(Settings(data_dir=tmp_path / "data", database_url="sqlite://"))
    assert isinstance(store, LocalStorage)
    big = os.urandom(1 << 20)
    seen: list[bytes] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                seen.append(store.get("documents/big.bin"))
            except FileNotFoundError:
                continue

    store.put("documents/big.bin", b"0" * len(big))
    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(20):
        store.put("documents/big.bin", big)
        store.put("documents/big.bin", b"0" * len(big))
    done.set()
    thread.join()
    assert seen and all(data in (big, b"0" * len(big)) for data in seen)
    assert sorted(p.name for p in store.file("documents").iterdir()) == ["big.bin"]


def test_the_lock_lets_one_holder_in_at_a_time(store: Storage) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with store.lock("inbox/TQ"):
            with guard:
                inside += 1
                most = max(most, inside)
            threading.Event().wait(0.02)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1


def test_objects_put_by_other_tools_with_traversing_names_are_never_listed(
    tmp_path: Path, s3_server: Any, s3_bucket: str
) -> None:
    store = storage_for(
        Settings(data_dir=tmp_path, database_url="sqlite://", **s3_server.settings_overrides(s3_bucket, "p"))
    )
    raw = s3_server.filesystem()
    raw.pipe_file(f"{s3_bucket}/p/inbox/X/ok.xlsx", b"ok")
    for name in ("..", "../../escape.xlsx", "sub/inner.xlsx"):
        try:
            raw.pipe_file(f"{s3_bucket}/p/inbox/X/{name}", b"bad")
        except (OSError, ValueError):
            continue  # the server refused the name itself: nothing to list either
    assert store.names("inbox/X") == ["ok.xlsx"]
    with pytest.raises(InvalidKey):
        store.get("inbox/X/../../escape.xlsx")
    assert not list(tmp_path.iterdir())


def test_an_unknown_storage_url_is_refused_in_vietnamese(tmp_path: Path) -> None:
    from thidua.errors import InvalidInput

    with pytest.raises(InvalidInput, match="THIDUA_STORAGE_URL") as caught:
        storage_for(Settings(data_dir=tmp_path, database_url="sqlite://", storage_url="khongco://x/y"))
    assert "s3://" in str(caught.value)
    folder = storage_for(
        Settings(data_dir=tmp_path, database_url="sqlite://", storage_url=str(tmp_path / "kho"))
    )
    assert isinstance(folder, LocalStorage) and folder.base == (tmp_path / "kho").resolve()
