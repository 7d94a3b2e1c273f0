"""Stage 4 of the lifecycle — closing (tổng kết): freeze the reporting and produce the closing summary.

freeze and close (→ closed; later submissions refused) → final results for every unit and person, ranked →
the closing report (DOCX), table (XLSX) and chart (PNG) → emails to the administrators and the units →
dispatch the outbox. Five task runs per flow run, whatever the number of units; every step is idempotent,
so the scheduler's run and an administrator's `thidua close` can both happen and nothing is done twice.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from thidua.flows.local import flow
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings
from thidua.notifications.outbox import dispatch
from thidua.tasks.close.closing import (
    compute_final_results,
    freeze_and_close,
    queue_closing_emails,
    write_closing_documents,
)

close_task = task(name="freeze and close", cache_policy=NO_CACHE)(freeze_and_close)
results_task = task(name="compute final results", cache_policy=NO_CACHE)(compute_final_results)
documents_task = task(name="write closing documents", cache_policy=NO_CACHE)(write_closing_documents)
emails_task = task(name="queue closing emails", cache_policy=NO_CACHE)(queue_closing_emails)
dispatch_task = task(name="dispatch outbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])(
    dispatch
)


@flow(name="close")
def close_flow(
    code: str,
    now: datetime,
    settings: Settings | None = None,
    actor: str = "close",
    reason: str | None = None,
    only_if_open: bool = False,
) -> dict[str, Any]:
    """The signature deploy/jobs.py calls: flow(code, now, settings). The portal passes the administrator
    as `actor`, their `reason`, and `only_if_open`: a run that finds the campaign closed already (another
    administrator's run got there first) then stops after the freeze, so two clicks at once close it once."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    try:
        closed = close_task(engine, code, now=now, actor=actor, reason=reason)
        if only_if_open and not closed.changed:
            return {
                "code": closed.code,
                "status": closed.status.value,
                "status_label": closed.status_label,
                "closed_now": False,
                "closed_at": closed.closed_at.isoformat() if closed.closed_at else None,
            }
        subjects = results_task(engine, closed.code, now=now)
        documents = documents_task(engine, settings, closed.code, now=now)
        queued = emails_task(engine, settings, closed.code, now=now)
        sent = dispatch_task(engine, settings, worker_id="close")
    finally:
        engine.dispose()

    return {
        "code": closed.code,
        "status": closed.status.value,
        "status_label": closed.status_label,
        "closed_now": closed.changed,
        "closed_at": closed.closed_at.isoformat() if closed.closed_at else None,
        "subjects": subjects,
        "units_met": documents.met,
        "units_not_met": documents.not_met,
        "units_missing": documents.missing,
        "units_no_value": documents.no_value,
        "units_to_verify": documents.to_verify,
        "report_version": documents.version,
        "documents": {
            "report": documents.report_key,
            "table": documents.table_key,
            "chart": documents.chart_key,
        },
        "emails_queued": queued,
        "emails": asdict(sent) if is_dataclass(sent) and not isinstance(sent, type) else sent,
    }


if __name__ == "__main__":
    import sys

    print(close_flow(sys.argv[1], datetime.now().astimezone()))
