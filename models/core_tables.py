"""Light views of the tables the read-only queries read: `sqlalchemy.table()` with the columns they use.

The table models (SQLModel classes in models/campaign.py, models/reporting.py, models/outbox.py) load the
ORM and pydantic, which would double the time of a command that only reads; these views load neither. Each
column has the type of the model's column where the type changes what is read (dates, booleans, enums
stored by member name, UTC moments); tests/models/test_core_tables.py keeps every view equal to its model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, String, Text, TypeDecorator, column, table
from sqlalchemy.engine import Dialect

from thidua.models.states import CampaignStatus, DeadlineKind, OutboxStatus


class UTCMoment(TypeDecorator[datetime]):
    """An aware UTC datetime, read as sqlmodel's UTCDateTime reads it (naive values are UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("Thời điểm phải có múi giờ (datetime có tzinfo).")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)  # databases without zones store UTC without an offset
        return value.astimezone(UTC)


CAMPAIGN = table(
    "campaign",
    column("id", Integer),
    column("code", String),
    column("title", Text),
    column("status", Enum(CampaignStatus)),
    column("definition_json", Text),
    column("start_date", Date),
    column("end_date", Date),
    column("plan_document", String),
)

ENROLLED_UNIT = table(
    "enrolled_unit",
    column("campaign_id", Integer),
    column("unit_code", String),
    column("unit_name", String),
    column("parent_code", String),
    column("level", String),
    column("reports", Boolean),
)

ENROLLED_PERSON = table("enrolled_person", column("campaign_id", Integer))

DEADLINE = table(
    "deadline",
    column("campaign_id", Integer),
    column("key", String),
    column("kind", Enum(DeadlineKind)),
    column("label", String),
    column("period_start", Date),
    column("period_end", Date),
    column("nominal_due", Date),
    column("due_date", Date),
)

SUBMISSION = table(
    "submission",
    column("campaign_id", Integer),
    column("unit_code", String),
    column("period_key", String),
    column("revision", Integer),
    column("is_current", Boolean),
    column("received_at", UTCMoment()),
    column("on_time", Boolean),
    column("values_json", Text),
    column("officers_json", Text),
)

UNIT_TARGET = table(
    "unit_target",
    column("campaign_id", Integer),
    column("unit_code", String),
    column("indicator_key", String),
    column("target", String),
)

OUTBOX_MESSAGE = table(
    "outbox_message",
    column("id", Integer),
    column("campaign_id", Integer),
    column("status", Enum(OutboxStatus)),
    column("recipient", String),
    column("subject", Text),
    column("attempts", Integer),
    column("last_error", Text),
    column("next_attempt_at", UTCMoment()),
    column("lease_until", UTCMoment()),
    column("claimed_by", String),
)

VIEWS = (CAMPAIGN, ENROLLED_UNIT, ENROLLED_PERSON, DEADLINE, SUBMISSION, UNIT_TARGET, OUTBOX_MESSAGE)
