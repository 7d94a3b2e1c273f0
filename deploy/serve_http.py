"""`thidua serve`'s HTTP endpoint: a health check and Prometheus metrics (THIDUA_SERVE_HTTP_HOST/PORT).

    GET /healthz  200 {"status": "ok", "role": "leader"|"standby", ...} while the service loop turns and the
                  database answers; 503 with the reason otherwise (for a load balancer or systemd's watchdog)
    GET /metrics  Prometheus text format, read from the database at each scrape (set-based: one GROUP BY for
                  the outbox, one row for the lease), plus what this process saw of its jobs

Metrics:
    thidua_outbox_messages{campaign, status}             emails by campaign code and status (pending, sending,
                                                          failed; sent and cancelled are history, not load)
    thidua_outbox_oldest_pending_age_seconds{campaign}   age of the oldest email still waiting to be sent
                                                          (from its created_at: the moment the producing
                                                          command acted at; a replay with --as-of looks old)
    thidua_job_last_run_timestamp_seconds{job, campaign, outcome}  when this process last ran each job
                                                          (remind:<CODE>, collect:<CODE>:<period>,
                                                          close:<CODE>, outbox-dispatch), outcome ok/error
    thidua_scheduler_lease_info{holder}                  1 for the process holding the scheduler lease
    thidua_scheduler_lease_expires_timestamp_seconds     when that lease runs out unless renewed
    thidua_scheduler_leader                              1 if this process is the leader, 0 standby
    thidua_service_loop_age_seconds                      seconds since the service loop last turned

Served by a ThreadingHTTPServer in a daemon thread: a slow scrape never holds up the scheduler.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from thidua.models.campaign import Campaign
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.service import ServiceLease

log = logging.getLogger("thidua.serve")

LEASE_NAME = "scheduler"
_LOAD = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)


@dataclass
class ServiceState:
    """What the service loop tells the endpoint: who it is, whether it leads, when it last turned."""

    holder: str
    heartbeat_seconds: float
    leading: bool = False
    loop_at: float = field(default_factory=time.monotonic)
    jobs: dict[str, tuple[float, bool]] = field(default_factory=dict)  # job id -> (Unix time, succeeded)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def turned(self, leading: bool) -> None:
        with self.lock:
            self.leading, self.loop_at = leading, time.monotonic()

    def job_done(self, job_id: str, ok: bool) -> None:
        with self.lock:
            self.jobs[job_id] = (time.time(), ok)

    @property
    def stale_after(self) -> float:
        return max(3 * self.heartbeat_seconds, 60.0)


def _campaign_of(job_id: str) -> str:
    kind, _, rest = job_id.partition(":")
    return rest.split(":", 1)[0] if kind in ("remind", "collect", "close", "close-early", "campaign") else ""


def _unix(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class ThiduaCollector(Collector):
    """Reads the outbox and the lease at each scrape; adds the jobs and the loop from `ServiceState`."""

    def __init__(self, engine: Engine, state: ServiceState) -> None:
        self.engine, self.state = engine, state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "thidua_outbox_messages",
            "Emails in the outbox by campaign and status",
            labels=["campaign", "status"],
        )
        oldest = GaugeMetricFamily(
            "thidua_outbox_oldest_pending_age_seconds",
            "Age of the oldest email still waiting to be sent",
            labels=["campaign"],
        )
        holder = GaugeMetricFamily(
            "thidua_scheduler_lease_info", "The scheduler lease's holder", labels=["holder"]
        )
        expires = GaugeMetricFamily(
            "thidua_scheduler_lease_expires_timestamp_seconds", "When the scheduler lease runs out"
        )
        now = time.time()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    func.coalesce(col(Campaign.code), ""),
                    col(OutboxMessage.status),
                    func.count(),
                    func.min(col(OutboxMessage.created_at)),
                )
                .select_from(OutboxMessage)
                .outerjoin(Campaign, col(Campaign.id) == col(OutboxMessage.campaign_id))
                .where(col(OutboxMessage.status).in_(_LOAD))
                .group_by(col(Campaign.code), col(OutboxMessage.status))
            ).all()
            lease = conn.execute(
                select(col(ServiceLease.holder), col(ServiceLease.lease_until)).where(
                    col(ServiceLease.name) == LEASE_NAME
                )
            ).first()
        waiting: dict[str, float] = {}
        for code, status, count, first in rows:
            messages.add_metric([code, str(status)], float(count))
            if status != OutboxStatus.FAILED and first is not None:
                age = max(0.0, now - _unix(first))
                waiting[code] = max(waiting.get(code, 0.0), age)
        for code, age in sorted(waiting.items()):
            oldest.add_metric([code], age)
        if lease is not None and _unix(lease[1]) > now:
            holder.add_metric([lease[0]], 1.0)
            expires.add_metric([], _unix(lease[1]))
        yield from (messages, oldest, holder, expires)

        jobs = GaugeMetricFamily(
            "thidua_job_last_run_timestamp_seconds",
            "When this process last ran each scheduled job",
            labels=["job", "campaign", "outcome"],
        )
        with self.state.lock:
            done = dict(self.state.jobs)
            leading, loop_at = self.state.leading, self.state.loop_at
        for job_id, (at, ok) in sorted(done.items()):
            jobs.add_metric([job_id, _campaign_of(job_id), "ok" if ok else "error"], at)
        yield jobs
        yield GaugeMetricFamily("thidua_scheduler_leader", "1 if this process leads", value=float(leading))
        yield GaugeMetricFamily(
            "thidua_service_loop_age_seconds",
            "Seconds since the loop turned",
            value=time.monotonic() - loop_at,
        )


def health(engine: Engine, state: ServiceState) -> tuple[int, dict[str, Any]]:
    """200 and the role while the loop turns and the database answers; 503 and why otherwise."""
    with state.lock:
        age, leading = time.monotonic() - state.loop_at, state.leading
    body: dict[str, Any] = {"role": "leader" if leading else "standby", "holder": state.holder}
    body["loop_age_seconds"] = round(age, 1)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return 503, body | {"status": "error", "reason": f"cơ sở dữ liệu không trả lời: {type(exc).__name__}"}
    if age > state.stale_after:
        return 503, body | {"status": "error", "reason": f"vòng lặp dịch vụ đứng {age:.0f} giây"}
    return 200, body | {"status": "ok"}


class ServiceEndpoint:
    """The HTTP server of one `thidua serve` process."""

    def __init__(self, host: str, port: int, engine: Engine, state: ServiceState) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ThiduaCollector(engine, state))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    status, body = health(engine, state)
                    self._send(status, "application/json", json.dumps(body, ensure_ascii=False).encode())
                elif path == "/metrics":
                    try:
                        payload = generate_latest(registry)
                    except SQLAlchemyError as exc:
                        self._send(503, "text/plain; charset=utf-8", f"database: {exc}".encode())
                        return
                    self._send(200, CONTENT_TYPE_LATEST, payload)
                else:
                    self._send(404, "text/plain; charset=utf-8", b"/healthz, /metrics\n")

            def _send(self, status: int, kind: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a scrape every 15 s is not an event worth a log line

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="serve-http")

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
