"""Who is asking, and whether the request may change anything.

- A browser carries the session cookie (HttpOnly, SameSite=Lax, Secure when the request came over HTTPS);
  every state-changing form carries the session's CSRF token (`csrf_token` field), a page's script would send
  it as the `X-CSRF-Token` header. A request without it changes nothing (403).
- Before sign-in, the sign-in forms use a double-submit token: a random cookie and the same value in the form,
  so another site cannot sign a browser in or make it ask for links.
- A machine client sends `Authorization: Bearer thd_…`: it acts for its token's unit only, and is exempt from
  CSRF because a browser never attaches that header by itself.
- Every request body is capped (BODY_LIMIT) before it is parsed, so an oversized upload is refused without
  being spooled to disk.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thidua.deploy.web.errors import CsrfRefused, NotSignedIn, Overflow, TooLarge, error_response
from thidua.deploy.web.portal import Portal
from thidua.tasks.collect.reports import MAX_REPORT_BYTES
from thidua.tasks.portal.identity import Principal, session_for, token_principal

SESSION_COOKIE = "thidua_phien"
PRE_COOKIE = "thidua_truoc"  # the double-submit token of the sign-in forms
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: The largest report accepted, plus room for the multipart envelope and the form's other fields.
BODY_LIMIT = MAX_REPORT_BYTES + 64 * 1024
#: Dossier uploads: the largest file a campaign definition may allow (Dossier.max_file_mb ≤ 500); the
#: campaign's own limit is checked by the work layer once the file is in.
DOSSIER_SUFFIXES = ("/de-nghi/ho-so", "/dossier/files")  # the page's and the API's
DOSSIER_BODY_LIMIT = 500 * 1024 * 1024 + 64 * 1024


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def client_of(request: Request) -> str:
    return request.client.host if request.client else "không rõ"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    csrf: str | None  # the session's token; None for a bearer token
    bearer: bool


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def caller(request: Request) -> Caller | None:
    """The signed-in person (session cookie) or machine client (bearer token), or None. Cached per request."""
    if "caller" in request.scope.get("state", {}):
        cached: Caller | None = request.state.caller
        return cached
    portal = portal_of(request)
    found: Caller | None = None
    token = _bearer(request)
    if token is not None:
        principal = token_principal(portal.engine, portal.settings, token, now=portal.now())
        found = Caller(principal, None, True) if principal else None
    elif cookie := request.cookies.get(SESSION_COOKIE):
        active = session_for(portal.engine, portal.settings, cookie, now=portal.now())
        found = Caller(active.principal, active.csrf, False) if active else None
    request.state.caller = found
    return found


def require_caller(request: Request) -> Caller:
    found = caller(request)
    if found is None:
        raise NotSignedIn()
    return found


def require_principal(request: Request) -> Principal:
    return require_caller(request).principal


async def check_csrf(request: Request) -> Caller:
    """The caller of a state-changing request, once its CSRF token matches (bearer calls are exempt)."""
    found = require_caller(request)
    if found.bearer:
        return found
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or found.csrf is None or not secrets.compare_digest(sent, found.csrf):
        raise CsrfRefused()
    return found


async def check_pre_csrf(request: Request) -> None:
    """The double-submit check of the sign-in forms (before any session exists)."""
    cookie = request.cookies.get(PRE_COOKIE)
    form = await request.form()
    value = form.get(CSRF_FIELD)
    if not cookie or not isinstance(value, str) or not secrets.compare_digest(cookie, value):
        raise CsrfRefused()


def pre_token(request: Request) -> str:
    """The double-submit token this browser has, or a new one (the page sets it as a cookie)."""
    return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)


def cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https",
        "path": "/",
    }


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413, by its Content-Length before reading anything, or
    while it streams (chunked uploads), so nothing oversized reaches the form parser or the disk."""

    def __init__(self, app: ASGIApp, limit: int = BODY_LIMIT) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = DOSSIER_BODY_LIMIT if scope["path"].endswith(DOSSIER_SUFFIXES) else self.limit
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise Overflow()
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Overflow:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(Request(scope, receive), TooLarge(), 413)
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)
