"""Test hosts on one machine: network namespaces joined by a bridge, for tests of what crosses a network.

The root namespace plays the server host (PostgreSQL, the Prefect server, the object store, the SMTP server);
each `Host` is a namespace of its own with one veth leg on the bridge, its own address and nothing else: it
reaches the server host only through the bridge address, never through 127.0.0.1. PostgreSQL on this machine
listens on 127.0.0.1 only, so `relay` forwards a bridge port to it (the bytes still cross the veth link).

Each host also has a hostname of its own (a UTS namespace per process started in it, through `unshare`), so
what a process records about where it runs (`socket.gethostname()`: the outbox's claim holders) names it.

Building namespaces needs root, iproute2 (`ip`) and util-linux (`unshare`); `available()` says whether this
process can.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def available() -> str | None:
    """None when namespaces can be built here, else the reason they cannot."""
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if shutil.which("unshare") is None:
        return "util-linux (`unshare`) is not installed"
    if os.geteuid() != 0:
        return "building network namespaces needs root"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Host:
    """One test host: a network namespace with an address on the bridge."""

    name: str
    address: str
    hostname: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _inside(self, args: Sequence[str]) -> list[str]:
        """`args` run in this host's network namespace under its own hostname (every `exec` keeps the pid)."""
        named = 'hostname "$0" && exec "$@"'
        return ["ip", "netns", "exec", self.name, "unshare", "--uts", "sh", "-c", named, self.hostname, *args]

    def popen(
        self, args: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> subprocess.Popen[bytes]:
        """Start `args` inside this host, in its own process group, output appended to `log`."""
        with log.open("ab") as sink:
            child = subprocess.Popen(
                self._inside(args),
                env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.processes.append(child)
        return child

    def run(self, args: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 300) -> str:
        """Run `args` inside this host to completion; its output, or an AssertionError with it."""
        done = subprocess.run(
            self._inside(args),
            env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        command = " ".join(args)
        assert done.returncode == 0, f"{self.name}: {command} → {done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout

    def stop(self) -> None:
        for child in self.processes:
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for child in self.processes:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


@dataclass
class Network:
    """A bridge in the root namespace (the server host's address) and the hosts attached to it."""

    tag: str
    subnet: str  # the first three octets, e.g. "10.231.7"
    hosts: list[Host] = field(default_factory=list)
    _relays: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"tdbr{self.tag}"

    @property
    def server_address(self) -> str:
        return f"{self.subnet}.1"

    def add_host(self, label: str) -> Host:
        index = len(self.hosts) + 1
        name = f"td{self.tag}{label}"
        outside, inside = f"tdv{self.tag}{index}", f"tdh{self.tag}{index}"
        address = f"{self.subnet}.{10 + index}"
        _ip("netns", "add", name)
        host = Host(name, address, f"thidua-{label}")
        self.hosts.append(host)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        return host

    def relay(self, port: int, target: tuple[str, int]) -> None:
        """Accept connections on the server address's `port` and pipe them to `target` (127.0.0.1:5432)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while chunk := await reader.read(65536):
                    writer.write(chunk)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection(*target)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        async def serve() -> None:
            await asyncio.start_server(handle, self.server_address, port)
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            loop.run_forever()

        thread = threading.Thread(target=run, name=f"relay-{port}", daemon=True)
        thread.start()
        assert ready.wait(10), f"the relay on {self.server_address}:{port} did not start"
        self._relays.append((loop, thread))

    def close(self) -> None:
        for host in self.hosts:
            host.stop()
        for loop, thread in self._relays:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
        for index, host in enumerate(self.hosts, start=1):
            subprocess.run(["ip", "link", "del", f"tdv{self.tag}{index}"], capture_output=True)
            subprocess.run(["ip", "netns", "del", host.name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


#: How many bridges (and so subnets 10.231.1-250) can exist at once on the machine: one per running test.
_SLOTS = 250


def _claim_bridge() -> Network:
    """A new bridge whose slot no other test holds: the name is claimed by creating the link, which the
    kernel refuses when it exists, so two pytest-xdist workers (or two runs on one machine) never get the same
    bridge, namespace names or subnet, whatever their process ids."""
    first = os.getpid() % _SLOTS
    for step in range(_SLOTS):
        slot = (first + step) % _SLOTS
        net = Network(f"{slot:04d}", f"10.231.{slot + 1}")
        done = subprocess.run(
            ["ip", "link", "add", net.bridge, "type", "bridge"], capture_output=True, text=True
        )
        if done.returncode == 0:
            return net
        if "exists" not in done.stderr:
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    raise RuntimeError(f"every one of the {_SLOTS} test bridges (tdbr0000…) is in use")


@contextmanager
def network() -> Iterator[Network]:
    """A fresh bridge with a subnet of its own; torn down, with every host and process, on exit."""
    net = _claim_bridge()
    try:
        _ip("addr", "add", f"{net.server_address}/24", "dev", net.bridge)
        _ip("link", "set", net.bridge, "up")
        yield net
    finally:
        net.close()
