"""Database engine, sessions and schema migrations (Alembic), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaOutOfDate(RuntimeError):
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
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Apply pending migrations; return (before, after) revisions."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_revision(engine)


def ensure_schema(engine: Engine, *, auto_upgrade: bool = True) -> None:
    """Make sure the schema is at head: apply pending migrations, or say clearly what to run."""
    if current_revision(engine) == head_revision(engine):
        return
    if not auto_upgrade:
        raise SchemaOutOfDate(
            "Cơ sở dữ liệu chưa được cập nhật cấu trúc (schema). Hãy chạy: thidua db upgrade"
        )
    upgrade(engine)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on error."""
    with Session(engine) as session, session.begin():
        yield session


def _insert_for(target: Connection | Session, table: Table) -> Any:
    name = (target.get_bind() if isinstance(target, Session) else target).dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
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
    target: Connection | Session, table: Table, row: Mapping[str, Any], keys: Sequence[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING for one row."""
    stmt = _insert_for(target, table)
    target.execute(stmt.values(**row).on_conflict_do_nothing(index_elements=list(keys)))
