"""Which dossier parts arrived on time, and what each proposing unit's dossiers still lack.

One rule for two stages: the review sets each nomination's completeness from it
(tasks/review/nominations/completeness.py) and the reminders tell a unit what its dossier lacks
(tasks/remind/reminders.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from thidua.models.definition import CampaignDefinition, DossierPart
from thidua.models.review import DossierFile, Nomination, NominationStatus


@dataclass(frozen=True)
class PartsThere:
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


def parts_there(s: Session, campaign_id: int, defn: CampaignDefinition) -> PartsThere:
    on_time = set(
        s.execute(
            select(col(DossierFile.unit_code), col(DossierFile.nomination_id), col(DossierFile.part_key))
            .where(col(DossierFile.campaign_id) == campaign_id, col(DossierFile.on_time).is_(True))
            .distinct()
        )
        .tuples()
        .all()
    )
    return PartsThere(
        [p for p in defn.dossier.parts if p.required],
        {(u, p) for u, n, p in on_time if n is None},
        {(n, p) for _u, n, p in on_time if n is not None},
    )


def dossier_gaps(s: Session, campaign_id: int, defn: CampaignDefinition) -> dict[str, list[str]]:
    """Per proposing unit with a nomination (not withdrawn): what its dossier still lacks, one line per
    nominee (“Nguyễn Văn A: Báo cáo thành tích”); an empty list when every dossier is complete."""
    there = parts_there(s, campaign_id, defn)
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
