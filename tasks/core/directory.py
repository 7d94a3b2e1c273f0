"""Import the organisation directory from CSV/XLSX files, all or nothing.

`import_directory` reads every file, validates all of them together against the database
(models/directory_rows.py), and only then writes, in one transaction, set-based (a handful of statements
whatever the number of rows: the national file has ~10,000 people). Units and people are upserted by code;
units or people absent from the files are left as they are (an import never deletes). Discipline records are
keyed by (person, form, decision date): a new key is inserted, a known key only has its reason updated.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update
from sqlmodel import SQLModel

from thidua.models.directory import Discipline, Person, Unit, UnitLevel
from thidua.models.directory_rows import (
    HEADER_SEARCH_ROWS,
    Cell,
    DirectoryImportError,
    DirectoryPlan,
    ExistingDirectory,
    ExistingPerson,
    ExistingUnit,
    FileKind,
    ParsedFile,
    RowError,
    check_import,
    parse_table,
)

__all__ = [
    "DirectoryImportError",
    "ImportSummary",
    "KindCounts",
    "RowError",
    "directory_counts",
    "import_directory",
    "read_directory_file",
]

# Core tables (set-based statements): the metadata the SQLModel classes registered.
UNIT: Table = SQLModel.metadata.tables[Unit.__tablename__]
PERSON: Table = SQLModel.metadata.tables[Person.__tablename__]
DISCIPLINE: Table = SQLModel.metadata.tables[Discipline.__tablename__]


@dataclass(frozen=True)
class KindCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True)
class ImportSummary:
    units: KindCounts
    people: KindCounts
    discipline: KindCounts

    @property
    def changed(self) -> bool:
        return any(c.inserted or c.updated for c in (self.units, self.people, self.discipline))

    def lines(self) -> list[str]:
        """One Vietnamese line per kind, for the CLI and logs."""
        out = []
        for label, c in (("Đơn vị", self.units), ("Cán bộ", self.people), ("Kỷ luật", self.discipline)):
            out.append(f"{label}: thêm mới {c.inserted}, cập nhật {c.updated}, không đổi {c.unchanged}")
        return out

    def __str__(self) -> str:
        return "; ".join(self.lines())


# ---------------------------------------------------------------- reading files


def read_directory_file(path: Path) -> ParsedFile:
    """Typed rows of one CSV (UTF-8, `,` `;` or tab) or XLSX (first sheet) file; problems are in `.errors`."""
    label = path.name
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            rows = read_csv_rows(path)
        elif suffix in (".xlsx", ".xlsm"):
            rows = read_xlsx_rows(path)
        else:
            return _file_error(
                label,
                f"định dạng “{path.suffix or '(không có đuôi)'}” không được hỗ trợ; hãy lưu thành .xlsx "
                "hoặc .csv (UTF-8)",
            )
    except FileNotFoundError:
        return _file_error(label, f"không tìm thấy tệp {path}")
    except UnicodeDecodeError:
        return _file_error(
            label,
            "tệp CSV không ở bảng mã UTF-8; trong Excel hãy chọn Lưu thành “CSV UTF-8 (Comma delimited)”",
        )
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        return _file_error(label, f"không đọc được tệp Excel ({type(exc).__name__}); tệp có bị hỏng không?")
    return parse_table(label, rows)


def _file_error(label: str, problem: str) -> ParsedFile:
    return ParsedFile(label, None, errors=[RowError(label, None, None, problem)])


def read_csv_rows(path: Path) -> list[list[Cell]]:
    """The rows of a CSV a clerk saved (UTF-8 with or without BOM; ',', ';' or tab)."""
    text = path.read_bytes().decode("utf-8-sig")
    top = [line for line in text.splitlines() if line.strip()][:HEADER_SEARCH_ROWS]
    # The header decides the separator (Excel in a Vietnamese locale writes ';'); a title line above it has
    # none, so the line with the most separators is taken as the header.
    delimiter = max((",", ";", "\t"), key=lambda d: max((line.count(d) for line in top), default=0))
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def read_xlsx_rows(path: Path) -> list[list[Cell]]:
    """The rows of the first sheet of a workbook, as values."""
    from openpyxl import load_workbook  # only the XLSX path pays for importing openpyxl

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [list(cast(Sequence[Cell], r)) for r in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


# ---------------------------------------------------------------- importing


def import_directory(engine: Engine, paths: Sequence[Path], now: datetime) -> ImportSummary:
    """Import units, people and discipline from `paths` together; all or nothing.

    Raises DirectoryImportError (listing every problem, file/row/column) and writes nothing when any file
    has any problem. `now` (aware) stamps `updated_at` on the rows inserted or changed.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (the clock carries its zone)")
    parsed = [read_directory_file(Path(p)) for p in paths]
    order = {FileKind.UNITS: 0, FileKind.PEOPLE: 1, FileKind.DISCIPLINE: 2}
    parsed.sort(key=lambda f: order[f.kind] if f.kind is not None else -1)
    with engine.begin() as conn:
        db = _Snapshot.load(conn)
        plan = check_import(parsed, db.existing())
        units = _write_units(conn, plan, db, now)
        unit_ids = dict(conn.execute(select(UNIT.c.code, UNIT.c.id)).tuples().all())
        people = _write_people(conn, plan, db, unit_ids, now)
        person_ids = dict(conn.execute(select(PERSON.c.code, PERSON.c.id)).tuples().all())
        discipline = _write_discipline(conn, plan, person_ids)
    return ImportSummary(units, people, discipline)


