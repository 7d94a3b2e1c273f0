"""Service coordination: which process holds the scheduler role for a database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ServiceLease(SQLModel, table=True):
    """A named lease ("scheduler"): one holder at a time, renewed by heartbeat, taken over once expired."""

    __tablename__ = "service_lease"
    name: str = Field(primary_key=True, max_length=60)
    holder: str = Field(max_length=200)  # host:pid:random, so a restarted process is a new holder
    acquired_at: datetime
    heartbeat_at: datetime
    lease_until: datetime
