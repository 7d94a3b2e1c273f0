"""Nominations and their dossiers: units propose collectives and individuals and attach the dossier parts;
the system tells which nominations are complete by the deadline and drafts the lists it can write itself.

- `nominate` is the service function (the future HTTP API calls it; `import_nominations` reads a CSV/XLSX list
  into the same rows): every row is checked against the campaign's definition and enrolment snapshot, all or
  nothing; a nomination is keyed by (campaign, award, subject kind, subject code), so sending it again changes
  nothing. One sent after the dossier deadline is kept, marked `is_late`.
- `add_dossier_file` stores one file of a dossier part under `<data>/dossiers/<CODE>/<UNIT>/` with a name the
  system chooses (the user's file name is only shown, never a path), after checking its type (extension and
  content) and size; a different file for the same part is a new revision, the same bytes again are a no-op.
- `refresh_completeness` sets every nomination's status from the files there on time, for the whole campaign
  in a few statements: COMPLETE when every required part arrived by the deadline, SUBMITTED while parts are
  missing before it, INCOMPLETE (missing parts listed) after it.
- `draft_documents` writes a proposing unit's Danh sách (DOCX, Decree 30) and Tổng hợp kết quả (XLSX) from
  the system's own data, as generated dossier files.

Every state change of a nomination or dossier is an audit event (tasks.launch.campaign.record_event).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, func, select, update
from sqlmodel import Session, SQLModel, col

from thidua.errors import Conflict, InvalidInput, ThiduaError
from thidua.models.campaign import Campaign, CampaignStatus, Deadline, EnrolledPerson, EnrolledUnit
from thidua.models.db import transaction
from thidua.models.definition import CampaignDefinition, DossierPart, definition_from_json
from thidua.models.directory_rows import HEADER_SEARCH_ROWS, Cell, RowError, cell_text, fold
from thidua.models.eligibility import Reason
from thidua.models.indicators import IndicatorResult
from thidua.models.labels import campaign_status
from thidua.models.reporting import ProgressSnapshot, SnapshotSource
from thidua.models.review import (
    CampaignDocument,
    DocumentKind,
    DossierFile,
    EligibilityResult,
    FinalResult,
    Nomination,
    NominationStatus,
    SubjectKind,
)
from thidua.models.settings import Settings
from thidua.models.text import fmt_date, nfc, vn_sort_key
from thidua.notifications.documents.decree30 import DocumentHeader, SignatureBlock
from thidua.notifications.documents.dossier import (
    ListLine,
    NominationListContent,
    ResultsSummaryContent,
    SummaryLine,
    render_nomination_list,
    render_results_summary,
)
from thidua.tasks.core.campaigns import get_campaign
from thidua.tasks.core.directory import read_csv_rows, read_xlsx_rows
from thidua.tasks.launch.campaign import record_event

__all__ = [
    "COLUMNS",
    "DOSSIER_DIR",
    "VN_TZ",
    "DossierFileError",
    "DraftResult",
    "NominationError",
    "NominationImportError",
    "NominationInput",
    "NominationOutcome",
    "NominationRejected",
    "NominationResult",
    "NominationView",
    "add_dossier_file",
    "campaign_and_definition",
    "dossier_deadline",
    "draft_documents",
    "import_nominations",
    "list_nominations",
    "nominate",
    "parse_subject_kind",
    "read_nomination_file",
    "refresh_completeness",
]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DOSSIER_DIR = "dossiers"
NOMINATION_TABLE = SQLModel.metadata.tables[Nomination.__tablename__]

# Column key -> the header a template shows; errors name the header as the file writes it.
COLUMNS: dict[str, str] = {
    "award": "Hình thức khen thưởng",
    "kind": "Đối tượng",
    "code": "Mã tập thể, cá nhân",
    "name": "Họ và tên / Tên tập thể",
    "nominated_by": "Đơn vị đề nghị",
    "achievement": "Thành tích",
}
OPTIONAL_COLUMNS = frozenset({"name", "achievement"})
# What clerks write instead (compared without case, diacritics or punctuation).
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "award": ("Hình thức khen thưởng", "Hình thức", "Mã hình thức khen thưởng", "Danh hiệu, hình thức"),
    "kind": ("Đối tượng", "Tập thể / cá nhân", "Tập thể, cá nhân", "Loại đối tượng"),
    "code": (
        "Mã tập thể, cá nhân",
        "Mã tập thể / cá nhân",
        "Mã đối tượng",
        "Mã đơn vị, cán bộ",
        "Mã cán bộ, đơn vị",
        "Mã",
    ),
    "name": (
        "Họ và tên / Tên tập thể",
        "Họ và tên",
        "Họ tên",
        "Tên tập thể, cá nhân",
        "Tên tập thể / cá nhân",
        "Tên tập thể, họ và tên cá nhân",
    ),
    "nominated_by": ("Đơn vị đề nghị", "Mã đơn vị đề nghị"),
    "achievement": ("Thành tích", "Tóm tắt thành tích", "Thành tích đạt được"),
}
_KIND_WORDS: dict[str, SubjectKind] = {
    "collective": SubjectKind.COLLECTIVE,
    "tap the": SubjectKind.COLLECTIVE,
    "individual": SubjectKind.INDIVIDUAL,
    "ca nhan": SubjectKind.INDIVIDUAL,
}
_KIND_LABELS = {SubjectKind.COLLECTIVE: "tập thể", SubjectKind.INDIVIDUAL: "cá nhân"}
_CLOSED_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.AWARDED, CampaignStatus.ARCHIVED)
_SAFE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


# ---------------------------------------------------------------- errors


class NominationError(ThiduaError):
    """Base of this module's errors."""


