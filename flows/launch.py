"""Stage 1 of the lifecycle — launch (phát động): from a campaign definition to every unit's inbox.

validate → check the scope against the directory → persist → enrol the scope (snapshot) →
reporting calendar → plan (Kế hoạch, DOCX) →
one launch email per unit in the outbox → dispatch → launched.
Every step is idempotent: launching the same definition again changes nothing and sends nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from thidua.flows.local import flow
from thidua.models.db import ensure_schema, make_engine
from thidua.models.definition import CampaignDefinition, load_definition
from thidua.models.schedule import build_schedule
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.models.workdays import load_calendar
from thidua.notifications.outbox import dispatch
from thidua.tasks.core.events import emit_prefect_event
from thidua.tasks.launch.campaign import check_scope, enrol, mark_launched, persist_campaign, store_deadlines
from thidua.tasks.launch.emails import queue_launch_emails
from thidua.tasks.launch.plan import render_campaign_plan

validate_task = task(name="validate definition", cache_policy=NO_CACHE)(load_definition)
scope_task = task(name="check scope against the directory", cache_policy=NO_CACHE)(check_scope)
persist_task = task(name="persist campaign", cache_policy=NO_CACHE)(persist_campaign)
enrol_task = task(name="enrol units and people", cache_policy=NO_CACHE)(enrol)
calendar_task = task(name="store reporting calendar", cache_policy=NO_CACHE)(store_deadlines)
plan_task = task(name="render plan DOCX", cache_policy=NO_CACHE, retries=1)(render_campaign_plan)
queue_task = task(name="queue launch emails", cache_policy=NO_CACHE)(queue_launch_emails)
dispatch_task = task(name="dispatch outbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])(
    dispatch
)
mark_task = task(name="mark launched", cache_policy=NO_CACHE)(mark_launched)


@flow(name="launch")
def launch_flow(
    definition_path: str, now: datetime, settings: Settings | None = None, actor: str = "launch"
) -> dict[str, Any]:
    """`actor` names who launched in the audit trail (an administrator of the portal; "launch" otherwise)."""
    settings = settings or Settings()
    logger = get_run_logger()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    as_of: date = now.astimezone(settings.tz).date()

    defn: CampaignDefinition = validate_task(Path(definition_path))
    scope_task(engine, defn)  # refuses before anything is stored: a failed launch leaves no draft behind
    persisted = persist_task(engine, defn, now=now, actor=actor)
    enrolment = enrol_task(engine, persisted.campaign_id, defn)
    schedule = build_schedule(defn, load_calendar())
    new_deadlines = calendar_task(engine, persisted.campaign_id, schedule)
    plan_key: str = plan_task(settings, defn)
    queued = queue_task(engine, settings, persisted.campaign_id, defn, plan_key, now=now)
    sent = dispatch_task(engine, settings, worker_id="launch")
    first_launch = mark_task(
        engine,
        persisted.campaign_id,
        now=now,
        as_of=as_of,
        plan_document=plan_key,
        actor=actor,
    )
    engine.dispose()
    if first_launch:
        # The row was written by the state transition; this tells the Prefect server (automations, UI).
        emit_prefect_event(defn.code, "campaign.launched", payload={"units": enrolment.units}, occurred=now)

    summary = {
        "code": defn.code,
        "launched": first_launch,
        "units": enrolment.units,
        "people": enrolment.people,
        "units_without_email": enrolment.units_without_email,
        "deadlines": len(schedule),
        "new_deadlines": new_deadlines,
        "plan": storage_for(settings).show(plan_key),
        "emails_queued": queued["queued"],
        "emails": asdict(sent) if hasattr(sent, "__dataclass_fields__") else sent,
    }
    logger.info("launch %s: %s", defn.code, summary)
    return summary


if __name__ == "__main__":
    import sys

    from thidua.models.text import nfc

    print(launch_flow(nfc(sys.argv[1]), datetime.now().astimezone()))
