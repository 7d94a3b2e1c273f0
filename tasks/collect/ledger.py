"""Case ledgers: stream a ledger file into the database, compute the campaign's fields from it, reconcile.

- `import_ledger` reads a CSV or XLSX ledger (columns: models/ledger_rows.py) as a stream, validates each row
  and loads it in batches of `BATCH_SIZE` into a new LedgerImport, inside one transaction: on SQLite through
  `executemany` with plain tuples on the raw DBAPI connection, on PostgreSQL through `COPY ... FROM STDIN`.
  Rows are never held all in memory (only the case ids, to find duplicates). Once a row fails, loading stops
  but reading goes on, so that every error (up to `MAX_ERRORS`) is reported at once; then the transaction is
  rolled back: the previous import stays current and untouched. A successful import becomes current and the
  cases of the campaign's earlier imports are deleted (their LedgerImport rows stay as history). A file whose
  SHA-256 equals the current import's is not loaded again.
- `ledger_figures` computes the campaign's fields (the ledger measures of models/ledger_rules.py, mapped by
  the definition's `ledger` block) for a cut-off date, per unit (own cases plus the enrolled units below it)
  or per officer: one GROUP BY with CASE expressions, whatever the number of cases.
- `reconcile` sets each reporting unit's current submitted figures for a period beside the figures computed
  from the ledger at the period's end, with the differences ("kết quả thực chất").
- `ledger_checks` does the same for given figures of units and persons (the final results, a nominee's), as
  models/reconciliation.py `LedgerCheck`s the closing report, the screening and the dossier drafts show.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from thidua.errors import Conflict, InvalidInput, NotFound, ThiduaError
from thidua.models.campaign import Campaign, Deadline, DeadlineKind, EnrolledPerson, EnrolledUnit
from thidua.models.definition import CampaignDefinition, definition_from_json
from thidua.models.indicators import IndicatorResult
from thidua.models.ledger_rows import (
    DB_COLUMNS,
    MAX_ERRORS,
    Cell,
    LedgerFileError,
    LedgerRowParser,
    LedgerTuple,
    RowError,
    find_header,
)
from thidua.models.ledger_rules import (
    CLOSING,
    FINISHED,
    Measure,
    check_dates,
    last_conditions_date_over_by,
)
from thidua.models.reconciliation import LedgerCheck, check_figures
from thidua.models.reporting import LedgerCase, LedgerImport, Submission
from thidua.models.text import fmt_date
from thidua.tasks.core.campaigns import get_campaign

BATCH_SIZE = 10_000

LEDGER_IMPORT: Table = SQLModel.metadata.tables[LedgerImport.__tablename__]
LEDGER_CASE: Table = SQLModel.metadata.tables[LedgerCase.__tablename__]
CAMPAIGN: Table = SQLModel.metadata.tables[Campaign.__tablename__]
ENROLLED_UNIT: Table = SQLModel.metadata.tables[EnrolledUnit.__tablename__]
ENROLLED_PERSON: Table = SQLModel.metadata.tables[EnrolledPerson.__tablename__]
DEADLINE: Table = SQLModel.metadata.tables[Deadline.__tablename__]
SUBMISSION: Table = SQLModel.metadata.tables[Submission.__tablename__]

GroupBy = Literal["unit", "officer"]


class LedgerError(ThiduaError):
    """Base of the ledger's errors."""


class LedgerNotReady(LedgerError, Conflict):
    """The campaign cannot take or give ledger figures yet (not launched, no ledger imported)."""


class UnknownLedgerPeriod(LedgerError, NotFound):
    """No reporting period of that key."""


class LedgerImportError(LedgerError, InvalidInput):
    """The file was rejected as a whole; nothing changed. `.errors`: the problems (at most MAX_ERRORS)."""

    def __init__(self, source_name: str, errors: Sequence[RowError]) -> None:
        self.source_name = source_name
        self.errors: list[RowError] = list(errors)
        super().__init__(str(self), self.errors)

    def __str__(self) -> str:
        more = f" (dừng đọc sau {MAX_ERRORS} lỗi)" if len(self.errors) >= MAX_ERRORS else ""
        head = (
            f"Không nhập sổ thụ lý “{self.source_name}”: có {len(self.errors)} lỗi{more}; "
            "cơ sở dữ liệu không thay đổi. Hãy sửa các lỗi sau rồi nhập lại cả tệp:"
        )
        return "\n".join([head, *(f"- {e}" for e in self.errors)])


