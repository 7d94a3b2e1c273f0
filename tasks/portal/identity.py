"""Who may use the web portal, and how they prove it: sign-in links, sessions, API tokens, roles.

An account is an email address the directory knows: a person's, a unit's contact address, or one an
administrator granted a role to (`thidua user grant-admin`, `grant-reporter`), plus THIDUA_ADMIN_EMAILS.
What an address may do is worked out on every request from those sources, so a directory import that removes
a person closes the door at the next request, without a separate user table to keep in step.

Secrets (the link in the email, the session cookie, an API token) are random (`secrets`), handed out once
and stored only as their SHA-256. Redeeming a link is one UPDATE … RETURNING that also marks it used, so two
requests racing with the same link cannot both get a session. Every change here is an audit row
(DomainEvent through record_event) naming the person.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select, text, update
from sqlmodel import Session, col

from thidua.errors import InvalidInput, NotFound, RuleRefused
from thidua.models.db import insert_ignore, transaction
from thidua.models.directory import Person, Unit
from thidua.models.portal import ApiToken, PortalRole, RoleGrant, SignInRequest, WebSession
from thidua.models.settings import Settings
from thidua.models.text import nfc
from thidua.notifications.outbox import enqueue
from thidua.notifications.templating import render_email
from thidua.tasks.core.events import record_event

SIGNIN_TTL = timedelta(minutes=15)
#: Sign-in links one address may ask for, and one client (IP address) may ask for, in RATE_WINDOW.
RATE_WINDOW = timedelta(minutes=15)
MAX_PER_ADDRESS = 5
MAX_PER_CLIENT = 30
#: A session ends after this long without a request; every request (at most once a minute) extends it.
SESSION_IDLE = timedelta(hours=8)
_TOUCH_EVERY = timedelta(minutes=1)
_KEEP_REQUESTS = timedelta(days=1)
API_TOKEN_PREFIX = "thd_"
_ACTOR_MAX = 100  # DomainEvent.actor

_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[^@\s<>\"',;]{1,189}\.[^@\s<>\"',;.]{2,}$")


class SignInRefused(RuleRefused):
    """A sign-in link that is unknown, used or expired."""

    def __init__(self) -> None:
        super().__init__(
            "Đường dẫn đăng nhập không dùng được: đường dẫn sai, đã được dùng, hoặc đã quá 15 phút.",
            hint="Hãy yêu cầu một đường dẫn đăng nhập mới.",
        )


class TokensByPeopleOnly(RuleRefused):
    """A machine client (API token) tried to make or revoke API tokens: only a signed-in person may (403)."""

    def __init__(self) -> None:
        super().__init__(
            "Mã truy cập không được dùng để tạo hay thu hồi mã truy cập.",
            hint="Đăng nhập cổng web để quản lý mã truy cập của đơn vị.",
        )


class RateLimited(RuleRefused):
    """Too many sign-in links asked for one address or from one client; the web answers 429."""

    def __init__(self, minutes: int) -> None:
        super().__init__(
            "Đã yêu cầu quá nhiều đường dẫn đăng nhập trong thời gian ngắn.",
            hint=f"Hãy thử lại sau {minutes} phút, hoặc dùng đường dẫn trong thư đã nhận.",
        )


def digest(secret: str) -> str:
    """The stored form of a secret: its SHA-256 in hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_email(text: str) -> str:
    """An address as stored and compared: NFC, trimmed, lower-cased; InvalidInput when it is not one."""
    value = (nfc(text) or "").strip().lower()
    if not _EMAIL.fullmatch(value) or len(value) > 254:
        raise InvalidInput(
            f"“{value[:80]}” không phải địa chỉ email.",
            hint="Nhập địa chỉ email công vụ, ví dụ ten@thads.vn.",
        )
    return value


def _actor(text: str) -> str:
    return text[:_ACTOR_MAX]


