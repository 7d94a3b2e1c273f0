"""Messages read from the system's mailbox (IMAP): one row per message, the result of handling it.

The row is written in the same transaction as the message's result (a report revision, a rejection, a refusal
and the reply in the outbox), and before the message leaves the mailbox's folder: its unique key (the
Message-ID) is what makes a message seen again after a crash give the same result once, and what makes two
sweeps at once handle it once (the second one's insert waits for the first's commit, then finds the row).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class InboundMail(SQLModel, table=True):
    __tablename__ = "inbound_mail"
    id: int | None = Field(default=None, primary_key=True)
    # The Message-ID as sent ("<…@…>"), or "sha256:<digest of the message>" when it has none.
    message_key: str = Field(max_length=300, unique=True, index=True)
    received_at: datetime
    sender: str = Field(max_length=254)
    subject: str = Field(default="", sa_column=Column(Text, nullable=False))
    # accepted / unchanged / rejected (the ingest's result), refused (sender not allowed: held for an
    # administrator), answered (nothing to ingest: no attachment, several reports, a zip, another campaign).
    outcome: str = Field(default="pending", max_length=20, index=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    unit_code: str | None = Field(default=None, max_length=40)
    period_key: str | None = Field(default=None, max_length=40)
    source_name: str | None = Field(default=None, max_length=300)
    file_sha256: str | None = Field(default=None, max_length=64)
    # Why it was not ingested, in Vietnamese (what an administrator reads in `thidua mail held`).
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A refused message is kept whole in the storage for an administrator (models/storage.py key).
    held_key: str | None = Field(default=None, max_length=300)
    held: bool = Field(default=False, index=True)
    # The folder it was moved to; set once the move is done (NULL: committed, not yet moved).
    folder: str | None = Field(default=None, max_length=200)
