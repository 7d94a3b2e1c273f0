"""Prefect's local server as a child of the `thidua` process that needs it, gone when that process is gone.

Prefect starts its own local ("ephemeral") server for a process without PREFECT_API_URL, but a parent killed
with SIGKILL leaves that server running (~195 MB each). `start_local_server` starts the same server
(Prefect's app under uvicorn, UI off, ephemeral mode) itself:

- the parent binds the listening socket (127.0.0.1, a free port) and hands it over, so there is no race for
  the port, and waits for ``/api/health`` up to the startup timeout;
- the child holds the read end of a pipe whose only write end stays in the parent: when the parent dies,
  however it dies, the kernel closes that end and the child's watchdog thread reads end-of-file and stops
  the server (SIGTERM to itself, a hard exit if the shutdown hangs); it also checks that its parent is
  still its parent, and the child runs in its own session so a Ctrl-C at the terminal reaches the command
  only;
- at a normal exit the parent stops the child itself (atexit).

The child side is `main`, run as ``python -m thidua.deploy.prefect_server READ_FD SOCKET_FD PARENT_PID``.
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


def start_local_server(home: Path, timeout: float) -> LocalServer:
    """Start the server as a child of this process and wait until it answers (at most `timeout` seconds)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = int(listener.getsockname()[1])
    read_end, lifeline = os.pipe()  # both non-inheritable: only the child started here gets the read end
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | _SERVER_ENV
    try:
        with (home / SERVER_LOG).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", _MODULE, str(read_end), str(listener.fileno()), str(os.getpid())],
                env=env,
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
        _wait_until_healthy(server, home, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_healthy(server: LocalServer, home: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never via a proxy
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise LocalServerUnavailable(
                f"Máy chủ Prefect cục bộ dừng khi đang khởi động (mã {server.process.returncode}); "
                f"xem {home / SERVER_LOG}, hoặc đặt PREFECT_API_URL trỏ tới một máy chủ Prefect đang chạy."
            )
        try:
            with direct.open(f"{server.api_url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not accepting yet (the first start migrates its database)
        time.sleep(_POLL_SECONDS)
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


def main(argv: list[str]) -> None:
    read_end, socket_fd, parent = (int(a) for a in argv)
    threading.Thread(target=_watch_parent, args=(read_end, parent), daemon=True, name="parent-watch").start()
    import uvicorn

    config = uvicorn.Config(
        "prefect.server.api.server:create_app", factory=True, log_level="error", lifespan="on"
    )
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=socket_fd)])


if __name__ == "__main__":
    main(sys.argv[1:])