@dataclass(frozen=True)
class Principal:
    """Someone the portal recognised: what they may do is `admin` or acting for one of `units`."""

    email: str
    name: str
    admin: bool = False
    units: frozenset[str] = field(default_factory=frozenset)
    token_id: int | None = None  # set when the request came with an API token (then `units` is its unit)

    def may_act_for(self, unit_code: str) -> bool:
        return self.admin or unit_code in self.units

    @property
    def actor(self) -> str:
        """How audit rows name this person (and the token, for a machine client)."""
        who = self.email if self.token_id is None else f"{self.email} (mã truy cập {self.token_id})"
        return _actor(who)


def principal_for(session: Session, settings: Settings, email: str) -> Principal | None:
    """What `email` may do now, from the directory, the role grants and the settings; None: not an account."""
    person = session.execute(
        select(col(Person.full_name)).where(
            func.lower(col(Person.email)) == email, col(Person.active).is_(True)
        )
    ).first()
    contact_units = session.execute(
        select(col(Unit.code), col(Unit.name)).where(func.lower(col(Unit.email)) == email, col(Unit.active))
    ).all()
    grants = session.execute(
        select(col(RoleGrant.role), col(RoleGrant.unit_code)).where(col(RoleGrant.email) == email)
    ).all()
    admin = email in settings.admins or any(role == PortalRole.ADMIN for role, _ in grants)
    granted_units = {unit for role, unit in grants if role == PortalRole.REPORTER and unit}
    if person is None and not contact_units and not grants and not admin:
        return None
    units = frozenset({code for code, _ in contact_units} | granted_units)
    name = person[0] if person else (contact_units[0][1] if contact_units else email)
    return Principal(email=email, name=name, admin=admin, units=units)


# ---------------------------------------------------------------- sign-in links


