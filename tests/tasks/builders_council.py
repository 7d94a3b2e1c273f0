"""Builders for the council tests: nominations, eligibility and final results inserted as rows.

Another stage writes these rows in the application (nominations, screening, the close run); the council
only reads them, so the tests build exactly the situation they need.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from tests.factories import TQ_DEFINITION, at, launch_campaign_rows
from thidua.models.campaign import Campaign, CampaignStatus
from thidua.models.db import transaction
from thidua.models.directory import Person, Unit
from thidua.models.review import EligibilityResult, FinalResult, Nomination, NominationStatus, SubjectKind
from thidua.tasks.review.council import cast_vote

CODE = "TQ-2024-GIAM-AN"
AWARD = "giay_khen_cuc_truong"
CHV = "Chấp hành viên"
# demo_council(..., "TQ") on the Tuyên Quang demo directory, size 9.
MEMBERS = ["TQ-01", "TQ-02", "TQ-03", "TQ-04", "TQ-TCCB-02", "TQ-VP-01", "TQ-TCCB-01", "TQ-NV-01", "TQ-KT-01"]
CHAIR = "TQ-01"
SCREENED = at("05/07/2024", 9)


@dataclass(frozen=True)
class Nominee:
    code: str  # unit code (collective) or person code (individual)
    kind: SubjectKind
    rate: str | None = None  # main indicator value as "35/100"; None: no figures
    eligible: bool = True
    award: str = AWARD
    status: NominationStatus = NominationStatus.COMPLETE


def launch_in_review(engine: Engine, definition: Path = TQ_DEFINITION) -> int:
    """A launched campaign moved to review, where its council meets (the close and review runs are other
    stages')."""
    campaign_id = launch_campaign_rows(engine, definition)
    with transaction(engine) as s:
        s.execute(
            update(Campaign).where(col(Campaign.id) == campaign_id).values(status=CampaignStatus.IN_REVIEW)
        )
    return campaign_id


def unit_of(code: str) -> Nominee:
    return Nominee(code, SubjectKind.COLLECTIVE)


def first_with_title(engine: Engine, unit_code: str, title: str, *, skip: int = 0) -> str:
    with Session(engine) as s:
        codes = s.execute(
            select(col(Person.code))
            .join(Unit, col(Unit.id) == col(Person.unit_id))
            .where(col(Unit.code) == unit_code, col(Person.title) == title)
            .order_by(col(Person.code))
        ).scalars()
        return list(codes)[skip]


def nominate(engine: Engine, campaign_id: int, nominees: Sequence[Nominee]) -> dict[str, int]:
    """Insert the nominations with their eligibility and final results; subject code -> nomination id."""
    out: dict[str, int] = {}
    with transaction(engine) as s:
        units = {
            r.code: r
            for r in s.execute(
                select(col(Unit.id), col(Unit.code), col(Unit.name), col(Unit.parent_id))
            ).all()
        }
        code_of = {u.id: u.code for u in units.values()}
        people = {
            r.code: r
            for r in s.execute(
                select(col(Person.code), col(Person.full_name), col(Person.title), col(Person.unit_id))
            ).all()
        }
        for n in nominees:
            if n.kind == SubjectKind.COLLECTIVE:
                name, title, unit = units[n.code].name, None, n.code
                proposer = code_of.get(units[n.code].parent_id or -1, n.code)
            else:
                p = people[n.code]
                name, title, unit = p.full_name, p.title, code_of[p.unit_id]
                proposer = unit
            nomination = Nomination(
                campaign_id=campaign_id,
                award_key=n.award,
                subject_kind=n.kind,
                subject_code=n.code,
                subject_name=name,
                subject_title=title,
                unit_code=unit,
                nominated_by=proposer,
                submitted_at=at("02/07/2024", 10),
                status=n.status,
            )
            s.add(nomination)
            s.flush()
            assert nomination.id is not None
            out[n.code] = nomination.id
            reasons = [{"rule": "discipline_window", "passed": n.eligible, "reason": "kiểm tra thử"}]
            s.add(
                EligibilityResult(
                    nomination_id=nomination.id,
                    campaign_id=campaign_id,
                    eligible=n.eligible,
                    reasons_json=json.dumps(reasons, ensure_ascii=False),
                    checked_at=SCREENED,
                )
            )
            if n.rate is not None:
                value = Fraction(n.rate)
                indicators = {
                    "reduction": {
                        "num": value.numerator,
                        "den": value.denominator,
                        "value": str(value),
                        "target": "0.1",
                        "comparison": ">=",
                        "met": value >= Fraction(1, 10),
                    }
                }
                s.add(
                    FinalResult(
                        campaign_id=campaign_id,
                        subject_kind="unit" if n.kind == SubjectKind.COLLECTIVE else "person",
                        subject_code=n.code,
                        unit_code=unit,
                        values_json="{}",
                        indicators_json=json.dumps(indicators),
                        main_met=value >= Fraction(1, 10),
                        computed_at=SCREENED,
                    )
                )
    return out


def ballots(
    engine: Engine,
    meeting_id: int,
    nomination_id: int,
    voters: Sequence[str],
    *,
    approve: int,
    reject: int = 0,
    abstain: int = 0,
    written: Sequence[str] = (),
    now: datetime | None = None,
) -> None:
    """The first `approve` voters approve, the next `reject` reject, the next `abstain` abstain."""
    choices = ["approve"] * approve + ["reject"] * reject + ["abstain"] * abstain
    assert len(choices) <= len(voters), "more ballots than voters"
    for member, choice in zip(voters, choices, strict=False):
        cast_vote(
            engine,
            meeting_id,
            member,
            nomination_id,
            choice,
            now=now or at("10/07/2024", 9),
            written=member in written,
        )
