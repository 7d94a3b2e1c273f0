"""The outbox: every email is first a row here, then a dispatcher sends it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from thidua.models.states import OutboxStatus


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    id: int | None = Field(default=None, primary_key=True)
    # Unique key the producer derives from what the email is about (campaign, item, recipient, step):
    # producing the same email twice is a no-op.
    dedupe_key: str = Field(max_length=300, unique=True, index=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=254)
    recipient_name: str | None = Field(default=None, max_length=300)
    cc_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    reply_to: str | None = Field(default=None, max_length=254)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # JSON list of attachment paths relative to the data dir.
    attachments_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, max_length=10, index=True)
    attempts: int = 0
    created_at: datetime
    next_attempt_at: datetime | None = Field(default=None, index=True)
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=100)
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str | None = Field(default=None, max_length=300)
    # Extra headers as a JSON object (a reply's In-Reply-To and References), written into the message.
    headers_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The message rendered once at enqueue time (RFC 5322 bytes without From, Date and Message-ID, which
    # dispatch adds; NULL = built at dispatch):
    # building MIME costs more than sending it, so a dispatch batch only streams these bytes.
    mime: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
