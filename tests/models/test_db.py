from sqlalchemy import Engine, inspect

from thidua.models.db import current_revision, ensure_schema, head_revision


def test_migrations_reach_head_on_both_databases(engine: Engine) -> None:
    ensure_schema(engine)
    assert current_revision(engine) == head_revision(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"unit", "person", "discipline", "campaign", "enrolled_unit", "outbox_message"} <= tables


def test_migrations_match_the_models(engine: Engine) -> None:
    """A table or column added to models/ without a migration (or the reverse) is caught here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import thidua.models.campaign
    import thidua.models.directory
    import thidua.models.outbox
    import thidua.models.reporting
    import thidua.models.review
    import thidua.models.service  # noqa: F401

    ensure_schema(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_the_head_constant_is_alembics_head(engine: Engine) -> None:
    """Commands check the schema against HEAD_REVISION without loading Alembic: it must not drift."""
    from thidua.models.db import HEAD_REVISION

    assert head_revision(engine) == HEAD_REVISION
