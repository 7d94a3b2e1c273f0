"""Periodic data collection: unit submissions (with revisions), rejected files, per-unit targets,
case ledgers and computed progress snapshots."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel, UniqueConstraint


class Submission(SQLModel, table=True):
    """One accepted report of a unit for a period. A re-submission adds a revision; the old one stays."""

    __tablename__ = "submission"
    __table_args__ = (
        UniqueConstraint("campaign_id", "unit_code", "period_key", "revision", name="uq_submission_revision"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_code: str = Field(max_length=40, index=True)
    period_key: str = Field(max_length=40)  # a Deadline.key: "2024-03", "final"
    revision: int = 1
    is_current: bool = Field(default=True, index=True)
    received_at: datetime
    submitted_by: str | None = Field(default=None, max_length=254)  # sender email or CLI user
    due_date: date
    on_time: bool
    is_correction: bool = False  # a fall in cumulative figures was declared a correction
    source_name: str = Field(max_length=300)  # the file name as received
    stored_path: str | None = Field(default=None, max_length=500)  # under the data dir
    file_sha256: str = Field(max_length=64)
    # {"carried_over": 120, "arising": 30, "finished": 20}
    values_json: str = Field(sa_column=Column(Text, nullable=False))
    # [{"person_code": "TQ-YS-03", "values": {...}}, ...] (the optional per-officer table)
    officers_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    # What changed against the previous revision: {"finished": [18, 20]}
    changes_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RejectedFile(SQLModel, table=True):
    """A report file that failed validation: kept with its errors so nobody has to ask what went wrong."""

    __tablename__ = "rejected_file"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    unit_code: str | None = Field(default=None, max_length=40)
    period_key: str | None = Field(default=None, max_length=40)
    received_at: datetime
    source_name: str = Field(max_length=300)
    stored_path: str | None = Field(default=None, max_length=500)
    file_sha256: str = Field(max_length=64)
    errors_json: str = Field(sa_column=Column(Text, nullable=False))


class UnitTarget(SQLModel, table=True):
    """A target assigned to one unit for one indicator (seed 000: each province's completion targets)."""

    __tablename__ = "unit_target"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_code", "indicator_key", name="uq_unit_target"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_code: str = Field(max_length=40)
    indicator_key: str = Field(max_length=60)
    target: str = Field(max_length=40)  # a Decimal as text: exact, database-neutral


class LedgerImport(SQLModel, table=True):
    __tablename__ = "ledger_import"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    as_of: date
    source_name: str = Field(max_length=300)
    file_sha256: str = Field(max_length=64)
    rows: int
    imported_at: datetime
    is_current: bool = True


class LedgerCase(SQLModel, table=True):
    """One enforcement case of a ledger. Loaded in bulk (Core / COPY), never one ORM object per row."""

    __tablename__ = "ledger_case"
    __table_args__ = (UniqueConstraint("import_id", "case_id", name="uq_ledger_case"),)
    id: int | None = Field(default=None, primary_key=True)
    # No separate index: uq_ledger_case (import_id, case_id) already serves lookups by import.
    import_id: int = Field(foreign_key="ledger_import.id")
    case_id: str = Field(max_length=60)
    unit_code: str = Field(max_length=40)  # no index: every query filters on import_id first
    officer_code: str | None = Field(default=None, max_length=40)
    received_date: date
    conditions_date: date | None = None  # when it became enforceable ("có điều kiện"); None = never
    status: str = Field(max_length=30)  # dang_thi_hanh, xong, dinh_chi, chua_co_dieu_kien, ...
    status_date: date | None = None
    amount_owed: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    amount_collected: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class SnapshotSource(StrEnum):
    REPORT = "report"
    LEDGER = "ledger"


class ProgressSnapshot(SQLModel, table=True):
    """Figures and indicators of one unit or person for one period, as computed by a collection run."""

    __tablename__ = "progress_snapshot"
    __table_args__ = (
        UniqueConstraint(
            "campaign_id", "period_key", "subject_kind", "subject_code", "source", name="uq_progress_snapshot"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    period_key: str = Field(max_length=40)
    subject_kind: str = Field(max_length=10)  # "unit" | "person"
    subject_code: str = Field(max_length=40)
    source: SnapshotSource = Field(max_length=10)
    computed_at: datetime
    # Own figures (persons) or rolled-up figures (units).
    values_json: str = Field(sa_column=Column(Text, nullable=False))
    # {"reduction_rate": {"num": 20, "den": 150, "target": "0.10", "met": true}}
    indicators_json: str = Field(sa_column=Column(Text, nullable=False))


class Exemption(SQLModel, table=True):
    """An administrator's decision that a unit does not owe an item (a period report, the final report, the
    dossier): it cancels that unit's remaining reminders for that deadline, like a submission does."""

    __tablename__ = "exemption"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_code", "deadline_key", name="uq_exemption"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_code: str = Field(max_length=40)
    deadline_key: str = Field(max_length=40)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    granted_by: str = Field(max_length=254)
    granted_at: datetime