@dataclass
class _Snapshot:
    units: dict[str, Any]  # code -> row
    unit_code_by_id: dict[int, str]
    people: dict[str, Any]

    @classmethod
    def load(cls, conn: Connection) -> _Snapshot:
        units = {r.code: r for r in conn.execute(select(UNIT)).all()}
        people = {r.code: r for r in conn.execute(select(PERSON)).all()}
        return cls(units, {r.id: code for code, r in units.items()}, people)

    def existing(self) -> ExistingDirectory:
        code_of = self.unit_code_by_id
        return ExistingDirectory(
            units={
                code: ExistingUnit(
                    code, code_of.get(r.parent_id) if r.parent_id else None, UnitLevel(r.level)
                )
                for code, r in self.units.items()
            },
            people={
                code: ExistingPerson(code, r.full_name, code_of[r.unit_id], r.is_head, r.active)
                for code, r in self.people.items()
            },
        )


def _write_units(conn: Connection, plan: DirectoryPlan, db: _Snapshot, now: datetime) -> KindCounts:
    new_rows: list[dict[str, Any]] = []
    changed: list[Any] = []
    unchanged = 0
    for u in plan.units:
        old = db.units.get(u.code)
        if old is None:
            new_rows.append(
                {
                    "code": u.code,
                    "name": u.name,
                    "level": u.level,
                    "email": u.email,
                    "place_name": u.place_name,
                    "active": True,
                    "parent_id": None,
                    "updated_at": now,
                }
            )
            continue
        old_parent = db.unit_code_by_id.get(old.parent_id) if old.parent_id else None
        if (old.name, old.level, old.email, old.place_name, old_parent) == (
            u.name,
            u.level,
            u.email,
            u.place_name,
            u.parent_code,
        ):
            unchanged += 1
        else:
            changed.append(u)
    if new_rows:
        conn.execute(insert(UNIT), new_rows)
    # Parents are set after every new unit has an id, so a file may list children before their parents.
    ids = dict(conn.execute(select(UNIT.c.code, UNIT.c.id)).tuples().all())
    new_codes = {r["code"] for r in new_rows}
    parent_links = [
        {"b_id": ids[u.code], "b_parent": ids[u.parent_code]}
        for u in plan.units
        if u.code in new_codes and u.parent_code is not None
    ]
    if parent_links:
        conn.execute(
            update(UNIT).where(UNIT.c.id == bindparam("b_id")).values(parent_id=bindparam("b_parent")),
            parent_links,
        )
    if changed:
        conn.execute(
            update(UNIT)
            .where(UNIT.c.id == bindparam("b_id"))
            .values(
                name=bindparam("b_name"),
                level=bindparam("b_level"),
                email=bindparam("b_email"),
                place_name=bindparam("b_place"),
                parent_id=bindparam("b_parent"),
                updated_at=bindparam("b_now"),
            ),
            [
                {
                    "b_id": ids[u.code],
                    "b_name": u.name,
                    "b_level": u.level,
                    "b_email": u.email,
                    "b_place": u.place_name,
                    "b_parent": ids[u.parent_code] if u.parent_code else None,
                    "b_now": now,
                }
                for u in changed
            ],
        )
    return KindCounts(len(new_rows), len(changed), unchanged)