class NominationsClosed(NominationError, Conflict):
    """The campaign is past the stage that takes nominations."""


class NominationRejected(NominationError, InvalidInput):
    """The whole list was refused; nothing was written. `.errors` locates every problem."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors: list[RowError] = list(errors)
        super().__init__(str(self), self.errors)

    def __str__(self) -> str:
        head = (
            f"Không tiếp nhận đề nghị khen thưởng: có {len(self.errors)} lỗi, không đề nghị nào được ghi. "
            "Hãy sửa các lỗi sau rồi gửi lại toàn bộ danh sách:"
        )
        return "\n".join([head, *(f"- {e}" for e in self.errors)])


class NominationImportError(NominationRejected):
    """A nomination file that cannot be imported (unreadable, wrong headers or bad rows)."""


class DossierFileError(NominationError, InvalidInput):
    """A dossier file refused: unknown part or unit, wrong type, too large, empty."""


# ---------------------------------------------------------------- shared look-ups


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (the clock carries its zone)")
    return now


def local_day(now: datetime) -> date:
    """The calendar day in Vietnam at `now`: deadlines end at the end of that day there."""
    return _aware(now).astimezone(VN_TZ).date()


def campaign_and_definition(
    session: Session, code: str, *, lock: bool = False
) -> tuple[Campaign, CampaignDefinition]:
    campaign = get_campaign(session, code, lock=lock)
    return campaign, definition_from_json(campaign.definition_json)


def dossier_deadline(session: Session, campaign_id: int, defn: CampaignDefinition) -> date:
    """The dossier due date of the stored calendar (after the working-day rule), else the plan's date."""
    due = session.execute(
        select(col(Deadline.due_date)).where(
            col(Deadline.campaign_id) == campaign_id, col(Deadline.key) == "dossier"
        )
    ).scalar_one_or_none()
    return due if due is not None else defn.dossier.deadline


def _actor(actor: str | None, limit: int) -> str | None:
    text = nfc(actor) if actor else None
    return text[:limit] if text else None


def parse_subject_kind(text: str | SubjectKind) -> SubjectKind:
    """'collective' / 'Tập thể' -> COLLECTIVE; 'individual' / 'Cá nhân' -> INDIVIDUAL; else ValueError."""
    if isinstance(text, SubjectKind):
        return text
    found = _KIND_WORDS.get(fold(str(text)).replace("_", " "))
    if found is None:
        raise ValueError(f"“{text}” không rõ là tập thể hay cá nhân; ghi “Tập thể” hoặc “Cá nhân”")
    return found


# ---------------------------------------------------------------- nominate


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
        if CampaignStatus(campaign.status) in _CLOSED_STATUSES:
            raise NominationsClosed(
                f"Phong trào {campaign.code} đang ở trạng thái {campaign_status(campaign.status)}: "
                "không nhận đề nghị khen thưởng."
            )
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


# ---------------------------------------------------------------- import from CSV / XLSX


def _header_key(text: str) -> str:
    return " ".join(re.sub(r"[/,;:()\-]", " ", fold(text)).split())


_ALIAS_KEYS: dict[str, str] = {_header_key(a): key for key, names in _HEADER_ALIASES.items() for a in names}


def _detect_header(cells: Sequence[Cell]) -> tuple[dict[str, int], dict[str, str]]:
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    for index, cell in enumerate(cells):
        text = cell_text(cell)
        key = _ALIAS_KEYS.get(_header_key(text)) if text else None
        if key is not None and key not in positions:
            positions[key] = index
            written[key] = text or COLUMNS[key]
    return positions, written


def _expected() -> str:
    return ", ".join(
        f"{label} (không bắt buộc)" if key in OPTIONAL_COLUMNS else label for key, label in COLUMNS.items()
    )


