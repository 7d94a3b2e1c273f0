"""Benchmark: the outbox dispatcher against plain smtplib on one connection, same SMTP server, same run.

    python bench/bench_dispatch.py [--count 10000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                   [--no-sqlite] [--rounds 3] [--profile]

1. Starts a local aiosmtpd server on 127.0.0.1 (in a child process, so the server's work does not compete with
   the measured side for the GIL) that counts connections and accepted messages; it stops with the bench.
2. SQLite: a fresh migrated database; `enqueue_many` queues `--count` reminder-sized emails (Vietnamese text +
   HTML, no attachment), rendering each one as the outbox does (timed apart, not in the ratio). Then times
   (a) the project: `dispatch()` with the real `SmtpTransport` (yagmail) until the outbox is empty, against
   (b) the floor: the very bytes the dispatcher sends (rendered message + From, Date, Message-ID; prepared
   beforehand, not timed) sent with `smtplib.SMTP.sendmail` over ONE connection.
3. PostgreSQL (with --pg, an admin URL): the same in a throwaway database created and dropped here.

Each backend runs `--rounds` rounds (default 3): the project, then right after it the floor, the outbox being
set back to pending between rounds (not timed). The machine's other load moves both sides of a round alike,
so the ratio printed is the median of the rounds' ratios. Prints throughputs (medians, messages/s), the
ratio project ÷ floor (goal ≥ 0.8) and the SMTP connections and messages the server saw per round; then,
for reference, the floor this bench used before the outbox stored rendered bytes (`send_message` of MIME
objects built beforehand, which serialises each one in the loop). `--profile` runs the first round's project
side under cProfile and writes the top functions to bench/out/profile-dispatch-<backend>.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import multiprocessing as mp
import os
import pstats
import shutil
import smtplib
import socket
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, make_url, select, update  # noqa: E402
from sqlalchemy.engine import RowMapping  # noqa: E402

from thidua.models.db import make_engine, transaction, upgrade  # noqa: E402
from thidua.models.outbox import OutboxStatus  # noqa: E402
from thidua.models.settings import Settings  # noqa: E402
from thidua.models.storage import storage_for  # noqa: E402
from thidua.notifications.message import EmailMessage, assemble, build_mime, envelope_prefix  # noqa: E402
from thidua.notifications.outbox import (  # noqa: E402
    OUTBOX,
    dispatch,
    enqueue_many,
    message_id_for,
    row_message,
)
from thidua.notifications.transports import SmtpTransport  # noqa: E402

OUT = ROOT / "bench" / "out"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 3, 11, 8, 0, tzinfo=VN)
FROM = "thidua@thads.tuyenquang.gov.vn"


# ---------------------------------------------------------------- the SMTP server (child process)


def _serve(
    port: int, connections: Synchronized[int], messages: Synchronized[int], ready: Any, stop: Any
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with messages.get_lock():
                messages.value += 1
            return "250 Message accepted for delivery"

    class CountingSMTP(SMTP):
        def connection_made(self, transport: Any) -> None:
            with connections.get_lock():
                connections.value += 1
            super().connection_made(transport)

    class CountingController(Controller):
        def factory(self) -> SMTP:
            return CountingSMTP(self.handler, **self.SMTP_kwargs)

    controller = CountingController(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    # Bounded: the bench sets `stop`; a bench that died leaves the server at most an hour.
    stop.wait(3600)
    controller.stop()


class SmtpServer:
    """A loopback aiosmtpd in a child process; `connections` and `messages` are read across processes."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        ctx = mp.get_context("spawn")
        self._connections = ctx.Value("i", 0)
        self._messages = ctx.Value("i", 0)
        self._ready = ctx.Event()
        self._stop = ctx.Event()
        self._process = ctx.Process(
            target=_serve,
            args=(self.port, self._connections, self._messages, self._ready, self._stop),
            daemon=True,
        )

    def __enter__(self) -> SmtpServer:
        self._process.start()
        if not self._ready.wait(60):
            self._process.kill()
            raise RuntimeError("the aiosmtpd server did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()

    def counts(self) -> tuple[int, int]:
        return int(self._connections.value), int(self._messages.value)


# ---------------------------------------------------------------- one backend


@dataclass
class Round:
    project: float
    floor: float
    project_connections: int
    floor_connections: int
    project_received: int
    floor_received: int

    def ratio(self, count: int) -> float:
        return (count / self.project) / (count / self.floor)


@dataclass
class Timing:
    backend: str
    count: int
    enqueue: float
    rounds: list[Round]
    objects_floor: float

    @property
    def ratio(self) -> float:
        return statistics.median(r.ratio(self.count) for r in self.rounds)

    @property
    def complete(self) -> bool:
        return all(r.project_received == self.count == r.floor_received for r in self.rounds)

    def lines(self) -> list[str]:
        n = self.count
        project = statistics.median(r.project for r in self.rounds)
        floor = statistics.median(r.floor for r in self.rounds)
        p_conn = max(r.project_connections for r in self.rounds)
        f_conn = max(r.floor_connections for r in self.rounds)
        p_recv = min(r.project_received for r in self.rounds)
        f_recv = min(r.floor_received for r in self.rounds)
        of = n / self.objects_floor
        out = [
            f"{self.backend}:",
            f"  enqueue  enqueue_many, rendering each  {self.enqueue:6.2f} s  (not in the ratio)",
        ]
        for i, r in enumerate(self.rounds, 1):
            out.append(
                f"  round {i}  dispatch {r.project:6.2f} s, smtplib {r.floor:6.2f} s: {r.ratio(n):.2f}"
            )
        out += [
            f"  project  dispatch() + SmtpTransport  {project:6.2f} s  {n / project:7.0f} msg/s  "
            f"{p_conn} SMTP connection(s), {p_recv} received",
            f"  floor    smtplib sendmail, same bytes {floor:6.2f} s  {n / floor:7.0f} msg/s  "
            f"{f_conn} SMTP connection(s), {f_recv} received",
            f"  ratio    {self.ratio:.2f} of the floor's throughput (goal ≥ 0.8; median of "
            f"{len(self.rounds)} round(s))",
            f"  before   smtplib send_message of MIME objects {self.objects_floor:6.2f} s  {of:7.0f} msg/s  "
            f"(the earlier floor; median project ÷ this {n / project / of:.2f})",
        ]
        return out


def reminder_rows(count: int) -> list[dict[str, Any]]:
    """Reminder-sized emails, one per (unit, step): what a sweep queues."""
    text = (
        "Kính gửi: Chi cục Thi hành án dân sự huyện {i}\n\n"
        "Hạn gửi báo cáo thi đua kỳ Quý I/2024 là ngày 15/03/2024 (còn 4 ngày làm việc).\n"
        "Đơn vị chưa gửi báo cáo. Đề nghị đơn vị hoàn thành mẫu báo cáo và gửi trước thời hạn.\n\n"
        "Trân trọng,\nCục Thi hành án dân sự tỉnh Tuyên Quang\n"
    )
    html = (
        "<p>Kính gửi: <b>Chi cục Thi hành án dân sự huyện {i}</b></p>"
        "<p>Hạn gửi báo cáo thi đua kỳ <b>Quý I/2024</b> là ngày <b>15/03/2024</b> "
        "(còn 4 ngày làm việc).</p><p>Đơn vị chưa gửi báo cáo.</p><p>Trân trọng,</p>"
    )
    return [
        {
            "dedupe_key": f"remind:BENCH:Q1:unit{i}:before-4",
            "kind": "reminder",
            "recipient": f"unit{i}@thads.tuyenquang.gov.vn",
            "recipient_name": f"Chi cục Thi hành án dân sự huyện {i}",
            "subject": "[Thi đua] Nhắc hạn báo cáo kỳ Quý I/2024: còn 4 ngày làm việc",
            "text": text.format(i=i),
            "html": html.format(i=i),
            "reply_to": "thiduakhenthuong@thads.tuyenquang.gov.vn",
        }
        for i in range(count)
    ]


def bench_settings(work: Path, url: str, server: SmtpServer) -> Settings:
    return Settings(
        data_dir=work,
        database_url=url,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_security="none",
        mail_from=FROM,
        mail_rate_per_second=0,
    )


def outbox_rows(engine: Engine) -> list[RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(select(OUTBOX).order_by(OUTBOX.c.id)).mappings())


def message_from_row(row: RowMapping, settings: Settings, from_addr: str) -> EmailMessage:
    """The plain message of a row, attachments read from the storage, with the row's Message-ID."""
    return row_message(row, storage_for(settings), row["message_id"] or message_id_for(row, from_addr))


def floor_messages(rows: list[RowMapping], settings: Settings) -> list[MimeMessage]:
    """MIME objects built from the same rows (outside any timing), for the earlier floor."""
    return [
        build_mime(message_from_row(row, settings, FROM), FROM, settings.mail_from_name, now=NOW)
        for row in rows
    ]


def floor_bytes(rows: list[RowMapping], settings: Settings) -> list[tuple[str, bytes]]:
    """(recipient, bytes) exactly as the dispatcher sends them: stored rendering + From, Date, Message-ID."""
    prefix = envelope_prefix(FROM, settings.mail_from_name, now=NOW.astimezone(settings.tz))
    return [(str(row["recipient"]), assemble(prefix, message_id_for(row, FROM), row["mime"])) for row in rows]


def profiled(call: Any, backend: str) -> Any:
    """Run `call()` under cProfile; the top functions go to bench/out/profile-dispatch-<backend>.txt."""
    profile = cProfile.Profile()
    result = profile.runcall(call)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    for key in ("tottime", "cumulative"):
        stats.sort_stats(key).print_stats(30)
    path = OUT / f"profile-dispatch-{backend.lower()}.txt"
    path.write_text(out.getvalue(), encoding="utf-8")
    print(f"  cProfile of the project side: {path}", flush=True)
    return result


def requeue(engine: Engine) -> None:
    """Every row pending again, as if just queued (the stored rendering is kept): the next round's input."""
    with engine.begin() as conn:
        conn.execute(
            update(OUTBOX).values(
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=None,
                lease_until=None,
                claimed_by=None,
                sent_at=None,
                message_id=None,
                last_error=None,
            )
        )
    tidy(engine)


def tidy(engine: Engine) -> None:
    """What autovacuum does between two real dispatch runs: without it, each round on PostgreSQL would
    start on the previous rounds' dead row versions (and the first on a table without statistics)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE outbox_message")


def one_round(
    engine: Engine,
    settings: Settings,
    server: SmtpServer,
    wire: list[tuple[str, bytes]],
    count: int,
    profile: str | None,
) -> Round:
    def project_side() -> Any:
        return dispatch(
            engine,
            settings,
            worker_id="bench",
            transport=SmtpTransport(settings),
            max_batches=math.ceil(count / settings.mail_batch_size) + 1,
        )

    conns0, msgs0 = server.counts()
    start = time.perf_counter()
    result = profiled(project_side, profile) if profile else project_side()
    project = time.perf_counter() - start
    conns1, msgs1 = server.counts()
    assert result.sent == count, result
    with engine.connect() as conn:
        left = conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.status != OutboxStatus.SENT).limit(1)).first()
    assert left is None, "the dispatcher left unsent rows"

    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        for recipient, data in wire:
            smtp.sendmail(FROM, [recipient], data)
    floor = time.perf_counter() - start
    conns2, msgs2 = server.counts()
    return Round(project, floor, conns1 - conns0, conns2 - conns1, msgs1 - msgs0, msgs2 - msgs1)


def run_backend(
    backend: str, url: str, work: Path, server: SmtpServer, count: int, *, rounds: int, profile: bool
) -> Timing:
    engine = make_engine(url)
    try:
        upgrade(engine)
        start = time.perf_counter()
        with transaction(engine) as s:
            queued = enqueue_many(s, reminder_rows(count), NOW)
        enqueue = time.perf_counter() - start
        assert queued == count, queued
        settings = bench_settings(work, url, server)
        rows = outbox_rows(engine)
        assert all(row["mime"] for row in rows), "enqueue_many did not render the messages"
        wire = floor_bytes(rows, settings)
        tidy(engine)
        measured = []
        for i in range(rounds):
            if i:
                requeue(engine)
            measured.append(
                one_round(engine, settings, server, wire, count, backend if profile and i == 0 else None)
            )
    finally:
        engine.dispose()

    # Not the floor: the one used before the outbox stored rendered bytes (serialising MIME in the loop).
    mimes = floor_messages(rows, settings)
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        for mime in mimes:
            smtp.send_message(mime, from_addr=FROM, to_addrs=[str(mime["To"].addresses[0].addr_spec)])
    objects_floor = time.perf_counter() - start
    return Timing(backend, count, enqueue, measured, objects_floor)


def bench_sqlite(server: SmtpServer, count: int, *, rounds: int = 1, profile: bool = False) -> Timing:
    work = OUT / f"dispatch-sqlite-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        url = f"sqlite:///{work / 'thidua.db'}"
        return run_backend("SQLite", url, work, server, count, rounds=rounds, profile=profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_postgres(
    server: SmtpServer, count: int, admin_url: str, *, rounds: int = 1, profile: bool = False
) -> Timing:
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"thidua_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    work = OUT / f"dispatch-pg-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run_backend("PostgreSQL", url, work, server, count, rounds=rounds, profile=profile)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000, help="emails to dispatch")
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL admin URL (a throwaway database is created)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--rounds", type=int, default=3, help="project/floor pairs per backend (median)")
    parser.add_argument(
        "--profile", action="store_true", help="run the first round's project side under cProfile"
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.rounds < 1:
        parser.error("--count and --rounds must be at least 1")

    OUT.mkdir(parents=True, exist_ok=True)
    results: list[Timing] = []
    with SmtpServer() as server:
        print(f"aiosmtpd on 127.0.0.1:{server.port}; {args.count:,} emails per side", flush=True)
        if not args.no_sqlite:
            results.append(bench_sqlite(server, args.count, rounds=args.rounds, profile=args.profile))
            print("\n".join(results[-1].lines()), flush=True)
        if args.pg:
            results.append(
                bench_postgres(server, args.count, args.pg, rounds=args.rounds, profile=args.profile)
            )
            print("\n".join(results[-1].lines()), flush=True)
    lost = [t.backend for t in results if not t.complete]
    if lost:
        print(f"WARNING: the server did not receive every message ({', '.join(lost)})")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
