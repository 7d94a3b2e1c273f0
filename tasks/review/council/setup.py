"""Setting up a council: members given in code or read from a CSV/XLSX file, checked all at once."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select
from sqlmodel import Session, col

from thidua.models.campaign import CampaignStatus
from thidua.models.db import transaction
from thidua.models.directory import Person, Unit
from thidua.models.review import (
    Council,
    CouncilMeeting,
    CouncilMember,
    CouncilRole,
)
from thidua.models.text import nfc
from thidua.tasks.core.events import record_event
from thidua.tasks.review.council.errors import CouncilSetupError, SetupProblem
from thidua.tasks.review.council.lookups import _Campaign, _campaign, _council_name, _members, reviewed_awards


@dataclass(frozen=True)
class MemberInput:
    person_code: str
    role: CouncilRole = CouncilRole.MEMBER


@dataclass(frozen=True)
class CouncilSetup:
    council_id: int
    name: str
    unit_code: str
    members: int
    created: bool  # the council row was new
    changed: bool  # anything was written


def plain_text(text: object) -> str:
    """Lower case without diacritics or extra spaces: how headers and role names are matched."""
    value = unicodedata.normalize("NFD", nfc(str(text or "")) or "").replace("đ", "d").replace("Đ", "D")
    value = "".join(ch for ch in value if not unicodedata.combining(ch)).casefold()
    return " ".join(value.replace("_", " ").replace("*", " ").split())


_ROLE_NAMES: dict[str, CouncilRole] = {
    "chu tich": CouncilRole.CHAIR,
    "chu tich hoi dong": CouncilRole.CHAIR,
    "chair": CouncilRole.CHAIR,
    "pho chu tich": CouncilRole.DEPUTY,
    "pho chu tich hoi dong": CouncilRole.DEPUTY,
    "deputy": CouncilRole.DEPUTY,
    "thu ky": CouncilRole.SECRETARY,
    "uy vien thu ky": CouncilRole.SECRETARY,
    "secretary": CouncilRole.SECRETARY,
    "uy vien": CouncilRole.MEMBER,
    "thanh vien": CouncilRole.MEMBER,
    "member": CouncilRole.MEMBER,
}


def parse_role(text: str) -> CouncilRole:
    """'Chủ tịch', 'Phó Chủ tịch', 'Thư ký', 'Ủy viên' (also 'Uỷ viên', any case, with or without marks)."""
    role = _ROLE_NAMES.get(plain_text(text))
    if role is None:
        raise ValueError(
            f"vai trò “{nfc(text)}” không hợp lệ; chọn một trong: Chủ tịch, Phó Chủ tịch, Thư ký, Ủy viên"
        )
    return role


def set_up_council(
    engine: Engine,
    code: str,
    unit_code: str,
    members: Sequence[MemberInput],
    *,
    now: datetime,
    actor: str,
) -> CouncilSetup:
    """Create or update the council of `unit_code` for campaign `code`; a re-run with the same list changes
    nothing. Members are people of the directory (name, title and unit copied); exactly one chair. Once the
    council has met, its membership is fixed (the quorum of past meetings was counted on it)."""
    entries = [(i, m.person_code, m.role) for i, m in enumerate(members, start=1)]
    with transaction(engine) as s:
        return _set_up(s, code, unit_code, entries, [], source=None, now=now, actor=actor)


_CODE_COLUMN = "Mã cán bộ"
_ROLE_COLUMN = "Vai trò"
_HEADERS = {"code": ("ma can bo", "ma", "person code", "person_code"), "role": ("vai tro", "role")}
_HEADER_SEARCH_ROWS = 20


def _file_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        head = "\n".join(text.splitlines()[:_HEADER_SEARCH_ROWS])
        # Excel in a Vietnamese locale writes ';'; a title line above the header has no separator at all.
        delimiter = max((",", ";", "\t"), key=head.count)
        for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            yield n, list(row)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # only the XLSX path pays for importing openpyxl

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            for n, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
                yield n, list(values)
        finally:
            workbook.close()
    else:
        message = f"định dạng “{suffix or '(không đuôi)'}” không được nhận; dùng .csv (UTF-8) hoặc .xlsx"
        raise CouncilSetupError(path.name, [SetupProblem(None, None, message)])


def _read_members(path: Path) -> tuple[list[tuple[int, str, CouncilRole | None]], list[SetupProblem]]:
    columns: dict[str, int] | None = None
    entries: list[tuple[int, str, CouncilRole | None]] = []
    problems: list[SetupProblem] = []
    try:
        for n, cells in _file_rows(path):
            if columns is None:
                found = {
                    key: i
                    for i, cell in enumerate(cells)
                    for key, names in _HEADERS.items()
                    if plain_text(cell) in names
                }
                if len(found) == len(_HEADERS):
                    columns = found
                elif n >= _HEADER_SEARCH_ROWS:
                    break
                continue
            values = [nfc(str(c)) if c is not None else "" for c in cells]
            if not any(values):
                continue
            person = values[columns["code"]] if columns["code"] < len(values) else ""
            role_text = values[columns["role"]] if columns["role"] < len(values) else ""
            role: CouncilRole | None = None
            if not person:
                problems.append(SetupProblem(n, _CODE_COLUMN, "thiếu mã cán bộ"))
            if not role_text:
                problems.append(
                    SetupProblem(n, _ROLE_COLUMN, "thiếu vai trò (Chủ tịch, Phó Chủ tịch, Thư ký, Ủy viên)")
                )
            else:
                try:
                    role = parse_role(role_text)
                except ValueError as exc:
                    problems.append(SetupProblem(n, _ROLE_COLUMN, str(exc)))
            if person:
                entries.append((n, person, role))
    except CouncilSetupError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise CouncilSetupError(path.name, [SetupProblem(None, None, f"không đọc được tệp: {exc}")]) from exc
    except Exception as exc:
        # openpyxl raises many types on a damaged workbook; the file is refused with the reason.
        message = f"không đọc được tệp ({type(exc).__name__}): {exc}"
        raise CouncilSetupError(path.name, [SetupProblem(None, None, message)]) from exc
    if columns is None:
        message = f"không tìm thấy dòng tiêu đề có các cột “{_CODE_COLUMN}”, “{_ROLE_COLUMN}”"
        raise CouncilSetupError(path.name, [SetupProblem(None, None, message)])
    return entries, problems


def import_council(
    engine: Engine, code: str, unit_code: str, path: Path | str, *, now: datetime, actor: str
) -> CouncilSetup:
    """The council from a CSV/XLSX list (columns `Mã cán bộ`, `Vai trò`); all or nothing, every error with its
    row and column."""
    path = Path(path)
    entries, problems = _read_members(path)
    with transaction(engine) as s:
        return _set_up(s, code, unit_code, entries, problems, source=path.name, now=now, actor=actor)


def _set_up(
    s: Session,
    code: str,
    unit_code: str,
    entries: Sequence[tuple[int, str, CouncilRole | None]],
    problems: list[SetupProblem],
    *,
    source: str | None,
    now: datetime,
    actor: str,
) -> CouncilSetup:
    camp = _campaign(s, code)
    unit = nfc(unit_code)
    _check_unit(s, camp, unit, problems)
    if not entries and not problems:
        problems.append(SetupProblem(None, None, "danh sách thành viên trống"))
    wanted = _wanted_members(s, entries, problems, source)
    if problems:
        raise CouncilSetupError(source, problems)

    name = _council_name(camp.definition, unit)
    council = s.scalars(
        select(Council).where(col(Council.campaign_id) == camp.id, col(Council.unit_code) == unit)
    ).first()
    created = council is None
    if council is None:
        council = Council(campaign_id=camp.id, unit_code=unit, name=name)
        s.add(council)
        s.flush()
    assert council.id is not None
    existing = {m.person_code: m for m in _members(s, council.id)}
    before = sorted((m.person_code, CouncilRole(m.role).value) for m in existing.values())
    after = sorted((p, CouncilRole(w["role"]).value) for p, w in wanted.items())
    to_add = [w for p, w in wanted.items() if p not in existing]
    to_change = [w for p, w in wanted.items() if p in existing and not _same(existing[p], w)]
    to_remove = [m for p, m in existing.items() if p not in wanted]
    if not (created or to_add or to_change or to_remove or council.name != name):
        return CouncilSetup(council.id, council.name, unit, len(existing), created=False, changed=False)
    # A council is set up while the campaign runs or is reviewed; once awarded its work is done.
    camp.require(
        CampaignStatus.LAUNCHED, CampaignStatus.COLLECTING, CampaignStatus.CLOSED, CampaignStatus.IN_REVIEW
    )
    if (to_add or to_remove or before != after) and not created:
        _refuse_if_met(s, council.id, source)
    council.name = name
    s.add(council)
    if to_remove:
        s.execute(delete(CouncilMember).where(col(CouncilMember.id).in_([m.id for m in to_remove])))
    if to_add:
        s.execute(insert(CouncilMember), [{"council_id": council.id, **w} for w in to_add])
    for w in to_change:
        member = existing[w["person_code"]]
        member.full_name, member.title = w["full_name"], w["title"]
        member.unit_code, member.role = w["unit_code"], w["role"]
        s.add(member)
    record_event(
        s,
        campaign_id=camp.id,
        kind="council.set_up",
        now=now,
        actor=actor,
        subject=f"council:{unit}",
        payload={
            "before": [list(x) for x in before] if not created else None,
            "after": [list(x) for x in after],
        },
    )
    s.flush()
    return CouncilSetup(council.id, name, unit, len(wanted), created=created, changed=True)


def _check_unit(s: Session, camp: _Campaign, unit: str, problems: list[SetupProblem]) -> None:
    """The council's unit exists and reviews at least one award type of the campaign."""
    if s.execute(select(col(Unit.id)).where(col(Unit.code) == unit)).first() is None:
        problems.append(SetupProblem(None, None, f"không có đơn vị mã “{unit}” trong danh bạ"))
    elif not reviewed_awards(camp.definition, unit):
        units = sorted(
            {a.authority_unit_code for a in camp.definition.awards}
            | {a.proposed_by.unit_code for a in camp.definition.awards if a.proposed_by is not None}
        )
        problems.append(
            SetupProblem(
                None,
                None,
                f"đơn vị “{unit}” không xét loại khen thưởng nào của phong trào {camp.code} "
                f"(các đơn vị xét: {', '.join(units)})",
            )
        )


