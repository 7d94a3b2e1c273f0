"""Stage 6 of the lifecycle — award issuance (ban hành quyết định khen thưởng).

issue every award type whose council result is final: a decision number of the issuing authority
(gap-free per year), the Quyết định, a certificate per awardee, the money, the emails to the awardees'
units; or, for an award of a higher authority, the proposal package (Tờ trình, Danh sách, Biên bản)
→ dispatch the outbox. Two task runs per flow run, whatever the number of awardees.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from thidua.flows.local import flow
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings
from thidua.notifications.outbox import dispatch
from thidua.tasks.award.awards import issue_all

issue_task = task(name="issue awards", cache_policy=NO_CACHE)(issue_all)
dispatch_task = task(name="dispatch outbox", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])(
    dispatch
)


@flow(name="award")
def award_flow(
    code: str,
    now: datetime,
    settings: Settings | None = None,
    decided_on: date | None = None,
    actor: str = "award",
) -> dict[str, Any]:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)

    day = decided_on or now.astimezone(settings.tz).date()
    issued, waiting = issue_task(engine, settings, code, decided_on=day, now=now, actor=actor)
    sent = dispatch_task(engine, settings, worker_id="award")
    engine.dispose()
    return {
        "code": code.upper(),
        "decided_on": day.isoformat(),
        "decisions": [r.lines() for r in issued],
        "documents": [d for r in issued for d in r.documents],
        "waiting": waiting,
        "emails": asdict(sent) if is_dataclass(sent) and not isinstance(sent, type) else sent,
    }


if __name__ == "__main__":
    import sys

    print(award_flow(sys.argv[1], datetime.now().astimezone()))
