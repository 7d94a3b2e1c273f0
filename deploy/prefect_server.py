"""Prefect's local server, started by `thidua` itself: a warm shared one, or one that lives with its command.

Two ways, chosen by THIDUA_ENGINE_IDLE_SECONDS (deploy/local_engine.py decides and keeps the books):

- **warm** (> 0, the default): `start_detached_server` starts a server in its own session that outlives the
  command; later commands find it through `<PREFECT_HOME>/engine.json` and reuse it. It stops itself once no
  `thidua` process has used it for the idle time (the child's idle watch, `_watch_clients`);
- **per command** (0): `start_local_server` starts the server as a child that is gone when its command is
  gone, as described below.

Per command: Prefect starts its own local ("ephemeral") server for a process without PREFECT_API_URL, but a
parent killed with SIGKILL leaves that server running (~195 MB each). `start_local_server` starts the same
server (Prefect's app under uvicorn, UI off, ephemeral mode) itself:

- the parent binds the listening socket (127.0.0.1, a free port) and hands it over, so there is no race for
  the port, and waits for ``/api/health`` up to the startup timeout;
- the child holds the read end of a pipe whose only write end stays in the parent: when the parent dies,
  however it dies, the kernel closes that end and the child's watchdog thread reads end-of-file and stops
  the server (SIGTERM to itself, a hard exit if the shutdown hangs); it also checks that its parent is
  still its parent, and the child runs in its own session so a Ctrl-C at the terminal reaches the command
  only;
- at a normal exit the parent stops the child itself (atexit).

The child side is `main`, run as ``python -m thidua.deploy.prefect_server READ_FD SOCKET_FD PARENT_PID``
(per command) or ``python -m thidua.deploy.prefect_server --detached HOME SOCKET_FD IDLE_SECONDS`` (warm).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thidua.errors import Unavailable

# The server's own log (uvicorn and start-up errors); Prefect's run logs go where prefect_logging.yml says.
SERVER_LOG = "local-server.log"
_POLL_SECONDS = 0.1
_WATCH_SECONDS = 1.0  # how often the watchdog also compares its parent's pid
_SHUTDOWN_GRACE_SECONDS = 10.0  # a graceful stop that takes longer ends in a hard exit
_MODULE = "thidua.deploy.prefect_server"
_SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
# Files of the warm server in PREFECT_HOME (deploy/local_engine.py reads and writes them too).
CLIENTS_LOCK = "engine-clients.lock"  # every process using the warm server holds a shared lock on it
ENGINE_FILE = "engine.json"  # where the warm server listens: port, pid, versions
_IDLE_CHECK_SECONDS = 5.0


class LocalServerUnavailable(Unavailable):
    """Prefect's local server did not start (or stopped while starting)."""


@dataclass
class LocalServer:
    """A running local server: its process, its address, and the pipe end that keeps it alive."""

    process: subprocess.Popen[bytes]
    port: int
    lifeline: int  # write end of the pipe; closing it (or dying) stops the server

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def stop(self) -> None:
        """Stop the server and wait for it (at a normal exit of the parent)."""
        if self.lifeline >= 0:
            # Once only: a second close could hit a descriptor the number was given to since.
            os.close(self.lifeline)
            self.lifeline = -1
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_SHUTDOWN_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _listen(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1: `port` when it is free (a replacement keeps its predecessor's address,
    so processes already pointed at it carry on), else any free port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the old server's TIME_WAIT connections
    try:
        listener.bind(("127.0.0.1", port))
    except OSError:
        if not port:
            listener.close()
            raise
        listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener


def _server_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | _SERVER_ENV


def start_local_server(home: Path, timeout: float) -> LocalServer:
    """Start the server as a child of this process and wait until it answers (at most `timeout` seconds)."""
    listener = _listen(0)
    port = int(listener.getsockname()[1])
    read_end, lifeline = os.pipe()  # both non-inheritable: only the child started here gets the read end
    try:
        with (home / SERVER_LOG).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", _MODULE, str(read_end), str(listener.fileno()), str(os.getpid())],
                env=_server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(read_end, listener.fileno()),
                start_new_session=True,
            )
    except BaseException:
        os.close(lifeline)
        raise
    finally:
        os.close(read_end)
        listener.close()  # the child holds the socket now
    server = LocalServer(process, port, lifeline)
    atexit.register(server.stop)
    try:
        _wait_until_healthy(server.process, server.api_url, home, timeout)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass
class DetachedServer:
    """A warm server just started by this process: it outlives the process (its own session, no lifeline)."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"


def start_detached_server(
    home: Path,
    timeout: float,
    idle_seconds: float,
    port: int = 0,
    on_spawn: Callable[[int, int], None] | None = None,
) -> DetachedServer:
    """Start a warm server (on `port` if free) and wait until it answers (at most `timeout` seconds).

    It stops itself once no process has held a shared lock on `<home>/engine-clients.lock` for
    `idle_seconds`; the caller takes that lock before calling, so the server cannot idle out while it starts.
    `on_spawn(pid, port)` runs as soon as the process exists, before the wait: the caller records it there, so
    a server whose starter is killed while waiting is found (and replaced) by the next command.
    """
    listener = _listen(port)
    bound = int(listener.getsockname()[1])
    try:
        with (home / SERVER_LOG).open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    _MODULE,
                    "--detached",
                    str(home),
                    str(listener.fileno()),
                    f"{idle_seconds:g}",
                ],
                env=_server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(listener.fileno(),),
                start_new_session=True,  # neither a Ctrl-C nor the command's end reaches it
            )
    finally:
        listener.close()
    server = DetachedServer(process, bound)
    try:
        if on_spawn is not None:
            on_spawn(process.pid, bound)
        _wait_until_healthy(process, server.api_url, home, timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return server


def answers(api_url: str, timeout: float = 5.0) -> bool:
    """Whether a Prefect server answers its health check at `api_url` (never through a proxy)."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never via a proxy
    try:
        with direct.open(f"{api_url}/health", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_healthy(process: subprocess.Popen[bytes], api_url: str, home: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalServerUnavailable(
                f"Máy chủ Prefect cục bộ dừng khi đang khởi động (mã {process.returncode}); "
                f"xem {home / SERVER_LOG}, hoặc đặt PREFECT_API_URL trỏ tới một máy chủ Prefect đang chạy."
            )
        if answers(api_url):
            return
        time.sleep(_POLL_SECONDS)  # not accepting yet (the first start migrates its database)
    raise LocalServerUnavailable(
        f"Máy chủ Prefect cục bộ không sẵn sàng sau {timeout:g} giây; xem {home / SERVER_LOG}, hoặc đặt "
        "PREFECT_API_URL trỏ tới một máy chủ Prefect đang chạy."
    )


# ---------------------------------------------------------------- the child


def _watch_parent(read_end: int, parent: int) -> None:
    """Stop this server when the parent is gone: end-of-file on the pipe, or a new parent pid."""
    import select

    while os.getppid() == parent:
        ready, _, _ = select.select([read_end], [], [], _WATCH_SECONDS)
        if ready and not os.read(read_end, 1):
            break
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down gracefully (or, still starting, just ends)
    time.sleep(_SHUTDOWN_GRACE_SECONDS)
    os._exit(0)


def _watch_clients(home: Path, idle_seconds: float) -> None:
    """Stop this warm server once no process has used it for `idle_seconds`.

    Users hold a shared lock on the clients file for as long as they run; an exclusive lock that can be taken
    at once means nobody does. Once idle, the server keeps that exclusive lock until it has exited: a command
    arriving meanwhile waits for the lock, then finds no engine file and starts a new server (on the freed
    port). The engine file is removed first, and only if it still names this process."""
    import fcntl

    fd = os.open(home / CLIENTS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    last_used = time.monotonic()
    check = min(_IDLE_CHECK_SECONDS, max(idle_seconds / 4, 0.5))
    while True:
        time.sleep(check)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            last_used = time.monotonic()
            continue
        if time.monotonic() - last_used >= idle_seconds:
            break
        fcntl.flock(fd, fcntl.LOCK_UN)
    _forget(home / ENGINE_FILE, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down gracefully
    time.sleep(_SHUTDOWN_GRACE_SECONDS)
    os._exit(0)


def _forget(record: Path, pid: int) -> None:
    import json

    try:
        if json.loads(record.read_text()).get("pid") == pid:
            record.unlink()
    except (OSError, ValueError):
        pass  # already gone, or replaced by a newer server's file: not ours to remove


def _serve(socket_fd: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        "prefect.server.api.server:create_app", factory=True, log_level="error", lifespan="on"
    )
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=socket_fd)])


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--detached":
        home, socket_fd, idle = Path(argv[1]), int(argv[2]), float(argv[3])
        threading.Thread(target=_watch_clients, args=(home, idle), daemon=True, name="idle-watch").start()
        try:
            _serve(socket_fd)
        finally:
            _forget(home / ENGINE_FILE, os.getpid())
        return
    read_end, socket_fd, parent = (int(a) for a in argv)
    threading.Thread(target=_watch_parent, args=(read_end, parent), daemon=True, name="parent-watch").start()
    _serve(socket_fd)


if __name__ == "__main__":
    main(sys.argv[1:])