@dataclass(frozen=True)
class LedgerImportResult:
    import_id: int
    campaign_code: str
    source_name: str
    sha256: str
    as_of: date
    rows: int
    created: bool  # False: the same file was already the current import, nothing was done
    replaced_import_id: int | None = None
    removed_rows: int = 0

    def summary(self) -> str:
        if not self.created:
            return (
                f"Tệp “{self.source_name}” đã được nhập (lần nhập #{self.import_id}, {self.rows} việc, "
                f"tính đến {fmt_date(self.as_of)}): không thay đổi gì."
            )
        replaced = (
            f"; thay cho lần nhập #{self.replaced_import_id} ({self.removed_rows} việc đã xóa)"
            if self.replaced_import_id is not None
            else ""
        )
        return (
            f"Đã nhập sổ thụ lý “{self.source_name}” cho phong trào {self.campaign_code}: {self.rows} việc, "
            f"tính đến {fmt_date(self.as_of)} (lần nhập #{self.import_id}){replaced}."
        )


@dataclass(frozen=True)
class ReconRow:
    """One field of one unit: what the unit reported beside what its ledger says."""

    unit_code: str
    field: str
    reported: int | None  # None: no current submission for the period (or the field is missing from it)
    computed: int
    difference: int | None  # reported − computed

    @property
    def matches(self) -> bool:
        return self.difference == 0


# ---------------------------------------------------------------- campaign lookups


@dataclass(frozen=True)
class _CampaignInfo:
    campaign_id: int
    code: str
    definition: CampaignDefinition


def _campaign(conn: Connection, code: str) -> _CampaignInfo:
    found = get_campaign(conn, code)
    assert found.id is not None
    return _CampaignInfo(found.id, found.code, definition_from_json(found.definition_json))


def current_import(engine: Engine, code: str) -> LedgerImportResult | None:
    """The campaign's current ledger import, or None."""
    with engine.connect() as conn:
        info = _campaign(conn, code)
        row = _current(conn, info.campaign_id)
    if row is None:
        return None
    return LedgerImportResult(row.id, info.code, row.source_name, row.file_sha256, row.as_of, row.rows, True)


def _current(conn: Connection, campaign_id: int) -> Any:
    return conn.execute(
        select(LEDGER_IMPORT)
        .where(LEDGER_IMPORT.c.campaign_id == campaign_id, LEDGER_IMPORT.c.is_current.is_(True))
        .order_by(LEDGER_IMPORT.c.id.desc())
    ).first()


