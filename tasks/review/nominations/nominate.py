"""Nominating collectives and individuals: every row checked against the definition and the enrolment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from thidua.models.campaign import EnrolledPerson, EnrolledUnit
from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition
from thidua.models.directory_rows import RowError, fold
from thidua.models.review import (
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.models.text import nfc
from thidua.tasks.core.campaigns import require_state
from thidua.tasks.core.events import record_event
from thidua.tasks.review.nominations.declines import withdraw_declines
from thidua.tasks.review.nominations.errors import NominationRejected, NominationsClosed
from thidua.tasks.review.nominations.lookups import (
    _actor,
    _aware,
    campaign_and_definition,
    dossier_deadline,
    local_day,
    parse_subject_kind,
)
from thidua.tasks.review.nominations.shared import _KIND_LABELS, COLUMNS, OPEN_FOR_NOMINATIONS


@dataclass(frozen=True)
class NominationInput:
    """One proposal as a unit (or the HTTP API) sends it. Names come from the enrolment snapshot;
    `subject_name`, when given, is only checked against it (a wrong code then shows)."""

    award_key: str
    subject_kind: str | SubjectKind  # "collective" / "individual" (also "Tập thể" / "Cá nhân")
    subject_code: str
    nominated_by: str  # the proposing unit's code
    achievement: str | None = None
    subject_name: str | None = None


@dataclass(frozen=True)
class NominationOutcome:
    nomination_id: int
    award_key: str
    subject_kind: SubjectKind
    subject_code: str
    subject_name: str
    nominated_by: str
    status: Literal["created", "unchanged", "updated", "resubmitted"]
    is_late: bool


@dataclass(frozen=True)
class NominationResult:
    items: list[NominationOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def created(self) -> int:
        return self.count("created") + self.count("resubmitted")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def late(self) -> int:
        return sum(1 for i in self.items if i.is_late and i.status != "unchanged")

    def __str__(self) -> str:
        return f"Đề nghị mới {self.created}, cập nhật {self.count('updated')}, không đổi {self.unchanged}" + (
            f" (trong đó {self.late} gửi sau hạn nộp hồ sơ)" if self.late else ""
        )


@dataclass(frozen=True)
class _Located:
    """An input row and where it came from, so an error names the file, row and column."""

    row: NominationInput
    file: str
    line: int
    headers: Mapping[str, str]  # column key -> header as written


def nominate(
    engine: Engine,
    code: str,
    rows: Sequence[NominationInput],
    *,
    now: datetime,
    actor: str | None = None,
) -> NominationResult:
    """Record the nominations in `rows`, all or nothing (NominationRejected lists every problem)."""
    located = [_Located(r, "danh sách đề nghị", i, COLUMNS) for i, r in enumerate(rows, start=1)]
    return _nominate(engine, code, located, now=_aware(now), actor=actor, errors=[])


def _nominate(
    engine: Engine,
    code: str,
    rows: Sequence[_Located],
    *,
    now: datetime,
    actor: str | None,
    errors: list[RowError],
    error_type: type[NominationRejected] = NominationRejected,
) -> NominationResult:
    with transaction(engine) as s:
        campaign, defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        require_state(campaign, OPEN_FOR_NOMINATIONS, NominationsClosed)
        deadline = dossier_deadline(s, campaign.id, defn)
        units = {
            u.unit_code: u
            for u in s.scalars(select(EnrolledUnit).where(col(EnrolledUnit.campaign_id) == campaign.id))
        }
        person_codes = sorted(
            {
                nfc(r.row.subject_code)
                for r in rows
                if _kind_or_none(r.row.subject_kind) is SubjectKind.INDIVIDUAL
            }
        )
        people: dict[str, EnrolledPerson] = {}
        for start in range(0, len(person_codes), 500):
            people.update(
                (p.person_code, p)
                for p in s.scalars(
                    select(EnrolledPerson).where(
                        col(EnrolledPerson.campaign_id) == campaign.id,
                        col(EnrolledPerson.person_code).in_(person_codes[start : start + 500]),
                    )
                )
            )
        existing = {
            (n.award_key, SubjectKind(n.subject_kind), n.subject_code): n
            for n in s.scalars(select(Nomination).where(col(Nomination.campaign_id) == campaign.id))
        }
        checked = _check_rows(rows, defn, units, people, existing, errors)
        if errors:
            raise error_type(errors)
        is_late = local_day(now) > deadline
        return _write_nominations(s, campaign.id, checked, existing, now=now, actor=actor, is_late=is_late)


def _kind_or_none(value: str | SubjectKind) -> SubjectKind | None:
    try:
        return parse_subject_kind(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Checked:
    award_key: str
    kind: SubjectKind
    code: str
    name: str
    title: str | None
    unit_code: str
    nominated_by: str
    achievement: str | None


def _ancestors(unit_code: str, units: Mapping[str, EnrolledUnit]) -> list[str]:
    chain: list[str] = []
    current: str | None = unit_code
    while current is not None and current in units and current not in chain:
        chain.append(current)
        current = units[current].parent_code
    return chain


def _same_name(given: str, known: str) -> bool:
    # Diacritics matter in Vietnamese names (Hà ≠ Hạ): only case and spacing are forgiven.
    return " ".join(nfc(given).casefold().split()) == " ".join(nfc(known).casefold().split())


def _check_rows(
    rows: Sequence[_Located],
    defn: CampaignDefinition,
    units: Mapping[str, EnrolledUnit],
    people: Mapping[str, EnrolledPerson],
    existing: Mapping[tuple[str, SubjectKind, str], Nomination],
    errors: list[RowError],
) -> list[_Checked]:
    awards = {a.key: a for a in defn.awards}
    by_name = {fold(a.name): a.key for a in defn.awards}
    seen: dict[tuple[str, SubjectKind, str], _Located] = {}
    out: list[_Checked] = []
    for loc in rows:
        r = loc.row

        def err(key: str, problem: str, loc: _Located = loc) -> None:
            errors.append(RowError(loc.file, loc.line, loc.headers.get(key, COLUMNS[key]), problem))

        before = len(errors)
        award_text = nfc(r.award_key or "")
        award_key = award_text if award_text in awards else by_name.get(fold(award_text), "")
        if not award_text:
            err("award", "thiếu hình thức khen thưởng")
        elif not award_key:
            known = "; ".join(f"{a.key} ({a.name})" for a in defn.awards)
            err("award", f"phong trào không có hình thức khen thưởng “{award_text}”; có: {known}")
        try:
            kind: SubjectKind | None = parse_subject_kind(r.subject_kind)
        except ValueError as exc:
            err("kind", str(exc))
            kind = None
        if award_key and kind is not None:
            allowed = awards[award_key].subjects
            if kind.value not in allowed or kind.value not in defn.scope.subjects:
                err(
                    "kind",
                    f"{awards[award_key].name} không xét {_KIND_LABELS[kind]} trong phong trào này "
                    f"(chỉ tiêu {_KIND_LABELS[kind]} bằng 0 hoặc không thuộc đối tượng)",
                )
        code = nfc(r.subject_code or "")
        by = nfc(r.nominated_by or "")
        if not by:
            err("nominated_by", "thiếu mã đơn vị đề nghị")
        elif by not in units:
            err("nominated_by", f"đơn vị “{by}” không tham gia phong trào {defn.code}")
        name, title, unit_code = "", None, ""
        if not code:
            err("code", "thiếu mã tập thể (mã đơn vị) hoặc cá nhân (mã cán bộ)")
        elif kind is SubjectKind.COLLECTIVE:
            unit = units.get(code)
            if unit is None:
                err("code", f"đơn vị “{code}” không tham gia phong trào {defn.code} (xem danh sách đơn vị)")
            else:
                name, unit_code = unit.unit_name, unit.unit_code
        elif kind is SubjectKind.INDIVIDUAL:
            person = people.get(code)
            if person is None:
                err(
                    "code",
                    f"cán bộ “{code}” không có trong danh sách cán bộ tham gia phong trào {defn.code}",
                )
            else:
                name, title, unit_code = person.full_name, person.title, person.unit_code
        if name and r.subject_name and not _same_name(r.subject_name, name):
            err("name", f"mã “{code}” là {name}, không phải “{nfc(r.subject_name)}”; kiểm tra lại mã")
        if unit_code and by in units and by not in _ancestors(unit_code, units):
            err(
                "nominated_by",
                f"{name} ({code}) thuộc đơn vị {unit_code}, không thuộc đơn vị đề nghị “{by}”",
            )
        if len(errors) > before or kind is None:
            continue
        key = (award_key, kind, code)
        first = seen.setdefault(key, loc)
        if first is not loc:
            err("code", f"đề nghị {name} ({code}) bị trùng: đã có ở dòng {first.line}")
            continue
        old = existing.get(key)
        if old is not None and old.status != NominationStatus.WITHDRAWN and old.nominated_by != by:
            err(
                "nominated_by",
                f"{name} ({code}) đã được đơn vị {old.nominated_by} đề nghị {awards[award_key].name}; "
                "một đối tượng chỉ do một đơn vị đề nghị",
            )
            continue
        achievement = nfc(r.achievement) if r.achievement else None
        out.append(_Checked(award_key, kind, code, name, title, unit_code, by, achievement or None))
    return out


def _write_nominations(
    s: Session,
    campaign_id: int,
    rows: Sequence[_Checked],
    existing: Mapping[tuple[str, SubjectKind, str], Nomination],
    *,
    now: datetime,
    actor: str | None,
    is_late: bool,
) -> NominationResult:
    by = _actor(actor, 254)
    results: list[tuple[_Checked, Nomination, str, str | None]] = []  # row, nomination, status, before
    for row in rows:
        before: str | None = None
        old = existing.get((row.award_key, row.kind, row.code))
        if old is None:
            nomination = Nomination(
                campaign_id=campaign_id,
                award_key=row.award_key,
                subject_kind=row.kind,
                subject_code=row.code,
                subject_name=row.name,
                subject_title=row.title,
                unit_code=row.unit_code,
                nominated_by=row.nominated_by,
                submitted_at=now,
                is_late=is_late,
                status=NominationStatus.SUBMITTED,
                achievement=row.achievement,
                submitted_by=by,
            )
            s.add(nomination)
            results.append((row, nomination, "created", None))
        elif old.status == NominationStatus.WITHDRAWN:
            before = NominationStatus(old.status).value
            old.status = NominationStatus.SUBMITTED
            old.nominated_by = row.nominated_by
            old.submitted_at = now
            old.is_late = is_late
            old.missing_parts_json = "[]"
            old.achievement = row.achievement or old.achievement
            old.submitted_by = by
            s.add(old)
            results.append((row, old, "resubmitted", before))
        elif row.achievement is not None and row.achievement != old.achievement:
            before = old.achievement
            old.achievement = row.achievement
            s.add(old)
            results.append((row, old, "updated", before))
        else:
            results.append((row, old, "unchanged", None))
    s.flush()
    # Nominating takes back an earlier "proposes nobody" of the proposing unit.
    new = [row.nominated_by for row, _n, status, _b in results if status in ("created", "resubmitted")]
    withdraw_declines(s, campaign_id, new, now=now, actor=actor)
    event_actor = _actor(actor, 100)
    items: list[NominationOutcome] = []
    for row, nomination, status, before in results:
        assert nomination.id is not None
        if status in ("created", "resubmitted"):
            record_event(
                s,
                campaign_id=campaign_id,
                kind="nomination.submitted",
                now=now,
                actor=event_actor,
                subject=f"nomination:{nomination.id}",
                payload={
                    "before": before,
                    "after": NominationStatus.SUBMITTED.value,
                    "award": row.award_key,
                    "subject_kind": row.kind.value,
                    "subject_code": row.code,
                    "nominated_by": row.nominated_by,
                    "is_late": nomination.is_late,
                },
            )
        elif status == "updated":
            record_event(
                s,
                campaign_id=campaign_id,
                kind="nomination.updated",
                now=now,
                actor=event_actor,
                subject=f"nomination:{nomination.id}",
                payload={"field": "achievement", "before": before, "after": row.achievement},
            )
        items.append(
            NominationOutcome(
                nomination_id=nomination.id,
                award_key=row.award_key,
                subject_kind=row.kind,
                subject_code=row.code,
                subject_name=nomination.subject_name,
                nominated_by=nomination.nominated_by,
                status=cast(Any, status),
                is_late=nomination.is_late,
            )
        )
    return NominationResult(items)
