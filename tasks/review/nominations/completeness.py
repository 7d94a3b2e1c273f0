"""Completeness of the nominations: which dossiers arrived whole by the deadline (the rule of which parts
are there is tasks/core/dossiers.py, shared with the reminders)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlmodel import col

from thidua.models.db import transaction
from thidua.models.review import (
    Nomination,
    NominationStatus,
)
from thidua.tasks.core.dossiers import parts_there
from thidua.tasks.core.events import record_event
from thidua.tasks.review.nominations.lookups import campaign_and_definition, dossier_deadline, local_day
from thidua.tasks.review.nominations.shared import NOMINATION_TABLE


def refresh_completeness(engine: Engine, code: str, *, now: datetime) -> dict[str, int]:
    """Set each nomination's status from the files there on time; returns the count per status.

    A required part is there when a revision of it arrived on time (by the end of the deadline day): a
    unit-wide file of the proposing unit, or a file of that nomination. A correction sent after the deadline
    does not take away a part that was there on time. A nomination itself sent after the deadline is
    INCOMPLETE once the deadline has passed.
    """
    day = local_day(now)
    with transaction(engine) as s:
        campaign, defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        deadline = dossier_deadline(s, campaign.id, defn)
        passed = day > deadline
        there = parts_there(s, campaign.id, defn)
        rows = s.execute(
            select(
                col(Nomination.id),
                col(Nomination.nominated_by),
                col(Nomination.status),
                col(Nomination.is_late),
                col(Nomination.missing_parts_json),
            ).where(col(Nomination.campaign_id) == campaign.id)
        ).all()
        changes: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        for nid, by, status, is_late, missing_json in rows:
            old = NominationStatus(status)
            new = old
            missing = there.missing(nid, by)
            if old is not NominationStatus.WITHDRAWN:
                if missing or (is_late and passed):
                    new = NominationStatus.INCOMPLETE if passed else NominationStatus.SUBMITTED
                else:
                    new = NominationStatus.COMPLETE
            missing_text = json.dumps(missing, ensure_ascii=False)
            counts[new.value] = counts.get(new.value, 0) + 1
            if new is not old or (new is not NominationStatus.WITHDRAWN and missing_text != missing_json):
                changes.append({"b_id": nid, "b_status": new, "b_missing": missing_text})
                if new is not old:
                    record_event(
                        s,
                        campaign_id=campaign.id,
                        kind=f"nomination.{new.value}",
                        now=now,
                        actor="completeness",
                        subject=f"nomination:{nid}",
                        payload={"before": old.value, "after": new.value, "missing": missing},
                    )
        if changes:
            s.execute(
                update(NOMINATION_TABLE)
                .where(NOMINATION_TABLE.c.id == bindparam("b_id"))
                .values(status=bindparam("b_status"), missing_parts_json=bindparam("b_missing")),
                changes,
            )
        return counts