def _write_people(
    conn: Connection, plan: DirectoryPlan, db: _Snapshot, unit_ids: dict[str, int], now: datetime
) -> KindCounts:
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    for p in plan.people:
        values = {
            "full_name": p.full_name,
            "title": p.title,
            "email": p.email,
            "is_head": p.is_head,
            "active": p.active,
            "unit_id": unit_ids[p.unit_code],
        }
        old = db.people.get(p.code)
        if old is None:
            new_rows.append({"code": p.code, **values, "updated_at": now})
        elif all(getattr(old, key) == value for key, value in values.items()):
            unchanged += 1
        else:
            changed.append({"b_id": old.id, "b_now": now, **{f"b_{k}": v for k, v in values.items()}})
    if new_rows:
        conn.execute(insert(PERSON), new_rows)
    if changed:
        conn.execute(
            update(PERSON)
            .where(PERSON.c.id == bindparam("b_id"))
            .values(
                full_name=bindparam("b_full_name"),
                title=bindparam("b_title"),
                email=bindparam("b_email"),
                is_head=bindparam("b_is_head"),
                active=bindparam("b_active"),
                unit_id=bindparam("b_unit_id"),
                updated_at=bindparam("b_now"),
            ),
            changed,
        )
    return KindCounts(len(new_rows), len(changed), unchanged)


def _write_discipline(conn: Connection, plan: DirectoryPlan, person_ids: dict[str, int]) -> KindCounts:
    existing = {
        (r.person_id, r.form.value, r.decision_date): (r.id, r.reason)
        for r in conn.execute(select(DISCIPLINE)).all()
    }
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    for d in plan.discipline:
        person_id = person_ids[d.person_code]
        old = existing.get((person_id, d.form.value, d.decision_date))
        if old is None:
            new_rows.append(
                {"person_id": person_id, "form": d.form, "decision_date": d.decision_date, "reason": d.reason}
            )
        elif old[1] == d.reason:
            unchanged += 1
        else:
            changed.append({"b_id": old[0], "b_reason": d.reason})
    if new_rows:
        conn.execute(insert(DISCIPLINE), new_rows)
    if changed:
        conn.execute(
            update(DISCIPLINE)
            .where(DISCIPLINE.c.id == bindparam("b_id"))
            .values(reason=bindparam("b_reason")),
            changed,
        )
    return KindCounts(len(new_rows), len(changed), unchanged)


def directory_counts(engine: Engine) -> dict[str, int]:
    """Rows per table (people: working ones and all), for `thidua directory show`."""
    with engine.connect() as conn:
        return {
            "units": conn.execute(select(func.count()).select_from(UNIT)).scalar_one(),
            "people": conn.execute(select(func.count()).select_from(PERSON)).scalar_one(),
            "people_active": conn.execute(
                select(func.count()).select_from(PERSON).where(PERSON.c.active.is_(True))
            ).scalar_one(),
            "discipline": conn.execute(select(func.count()).select_from(DISCIPLINE)).scalar_one(),
        }


def unit_counts_by_level(engine: Engine) -> dict[UnitLevel, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(UNIT.c.level, func.count()).group_by(UNIT.c.level)).tuples().all()
    return {UnitLevel(level): count for level, count in rows}
