"""Benchmark: the outbox dispatcher against plain smtplib on one connection, same SMTP server, same run.

    python bench/bench_dispatch.py [--count 10000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

1. Starts a local aiosmtpd server on 127.0.0.1 (in a child process, so the server's work does not compete with
   the measured side for the GIL) that counts connections and accepted messages; it stops with the bench.
2. SQLite: a fresh migrated database; `enqueue_many` queues `--count` reminder-sized emails (Vietnamese text +
   HTML, no attachment; not timed). Then times (a) the project: `dispatch()` with the real `SmtpTransport`
   (yagmail) until the outbox is empty, against (b) the floor: the same MIME messages (built beforehand, not
   timed) sent with `smtplib.SMTP.send_message` over ONE connection.
3. PostgreSQL (with --pg, an admin URL): the same in a throwaway database created and dropped here.

Prints throughputs (messages/s), the ratio project ÷ floor (goal ≥ 0.8) and the SMTP connections the server
saw for each side; then, for the profile, smtplib building each MIME in the loop (as the dispatcher does).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import shutil
import smtplib
import socket
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

from sqlalchemy import Engine, make_url, select  # noqa: E402
from sqlalchemy.engine import RowMapping  # noqa: E402

from models.db import make_engine, transaction, upgrade  # noqa: E402
from models.outbox import OutboxStatus  # noqa: E402
from models.settings import Settings  # noqa: E402
from notifications.message import build_mime  # noqa: E402
from notifications.outbox import OUTBOX, dispatch, enqueue_many, message_from_row  # noqa: E402
from notifications.transports import SmtpTransport  # noqa: E402

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
class Timing:
    backend: str
    count: int
    project: float
    floor: float
    project_connections: int
    floor_connections: int
    project_received: int
    floor_received: int
    built_floor: float

    def lines(self) -> list[str]:
        p, f, bf = self.count / self.project, self.count / self.floor, self.count / self.built_floor
        return [
            f"{self.backend}:",
            f"  project  dispatch() + SmtpTransport  {self.project:6.2f} s  {p:7.0f} msg/s  "
            f"{self.project_connections} SMTP connection(s), {self.project_received} received",
            f"  floor    smtplib, one connection     {self.floor:6.2f} s  {f:7.0f} msg/s  "
            f"{self.floor_connections} SMTP connection(s), {self.floor_received} received",
            f"  ratio    {p / f:.2f} of the floor's throughput (goal ≥ 0.8)",
            f"  profile  smtplib + build_mime per message {self.built_floor:6.2f} s  {bf:7.0f} msg/s  "
            f"(project ÷ this {p / bf:.2f})",
        ]


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


def floor_messages(rows: list[RowMapping], settings: Settings) -> list[MimeMessage]:
    """The MIME messages the dispatcher builds, from the same rows (built outside the floor's timing)."""
    return [
        build_mime(message_from_row(row, settings.data_dir, FROM), FROM, settings.mail_from_name, now=NOW)
        for row in rows
    ]


def run_backend(backend: str, url: str, work: Path, server: SmtpServer, count: int) -> Timing:
    engine = make_engine(url)
    try:
        upgrade(engine)
        with transaction(engine) as s:
            queued = enqueue_many(s, reminder_rows(count), NOW)
        assert queued == count, queued
        settings = bench_settings(work, url, server)
        rows = outbox_rows(engine)
        mimes = floor_messages(rows, settings)

        conns0, msgs0 = server.counts()
        start = time.perf_counter()
        result = dispatch(
            engine,
            settings,
            now=NOW,
            worker_id="bench",
            transport=SmtpTransport(settings),
            max_batches=math.ceil(count / settings.mail_batch_size) + 1,
        )
        project = time.perf_counter() - start
        conns1, msgs1 = server.counts()
        assert result.sent == count, result
        with engine.connect() as conn:
            left = conn.execute(
                select(OUTBOX.c.id).where(OUTBOX.c.status != OutboxStatus.SENT).limit(1)
            ).first()
        assert left is None, "the dispatcher left unsent rows"
    finally:
        engine.dispose()

    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        for mime in mimes:
            recipients = [str(mime["To"].addresses[0].addr_spec)]
            smtp.send_message(mime, from_addr=FROM, to_addrs=recipients)
    floor = time.perf_counter() - start
    conns2, msgs2 = server.counts()

    # Not the floor: what is left of the gap once the floor also pays for building the MIME (the profile).
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        for row in rows:
            mime = build_mime(
                message_from_row(row, settings.data_dir, FROM), FROM, settings.mail_from_name, now=NOW
            )
            smtp.send_message(mime, from_addr=FROM, to_addrs=[str(row["recipient"])])
    built_floor = time.perf_counter() - start
    return Timing(
        backend,
        count,
        project,
        floor,
        conns1 - conns0,
        conns2 - conns1,
        msgs1 - msgs0,
        msgs2 - msgs1,
        built_floor,
    )


def bench_sqlite(server: SmtpServer, count: int) -> Timing:
    work = OUT / f"dispatch-sqlite-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        return run_backend("SQLite", f"sqlite:///{work / 'thidua.db'}", work, server, count)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_postgres(server: SmtpServer, count: int, admin_url: str) -> Timing:
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"thidua_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    work = OUT / f"dispatch-pg-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run_backend("PostgreSQL", url, work, server, count)
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
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")

    OUT.mkdir(parents=True, exist_ok=True)
    results: list[Timing] = []
    with SmtpServer() as server:
        print(f"aiosmtpd on 127.0.0.1:{server.port}; {args.count:,} emails per side", flush=True)
        if not args.no_sqlite:
            results.append(bench_sqlite(server, args.count))
            print("\n".join(results[-1].lines()), flush=True)
        if args.pg:
            results.append(bench_postgres(server, args.count, args.pg))
            print("\n".join(results[-1].lines()), flush=True)
    lost = [t.backend for t in results if t.project_received != t.count or t.floor_received != t.count]
    if lost:
        print(f"WARNING: the server did not receive every message ({', '.join(lost)})")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
