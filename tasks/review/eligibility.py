"""Screen every nomination of a campaign against its eligibility rules and store the outcome with its reasons.

`screen_nominations` reads in a handful of queries what the rules need for the whole campaign — nominations,
the enrolment snapshot (units, people, heads), discipline records of the enrolled people, final results and
their check against the case ledger (tasks/close/closing.final_ledger_checks), grants already issued —
builds `models.eligibility.NomineeFacts` for each nomination and stores `models.eligibility.screen`'s answer
as one EligibilityResult per nomination. A re-run replaces the stored answer when it changed and writes
nothing otherwise; an audit event is written only when the outcome (eligible or not) changes. Withdrawn
nominations are skipped. The nomination's dossier status is one of the facts, so run
`nominations.refresh_completeness` first: an INCOMPLETE dossier fails with the parts it lacked.

Members of a collective: the people of the unit itself and of its departments (units of level "phong" under
it, which are parts of the unit rather than bodies of their own); a Chi cục's staff for a Chi cục, the Cục's
departments' staff for the Cục.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlmodel import Session, SQLModel, col

from thidua.models.campaign import EnrolledPerson, EnrolledUnit
from thidua.models.db import transaction
from thidua.models.directory import Discipline, DisciplineForm, UnitLevel
from thidua.models.eligibility import (
    DisciplineFact,
    DossierState,
    GrantFact,
    MemberFacts,
    NomineeFacts,
    Reason,
    Screening,
    UnitFacts,
    screen,
)
from thidua.models.indicators import IndicatorResult
from thidua.models.reconciliation import LedgerCheck
from thidua.models.review import (
    AwardDecision,
    AwardGrant,
    EligibilityResult,
    FinalResult,
    GrantStatus,
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.tasks.close.closing import final_ledger_checks
from thidua.tasks.collect.ledger import SubjectKey
from thidua.tasks.core.events import record_event
from thidua.tasks.review.nominations import campaign_and_definition, dossier_deadline

__all__ = ["ScreenedNomination", "ScreeningSummary", "load_screenings", "screen_nominations"]

ELIGIBILITY_TABLE = SQLModel.metadata.tables[EligibilityResult.__tablename__]
_DOSSIER_STATES: dict[NominationStatus, DossierState] = {
    NominationStatus.SUBMITTED: "submitted",
    NominationStatus.COMPLETE: "complete",
    NominationStatus.INCOMPLETE: "incomplete",
}


@dataclass(frozen=True)
class ScreenedNomination:
    nomination_id: int
    award_key: str
    subject_kind: SubjectKind
    subject_code: str
    subject_name: str
    nominated_by: str
    eligible: bool
    reasons: list[Reason]
    changed: bool  # the stored answer was new or different

    @property
    def to_verify(self) -> list[Reason]:
        """Reasons marked "cần xác minh" (figures that differ from the ledger): the council looks at them."""
        return [r for r in self.reasons if r.verify]

    @property
    def label(self) -> str:
        who = "Tập thể" if self.subject_kind is SubjectKind.COLLECTIVE else "Cá nhân"
        return f"{who} {self.subject_name} ({self.subject_code})"


@dataclass(frozen=True)
class ScreeningSummary:
    results: list[ScreenedNomination] = field(default_factory=list)
    withdrawn: int = 0

    @property
    def eligible(self) -> int:
        return sum(1 for r in self.results if r.eligible)

    @property
    def ineligible(self) -> int:
        return sum(1 for r in self.results if not r.eligible)

    @property
    def changed(self) -> int:
        return sum(1 for r in self.results if r.changed)

    @property
    def to_verify(self) -> list[ScreenedNomination]:
        return [r for r in self.results if r.to_verify]

    def verify_lines(self) -> list[str]:
        """'Tập thể … (TQ-CH) — Cần xác minh: …', one per nominee whose figures differ from the ledger."""
        return [f"{r.label} — {reason.text}" for r in self.to_verify for reason in r.to_verify]

    def __str__(self) -> str:
        verify = len(self.to_verify)
        return (
            f"Đã xét {len(self.results)} đề nghị: đủ điều kiện {self.eligible}, không đủ {self.ineligible}"
            + (f", cần xác minh số liệu {verify}" if verify else "")
            + (f", bỏ qua {self.withdrawn} đề nghị đã rút" if self.withdrawn else "")
        )


def _indicator(row: FinalResult | None, key: str | None) -> IndicatorResult | None:
    if row is None or key is None:
        return None
    data = json.loads(row.indicators_json or "{}").get(key)
    if not isinstance(data, dict):
        return None
    try:
        result = IndicatorResult.from_json(key, data)
    except (KeyError, TypeError, ValueError):
        return None
    if result.value is None and result.den:
        # The close stage may store num/den without the ratio; the ratio is exact either way.
        result = IndicatorResult(
            result.key, result.num, result.den, Fraction(result.num, result.den), result.target,
            result.comparison, result.met,
        )  # fmt: skip
    return result


@dataclass
class _Campaign:
    """Everything of one campaign the rules read, loaded once."""

    units: dict[str, EnrolledUnit]
    people: dict[str, EnrolledPerson]
    people_of_unit: dict[str, list[str]]
    discipline: dict[str, tuple[DisciplineFact, ...]]
    finals: dict[tuple[str, str], FinalResult]
    grants: dict[tuple[SubjectKind, str], list[tuple[int, GrantFact]]]
    indicator_key: str | None
    checks: Mapping[SubjectKey, LedgerCheck] = field(default_factory=dict)
    _unit_facts: dict[str, UnitFacts] = field(default_factory=dict)
    _children: dict[str, list[str]] = field(default_factory=dict)

    def member_units(self, unit_code: str) -> list[str]:
        """The unit and its departments (level phong), recursively: the people of a collective."""
        if not self._children:
            for code, unit in sorted(self.units.items()):
                if unit.parent_code is not None:
                    self._children.setdefault(unit.parent_code, []).append(code)
        out, todo = [unit_code], [unit_code]
        while todo:
            for child in self._children.get(todo.pop(), []):
                if self.units[child].level == UnitLevel.PHONG.value and child not in out:
                    out.append(child)
                    todo.append(child)
        return out

    def unit_facts(self, unit_code: str, fallback_name: str) -> UnitFacts:
        if unit_code not in self._unit_facts:
            unit = self.units.get(unit_code)
            members = tuple(
                MemberFacts(code, self.people[code].full_name, self.discipline.get(code, ()))
                for member_unit in self.member_units(unit_code)
                for code in sorted(self.people_of_unit.get(member_unit, []))
            )
            self._unit_facts[unit_code] = UnitFacts(
                code=unit_code,
                name=unit.unit_name if unit is not None else fallback_name,
                indicator=_indicator(self.finals.get(("unit", unit_code)), self.indicator_key),
                members=members,
                ledger=self.checks.get(("unit", unit_code)),
            )
        return self._unit_facts[unit_code]


def _load(
    s: Session,
    campaign_id: int,
    indicator_key: str | None,
    awards: Mapping[str, str],
    checks: Mapping[SubjectKey, LedgerCheck],
) -> _Campaign:
    units = {
        u.unit_code: u
        for u in s.scalars(select(EnrolledUnit).where(col(EnrolledUnit.campaign_id) == campaign_id))
    }
    people = {
        p.person_code: p
        for p in s.scalars(select(EnrolledPerson).where(col(EnrolledPerson.campaign_id) == campaign_id))
    }
    people_of_unit: dict[str, list[str]] = defaultdict(list)
    for code, person in people.items():
        people_of_unit[person.unit_code].append(code)
    records: dict[str, list[DisciplineFact]] = defaultdict(list)
    for code, form, decided in s.execute(
        select(col(EnrolledPerson.person_code), col(Discipline.form), col(Discipline.decision_date))
        .join(Discipline, col(Discipline.person_id) == col(EnrolledPerson.person_id))
        .where(col(EnrolledPerson.campaign_id) == campaign_id)
    ).tuples():
        records[code].append(DisciplineFact(DisciplineForm(form), decided))
    finals = {
        (r.subject_kind, r.subject_code): r
        for r in s.scalars(select(FinalResult).where(col(FinalResult.campaign_id) == campaign_id))
    }
    grants: dict[tuple[SubjectKind, str], list[tuple[int, GrantFact]]] = defaultdict(list)
    for grant, award_key, number, symbol in s.execute(
        select(AwardGrant, col(AwardDecision.award_key), col(AwardDecision.number), col(AwardDecision.symbol))
        .join(AwardDecision, col(AwardDecision.id) == col(AwardGrant.decision_id))
        .where(col(AwardGrant.campaign_id) == campaign_id, col(AwardGrant.status) == GrantStatus.ISSUED)
    ).tuples():
        fact = GrantFact(awards.get(award_key, award_key), f"{number:02d}/{symbol}")
        grants[(SubjectKind(grant.subject_kind), grant.subject_code)].append((grant.nomination_id, fact))
    return _Campaign(
        units=units,
        people=people,
        people_of_unit=dict(people_of_unit),
        discipline={code: tuple(sorted(r, key=lambda d: d.decided_on)) for code, r in records.items()},
        finals=finals,
        grants=dict(grants),
        indicator_key=indicator_key,
        checks=checks,
    )


def _facts(
    n: Nomination,
    data: _Campaign,
    others: list[Nomination],
    awards: Mapping[str, str],
    deadline: date,
) -> NomineeFacts:
    assert n.id is not None
    kind = SubjectKind(n.subject_kind)
    grants = tuple(fact for nid, fact in data.grants.get((kind, n.subject_code), []) if nid != n.id)
    other_awards = tuple(
        awards.get(o.award_key, o.award_key)
        for o in others
        if o.id != n.id and o.award_key != n.award_key and o.status != NominationStatus.WITHDRAWN
    )
    common: dict[str, Any] = {
        "code": n.subject_code,
        "grants": grants,
        "other_awards": tuple(sorted(set(other_awards))),
        "dossier": _DOSSIER_STATES.get(NominationStatus(n.status)),
        "missing_parts": tuple(json.loads(n.missing_parts_json or "[]")),
        "dossier_deadline": deadline,
        "is_late": n.is_late,
    }
    if kind is SubjectKind.COLLECTIVE:
        unit = data.unit_facts(n.subject_code, n.subject_name)
        return NomineeFacts(kind="collective", name=unit.name, unit=unit, **common)
    person = data.people.get(n.subject_code)
    unit_code = person.unit_code if person is not None else n.unit_code
    return NomineeFacts(
        kind="individual",
        name=person.full_name if person is not None else n.subject_name,
        title=person.title if person is not None else n.subject_title,
        is_head=bool(person is not None and person.is_head),
        unit=data.unit_facts(unit_code, unit_code),
        discipline=data.discipline.get(n.subject_code, ()),
        indicator=_indicator(data.finals.get(("person", n.subject_code)), data.indicator_key),
        ledger=data.checks.get(("person", n.subject_code)),
        **common,
    )


def screen_nominations(engine: Engine, code: str, *, now: datetime) -> ScreeningSummary:
    """Screen every nomination of the campaign (withdrawn ones skipped); store the outcomes with reasons."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (the clock carries its zone)")
    checks = final_ledger_checks(engine, code)
    with transaction(engine) as s:
        campaign, defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        rules = defn.eligibility
        indicator = next((i for i in defn.indicators if i.key == rules.require_indicator), None)
        awards = {a.key: a.name for a in defn.awards}
        deadline = dossier_deadline(s, campaign.id, defn)
        nominations = list(
            s.scalars(
                select(Nomination)
                .where(col(Nomination.campaign_id) == campaign.id)
                .order_by(col(Nomination.id))
            )
        )
        by_subject: dict[tuple[SubjectKind, str], list[Nomination]] = defaultdict(list)
        for n in nominations:
            by_subject[(SubjectKind(n.subject_kind), n.subject_code)].append(n)
        data = _load(s, campaign.id, rules.require_indicator, awards, checks)
        stored = {
            r.nomination_id: r
            for r in s.scalars(
                select(EligibilityResult).where(col(EligibilityResult.campaign_id) == campaign.id)
            )
        }
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        results: list[ScreenedNomination] = []
        withdrawn = 0
        for n in nominations:
            assert n.id is not None
            if n.status == NominationStatus.WITHDRAWN:
                withdrawn += 1
                continue
            others = by_subject[(SubjectKind(n.subject_kind), n.subject_code)]
            outcome: Screening = screen(_facts(n, data, others, awards, deadline), rules, indicator)
            reasons_json = json.dumps(outcome.as_json(), ensure_ascii=False)
            old = stored.get(n.id)
            changed = old is None or (old.eligible, old.reasons_json) != (outcome.eligible, reasons_json)
            if old is None:
                inserts.append(
                    {
                        "nomination_id": n.id,
                        "campaign_id": campaign.id,
                        "eligible": outcome.eligible,
                        "reasons_json": reasons_json,
                        "checked_at": now,
                    }
                )
            elif changed:
                updates.append(
                    {"b_id": old.id, "b_eligible": outcome.eligible, "b_reasons": reasons_json, "b_at": now}
                )
            if old is None or old.eligible != outcome.eligible:
                record_event(
                    s,
                    campaign_id=campaign.id,
                    kind="nomination.screened",
                    now=now,
                    actor="eligibility",
                    subject=f"nomination:{n.id}",
                    payload={
                        "before": None if old is None else old.eligible,
                        "after": outcome.eligible,
                        "failed": [r.rule for r in outcome.failures],
                    },
                )
            results.append(
                ScreenedNomination(
                    nomination_id=n.id,
                    award_key=n.award_key,
                    subject_kind=SubjectKind(n.subject_kind),
                    subject_code=n.subject_code,
                    subject_name=n.subject_name,
                    nominated_by=n.nominated_by,
                    eligible=outcome.eligible,
                    reasons=outcome.reasons,
                    changed=changed,
                )
            )
        if inserts:
            s.execute(insert(ELIGIBILITY_TABLE), inserts)
        if updates:
            s.execute(
                update(ELIGIBILITY_TABLE)
                .where(ELIGIBILITY_TABLE.c.id == bindparam("b_id"))
                .values(
                    eligible=bindparam("b_eligible"),
                    reasons_json=bindparam("b_reasons"),
                    checked_at=bindparam("b_at"),
                ),
                updates,
            )
        return ScreeningSummary(results, withdrawn)


def load_screenings(session: Session, campaign_id: int) -> dict[int, Screening]:
    """The stored screening of each nomination of a campaign, by nomination id (for the council's code)."""
    return {
        r.nomination_id: Screening(r.eligible, [Reason.from_json(d) for d in json.loads(r.reasons_json)])
        for r in session.scalars(
            select(EligibilityResult).where(col(EligibilityResult.campaign_id) == campaign_id)
        )
    }