# ---------------------------------------------------------------- reading files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_cells(path: Path) -> Iterator[tuple[int, Sequence[Cell]]]:
    """(row number, cells) of a CSV or XLSX file (first sheet), streamed; row 1 is the file's first row."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_cells(path)
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_cells(path)
    raise LedgerImportError(
        path.name,
        [RowError(path.name, None, None, f"định dạng “{path.suffix or '(không đuôi)'}” không được hỗ trợ; "
                  "hãy lưu thành .csv (UTF-8) hoặc .xlsx")],
    )  # fmt: skip


def _csv_cells(path: Path) -> Iterator[tuple[int, Sequence[Cell]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
        # The header decides the separator: Excel in a Vietnamese locale writes ';'.
        delimiter = max((",", ";", "\t"), key=first.count)
        reader = csv.reader(itertools.chain([first], handle), delimiter=delimiter)
        yield from enumerate(reader, start=1)


def _xlsx_cells(path: Path) -> Iterator[tuple[int, Sequence[Cell]]]:
    from openpyxl import load_workbook  # only the XLSX path pays for importing openpyxl

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


# ---------------------------------------------------------------- import


def import_ledger(
    engine: Engine,
    code: str,
    path: Path | str,
    *,
    as_of: date,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    rebuild_indexes: bool | None = None,
) -> LedgerImportResult:
    """Load a ledger file as the campaign's current ledger, all or nothing (see the module docstring).

    `as_of`: the day the ledger is up to date with (no date in it may be later); `now`: the import's time.
    `rebuild_indexes`: drop ledger_case's secondary indexes (and, on PostgreSQL, its unique and foreign-key
    constraints) for the load and create them again afterwards, in the same transaction; None = when the file
    is large next to what the table already holds (building an index once costs less than maintaining it row
    by row). On PostgreSQL this locks ledger_case until the import commits.
    Raises LedgerImportError (file or row problems) or LedgerError (unknown campaign, campaign not launched).
    """
    path = Path(path)
    label = path.name
    if not path.is_file():
        raise LedgerImportError(label, [RowError(label, None, None, f"không tìm thấy tệp {path}")])
    digest = file_sha256(path)
    try:
        return _import(
            engine, code, path, digest, as_of=as_of, now=now, batch_size=batch_size, rebuild=rebuild_indexes
        )
    except _DuplicateCases as dup:
        # The unique key saw a repeated case id; read the file again, remembering ids, to say which rows.
        errors = _validate_file(path, as_of=as_of, units=dup.units, officers=dup.officers)
        if not errors:
            raise  # not a repeated case id after all: let the database's own message through
        raise LedgerImportError(label, errors) from None


class _DuplicateCases(Exception):
    def __init__(self, units: set[str], officers: set[str]) -> None:
        self.units, self.officers = units, officers


def _import(
    engine: Engine,
    code: str,
    path: Path,
    digest: str,
    *,
    as_of: date,
    now: datetime,
    batch_size: int,
    rebuild: bool | None,
) -> LedgerImportResult:
    label = path.name
    with engine.begin() as conn:
        info = _campaign(conn, code)
        # Two imports of one campaign at once would both become current: the second waits here (PostgreSQL);
        # SQLite serialises writers anyway.
        conn.execute(select(CAMPAIGN.c.id).where(CAMPAIGN.c.id == info.campaign_id).with_for_update())
        current = _current(conn, info.campaign_id)
        if current is not None and current.file_sha256 == digest:
            return LedgerImportResult(
                current.id, info.code, current.source_name, digest, current.as_of, current.rows, created=False
            )
        units = set(
            conn.execute(
                select(ENROLLED_UNIT.c.unit_code).where(ENROLLED_UNIT.c.campaign_id == info.campaign_id)
            ).scalars()
        )
        if not units:
            raise LedgerNotReady(
                f"Phong trào “{info.code}” chưa có đơn vị tham gia.",
                hint="Phát động phong trào trước: `thidua campaign launch TỆP_KẾ_HOẠCH`.",
            )
        officers = set(
            conn.execute(
                select(ENROLLED_PERSON.c.person_code).where(ENROLLED_PERSON.c.campaign_id == info.campaign_id)
            ).scalars()
        )
        import_id = int(
            conn.execute(
                insert(LEDGER_IMPORT)
                .returning(LEDGER_IMPORT.c.id)
                .values(
                    campaign_id=info.campaign_id,
                    as_of=as_of,
                    source_name=label[:300],
                    file_sha256=digest,
                    rows=0,
                    imported_at=now,
                    is_current=False,
                )
            ).scalar_one()
        )
        # The earlier imports' cases go first: inside this transaction, so a failure brings them back, and
        # the new rows then load into a smaller table.
        previous = [
            int(i)
            for i in conn.execute(
                select(LEDGER_IMPORT.c.id).where(
                    LEDGER_IMPORT.c.campaign_id == info.campaign_id, LEDGER_IMPORT.c.id != import_id
                )
            ).scalars()
        ]
        removed = 0
        if previous:
            removed = conn.execute(LEDGER_CASE.delete().where(LEDGER_CASE.c.import_id.in_(previous))).rowcount
            conn.execute(
                update(LEDGER_IMPORT).where(LEDGER_IMPORT.c.id.in_(previous)).values(is_current=False)
            )
        if rebuild is None:
            rebuild = _worth_rebuilding(conn, path, info.campaign_id)
        deferred = _drop_secondary_indexes(conn) if rebuild else []
        # Repeated case ids are left to the unique key (import_id, case_id): remembering a million ids in
        # Python costs more than the whole check in the database.
        try:
            rows = _load(
                conn, import_id, path, as_of=as_of, units=units, officers=officers, batch_size=batch_size
            )
            for statement in deferred:
                conn.exec_driver_sql(statement)
        except (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError) as exc:
            raise _DuplicateCases(units, officers) from exc
        conn.execute(
            update(LEDGER_IMPORT).where(LEDGER_IMPORT.c.id == import_id).values(rows=rows, is_current=True)
        )
    return LedgerImportResult(
        import_id,
        info.code,
        label,
        digest,
        as_of,
        rows,
        created=True,
        replaced_import_id=current.id if current is not None else None,
        removed_rows=max(removed, 0),
    )


def _parser(path: Path, cells: Iterator[tuple[int, Sequence[Cell]]], **kwargs: Any) -> LedgerRowParser:
    header = find_header(cells)
    if header is None:
        raise LedgerImportError(
            path.name, [RowError(path.name, None, None, "tệp trống: không có dòng tiêu đề")]
        )
    return LedgerRowParser(path.name, header[1], header_row=header[0], **kwargs)


def _validate_file(path: Path, *, as_of: date, units: set[str], officers: set[str]) -> list[RowError]:
    """Every problem of the file (up to MAX_ERRORS), repeated case ids included; no database involved."""
    cells = read_cells(path)
    parser = _parser(path, cells, as_of=as_of, units=units, officers=officers, check_duplicates=True)
    for _ in parser.rows(cells):
        pass
    return parser.errors


def _load(
    conn: Connection,
    import_id: int,
    path: Path,
    *,
    as_of: date,
    units: set[str],
    officers: set[str],
    batch_size: int,
) -> int:
    """Stream the file's rows into ledger_case under `import_id`; raise LedgerImportError on any error."""
    label = path.name
    try:
        cells = read_cells(path)
        parser = _parser(path, cells, as_of=as_of, units=units, officers=officers, check_duplicates=False)
        loaded = 0
        good = parser.rows(cells)
        with _writer(conn, import_id) as write:
            while batch := list(itertools.islice(good, batch_size)):
                if not parser.errors:  # after the first error only reading goes on, to report every error
                    write(batch)
                    loaded += len(batch)
    except LedgerFileError as exc:
        raise LedgerImportError(label, exc.errors) from None
    except UnicodeDecodeError:
        problem = (
            "tệp CSV không ở bảng mã UTF-8; trong Excel hãy chọn Lưu thành “CSV UTF-8 (Comma delimited)”"
        )
        raise LedgerImportError(label, [RowError(label, None, None, problem)]) from None
    except csv.Error as exc:
        raise LedgerImportError(label, [RowError(label, None, None, f"tệp CSV hỏng: {exc}")]) from None
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        problem = f"không đọc được tệp ({type(exc).__name__}); tệp có bị hỏng không?"
        raise LedgerImportError(label, [RowError(label, None, None, problem)]) from None
    if parser.errors:
        raise LedgerImportError(label, parser.errors)
    if loaded == 0:
        raise LedgerImportError(label, [RowError(label, None, None, "tệp không có dòng việc nào")])
    return loaded


