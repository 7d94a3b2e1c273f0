"""Completeness of the nominations: which dossiers arrived whole by the deadline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlmodel import Session, col

from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition, DossierPart
from thidua.models.review import (
    DossierFile,
    Nomination,
    NominationStatus,
)
from thidua.tasks.core.events import record_event
from thidua.tasks.review.nominations.lookups import campaign_and_definition, dossier_deadline, local_day
from thidua.tasks.review.nominations.shared import NOMINATION_TABLE


@dataclass(frozen=True)
class _PartsThere:
    """The required dossier parts, and which arrived on time: unit-wide (proposing unit) or per nomination."""

    required: list[DossierPart]
    unit_wide: set[tuple[str, str]]  # (proposing unit, part key)
    by_nomination: set[tuple[int, str]]  # (nomination id, part key)

    def missing(self, nomination_id: int, nominated_by: str) -> list[str]:
        """The names of the required parts a nomination's dossier lacks."""
        return [
            p.name
            for p in self.required
            if (nominated_by, p.key) not in self.unit_wide
            and (nomination_id, p.key) not in self.by_nomination
        ]


def _parts_there(s: Session, campaign_id: int, defn: CampaignDefinition) -> _PartsThere:
    on_time = set(
        s.execute(
            select(col(DossierFile.unit_code), col(DossierFile.nomination_id), col(DossierFile.part_key))
            .where(col(DossierFile.campaign_id) == campaign_id, col(DossierFile.on_time).is_(True))
            .distinct()
        )
        .tuples()
        .all()
    )
    return _PartsThere(
        [p for p in defn.dossier.parts if p.required],
        {(u, p) for u, n, p in on_time if n is None},
        {(n, p) for _u, n, p in on_time if n is not None},
    )


def dossier_gaps(s: Session, campaign_id: int, defn: CampaignDefinition) -> dict[str, list[str]]:
    """Per proposing unit with a nomination (not withdrawn): what its dossier still lacks, one line per
    nominee (“Nguyễn Văn A: Báo cáo thành tích”); an empty list when every dossier is complete."""
    there = _parts_there(s, campaign_id, defn)
    gaps: dict[str, list[str]] = {}
    for nid, by, name in s.execute(
        select(col(Nomination.id), col(Nomination.nominated_by), col(Nomination.subject_name))
        .where(
            col(Nomination.campaign_id) == campaign_id, col(Nomination.status) != NominationStatus.WITHDRAWN
        )
        .order_by(col(Nomination.nominated_by), col(Nomination.id))
    ).tuples():
        lines = gaps.setdefault(by, [])
        missing = there.missing(nid, by)
        if missing:
            lines.append(f"{name}: {', '.join(missing)}")
    return gaps


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
        there = _parts_there(s, campaign.id, defn)
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