def _one_at_a_time(s: Session, *keys: str) -> None:
    """Hold, until the transaction ends, a lock for each of `keys`, so two requests of one address (or of
    one client) count and insert one after the other, never both on the same count.

    PostgreSQL: transaction-level advisory locks on the keys' 64-bit hashes, taken in one global order (no
    deadlock between two requests; a hash collision only serialises two unrelated requests). SQLite needs
    none: the caller writes before it counts, and SQLite lets one writer at a time in, so the count already
    sees every earlier request."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):
        s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


@dataclass(frozen=True)
class SignInAsked:
    """What a request for a link did; the page says the same whatever `sent` is (no address enumeration)."""

    email: str
    sent: bool


def request_signin(
    engine: Engine, settings: Settings, email: str, client: str, *, now: datetime, link_base: str
) -> SignInAsked:
    """Record a request for a sign-in link and, for an account, queue the email with the link.

    `link_base` is where the link points (THIDUA_PUBLIC_URL, else the address the request came to); the
    token is appended. The caller dispatches the outbox. RateLimited past the limits; a refused request
    stores nothing (its transaction is rolled back), so a flood stores nothing more.

    The limits hold under concurrent requests: the requests of one address and of one client are serialised
    (see _one_at_a_time), and each counts the rows with its own already inserted.
    """
    address = normalise_email(email)
    client = client[:64]
    since = now - RATE_WINDOW
    with transaction(engine) as s:
        _one_at_a_time(s, f"signin-address:{address}", f"signin-client:{client}")
        # Requests older than a day serve no limit and no link any more: they go as new ones come. Rows
        # another request is deleting right now are left to it (no waiting, no deadlock between two).
        stale = select(col(SignInRequest.id)).where(col(SignInRequest.requested_at) < now - _KEEP_REQUESTS)
        s.execute(
            delete(SignInRequest).where(col(SignInRequest.id).in_(stale.with_for_update(skip_locked=True)))
        )
        principal = principal_for(s, settings, address)
        token = secrets.token_urlsafe(32) if principal is not None else None
        s.add(
            SignInRequest(
                email=address,
                client=client,
                requested_at=now,
                token_hash=digest(token) if token else None,
                expires_at=now + SIGNIN_TTL,
            )
        )
        s.flush()
        by_address, by_client = s.execute(
            select(
                func.count().filter(col(SignInRequest.email) == address),
                func.count().filter(col(SignInRequest.client) == client),
            ).where(col(SignInRequest.requested_at) > since)
        ).one()
        if by_address > MAX_PER_ADDRESS or by_client > MAX_PER_CLIENT:  # this request's own row counted
            raise RateLimited(int(RATE_WINDOW.total_seconds() // 60))
        if principal is None or token is None:
            return SignInAsked(address, False)
        local = now.astimezone(settings.tz)
        subject, text, html = render_email(
            "portal_signin",
            {
                "name": principal.name,
                "link": f"{link_base.rstrip('/')}/dang-nhap/xac-nhan?t={token}",
                "valid_until": f"{(local + SIGNIN_TTL):%H:%M} ngày {local:%d/%m/%Y}",
                "client": client,
            },
        )
        enqueue(
            s,
            dedupe_key=f"portal-signin:{digest(token)[:40]}",
            kind="portal_signin",
            recipient=address,
            recipient_name=principal.name,
            subject=subject,
            text=text,
            html=html,
            now=now,
        )
        record_event(
            s,
            campaign_id=None,
            kind="portal.signin_link",
            now=now,
            actor=_actor(address),
            payload={"client": client},
        )
    return SignInAsked(address, True)


@dataclass(frozen=True)
class NewSession:
    token: str  # the cookie's value: shown to this browser only
    csrf: str
    principal: Principal
    expires_at: datetime


def redeem_signin(
    engine: Engine, settings: Settings, token: str, client: str, *, now: datetime
) -> NewSession:
    """Turn a sign-in link into a session: once, within 15 minutes, for an address still an account."""
    with transaction(engine) as s:
        email = s.execute(
            update(SignInRequest)
            .where(
                col(SignInRequest.token_hash) == digest(token),
                col(SignInRequest.used_at).is_(None),
                col(SignInRequest.expires_at) > now,
            )
            .values(used_at=now)
            .returning(col(SignInRequest.email))
        ).scalar_one_or_none()
        principal = principal_for(s, settings, email) if email else None
        if principal is None:
            raise SignInRefused()
        s.execute(delete(WebSession).where(col(WebSession.expires_at) <= now))  # ended sessions go here
        session_token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = now + SESSION_IDLE
        s.add(
            WebSession(
                token_hash=digest(session_token),
                email=principal.email,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
                client=client[:64],
            )
        )
        record_event(
            s,
            campaign_id=None,
            kind="portal.signed_in",
            now=now,
            actor=principal.actor,
            payload={"client": client[:64]},
        )
    return NewSession(session_token, csrf, principal, expires)


@dataclass(frozen=True)
class ActiveSession:
    principal: Principal
    csrf: str
    expires_at: datetime


def session_for(engine: Engine, settings: Settings, token: str, *, now: datetime) -> ActiveSession | None:
    """The session a cookie names, its expiry slid forward; None: unknown, expired or no longer allowed."""
    hashed = digest(token)
    with transaction(engine) as s:
        row = s.execute(
            select(WebSession).where(col(WebSession.token_hash) == hashed, col(WebSession.expires_at) > now)
        ).scalar_one_or_none()
        if row is None:
            return None
        principal = principal_for(s, settings, row.email)
        if principal is None:
            s.delete(row)  # the person left the directory: the session ends with them
            return None
        expires = row.expires_at
        if now - row.last_seen_at >= _TOUCH_EVERY:
            expires = now + SESSION_IDLE
            row.last_seen_at, row.expires_at = now, expires
        return ActiveSession(principal, row.csrf_token, expires)


def end_session(engine: Engine, token: str, *, now: datetime) -> bool:
    """Sign out: the server forgets the session, so the cookie is worth nothing even if it was copied."""
    with transaction(engine) as s:
        email = s.execute(
            delete(WebSession)
            .where(col(WebSession.token_hash) == digest(token))
            .returning(col(WebSession.email))
        ).scalar_one_or_none()
        if email is not None:
            record_event(s, campaign_id=None, kind="portal.signed_out", now=now, actor=_actor(email))
    return email is not None


# ---------------------------------------------------------------- API tokens


@dataclass(frozen=True)
class TokenRow:
    id: int
    unit_code: str
    label: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _unit_in_scope(s: Session, principal: Principal, unit_code: str) -> str:
    code = nfc(unit_code)
    found = s.execute(select(col(Unit.code)).where(col(Unit.code) == code)).scalar_one_or_none()
    if found is None or not principal.may_act_for(found):
        # The same answer for a unit that does not exist and one that is not yours: nothing to learn.
        raise NotFound(f"Không có đơn vị mã “{code}” trong phạm vi tài khoản của bạn.")
    return found


def create_api_token(
    engine: Engine, principal: Principal, unit_code: str, label: str, *, now: datetime
) -> tuple[int, str]:
    """A new token for one unit: (its number, the token). The token is shown now and never again."""
    if principal.token_id is not None:
        raise TokensByPeopleOnly()
    name = (nfc(label) or "").strip()[:200] or "Mã truy cập"
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(engine) as s:
        code = _unit_in_scope(s, principal, unit_code)
        row = ApiToken(
            token_hash=digest(token), unit_code=code, label=name, created_by=principal.email, created_at=now
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        record_event(
            s,
            campaign_id=None,
            kind="portal.token_created",
            now=now,
            subject=code,
            actor=principal.actor,
            payload={"token": row.id, "label": name},
        )
        return row.id, token


def list_api_tokens(engine: Engine, principal: Principal, unit_code: str) -> list[TokenRow]:
    with Session(engine) as s:
        code = _unit_in_scope(s, principal, unit_code)
        rows = s.scalars(
            select(ApiToken).where(col(ApiToken.unit_code) == code).order_by(col(ApiToken.id))
        ).all()
        return [
            TokenRow(
                r.id or 0, r.unit_code, r.label, r.created_by, r.created_at, r.last_used_at, r.revoked_at
            )
            for r in rows
        ]


def revoke_api_token(
    engine: Engine, principal: Principal, unit_code: str, token_id: int, *, now: datetime
) -> bool:
    """Revoke one of a unit's tokens; False when already revoked. NotFound outside the caller's units."""
    if principal.token_id is not None:
        raise TokensByPeopleOnly()
    with transaction(engine) as s:
        code = _unit_in_scope(s, principal, unit_code)
        row = s.scalars(
            select(ApiToken).where(col(ApiToken.id) == token_id, col(ApiToken.unit_code) == code)
        ).first()
        if row is None:
            raise NotFound(f"Đơn vị {code} không có mã truy cập số {token_id}.")
        if row.revoked_at is not None:
            return False
        row.revoked_at, row.revoked_by = now, principal.email
        record_event(
            s,
            campaign_id=None,
            kind="portal.token_revoked",
            now=now,
            subject=code,
            actor=principal.actor,
            payload={"token": token_id},
        )
        return True


def token_principal(engine: Engine, settings: Settings, token: str, *, now: datetime) -> Principal | None:
    """The machine client a bearer token stands for: its unit only, acting in the name of who created it."""
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    with transaction(engine) as s:
        row = s.execute(
            select(ApiToken).where(
                col(ApiToken.token_hash) == digest(token), col(ApiToken.revoked_at).is_(None)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        creator = principal_for(s, settings, row.created_by)
        # A token cannot outlive its creator's right to act for the unit.
        if creator is None or not creator.may_act_for(row.unit_code):
            return None
        if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY:
            row.last_used_at = now
        return Principal(
            email=row.created_by, name=creator.name, units=frozenset({row.unit_code}), token_id=row.id
        )


# ---------------------------------------------------------------- roles


def grant_admin(engine: Engine, email: str, *, by: str, now: datetime) -> bool:
    """Make an address an administrator; False when it already was one (nothing changes)."""
    return _grant(engine, normalise_email(email), PortalRole.ADMIN, "", by=by, now=now)


def grant_reporter(engine: Engine, email: str, unit_code: str, *, by: str, now: datetime) -> bool:
    """Let a person of the directory report for a unit; False when they already could."""
    address = normalise_email(email)
    code = nfc(unit_code)
    with Session(engine) as s:
        if s.execute(select(col(Unit.id)).where(col(Unit.code) == code)).first() is None:
            raise NotFound(f"Không có đơn vị mã “{code}” trong danh bạ.")
        if s.execute(select(col(Person.id)).where(func.lower(col(Person.email)) == address)).first() is None:
            raise NotFound(
                f"Không có cán bộ nào có email “{address}” trong danh bạ.",
                hint="Thêm cán bộ (với email) bằng `thidua directory import`, rồi chạy lại lệnh.",
            )
    return _grant(engine, address, PortalRole.REPORTER, code, by=by, now=now)


def _grant(engine: Engine, email: str, role: PortalRole, unit_code: str, *, by: str, now: datetime) -> bool:
    with transaction(engine) as s:
        added = insert_ignore(
            s,
            RoleGrant.__table__,  # type: ignore[arg-type,attr-defined]
            {"email": email, "role": role, "unit_code": unit_code, "granted_by": by, "granted_at": now},
            ["email", "role", "unit_code"],
            returning=RoleGrant.__table__.c.id,  # type: ignore[attr-defined]
        )
        if added:
            record_event(
                s,
                campaign_id=None,
                kind="portal.role_granted",
                now=now,
                subject=unit_code or None,
                actor=_actor(by),
                payload={"email": email, "role": role.value},
            )
    return bool(added)


def revoke_role(engine: Engine, email: str, unit_code: str | None, *, by: str, now: datetime) -> int:
    """Take back a reporter role for one unit (or, without a unit, the administrator role); how many went."""
    address = normalise_email(email)
    role, unit = (PortalRole.REPORTER, nfc(unit_code)) if unit_code else (PortalRole.ADMIN, "")
    with transaction(engine) as s:
        gone = s.execute(
            delete(RoleGrant)
            .where(
                col(RoleGrant.email) == address, col(RoleGrant.role) == role, col(RoleGrant.unit_code) == unit
            )
            .returning(col(RoleGrant.id))
        ).all()
        if gone:
            record_event(
                s,
                campaign_id=None,
                kind="portal.role_revoked",
                now=now,
                subject=unit or None,
                actor=_actor(by),
                payload={"email": address, "role": role.value},
            )
    return len(gone)


@dataclass(frozen=True)
class GrantRow:
    email: str
    role: PortalRole
    unit_code: str
    granted_by: str | None
    granted_at: datetime | None  # None: named in THIDUA_ADMIN_EMAILS


def list_grants(engine: Engine, settings: Settings) -> list[GrantRow]:
    with Session(engine) as s:
        rows = s.scalars(select(RoleGrant).order_by(col(RoleGrant.email), col(RoleGrant.unit_code))).all()
        stored = [
            GrantRow(r.email, PortalRole(r.role), r.unit_code, r.granted_by, r.granted_at) for r in rows
        ]
    configured = [
        GrantRow(a, PortalRole.ADMIN, "", "THIDUA_ADMIN_EMAILS", None) for a in sorted(settings.admins)
    ]
    return configured + stored


def units_named(engine: Engine, codes: Iterable[str]) -> dict[str, str]:
    """Unit names by code, for pages that list a principal's units."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    with Session(engine) as s:
        return dict(
            s.execute(select(col(Unit.code), col(Unit.name)).where(col(Unit.code).in_(wanted))).tuples().all()
        )


def scoped_unit(engine: Engine, principal: Principal, unit_code: str) -> tuple[str, str]:
    """(code, name) of a unit the principal may act for; NotFound — the same answer whether the unit does not
    exist or is someone else's, so guessing codes teaches nothing."""
    with Session(engine) as s:
        code = _unit_in_scope(s, principal, unit_code)
        name = s.execute(select(col(Unit.name)).where(col(Unit.code) == code)).scalar_one()
    return code, name
