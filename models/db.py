"""Database engine, sessions and schema migrations (Alembic), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from thidua.errors import Unavailable

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The newest migration. Commands compare the database with it before anything else, so this check must not
#: load Alembic and parse every migration file; tests/models/test_db.py keeps it equal to Alembic's head.
HEAD_REVISION = "0009"


class SchemaOutOfDate(Unavailable):
    """The database is behind the code; `thidua db upgrade` fixes it."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside one writer; FKs are off by default in SQLite.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Apply pending migrations; return (before, after) revisions."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_revision(engine)


def _at_head(engine: Engine) -> bool:
    """True when the database records HEAD_REVISION (one SELECT; a missing table means a new database)."""
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DatabaseError:
        return False
    return stored == [HEAD_REVISION]


def ensure_schema(engine: Engine, *, auto_upgrade: bool = True) -> None:
    """Make sure the schema is at head: apply pending migrations, or say clearly what to run."""
    if _at_head(engine) or current_revision(engine) == head_revision(engine):
        return
    if not auto_upgrade:
        raise SchemaOutOfDate(
            "Cơ sở dữ liệu chưa được cập nhật cấu trúc (schema). Hãy chạy: thidua db upgrade"
        )
    upgrade(engine)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on error."""
    from sqlmodel import Session  # the ORM is loaded by the commands that write, not by every command

    with Session(engine) as session, session.begin():
        yield session


def _insert_for(target: Connection | Session, table: Table) -> Any:
    name = (target if isinstance(target, Connection) else target.get_bind()).dialect.name
    # Imported here: the PostgreSQL dialect module loads asyncpg support, which a reading command never needs.
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    raise RuntimeError(f"Cơ sở dữ liệu “{name}” chưa được hỗ trợ (SQLite, PostgreSQL).")


def upsert(
    target: Connection | Session, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE every other given column, one executemany, in the caller's
    transaction (SQLite and PostgreSQL spell it the same way, through their own dialect's insert)."""
    if not rows:
        return
    stmt = _insert_for(target, table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    target.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows))


def insert_ignore(
    target: Connection | Session,
    table: Table,
    rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    returning: Any = None,
) -> list[Any]:
    """INSERT ... ON CONFLICT (keys) DO NOTHING for one row or many (one statement).

    With `returning` (a column), the values of the rows actually inserted: the drivers do not all report a
    row count for ON CONFLICT, so this is how a caller learns which rows were new.
    """
    values = [dict(rows)] if isinstance(rows, Mapping) else [dict(r) for r in rows]
    if not values:
        return []
    stmt = _insert_for(target, table).values(values).on_conflict_do_nothing(index_elements=list(keys))
    if returning is None:
        target.execute(stmt)
        return []
    return list(target.execute(stmt.returning(returning)).scalars())