def _wanted_members(
    s: Session,
    entries: Sequence[tuple[int, str, CouncilRole | None]],
    problems: list[SetupProblem],
    source: str | None,
) -> dict[str, dict[str, Any]]:
    """The members the list asks for, from the directory; each bad row and a missing or second chair noted."""
    code_col = _CODE_COLUMN if source else None
    role_col = _ROLE_COLUMN if source else None
    codes = [nfc(person) for _, person, _ in entries]
    people = {
        r.code: r
        for r in s.execute(
            select(
                col(Person.code),
                col(Person.full_name),
                col(Person.title),
                col(Person.active),
                col(Unit.code).label("unit"),
            )
            .join(Unit, col(Unit.id) == col(Person.unit_id))
            .where(col(Person.code).in_(codes))
        ).all()
    }
    seen: dict[str, int] = {}
    chairs: list[int] = []
    wanted: dict[str, dict[str, Any]] = {}
    for (row, _, role), person in zip(entries, codes, strict=True):
        info = people.get(person)
        if person in seen:
            problems.append(
                SetupProblem(row, code_col, f"cán bộ “{person}” đã có ở {_at(seen[person], source)}")
            )
            continue
        seen[person] = row
        if info is None:
            problems.append(SetupProblem(row, code_col, f"không có cán bộ mã “{person}” trong danh bạ"))
            continue
        if not info.active:
            problems.append(
                SetupProblem(row, code_col, f"cán bộ “{person}” ({info.full_name}) không còn công tác")
            )
            continue
        if role == CouncilRole.CHAIR:
            chairs.append(row)
        if role is not None:
            wanted[person] = {"person_code": person, "full_name": info.full_name, "title": info.title,
                              "unit_code": info.unit, "role": role}  # fmt: skip
    if entries and not chairs and not any(p.column == role_col and role_col for p in problems):
        problems.append(SetupProblem(None, role_col, "cần đúng một Chủ tịch Hội đồng, danh sách chưa có"))
    for row in chairs[1:]:
        problems.append(
            SetupProblem(row, role_col, f"Hội đồng chỉ có một Chủ tịch (đã có ở {_at(chairs[0], source)})")
        )
    return wanted


def _same(member: CouncilMember, w: Mapping[str, Any]) -> bool:
    return (member.full_name, member.title, member.unit_code, CouncilRole(member.role)) == (
        w["full_name"],
        w["title"],
        w["unit_code"],
        w["role"],
    )


def _refuse_if_met(s: Session, council_id: int, source: str | None) -> None:
    """A council that has met keeps its membership: the quorum of its meetings was counted on it."""
    met = s.execute(
        select(func.count()).select_from(CouncilMeeting).where(col(CouncilMeeting.council_id) == council_id)
    ).scalar_one()
    if met:
        problem = SetupProblem(
            None,
            None,
            f"Hội đồng đã họp ({met} cuộc họp): không thay đổi thành phần được nữa, "
            "vì số lượng dự họp của các cuộc họp đã tính trên thành phần cũ",
        )
        raise CouncilSetupError(source, [problem])


def _at(row: int, source: str | None) -> str:
    return f"dòng {row}" if source else f"thành viên thứ {row}"
