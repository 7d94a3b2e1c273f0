"""`thidua web` on a real uvicorn, `thidua user`, and the command line staying lazy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from typer.testing import CliRunner

from tests.conftest import THIDUA, free_port
from tests.deploy.web.portal_helpers import YS, YS_EMAIL, launched, link_from_outbox
from thidua.deploy.cli import app
from thidua.models.campaign import DomainEvent
from thidua.models.portal import RoleGrant
from thidua.models.settings import Settings

WEB_MODULES = ("fastapi", "starlette", "uvicorn", "thidua.deploy.web")


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    env = {"THIDUA_DATABASE_URL": db_url, "THIDUA_DATA_DIR": str(tmp_path / "data"), "THIDUA_SMTP_HOST": ""}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env}


@pytest.mark.slow
def test_thidua_web_serves_the_portal_on_uvicorn(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path, db_url: str
) -> None:
    launched(engine, tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", THIDUA, "web", "--port", str(port)],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"{base}/dang-nhap", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "thidua web did not answer within 60 s"
                time.sleep(0.2)
        assert page.status_code == 200 and "Địa chỉ email công vụ" in page.text
        assert httpx.get(f"{base}/static/style.css").status_code == 200
        schema = httpx.get(f"{base}/api/v1/openapi.json").json()
        assert "/api/v1/me" in schema["paths"]
        # A sign-in link over real HTTP lands in the .eml outbox (no SMTP host), pointing at this server.
        with httpx.Client(base_url=base) as client:
            form = client.get("/dang-nhap")
            pre = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            assert client.post("/dang-nhap", data={"email": YS_EMAIL, "csrf_token": pre}).status_code == 200
        settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
        for _ in range(50):  # sent by a background task after the answer
            if settings.outbox_dir.exists() and list(settings.outbox_dir.rglob("*.eml")):
                break
            time.sleep(0.1)
        token = link_from_outbox(settings, YS_EMAIL)
        with httpx.Client(base_url=base, follow_redirects=True) as client:
            page = client.get("/dang-nhap/xac-nhan", params={"t": token})
            pre = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed = client.post("/dang-nhap/xac-nhan", data={"t": token, "csrf_token": pre})
            assert signed.status_code == 200 and f"/don-vi/{YS}" in str(signed.url)
    finally:
        server.terminate()
        server.wait(30)


def test_user_commands_grant_list_and_revoke(cli_env: dict[str, str], engine: Engine, tmp_path: Path) -> None:
    launched(engine, tmp_path)
    runner = CliRunner()
    person = "tu.nguyen@thads-tuyenquang.example.vn"
    first = runner.invoke(app, ["user", "grant-reporter", person, "--unit", YS])
    assert first.exit_code == 0 and "đã giao nhập báo cáo cho đơn vị TQ-YS" in first.output
    again = runner.invoke(app, ["user", "grant-reporter", person, "--unit", YS])
    assert again.exit_code == 0 and "đã được giao từ trước" in again.output
    unknown = runner.invoke(app, ["user", "grant-reporter", "ai.do@example.vn", "--unit", YS])
    assert unknown.exit_code == 3 and "Không có cán bộ nào có email" in unknown.output
    assert runner.invoke(app, ["user", "grant-reporter", person, "--unit", "KHONG-CO"]).exit_code == 3
    assert runner.invoke(app, ["user", "grant-admin", "khong-phai-email"]).exit_code == 2
    assert runner.invoke(app, ["user", "grant-admin", "Admin@Thads.vn"]).exit_code == 0
    listing = runner.invoke(app, ["user", "list"])
    assert "admin@thads.vn: quản trị" in listing.output and f"{person}: nhập báo cáo TQ-YS" in listing.output
    assert "đã thu hồi" in runner.invoke(app, ["user", "revoke", person, "--unit", YS]).output
    with Session(engine) as s:
        assert s.scalars(select(col(RoleGrant.email))).all() == ["admin@thads.vn"]
        kinds = s.scalars(
            select(col(DomainEvent.kind)).where(col(DomainEvent.kind).like("portal.role%"))
        ).all()
    assert sorted(kinds) == ["portal.role_granted", "portal.role_granted", "portal.role_revoked"]


def test_the_command_line_loads_the_portal_only_for_thidua_web(cli_env: dict[str, str]) -> None:
    probe = (
        "import sys\n"
        "from thidua.deploy.cli import main\n"
        "sys.argv = ['thidua', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print('LOADED', sorted(m for m in {WEB_MODULES!r} if m in sys.modules))\n"
    )
    for args in (["--help"], ["user", "list"], ["web", "--help"]):
        out = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, env=cli_env, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert "LOADED []" in out.stdout, (args, out.stdout)