REBUILD_MIN_ROWS = 100_000


def _worth_rebuilding(conn: Connection, path: Path, campaign_id: int) -> bool:
    # A rough row count from the file size (a CSV case row is about 100 bytes; XLSX is zipped).
    estimate = path.stat().st_size // (100 if path.suffix.lower() == ".csv" else 30)
    others = conn.execute(
        select(func.coalesce(func.sum(LEDGER_IMPORT.c.rows), 0)).where(
            LEDGER_IMPORT.c.is_current.is_(True), LEDGER_IMPORT.c.campaign_id != campaign_id
        )
    ).scalar_one()
    return estimate >= max(REBUILD_MIN_ROWS, int(others))


def _drop_secondary_indexes(conn: Connection) -> list[str]:
    """Drop what slows a bulk load down (all but the primary key); return the statements that restore it.

    The definitions are read back from the database's catalog, so they come back exactly as they were.
    """
    table = LEDGER_CASE.name
    drops: list[str] = []
    creates: list[str] = []
    if conn.dialect.name == "postgresql":
        regclass = f"'{table}'::regclass"
        constraints = conn.exec_driver_sql(
            f"SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
            f"WHERE conrelid = {regclass} AND contype IN ('f', 'u') ORDER BY contype, conname"
        ).all()  # 'f' before 'u': the foreign key goes first and comes back last
        for name, definition, _kind in constraints:
            drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            creates.insert(0, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        indexes = conn.exec_driver_sql(
            f"SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            f"JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = {regclass} AND NOT x.indisprimary "
            f"AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
            f"ORDER BY i.relname"
        ).all()
    else:
        # SQLite keeps UNIQUE and FOREIGN KEY inside CREATE TABLE (autoindexes have no sql): those stay.
        indexes = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY name",
            (table,),
        ).all()
    for name, definition in indexes:
        drops.append(f'DROP INDEX "{name}"')
        creates.insert(0, definition)
    for statement in drops:
        conn.exec_driver_sql(statement)
    return creates