def read_nomination_file(path: Path) -> tuple[list[_Located], list[RowError]]:
    """The rows of a nomination list (CSV in UTF-8 with `,` `;` or tab, or the first sheet of an XLSX)."""
    label = nfc(path.name) or "tệp"
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = read_csv_rows(path)
        elif suffix in (".xlsx", ".xlsm"):
            table = read_xlsx_rows(path)
        else:
            problem = (
                f"định dạng “{path.suffix or '(không có đuôi)'}” không được hỗ trợ; hãy lưu thành .xlsx hoặc "
                ".csv (UTF-8)"
            )
            return [], [RowError(label, None, None, problem)]
    except FileNotFoundError:
        return [], [RowError(label, None, None, f"không tìm thấy tệp {path}")]
    except UnicodeDecodeError:
        problem = (
            "tệp CSV không ở bảng mã UTF-8; trong Excel hãy chọn Lưu thành “CSV UTF-8 (Comma delimited)”"
        )
        return [], [RowError(label, None, None, problem)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        problem = f"không đọc được tệp Excel ({type(exc).__name__}); tệp có bị hỏng không?"
        return [], [RowError(label, None, None, problem)]
    return _parse_rows(label, table)


def _parse_rows(label: str, table: Sequence[Sequence[Cell]]) -> tuple[list[_Located], list[RowError]]:
    header_row = 0
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    best: tuple[int, dict[str, int], dict[str, str]] | None = None
    for number, cells in enumerate(table[:HEADER_SEARCH_ROWS], start=1):
        found, names = _detect_header(cells)
        if found and (best is None or len(found) > len(best[1])):
            best = (number, found, names)
        if all(k in found for k in COLUMNS if k not in OPTIONAL_COLUMNS):
            header_row, positions, written = number, found, names
            break
    if not header_row:
        if best is None:
            problem = f"không thấy dòng tiêu đề; dòng tiêu đề phải có các cột: {_expected()}"
            return [], [RowError(label, None, None, problem)]
        missing = [COLUMNS[k] for k in COLUMNS if k not in OPTIONAL_COLUMNS and k not in best[1]]
        problem = f"dòng tiêu đề thiếu cột: {', '.join(missing)} (cần các cột: {_expected()})"
        return [], [RowError(label, best[0], None, problem)]
    headers = {**COLUMNS, **written}
    rows: list[_Located] = []
    for number, cells in enumerate(table[header_row:], start=header_row + 1):
        values = {k: cell_text(cells[i]) if i < len(cells) else None for k, i in positions.items()}
        if not any(values.values()):
            continue  # blank lines between blocks are common in hand-made sheets
        row = NominationInput(
            award_key=values.get("award") or "",
            subject_kind=values.get("kind") or "",
            subject_code=values.get("code") or "",
            nominated_by=values.get("nominated_by") or "",
            achievement=values.get("achievement"),
            subject_name=values.get("name"),
        )
        rows.append(_Located(row, label, number, headers))
    if not rows:
        return [], [RowError(label, header_row, None, "danh sách không có đề nghị nào dưới dòng tiêu đề")]
    return rows, []


def import_nominations(
    engine: Engine, code: str, path: Path, *, now: datetime, actor: str | None = None
) -> NominationResult:
    """Import a nomination list (CSV/XLSX), all or nothing; NominationImportError locates every problem."""
    rows, errors = read_nomination_file(Path(path))
    if errors and not rows:
        raise NominationImportError(errors)
    return _nominate(
        engine, code, rows, now=_aware(now), actor=actor, errors=errors, error_type=NominationImportError
    )


# ---------------------------------------------------------------- dossier files

_OLE = bytes.fromhex("D0CF11E0A1B11AE1")
_MIME: dict[str, str] = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}
_TYPE_NAMES: dict[str, str] = {
    "pdf": "PDF",
    "docx": "Word (.docx)",
    "xlsx": "Excel (.xlsx)",
    "doc": "Word 97–2003 (.doc)",
    "xls": "Excel 97–2003 (.xls)",
    "ole": "Word/Excel 97–2003",
    "zip": "tệp nén ZIP",
    "odt": "OpenDocument văn bản (.odt)",
    "ods": "OpenDocument bảng tính (.ods)",
    "png": "ảnh PNG",
    "jpg": "ảnh JPEG",
}


