"""The web portal's identity tables: roles, sign-in links, sessions, API tokens.

People are not copied here: an account is an email address the directory knows (a person's, or a unit's
contact address), so a directory import is what opens or closes the door. Secrets (sign-in links, session
cookies, API tokens) are stored only as their SHA-256: a copy of the database lets nobody in.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel, UniqueConstraint


class PortalRole(StrEnum):
    ADMIN = "admin"  # administrator (also named in THIDUA_ADMIN_EMAILS, which is not stored)
    REPORTER = "reporter"  # reports for one unit (besides the unit's own contact address)


class RoleGrant(SQLModel, table=True):
    """A role an administrator gave an address (`thidua user grant-admin`, `grant-reporter`)."""

    __tablename__ = "portal_role"
    __table_args__ = (UniqueConstraint("email", "role", "unit_code", name="uq_portal_role"),)
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)  # lower-cased
    role: PortalRole = Field(max_length=20)
    # The unit a reporter reports for; "" for a role without a unit (NULLs would defeat the unique key).
    unit_code: str = Field(default="", max_length=40)
    granted_by: str | None = Field(default=None, max_length=254)
    granted_at: datetime


class SignInRequest(SQLModel, table=True):
    """One request for a sign-in link, kept for the rate limits; token_hash is empty when no link was sent
    (an address the directory does not know gets the same answer and no email)."""

    __tablename__ = "portal_signin"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    client: str = Field(max_length=64, index=True)
    requested_at: datetime = Field(index=True)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    expires_at: datetime
    used_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie's hash, its CSRF token, and a sliding expiry."""

    __tablename__ = "portal_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=254, index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client: str | None = Field(default=None, max_length=64)


class ApiToken(SQLModel, table=True):
    """A machine client's token for one unit: shown once, stored as a hash, revocable."""

    __tablename__ = "portal_api_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    unit_code: str = Field(max_length=40, index=True)
    label: str = Field(max_length=200)
    created_by: str = Field(max_length=254)
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = Field(default=None, max_length=254)
