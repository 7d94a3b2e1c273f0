"""The light table views (models/core_tables.py) match the table models they stand for."""

from __future__ import annotations

from sqlalchemy import Enum, Table, TypeDecorator
from sqlmodel import SQLModel

import thidua.models.campaign
import thidua.models.outbox
import thidua.models.reporting  # noqa: F401  (registers the tables read below)
from thidua.models.core_tables import VIEWS


def test_every_view_column_exists_in_its_model_with_the_same_type() -> None:
    for view in VIEWS:
        model: Table = SQLModel.metadata.tables[view.name]
        for column in view.columns:
            assert column.name in model.c, f"{view.name}.{column.name} is not a column of the model"
            real = model.c[column.name].type
            ours = column.type
            if isinstance(real, Enum):
                assert isinstance(ours, Enum) and ours.enum_class is real.enum_class, (view.name, column.name)
                assert ours.name == real.name and ours.native_enum == real.native_enum
            elif type(real).__name__ == "UTCDateTime":
                assert type(ours).__name__ == "UTCMoment", (view.name, column.name)
                assert ours.impl.timezone == real.impl.timezone  # type: ignore[attr-defined]
            else:  # sqlmodel's AutoString decorates String: what is read is the implementation's
                read_as = real.impl if isinstance(real, TypeDecorator) else real
                assert isinstance(read_as, type(ours)), (view.name, column.name, real, ours)


def test_reading_through_a_view_gives_what_the_model_gives(engine: object) -> None:
    """Enums stored by name and UTC moments come back as the ORM returns them (SQLite and PostgreSQL)."""
    from datetime import UTC, datetime

    from sqlalchemy import Engine, insert, select

    from thidua.models.core_tables import OUTBOX_MESSAGE
    from thidua.models.states import OutboxStatus

    assert isinstance(engine, Engine)
    model = SQLModel.metadata.tables["outbox_message"]
    moment = datetime(2024, 1, 5, 1, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(model).values(
                dedupe_key="k", kind="test", recipient="a@b.example", subject="s", body_text="b",
                cc_json="[]", attachments_json="[]",
                status=OutboxStatus.SENDING, attempts=1, created_at=moment, lease_until=moment,
            )
        )  # fmt: skip
        ours = conn.execute(select(OUTBOX_MESSAGE.c.status, OUTBOX_MESSAGE.c.lease_until)).one()
        theirs = conn.execute(select(model.c.status, model.c.lease_until)).one()
        found = conn.execute(
            select(OUTBOX_MESSAGE.c.id).where(OUTBOX_MESSAGE.c.status == OutboxStatus.SENDING)
        ).all()
    assert tuple(ours) == tuple(theirs) == (OutboxStatus.SENDING, moment)
    assert len(found) == 1