def _zip_names(data: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return []


def sniff_type(data: bytes) -> str | None:
    """What the bytes are, from their content: pdf, docx, xlsx, ole (doc/xls), odt, ods, zip, png, jpg."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(_OLE):
        return "ole"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"PK"):
        names = _zip_names(data)
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return "docx"
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
        if "mimetype" in names:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                mimetype = archive.read("mimetype").decode("ascii", "replace")
            if mimetype.endswith("opendocument.text"):
                return "odt"
            if mimetype.endswith("opendocument.spreadsheet"):
                return "ods"
        if names:
            return "zip"
    return None


def _content_matches(ext: str, sniffed: str | None) -> bool:
    expected = {"doc": "ole", "xls": "ole", "jpeg": "jpg"}.get(ext, ext)
    if expected in ("pdf", "docx", "xlsx", "ole", "odt", "ods", "png", "jpg"):
        return sniffed == expected
    return True  # a type the campaign allows but no signature is known for: the extension decides


def _extension(name: str) -> str:
    suffix = Path(name.replace("\\", "/")).suffix.lower().lstrip(".")
    return suffix if re.fullmatch(r"[a-z0-9]{1,10}", suffix) else ""


def _shown_name(original_name: str) -> str:
    # Kept for people to read; control characters would garble the CLI and logs.
    text = "".join(ch for ch in nfc(original_name) if ch.isprintable())
    return text[:300] or "tệp"


def _check_file(defn: CampaignDefinition, source: Path, shown: str, ext: str) -> tuple[bytes, str]:
    """The file's bytes and MIME type, or DossierFileError saying what is wrong."""
    allowed = list(defn.dossier.allowed_types)
    if ext not in allowed:
        raise DossierFileError(
            f"{shown}: loại tệp “{ext or '(không có đuôi)'}” không được nhận; chỉ nhận: {', '.join(allowed)}"
        )
    limit = defn.dossier.max_file_mb * 1024 * 1024
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise DossierFileError(f"{shown}: không đọc được tệp ({exc.strerror or type(exc).__name__})") from exc
    if size > limit:
        raise DossierFileError(
            f"{shown}: tệp {size / 1024 / 1024:.1f} MB, quá giới hạn {defn.dossier.max_file_mb} MB của "
            "phong trào".replace(".", ",", 1)
        )
    if size == 0:
        raise DossierFileError(f"{shown}: tệp rỗng (0 byte)")
    data = source.read_bytes()
    if len(data) > limit:  # the file grew between stat() and read
        raise DossierFileError(f"{shown}: tệp quá giới hạn {defn.dossier.max_file_mb} MB của phong trào")
    sniffed = sniff_type(data)
    if not _content_matches(ext, sniffed):
        what = _TYPE_NAMES.get(sniffed or "", "không nhận ra định dạng")
        raise DossierFileError(
            f"{shown}: đuôi tệp là .{ext} nhưng nội dung là {what}; hãy gửi đúng tệp "
            f"{_TYPE_NAMES.get(ext, ext)} (không đổi đuôi tệp)"
        )
    return data, _MIME.get(ext, "application/octet-stream")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _part(defn: CampaignDefinition, part_key: str) -> DossierPart:
    key = nfc(part_key)
    for part in defn.dossier.parts:
        if part.key == key:
            return part
    known = "; ".join(f"{p.key} ({p.name})" for p in defn.dossier.parts)
    raise DossierFileError(f"Hồ sơ của phong trào không có thành phần “{key}”; có: {known}")


def _unit(session: Session, campaign: Campaign, unit_code: str) -> EnrolledUnit:
    code = nfc(unit_code)
    unit = session.scalars(
        select(EnrolledUnit).where(
            col(EnrolledUnit.campaign_id) == campaign.id, col(EnrolledUnit.unit_code) == code
        )
    ).first()
    if unit is None or not _SAFE_CODE.match(code):
        raise DossierFileError(f"Đơn vị “{code}” không tham gia phong trào {campaign.code}.")
    return unit


def _nomination_of(
    session: Session, campaign: Campaign, unit_code: str, nominee: str, award_key: str | None
) -> Nomination:
    code = nfc(nominee)
    query = select(Nomination).where(
        col(Nomination.campaign_id) == campaign.id,
        col(Nomination.subject_code) == code,
        col(Nomination.nominated_by) == unit_code,
        col(Nomination.status) != NominationStatus.WITHDRAWN,
    )
    if award_key:
        query = query.where(col(Nomination.award_key) == nfc(award_key))
    found = list(session.scalars(query))
    if not found:
        raise DossierFileError(
            f"Đơn vị {unit_code} chưa đề nghị khen thưởng “{code}” trong phong trào {campaign.code}"
            + (f" (hình thức {award_key})" if award_key else "")
            + "; hãy gửi đề nghị trước khi nộp hồ sơ riêng của đối tượng."
        )
    if len(found) > 1:
        keys = ", ".join(n.award_key for n in found)
        raise DossierFileError(
            f"“{code}” được đề nghị nhiều hình thức ({keys}); hãy chọn hình thức khen thưởng của tệp này."
        )
    return found[0]


def add_dossier_file(
    engine: Engine,
    settings: Settings,
    code: str,
    *,
    unit_code: str,
    part_key: str,
    source: Path,
    original_name: str,
    nominee: str | None = None,
    award_key: str | None = None,
    now: datetime,
    actor: str | None = None,
) -> DossierFile:
    """Store one file of a dossier part (the whole unit's, or `nominee`'s own); returns its current row.

    The same bytes as the current revision change nothing; other bytes become a new revision and the previous
    one stays, no longer current. Raises DossierFileError (Vietnamese) for an unknown part, unit or nominee,
    a type the campaign does not accept (checked by extension and by content), a file over the size limit.
    """
    _aware(now)
    shown = _shown_name(original_name)
    ext = _extension(shown)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign, defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        part = _part(defn, part_key)
        unit = _unit(s, campaign, unit_code)
        nomination = _nomination_of(s, campaign, unit.unit_code, nominee, award_key) if nominee else None
        data, mime = _check_file(defn, Path(source), shown, ext)
        on_time = local_day(now) <= dossier_deadline(s, campaign.id, defn)
        return _store(
            s,
            settings,
            campaign,
            unit_code=unit.unit_code,
            part=part,
            nomination_id=nomination.id if nomination is not None else None,
            data=data,
            ext=ext,
            mime=mime,
            original_name=shown,
            generated=False,
            on_time=on_time,
            now=now,
            actor=actor,
        )


def _current_file(
    s: Session, campaign_id: int, unit_code: str, part_key: str, nomination_id: int | None
) -> tuple[DossierFile | None, int]:
    where = [
        col(DossierFile.campaign_id) == campaign_id,
        col(DossierFile.unit_code) == unit_code,
        col(DossierFile.part_key) == part_key,
        col(DossierFile.nomination_id).is_(None)
        if nomination_id is None
        else col(DossierFile.nomination_id) == nomination_id,
    ]
    current = s.scalars(select(DossierFile).where(*where, col(DossierFile.is_current).is_(True))).first()
    last = s.execute(select(func.max(col(DossierFile.revision))).where(*where)).scalar_one_or_none()
    return current, int(last or 0)


def _store(
    s: Session,
    settings: Settings,
    campaign: Campaign,
    *,
    unit_code: str,
    part: DossierPart,
    nomination_id: int | None,
    data: bytes,
    ext: str,
    mime: str,
    original_name: str,
    generated: bool,
    on_time: bool,
    now: datetime,
    actor: str | None,
) -> DossierFile:
    assert campaign.id is not None
    sha = hashlib.sha256(data).hexdigest()
    current, last = _current_file(s, campaign.id, unit_code, part.key, nomination_id)
    if current is not None and current.sha256 == sha:
        return current
    revision = last + 1
    # Never the sender's name in a path: checked codes, the part key, a revision and a digest.
    owner = "chung" if nomination_id is None else str(nomination_id)
    rel = Path(DOSSIER_DIR) / campaign.code / unit_code / f"{part.key}-{owner}-r{revision}-{sha[:8]}.{ext}"
    root = (settings.data_dir / DOSSIER_DIR).resolve()
    target = (settings.data_dir / rel).resolve()
    if not target.is_relative_to(root):
        raise DossierFileError(f"Đường dẫn lưu tệp không hợp lệ: {rel}")
    _write_atomic(target, data)
    if current is not None:
        current.is_current = False
        s.add(current)
        s.flush()
    row = DossierFile(
        campaign_id=campaign.id,
        unit_code=unit_code,
        nomination_id=nomination_id,
        part_key=part.key,
        revision=revision,
        is_current=True,
        original_name=original_name,
        stored_path=rel.as_posix(),
        sha256=sha,
        size_bytes=len(data),
        content_type=mime,
        uploaded_at=now,
        uploaded_by=_actor(actor, 254),
        generated=generated,
        on_time=on_time,
    )
    s.add(row)
    s.flush()
    record_event(
        s,
        campaign_id=campaign.id,
        kind="dossier.file_added",
        now=now,
        actor=_actor(actor, 100),
        subject=f"dossier:{unit_code}/{part.key}" + (f"/{nomination_id}" if nomination_id else ""),
        payload={
            "before": None if current is None else {"revision": current.revision, "sha256": current.sha256},
            "after": {"revision": revision, "sha256": sha},
            "unit": unit_code,
            "part": part.key,
            "nomination_id": nomination_id,
            "file": original_name,
            "size": len(data),
            "on_time": on_time,
            "generated": generated,
        },
    )
    return row


# ---------------------------------------------------------------- completeness


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
        required = [p for p in defn.dossier.parts if p.required]
        on_time = set(
            s.execute(
                select(col(DossierFile.unit_code), col(DossierFile.nomination_id), col(DossierFile.part_key))
                .where(col(DossierFile.campaign_id) == campaign.id, col(DossierFile.on_time).is_(True))
                .distinct()
            )
            .tuples()
            .all()
        )
        by_nomination = {(n, p) for _u, n, p in on_time if n is not None}
        unit_wide = {(u, p) for u, n, p in on_time if n is None}
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
            missing = [
                p.name for p in required if (by, p.key) not in unit_wide and (nid, p.key) not in by_nomination
            ]
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


# ---------------------------------------------------------------- drafts from the system's own data


@dataclass(frozen=True)
class DraftResult:
    files: list[DossierFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a part was not drafted


def _final_results(s: Session, campaign_id: int) -> dict[tuple[str, str], FinalResult]:
    """The final figures; before the close run has frozen them (units draft their dossier before the
    campaign closes), the latest figures computed from their reports, final period first."""
    out: dict[tuple[str, str], FinalResult] = {}
    snapshots = s.scalars(
        select(ProgressSnapshot)
        .where(
            col(ProgressSnapshot.campaign_id) == campaign_id,
            col(ProgressSnapshot.source) == SnapshotSource.REPORT,
        )
        .order_by(col(ProgressSnapshot.period_key))  # "2024-01" < ... < "2024-06" < "final"
    )
    for snap in snapshots:
        out[(snap.subject_kind, snap.subject_code)] = FinalResult(
            campaign_id=campaign_id,
            subject_kind=snap.subject_kind,
            subject_code=snap.subject_code,
            unit_code="",
            values_json=snap.values_json,
            indicators_json=snap.indicators_json,
            computed_at=snap.computed_at,
        )
    for r in s.scalars(select(FinalResult).where(col(FinalResult.campaign_id) == campaign_id)):
        out[(r.subject_kind, r.subject_code)] = r
    return out


def _results_of(row: FinalResult | None) -> dict[str, IndicatorResult]:
    if row is None:
        return {}
    out: dict[str, IndicatorResult] = {}
    for key, data in json.loads(row.indicators_json or "{}").items():
        try:
            out[key] = IndicatorResult.from_json(key, data)
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry is shown as no data rather than failing the whole draft
    return out


def draft_documents(
    engine: Engine, settings: Settings, code: str, unit_code: str, *, now: datetime
) -> DraftResult:
    """Draft the proposing unit's Danh sách (DOCX) and Tổng hợp kết quả (XLSX) as generated dossier files.

    Only for parts the campaign's dossier has ("danh_sach", and the part whose key starts with "tong_hop").
    A part whose current file the unit uploaded itself is left alone (the signed copy wins over a draft).
    """
    day = local_day(now)
    with Session(engine, expire_on_commit=False) as s, s.begin():
        campaign, defn = campaign_and_definition(s, code, lock=True)
        assert campaign.id is not None
        unit = _unit(s, campaign, unit_code)
        parts = {p.key: p for p in defn.dossier.parts}
        list_part = parts.get("danh_sach")
        summary_part = next((p for p in defn.dossier.parts if p.key.startswith("tong_hop")), None)
        result = DraftResult()
        if list_part is None and summary_part is None:
            result.skipped.append("Hồ sơ của phong trào không có thành phần Danh sách hay Tổng hợp kết quả.")
            return result
        nominations = list(
            s.scalars(
                select(Nomination).where(
                    col(Nomination.campaign_id) == campaign.id,
                    col(Nomination.nominated_by) == unit.unit_code,
                    col(Nomination.status) != NominationStatus.WITHDRAWN,
                )
            )
        )
        if not nominations:
            result.skipped.append(
                f"Đơn vị {unit.unit_code} chưa có đề nghị khen thưởng nào để lập danh sách."
            )
            return result
        nominations.sort(key=_list_order)
        units = {
            u.unit_code: u
            for u in s.scalars(select(EnrolledUnit).where(col(EnrolledUnit.campaign_id) == campaign.id))
        }
        on_time = day <= dossier_deadline(s, campaign.id, defn)
        awards = {a.key: a.name for a in defn.awards}
        folder = settings.data_dir / DOSSIER_DIR / campaign.code / unit.unit_code
        folder.mkdir(parents=True, exist_ok=True)
        drafts: list[tuple[DossierPart, DocumentKind, str, bytes]] = []
        if list_part is not None:
            content = _list_content(s, campaign, defn, unit, units, nominations, awards, day)
            drafts.append((list_part, DocumentKind.DRAFT_LIST, "docx", _render(folder, "docx", content)))
        if summary_part is not None:
            finals = _final_results(s, campaign.id)
            summary = _summary_content(campaign, defn, summary_part, unit, units, nominations, awards, finals)
            drafts.append(
                (summary_part, DocumentKind.DRAFT_SUMMARY, "xlsx", _render(folder, "xlsx", summary))
            )
        for part, kind, ext, data in drafts:
            current, _last = _current_file(s, campaign.id, unit.unit_code, part.key, None)
            if current is not None and not current.generated:
                result.skipped.append(
                    f"{part.name}: đơn vị đã nộp tệp “{current.original_name}” (lần {current.revision}); "
                    "giữ tệp của đơn vị, không thay bằng bản dự thảo."
                )
                continue
            row = _store(
                s,
                settings,
                campaign,
                unit_code=unit.unit_code,
                part=part,
                nomination_id=None,
                data=data,
                ext=ext,
                mime=_MIME[ext],
                original_name=f"{part.name} – {unit.unit_name} (dự thảo).{ext}"[:300],
                generated=True,
                on_time=on_time,
                now=now,
                actor="system",
            )
            _record_document(s, campaign.id, kind, unit.unit_code, row, now)
            result.files.append(row)
        return result


def _list_order(n: Nomination) -> tuple[int, tuple[str, str, str], str]:
    # Collectives first (by code), then people the Vietnamese way: given name, middle, family.
    if n.subject_kind == SubjectKind.COLLECTIVE:
        return (0, ("", "", ""), n.subject_code)
    return (1, vn_sort_key(n.subject_name), n.subject_code)


def _render(folder: Path, ext: str, content: NominationListContent | ResultsSummaryContent) -> bytes:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".draft-", suffix=f".{ext}")
    os.close(fd)
    path = Path(tmp)
    try:
        if isinstance(content, NominationListContent):
            render_nomination_list(content, path)
        else:
            render_results_summary(content, path)
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


def _record_document(
    s: Session, campaign_id: int, kind: DocumentKind, ref: str, row: DossierFile, now: datetime
) -> None:
    doc = s.scalars(
        select(CampaignDocument).where(
            col(CampaignDocument.campaign_id) == campaign_id,
            col(CampaignDocument.kind) == kind,
            col(CampaignDocument.ref) == ref,
        )
    ).first()
    if doc is None:
        s.add(
            CampaignDocument(
                campaign_id=campaign_id,
                kind=kind,
                ref=ref,
                path=row.stored_path,
                sha256=row.sha256,
                created_at=now,
            )
        )
    elif doc.sha256 != row.sha256:
        doc.path, doc.sha256, doc.created_at = row.stored_path, row.sha256, now
        s.add(doc)


def _unit_head(s: Session, campaign_id: int, unit_code: str) -> EnrolledPerson | None:
    return s.scalars(
        select(EnrolledPerson).where(
            col(EnrolledPerson.campaign_id) == campaign_id,
            col(EnrolledPerson.unit_code) == unit_code,
            col(EnrolledPerson.is_head).is_(True),
        )
    ).first()


_CAMPAIGN_KIND_WORDS = {"thuong_xuyen": "thường xuyên", "chuyen_de": "chuyên đề", "theo_dot": "theo đợt"}


def _campaign_phrase(defn: CampaignDefinition) -> str:
    kind = _CAMPAIGN_KIND_WORDS.get(str(getattr(defn.kind, "value", defn.kind)), "")
    return f"phong trào thi đua {kind} “{defn.title}”".replace("  ", " ")


def _unit_column(n: Nomination, units: Mapping[str, EnrolledUnit]) -> str:
    """The "Đơn vị" column: a person's unit; for a collective, the unit it belongs to."""
    own = units.get(n.unit_code)
    if own is None:
        return n.unit_code
    if n.subject_kind == SubjectKind.COLLECTIVE:
        parent = units.get(own.parent_code or "")
        return parent.unit_name if parent is not None else ""
    return own.unit_name


def _list_content(
    s: Session,
    campaign: Campaign,
    defn: CampaignDefinition,
    unit: EnrolledUnit,
    units: Mapping[str, EnrolledUnit],
    nominations: Iterable[Nomination],
    awards: Mapping[str, str],
    day: date,
) -> NominationListContent:
    assert campaign.id is not None
    parent = units.get(unit.parent_code or "")
    head = _unit_head(s, campaign.id, unit.unit_code)
    header = DocumentHeader(
        parent_agency=parent.unit_name if parent is not None else defn.issuer.parent_agency,
        agency=unit.unit_name,
        number=None,
        symbol=f"DS-{unit.unit_code}",
        place=unit.place_name or defn.issuer.place,
        date=day,
    )
    lines = [
        ListLine(
            kind="collective" if n.subject_kind == SubjectKind.COLLECTIVE else "individual",
            name=n.subject_name,
            title=n.subject_title or "",
            unit_name=_unit_column(n, units),
            award_name=awards.get(n.award_key, n.award_key),
        )
        for n in nominations
    ]
    return NominationListContent(
        header=header,
        subject=f"Tập thể, cá nhân đề nghị khen thưởng trong {_campaign_phrase(defn)}",
        note=f"(Kèm theo Tờ trình đề nghị khen thưởng của {unit.unit_name})",
        lines=lines,
        signature=SignatureBlock(
            on_behalf=None,
            title=head.title if head is not None else "THỦ TRƯỞNG ĐƠN VỊ",
            name=head.full_name if head is not None else "",
        ),
    )


def _summary_content(
    campaign: Campaign,
    defn: CampaignDefinition,
    part: DossierPart,
    unit: EnrolledUnit,
    units: Mapping[str, EnrolledUnit],
    nominations: Iterable[Nomination],
    awards: Mapping[str, str],
    finals: Mapping[tuple[str, str], FinalResult],
) -> ResultsSummaryContent:
    lines: list[SummaryLine] = []
    for n in nominations:
        collective = n.subject_kind == SubjectKind.COLLECTIVE
        final = finals.get(("unit" if collective else "person", n.subject_code))
        figures = json.loads(final.values_json) if final is not None else {}
        lines.append(
            SummaryLine(
                kind="collective" if collective else "individual",
                code=n.subject_code,
                name=n.subject_name,
                title=n.subject_title or "",
                unit_name=_unit_column(n, units),
                award_name=awards.get(n.award_key, n.award_key),
                figures={k: int(v) for k, v in figures.items() if isinstance(v, int)},
                results=_results_of(final),
                has_figures=final is not None,
            )
        )
    return ResultsSummaryContent(
        title=part.name,
        campaign_line=f"{defn.title} ({campaign.code})",
        unit_line=f"Đơn vị đề nghị: {unit.unit_name} ({unit.unit_code})",
        period_line=f"Số liệu từ {fmt_date(defn.period.start)} đến {fmt_date(defn.period.end)}",
        fields=[(f.key, f.label) for f in defn.fields],
        indicators=[(i.key, i.label) for i in defn.indicators],
        lines=lines,
        stamp=defn.period.end,
    )


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class NominationView:
    """One nomination as the `nomination list` command and the review screens show it."""

    id: int
    award_key: str
    award_name: str
    subject_kind: SubjectKind
    subject_code: str
    subject_name: str
    subject_title: str | None
    unit_code: str
    nominated_by: str
    submitted_at: datetime
    is_late: bool
    status: NominationStatus
    missing_parts: list[str]
    eligible: bool | None  # None: not screened yet
    reasons: list[Reason]


def list_nominations(engine: Engine, code: str, *, unit_code: str | None = None) -> list[NominationView]:
    """The campaign's nominations (of one proposing unit if given) with their screening, in one query."""
    with Session(engine) as s:
        campaign, defn = campaign_and_definition(s, code)
        awards = {a.key: a.name for a in defn.awards}
        query = (
            select(Nomination, EligibilityResult)
            .join(
                EligibilityResult,
                col(EligibilityResult.nomination_id) == col(Nomination.id),
                isouter=True,
            )
            .where(col(Nomination.campaign_id) == campaign.id)
        )
        if unit_code:
            query = query.where(col(Nomination.nominated_by) == nfc(unit_code))
        out: list[NominationView] = []
        for n, result in s.execute(query).tuples():
            assert n.id is not None
            out.append(
                NominationView(
                    id=n.id,
                    award_key=n.award_key,
                    award_name=awards.get(n.award_key, n.award_key),
                    subject_kind=SubjectKind(n.subject_kind),
                    subject_code=n.subject_code,
                    subject_name=n.subject_name,
                    subject_title=n.subject_title,
                    unit_code=n.unit_code,
                    nominated_by=n.nominated_by,
                    submitted_at=n.submitted_at,
                    is_late=n.is_late,
                    status=NominationStatus(n.status),
                    missing_parts=list(json.loads(n.missing_parts_json or "[]")),
                    eligible=None if result is None else result.eligible,
                    reasons=[]
                    if result is None
                    else [Reason.from_json(r) for r in json.loads(result.reasons_json)],
                )
            )
    return sorted(out, key=lambda v: (v.nominated_by, v.award_key, v.subject_kind.value, _view_order(v)))


def _view_order(v: NominationView) -> tuple[tuple[str, str, str], str]:
    if v.subject_kind is SubjectKind.COLLECTIVE:
        return (("", "", ""), v.subject_code)
    return (vn_sort_key(v.subject_name), v.subject_code)
