"""Builders for the portal tests: a launched Tuyên Quang campaign, an app on a movable clock, signing in
through the real sign-in email."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import at, launch_campaign_rows, load_demo_directory
from thidua.deploy.web.app import create_app
from thidua.models.settings import Settings

CODE = "TQ-2024-GIAM-AN"
YS = "TQ-YS"  # Chi cục Yên Sơn: contact yenson@…
YS_EMAIL = "yenson@thads-tuyenquang.example.vn"
SD = "TQ-SD"
SD_EMAIL = "sonduong@thads-tuyenquang.example.vn"
LINK = re.compile(r"https?://\S+/dang-nhap/xac-nhan\?t=([A-Za-z0-9_\-]+)")


@dataclass
class Clock:
    moment: datetime

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def launched(engine: Engine, tmp_path: Path) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)


def client_for(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    return TestClient(create_app(settings, clock=clock, engine=engine), base_url="http://testserver")


def new_clock() -> Clock:
    return Clock(at("02/04/2024", 9))


def pre_token(client: TestClient) -> str:
    page = client.get("/dang-nhap")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def ask_link(client: TestClient, email: str) -> int:
    return client.post("/dang-nhap", data={"email": email, "csrf_token": pre_token(client)}).status_code


def link_from_outbox(settings: Settings, email: str) -> str:
    """The token of the newest sign-in email to `email` in the .eml outbox (no SMTP host set)."""
    mails = sorted(settings.outbox_dir.rglob("*.eml"), key=lambda p: p.stat().st_mtime)
    for path in reversed(mails):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if email in str(message["To"]) and "đăng nhập" in str(message["Subject"]):
            return token_in(path.read_bytes())
    raise AssertionError(f"no sign-in email to {email} in {settings.outbox_dir}")


def token_in(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = LINK.search(body.get_content())  # type: ignore[attr-defined]
    assert match, "no sign-in link in the email"
    return match.group(1)


def redeem(client: TestClient, token: str) -> int:
    page = client.get("/dang-nhap/xac-nhan", params={"t": token})
    assert page.status_code == 200
    pre = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert pre
    answer = client.post(
        "/dang-nhap/xac-nhan", data={"t": token, "csrf_token": pre.group(1)}, follow_redirects=False
    )
    return answer.status_code


def sign_in(client: TestClient, settings: Settings, email: str) -> str:
    """Sign in through the emailed link; returns the session's CSRF token read from a page."""
    assert ask_link(client, email) == 200
    assert redeem(client, link_from_outbox(settings, email)) == 303
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)
