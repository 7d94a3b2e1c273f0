from sqlalchemy import Engine, inspect

from models.db import current_revision, ensure_schema, head_revision


def test_migrations_reach_head_on_both_databases(engine: Engine) -> None:
    ensure_schema(engine)
    assert current_revision(engine) == head_revision(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"unit", "person", "discipline", "campaign", "enrolled_unit", "outbox_message"} <= tables