@contextmanager
def _writer(conn: Connection, import_id: int) -> Iterator[Callable[[list[LedgerTuple]], None]]:
    """A function loading batches of tuples the fastest way the backend offers, in `conn`'s transaction."""
    columns = ("import_id", *DB_COLUMNS)
    dbapi: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        # One COPY for the whole file: each COPY costs a round trip and a server-side finish.
        with (
            dbapi.cursor() as cursor,
            cursor.copy(f"COPY {LEDGER_CASE.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            write_row = copy.write_row

            def copy_batch(batch: list[LedgerTuple]) -> None:
                for row in batch:
                    write_row((import_id, *row))

            yield copy_batch
        return

    # SQLite: plain tuples straight to sqlite3's executemany (ISO dates are how SQLAlchemy stores a Date);
    # import_id is our own integer, written into the statement so each row needs no extra tuple.
    statement = (
        f"INSERT INTO {LEDGER_CASE.name} ({', '.join(columns)}) "
        f"VALUES ({int(import_id)}, {', '.join('?' for _ in DB_COLUMNS)})"
    )
    cursor = dbapi.cursor()
    try:
        yield lambda batch: cursor.executemany(statement, batch)
    finally:
        cursor.close()


# ---------------------------------------------------------------- figures


def _anniversary(column: Any, dialect: str) -> ColumnElement[Any]:
    """The same day a year later, 29/02 → 28/02 (models.ledger_rules.anniversary), in the backend's SQL."""
    if dialect == "postgresql":
        return cast(column + literal_column("INTERVAL '1 year'"), Date)  # PostgreSQL clamps 29/02 to 28/02
    # SQLite's date() rolls 29/02 + 1 year over to 01/03: step back a day for that one date.
    return case(
        (func.substr(column, 6, 5) == "02-29", func.date(column, "+1 year", "-1 day")),
        else_=func.date(column, "+1 year"),
    )


def _measure_columns(
    measures: Sequence[Measure], *, baseline: date, at: date, dialect: str
) -> list[ColumnElement[Any]]:
    c = LEDGER_CASE.c
    cond, when = c.conditions_date, c.status_date
    closing = c.status.in_(sorted(s.value for s in CLOSING))
    finished_status = c.status.in_(sorted(s.value for s in FINISHED))
    over_by_baseline = last_conditions_date_over_by(baseline)
    over_by_at = last_conditions_date_over_by(at)

    carried = and_(cond <= over_by_baseline, not_(and_(closing, when < baseline)))
    arising = and_(
        cond > over_by_baseline,
        cond <= over_by_at,
        # not closed before the day it crosses, i.e. not closed on or before its anniversary
        not_(and_(closing, when <= _anniversary(cond, dialect))),
    )
    finished_over_year = and_(or_(carried, arising), finished_status, when <= at)
    finished_in_window = and_(finished_status, when >= baseline, when <= at)
    pending_at = and_(cond <= at, not_(and_(closing, when <= at)))
    with_conditions = or_(finished_in_window, pending_at)

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    def money(condition: ColumnElement[bool], amount: Any) -> ColumnElement[Any]:
        return func.sum(case((condition, amount), else_=0))

    exprs: dict[Measure, ColumnElement[Any]] = {
        "carried_over": count(carried),
        "arising": count(arising),
        "finished": count(finished_over_year),
        "cases_with_conditions": count(with_conditions),
        "cases_finished": count(finished_in_window),
        "money_with_conditions": money(with_conditions, c.amount_owed),
        "money_finished": money(finished_in_window, c.amount_owed),
        "money_collected": money(finished_in_window, c.amount_collected),
    }
    return [exprs[m].label(m) for m in measures]


def measure_figures(
    conn: Connection,
    import_id: int,
    measures: Sequence[Measure],
    *,
    baseline: date,
    at: date,
    by: GroupBy = "unit",
) -> dict[str, dict[Measure, int]]:
    """Own figures per unit code (or officer code) of one import: a single GROUP BY over its cases."""
    check_dates(baseline, at)
    if not measures:
        return {}
    key = LEDGER_CASE.c.unit_code if by == "unit" else LEDGER_CASE.c.officer_code
    stmt = (
        select(
            key.label("group_key"),
            *_measure_columns(measures, baseline=baseline, at=at, dialect=conn.dialect.name),
        )
        .where(LEDGER_CASE.c.import_id == import_id)
        .group_by(key)
    )
    if by == "officer":
        stmt = stmt.where(LEDGER_CASE.c.officer_code.is_not(None))
    out: dict[str, dict[Measure, int]] = {}
    for row in conn.execute(stmt):
        out[row.group_key] = {m: int(row._mapping[m] or 0) for m in measures}
    return out


def ledger_figures(
    engine: Engine,
    code: str,
    *,
    at: date,
    by: GroupBy = "unit",
    rollup: bool = True,
) -> dict[str, dict[str, int]]:
    """The campaign's ledger-computed fields at the end of day `at`, per unit or per officer.

    Per unit, a unit's figures include the enrolled units below it (`rollup`), so a province's figures are
    the sum of its offices'; only units with cases in their subtree appear. Keys of the inner dicts are the
    campaign's field keys (those a ledger computes; see CampaignDefinition.ledger_measures).
    """
    with engine.connect() as conn:
        info = _campaign(conn, code)
        defn = info.definition
        mapping = defn.ledger_measures()
        if not mapping:
            raise LedgerNotReady(
                f"Không chỉ số nào của phong trào “{info.code}” tính được từ sổ thụ lý.",
                hint="Khai báo mục ledger trong định nghĩa phong trào.",
            )
        current = _current(conn, info.campaign_id)
        if current is None:
            raise LedgerNotReady(
                f"Phong trào “{info.code}” chưa nhập sổ thụ lý.",
                hint=f"Chạy `thidua ledger import {info.code} TỆP`.",
            )
        baseline = defn.ledger_baseline
        try:
            check_dates(baseline, at)
        except ValueError as exc:
            raise LedgerNotReady(str(exc)) from None
        measures = sorted(set(mapping.values()))
        own = measure_figures(conn, current.id, measures, baseline=baseline, at=at, by=by)
        if by == "unit" and rollup:
            parents: dict[str, str | None] = {
                unit: parent
                for unit, parent in conn.execute(
                    select(ENROLLED_UNIT.c.unit_code, ENROLLED_UNIT.c.parent_code).where(
                        ENROLLED_UNIT.c.campaign_id == info.campaign_id
                    )
                ).tuples()
            }
            own = _roll_up(own, parents)
    return {group: {f: values[m] for f, m in mapping.items()} for group, values in sorted(own.items())}


def _roll_up(
    own: dict[str, dict[Measure, int]], parents: dict[str, str | None]
) -> dict[str, dict[Measure, int]]:
    """Add each unit's figures to every enrolled ancestor (sums of disjoint case sets: never averages)."""
    out: dict[str, dict[Measure, int]] = {}
    for unit, values in own.items():
        node: str | None = unit
        seen: set[str] = set()
        while node is not None and node not in seen and (node == unit or node in parents):
            seen.add(node)
            target = out.setdefault(node, dict.fromkeys(values, 0))
            for m, v in values.items():
                target[m] += v
            node = parents.get(node)
    return out


# ---------------------------------------------------------------- reconciliation


def period_end(conn: Connection, campaign_id: int, period_key: str) -> date:
    row = conn.execute(
        select(DEADLINE.c.period_end).where(
            DEADLINE.c.campaign_id == campaign_id,
            DEADLINE.c.key == period_key,
            DEADLINE.c.kind.in_([DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT]),
        )
    ).first()
    if row is None or row.period_end is None:
        known = conn.execute(
            select(DEADLINE.c.key)
            .where(
                DEADLINE.c.campaign_id == campaign_id,
                DEADLINE.c.kind.in_([DeadlineKind.PERIOD_REPORT, DeadlineKind.FINAL_REPORT]),
            )
            .order_by(DEADLINE.c.due_date, DEADLINE.c.key)
        ).scalars()
        raise UnknownLedgerPeriod(f"Không có kỳ báo cáo “{period_key}”; các kỳ: {', '.join(known)}")
    value: date = row.period_end
    return value


def reconcile(engine: Engine, code: str, period_key: str) -> list[ReconRow]:
    """Reported beside computed, for every reporting unit (and any unit that submitted) and ledger field."""
    with engine.connect() as conn:
        info = _campaign(conn, code)
        at = period_end(conn, info.campaign_id, period_key)
        reporting = set(
            conn.execute(
                select(ENROLLED_UNIT.c.unit_code).where(
                    ENROLLED_UNIT.c.campaign_id == info.campaign_id, ENROLLED_UNIT.c.reports.is_(True)
                )
            ).scalars()
        )
        submitted: dict[str, dict[str, Any]] = {}
        for unit, values_json in conn.execute(
            select(SUBMISSION.c.unit_code, SUBMISSION.c.values_json).where(
                SUBMISSION.c.campaign_id == info.campaign_id,
                SUBMISSION.c.period_key == period_key,
                SUBMISSION.c.is_current.is_(True),
            )
        ).tuples():
            submitted[unit] = json.loads(values_json)
    computed = ledger_figures(engine, code, at=at, by="unit")
    fields = list(info.definition.ledger_measures())
    out: list[ReconRow] = []
    for unit in sorted(reporting | set(submitted)):
        values = submitted.get(unit, {})
        for field in fields:
            raw = values.get(field)
            reported = int(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
            value = computed.get(unit, {}).get(field, 0)
            out.append(ReconRow(unit, field, reported, value, None if reported is None else reported - value))
    return out


# ---------------------------------------------------------------- checks of reported figures


SubjectKey = tuple[str, str]  # ("unit" | "person", code)


@dataclass(frozen=True)
class ReportedFigures:
    """A unit's (rolled up) or a person's figures as reported for one period, and its main indicator."""

    period_key: str
    figures: Mapping[str, int]
    main: IndicatorResult | None = None


def ledger_checks(
    engine: Engine, code: str, reported: Mapping[SubjectKey, ReportedFigures]
) -> dict[SubjectKey, LedgerCheck]:
    """Each subject's reported figures beside the ledger's at the end of its period (units with the enrolled
    units below them, persons as officers), for the fields a ledger computes. Empty when the campaign has no
    ledger to compare with: no field computed from one, or none imported. Two GROUP BYs per period at most."""
    with engine.connect() as conn:
        info = _campaign(conn, code)
        defn = info.definition
        mapping = defn.ledger_measures()
        if not reported or not mapping or _current(conn, info.campaign_id) is None:
            return {}
        periods = {r.period_key for r in reported.values()}
        ends = {key: period_end(conn, info.campaign_id, key) for key in periods}
    fields = [f for f in defn.fields if f.key in mapping]
    out: dict[SubjectKey, LedgerCheck] = {}
    for period_key, at in sorted(ends.items()):
        subjects = {key: r for key, r in reported.items() if r.period_key == period_key}
        if at < defn.ledger_baseline:
            continue  # a period before the ledger's counting starts has nothing to compare with
        kinds = {kind for kind, _code in subjects}
        computed = {
            kind: ledger_figures(engine, code, at=at, by="unit" if kind == "unit" else "officer")
            for kind in sorted(kinds)
        }
        for (kind, subject), r in subjects.items():
            out[(kind, subject)] = check_figures(
                r.figures, computed[kind].get(subject, {}), fields, at=at, main=defn.main_indicator,
                reported_main=r.main,
            )  # fmt: skip
    return out


__all__ = [
    "BATCH_SIZE",
    "LedgerError",
    "LedgerImportError",
    "LedgerImportResult",
    "ReconRow",
    "ReportedFigures",
    "SubjectKey",
    "current_import",
    "file_sha256",
    "import_ledger",
    "ledger_checks",
    "ledger_figures",
    "measure_figures",
    "period_end",
    "read_cells",
    "reconcile",
]
