"""Alembic environment: the engine comes from the caller (models.db.alembic_config)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import thidua.models.campaign
import thidua.models.directory
import thidua.models.mailbox
import thidua.models.outbox
import thidua.models.portal
import thidua.models.reporting
import thidua.models.review
import thidua.models.service  # noqa: F401  (register tables on the metadata)

target_metadata = SQLModel.metadata
config = context.config


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # APScheduler's job store creates and owns this table; it is not part of our schema.
    return not (type_ == "table" and name == "apscheduler_jobs")


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
