"""Launched campaigns, their enrolment snapshot and their reporting calendar."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel, UniqueConstraint

from thidua.models.states import CampaignStatus, DeadlineKind


class Campaign(SQLModel, table=True):
    __tablename__ = "campaign"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=60, unique=True, index=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(max_length=30)
    status: CampaignStatus = Field(default=CampaignStatus.DRAFT, max_length=20)
    # The validated definition as canonical JSON, and its SHA-256: a relaunch compares hashes.
    definition_json: str = Field(sa_column=Column(Text, nullable=False))
    definition_hash: str = Field(max_length=64)
    start_date: date
    end_date: date
    launched_at: datetime | None = None
    launch_as_of: date | None = None
    plan_document: str | None = Field(default=None, max_length=500)  # path relative to the data dir


class EnrolledUnit(SQLModel, table=True):
    """A unit enrolled at launch, copied so that later directory edits do not rewrite history."""

    __tablename__ = "enrolled_unit"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id", name="uq_enrolled_unit"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    unit_code: str = Field(max_length=40)
    unit_name: str = Field(max_length=300)
    parent_code: str | None = Field(default=None, max_length=40)
    level: str = Field(max_length=20)
    email: str | None = Field(default=None, max_length=254)
    place_name: str | None = Field(default=None, max_length=100)
    reports: bool = True  # expected to submit periodic reports


class EnrolledPerson(SQLModel, table=True):
    __tablename__ = "enrolled_person"
    __table_args__ = (UniqueConstraint("campaign_id", "person_id", name="uq_enrolled_person"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    person_code: str = Field(max_length=40)
    full_name: str = Field(max_length=200)
    title: str = Field(max_length=100)
    unit_code: str = Field(max_length=40)
    email: str | None = Field(default=None, max_length=254)
    is_head: bool = False


class Deadline(SQLModel, table=True):
    """One due date of the campaign's calendar (a reporting period, the final report, the dossier)."""

    __tablename__ = "deadline"
    __table_args__ = (UniqueConstraint("campaign_id", "key", name="uq_deadline_key"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str = Field(max_length=40)  # "2024-01", "final", "dossier"
    kind: DeadlineKind = Field(max_length=20)
    label: str = Field(max_length=200)
    period_start: date | None = None
    period_end: date | None = None
    nominal_due: date  # as the plan states it, before the working-day rule
    due_date: date  # after the working-day rule


class DomainEvent(SQLModel, table=True):
    """Append-only audit trail of lifecycle transitions."""

    __tablename__ = "domain_event"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    kind: str = Field(max_length=60)
    subject: str | None = Field(default=None, max_length=100)
    actor: str | None = Field(default=None, max_length=100)
    at: datetime
    payload_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
