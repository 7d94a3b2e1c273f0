"""Signing in to the portal: the emailed one-time link, sessions, sign-out, CSRF, rate limits, roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from tests.conftest import SmtpRecorder
from tests.deploy.web.portal_helpers import (
    SD_EMAIL,
    YS,
    YS_EMAIL,
    ask_link,
    client_for,
    csrf_of,
    launched,
    link_from_outbox,
    new_clock,
    redeem,
    sign_in,
    token_in,
)
from tests.factories import at_once
from thidua.deploy.web.security import PRE_COOKIE, SESSION_COOKIE
from thidua.models.campaign import DomainEvent
from thidua.models.portal import SignInRequest, WebSession
from thidua.models.settings import Settings
from thidua.tasks.portal.identity import (
    MAX_PER_ADDRESS,
    MAX_PER_CLIENT,
    RateLimited,
    digest,
    grant_reporter,
    request_signin,
)


@pytest.fixture
def ready(engine: Engine, tmp_path: Path) -> Engine:
    launched(engine, tmp_path)
    return engine


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_link_through_real_smtp_signs_in_once(
    ready: Engine, tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, **smtp_server.settings_overrides())
    clock = new_clock()
    client = client_for(settings, ready, clock)
    assert ask_link(client, "  YenSon@thads-tuyenquang.example.vn ") == 200
    [mail] = smtp_server.received
    assert mail.rcpt_tos == [YS_EMAIL]
    token = token_in(mail.data)
    # Stored only as its hash.
    with Session(ready) as s:
        [row] = s.scalars(select(SignInRequest)).all()
    assert row.token_hash == digest(token) and token not in (row.token_hash or "")

    assert redeem(client, token) == 303
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    home = client.get("/", follow_redirects=True)
    assert home.url.path == f"/don-vi/{YS}" and "Chi cục Thi hành án dân sự huyện Yên Sơn" in home.text

    # The same link a second time, from another browser: refused, no session.
    other = client_for(settings, ready, clock)
    assert redeem(other, token) == 422
    assert other.cookies.get(SESSION_COOKIE) is None
    assert _count(ready, WebSession) == 1
    with Session(ready) as s:
        actors = s.execute(
            select(col(DomainEvent.kind), col(DomainEvent.actor)).where(
                col(DomainEvent.kind).like("portal.%")
            )
        ).all()
    assert ("portal.signed_in", YS_EMAIL) in actors


def test_session_cookie_flags(ready: Engine, settings: Settings) -> None:
    client = client_for(settings, ready, new_clock())
    assert ask_link(client, YS_EMAIL) == 200
    token = link_from_outbox(settings, YS_EMAIL)
    page = client.get("/dang-nhap/xac-nhan", params={"t": token})
    assert page.headers["referrer-policy"] == "no-referrer"
    import re

    pre = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert pre
    answer = client.post(
        "/dang-nhap/xac-nhan", data={"t": token, "csrf_token": pre.group(1)}, follow_redirects=False
    )
    header = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "HttpOnly" in header and "SameSite=lax" in header and "Secure" not in header
    # Over HTTPS the cookie is Secure.
    secure = client_for(settings, ready, new_clock())
    secure.base_url = "https://testserver"  # type: ignore[assignment]
    assert ask_link(secure, SD_EMAIL) == 200
    token = link_from_outbox(settings, SD_EMAIL)
    page = secure.get("/dang-nhap/xac-nhan", params={"t": token})
    pre = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert pre
    answer = secure.post(
        "/dang-nhap/xac-nhan", data={"t": token, "csrf_token": pre.group(1)}, follow_redirects=False
    )
    header = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "Secure" in header


def test_expired_and_forged_links_give_nothing(ready: Engine, settings: Settings) -> None:
    clock = new_clock()
    client = client_for(settings, ready, clock)
    assert ask_link(client, YS_EMAIL) == 200
    token = link_from_outbox(settings, YS_EMAIL)
    clock.advance(minutes=15, seconds=1)
    assert redeem(client, token) == 422
    assert redeem(client, token[:-2] + ("AA" if not token.endswith("AA") else "BB")) == 422
    assert redeem(client, "") == 422
    assert _count(ready, WebSession) == 0
    assert client.cookies.get(SESSION_COOKIE) is None
    # Within the 15 minutes a fresh link works.
    assert ask_link(client, YS_EMAIL) == 200
    clock.advance(minutes=14)
    assert redeem(client, link_from_outbox(settings, YS_EMAIL)) == 303


def test_unknown_address_gets_the_same_page_and_no_email(ready: Engine, settings: Settings) -> None:
    client = client_for(settings, ready, new_clock())
    assert ask_link(client, "nobody@example.vn") == 200
    assert not list(settings.outbox_dir.rglob("*.eml"))
    with Session(ready) as s:
        [row] = s.scalars(select(SignInRequest)).all()
    assert row.token_hash is None  # recorded for the rate limits, no link made
    # A request without the form's double-submit token is refused before anything is stored.
    page = client.post("/dang-nhap", data={"email": YS_EMAIL, "csrf_token": "x"})
    assert page.status_code == 403 and "không có gì thay đổi" in page.text
    assert _count(ready, SignInRequest) == 1
    bad = client.post(
        "/dang-nhap", data={"email": "không phải email", "csrf_token": client.cookies[PRE_COOKIE]}
    )
    assert bad.status_code == 422 and "không phải địa chỉ email" in bad.text


def test_rate_limits_per_address_and_per_client(ready: Engine, settings: Settings) -> None:
    clock = new_clock()
    client = client_for(settings, ready, clock)
    for _ in range(MAX_PER_ADDRESS):
        assert ask_link(client, YS_EMAIL) == 200
    refused = client.post("/dang-nhap", data={"email": YS_EMAIL, "csrf_token": client.cookies[PRE_COOKIE]})
    assert refused.status_code == 429 and "quá nhiều" in refused.text
    stored = _count(ready, SignInRequest)
    assert stored == MAX_PER_ADDRESS  # the refused request stored nothing
    for i in range(MAX_PER_CLIENT - MAX_PER_ADDRESS):
        assert ask_link(client, f"khach{i}@example.vn") == 200
    assert ask_link(client, "another@example.vn") == 429
    clock.advance(minutes=16)
    assert ask_link(client, YS_EMAIL) == 200


def test_sign_out_ends_the_session_on_the_server(ready: Engine, settings: Settings) -> None:
    client = client_for(settings, ready, new_clock())
    csrf = sign_in(client, settings, YS_EMAIL)
    cookie = client.cookies[SESSION_COOKIE]
    # Without the CSRF token nothing happens.
    assert client.post("/dang-xuat", follow_redirects=False).status_code == 403
    assert _count(ready, WebSession) == 1
    assert client.post("/dang-xuat", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert _count(ready, WebSession) == 0
    # The copied cookie is worth nothing now.
    replay = client_for(settings, ready, new_clock())
    replay.cookies.set(SESSION_COOKIE, cookie)
    assert replay.get(f"/don-vi/{YS}", follow_redirects=False).headers["location"] == "/dang-nhap"
    assert replay.get("/api/v1/me").status_code == 401


def test_sessions_slide_and_expire(ready: Engine, settings: Settings) -> None:
    clock = new_clock()
    client = client_for(settings, ready, clock)
    sign_in(client, settings, YS_EMAIL)
    for _ in range(3):  # active every 7 hours: the session slides past its first 8 hours
        clock.advance(hours=7)
        assert client.get(f"/don-vi/{YS}", follow_redirects=False).status_code == 200
    clock.advance(hours=8, minutes=1)
    assert client.get(f"/don-vi/{YS}", follow_redirects=False).status_code == 303


def test_designated_reporter_and_contact_address(ready: Engine, settings: Settings) -> None:
    clock = new_clock()
    person = "tu.nguyen@thads-tuyenquang.example.vn"  # TQ-YS-03, a person of TQ-YS without a role yet
    client = client_for(settings, ready, clock)
    sign_in(client, settings, person)
    assert client.get(f"/don-vi/{YS}").status_code == 404
    assert "chưa được giao" in client.get("/").text
    grant_reporter(ready, person, YS, by="admin", now=clock())
    assert client.get(f"/don-vi/{YS}").status_code == 200
    me = client.get("/api/v1/me").json()
    assert me["units"] == [{"code": YS, "name": "Chi cục Thi hành án dân sự huyện Yên Sơn"}]
    assert me["email"] == person and not me["admin"]


def test_admin_from_settings_opens_any_unit(ready: Engine, tmp_path: Path, db_url: str) -> None:
    admin = "minh.ban@thads-tuyenquang.example.vn"
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, admin_emails=f"x@y.vn, {admin.upper()}"
    )
    client = client_for(settings, ready, new_clock())
    sign_in(client, settings, admin)
    assert client.get("/don-vi/TQ-SD").status_code == 200
    assert client.get("/api/v1/me").json()["admin"] is True
    assert csrf_of(client)


def test_rate_limits_hold_under_concurrent_requests(ready: Engine, settings: Settings) -> None:
    """Many requests at the same moment, each in its own thread and connection, released together: the limit
    per address and per client holds exactly (the requests are serialised per address and per client, then
    counted with their own row), and a refused request stores nothing."""
    clock = new_clock()

    def ask(email: str, client: str) -> bool:
        try:
            request_signin(ready, settings, email, client, now=clock(), link_base="http://portal")
        except RateLimited:
            return False
        return True

    contenders = 16
    granted = at_once(lambda i: ask(YS_EMAIL, f"10.0.0.{i}"), contenders)
    assert sum(granted) == MAX_PER_ADDRESS
    assert _count(ready, SignInRequest) == MAX_PER_ADDRESS

    # One client, many addresses (known and unknown), some requests alike: the per-client limit holds.
    emails = [YS_EMAIL, SD_EMAIL] + [f"khach{i}@example.vn" for i in range(MAX_PER_CLIENT + 8)]
    granted = at_once(lambda i: ask(emails[i % len(emails)], "192.0.2.7"), len(emails))
    assert sum(granted) == MAX_PER_CLIENT
    with Session(ready) as s:
        by_client = s.execute(
            select(func.count()).select_from(SignInRequest).where(col(SignInRequest.client) == "192.0.2.7")
        ).scalar_one()
        by_address = s.execute(
            select(func.count()).select_from(SignInRequest).where(col(SignInRequest.email) == YS_EMAIL)
        ).scalar_one()
    assert by_client == MAX_PER_CLIENT and by_address == MAX_PER_ADDRESS
