"""Stage 5 of the lifecycle — council review (xét khen thưởng).

start the review (closed → in review) → mark each nomination complete or incomplete against the dossier
deadline → screen every nominee against the campaign's rules, with reasons → when a council meeting is
given: close it (tallies, approval, quotas, ties for the chair) and write its minutes. The members cast
their ballots (`thidua council vote`) between two runs. Task runs per flow run are fixed, whatever the
number of nominees: every loop lives inside a task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from thidua.flows.local import flow
from thidua.models.db import ensure_schema, make_engine
from thidua.models.settings import Settings
from thidua.tasks.review.council import close_meeting, write_minutes
from thidua.tasks.review.eligibility import screen_nominations
from thidua.tasks.review.nominations import list_declines, refresh_completeness
from thidua.tasks.review.start import start_review

start_task = task(name="start review", cache_policy=NO_CACHE)(start_review)
completeness_task = task(name="dossier completeness", cache_policy=NO_CACHE)(refresh_completeness)
screen_task = task(name="screen eligibility", cache_policy=NO_CACHE)(screen_nominations)
close_meeting_task = task(name="close council meeting", cache_policy=NO_CACHE)(close_meeting)
minutes_task = task(name="write minutes", cache_policy=NO_CACHE)(write_minutes)


@flow(name="review")
def review_flow(
    code: str,
    now: datetime,
    settings: Settings | None = None,
    meeting_id: int | None = None,
    actor: str = "review",
) -> dict[str, Any]:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)

    status = start_task(engine, code, now=now, actor=actor)
    completeness = completeness_task(engine, code, now=now)
    screening = screen_task(engine, code, now=now)
    summary: dict[str, Any] = {
        "code": code.upper(),
        "status": status.value,
        "completeness": completeness,
        "screening": str(screening),
        "eligible": screening.eligible,
        "ineligible": screening.ineligible,
        "declined": [d.text() for d in list_declines(engine, code)],
        "to_verify": screening.verify_lines(),
    }
    if meeting_id is not None:
        result = close_meeting_task(engine, code, meeting_id, now=now, actor=actor)
        minutes = minutes_task(engine, settings, code, meeting_id, now=now)
        summary["meeting"] = {
            "id": meeting_id,
            "lines": result.text_lines(settings.tz),
            "minutes": str(minutes),
        }
    engine.dispose()
    return summary


if __name__ == "__main__":
    import sys

    print(review_flow(sys.argv[1], datetime.now().astimezone()))
