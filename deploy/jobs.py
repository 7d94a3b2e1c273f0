"""The callables the scheduler runs, stored by name ("thidua.deploy.jobs:run_collect") in the job store.

Thin on purpose: each reads the settings and the clock at run time (a stored job carries only the campaign
code), configures Prefect before importing a flow, and runs it.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from thidua.models.settings import Settings

log = logging.getLogger("thidua.jobs")

# The campaign a job works for: `thidua serve`'s log lines carry it (deploy/serve.py, OneLineFormatter).
CAMPAIGN: contextvars.ContextVar[str] = contextvars.ContextVar("thidua_campaign", default="")


@contextmanager
def for_campaign(code: str) -> Iterator[None]:
    token = CAMPAIGN.set(code)
    try:
        yield
    finally:
        CAMPAIGN.reset(token)


def _settings_and_now() -> tuple[Settings, datetime]:
    settings = Settings()
    return settings, datetime.now(settings.tz)


def _leading() -> bool:
    from thidua.deploy.scheduler import still_leader

    if still_leader():
        return True
    log.warning("Tiến trình này không còn giữ quyền lập lịch — bỏ qua công việc.")
    return False


def _flow(module: str, name: str, settings: Settings) -> Callable[..., Any]:
    """The flow object, imported after Prefect is configured (Prefect reads its settings once, at import)."""
    from thidua.deploy.prefect_env import configure_prefect

    configure_prefect(settings)
    flow: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return flow


def run_reminders(code: str) -> None:
    """Daily reminder sweep of one campaign (flows.remind.remind_flow(code, now, settings))."""
    if not _leading():
        return
    settings, now = _settings_and_now()
    with for_campaign(code):
        summary = _flow("thidua.flows.remind", "remind_flow", settings)(code, now, settings)
        queue = summary.get("queue") or {}
        log.info("Nhắc hạn: %d thư mới, %d thư huỷ.", queue.get("queued", 0), queue.get("cancelled", 0))


def run_collect(code: str, period: str) -> None:
    """Collection run after a period's due date; the flow covers every period started so far."""
    if not _leading():
        return
    settings, now = _settings_and_now()
    with for_campaign(code):
        log.info("Thu thập số liệu sau hạn kỳ %s.", period)
        _flow("thidua.flows.collect", "collect_flow", settings)(code, now, settings)


def run_close(code: str, only_if_complete: bool = False) -> None:
    """Closing run after the campaign's end date (flows.close.close_flow(code, now, settings)).

    With only_if_complete (the early close), nothing happens unless the campaign allows closing early and
    every reporting unit's final report is in: a trigger may fire again or late, so the run checks itself."""
    if not _leading():
        return
    settings, now = _settings_and_now()
    with for_campaign(code):
        _close(code, settings, now, only_if_complete)


def _close(code: str, settings: Settings, now: datetime, only_if_complete: bool) -> None:
    if only_if_complete:
        from thidua.models.db import make_engine
        from thidua.tasks.collect.collection import may_close_early

        engine = make_engine(settings.database_url)
        try:
            if not may_close_early(engine, code):
                log.info("Chưa đủ điều kiện tổng kết sớm.")
                return
        finally:
            engine.dispose()
    _flow("thidua.flows.close", "close_flow", settings)(code, now, settings)


def run_close_early(code: str) -> None:
    """The embedded scheduler's look, every few minutes, whether the campaign can close early."""
    run_close(code, only_if_complete=True)


def dispatch_outbox() -> None:
    """Send due outbox emails: plain code, not a flow (a flow run a minute would flood Prefect's database)."""
    if not _leading():
        return
    from thidua.models.db import make_engine
    from thidua.notifications.outbox import dispatch

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        result = dispatch(engine, settings, worker_id="scheduler")
    finally:
        engine.dispose()
    if result.sent or result.failed or result.retried:
        log.info("Hộp thư đi: đã gửi %d, lỗi %d, chờ gửi lại %d.", result.sent, result.failed, result.retried)
    if result.unreachable:
        log.warning("Hộp thư đi: không gửi được — %s; thư chờ đến lần chạy sau.", result.unreachable)


def read_mailbox() -> None:
    """Read the mailbox units reply to (reports sent by email) between collections, so a unit learns within
    minutes whether its file was taken; the answers leave with the next outbox dispatch. Plain code, not a
    flow; nothing when THIDUA_IMAP_HOST is empty."""
    if not _leading():
        return
    settings, now = _settings_and_now()
    if not settings.uses_imap:
        return
    from thidua.models.db import make_engine
    from thidua.tasks.collect.mailbox import sweep_mailbox

    engine = make_engine(settings.database_url)
    try:
        result = sweep_mailbox(engine, settings, now=now)
    finally:
        engine.dispose()
    if result.read:
        log.info(
            "Hộp thư nhận báo cáo: %d thư, %d báo cáo được tiếp nhận, %d bị trả lại, %d bị giữ lại.",
            result.read,
            result.accepted,
            result.rejected,
            result.refused,
        )
    if result.unreachable:
        log.warning("Hộp thư nhận báo cáo: không đọc hết — %s; thư chờ đến lần đọc sau.", result.unreachable)


def campaign_marker(code: str) -> None:
    """Never runs (the marker job is paused); it exists so the marker has a callable to name."""
    log.debug("campaign marker %s", code)
