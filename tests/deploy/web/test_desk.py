"""The administrators' desk through the real application (TestClient), on SQLite and PostgreSQL, with real
Prefect flow runs: upload a definition (refused with its line and path, then accepted), launch it, see the
dashboard with the same figures as `thidua campaign status`, exempt a unit, close with a reason, download
the closing documents, resend a failed email, reopen — each action in the administrator's name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlmodel import Session
from typer.testing import CliRunner

from tests.deploy.web.portal_helpers import (
    CODE,
    YS,
    Clock,
    ask_link,
    client_for,
    csrf_of,
    redeem,
    sign_in,
    token_in,
)
from tests.factories import TQ_DEFINITION, at, edited_definition, load_demo_directory
from tests.tasks.collect.test_reports import GOOD, fill
from thidua.models.campaign import Campaign, DomainEvent
from thidua.models.outbox import OutboxMessage
from thidua.models.settings import Settings
from thidua.models.states import CampaignStatus, OutboxStatus

ADMIN = "minh.ban@thads-tuyenquang.example.vn"
pytestmark = pytest.mark.usefixtures("prefect_harness")


def admin_settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_host="", admin_emails=ADMIN)


def bad_definition(tmp_path: Path) -> Path:
    return edited_definition(tmp_path, TQ_DEFINITION, "kind: chuyen_de", "kind: chuyen_mon")


def upload(client: TestClient, csrf: str, path: Path) -> object:
    with path.open("rb") as fh:
        return client.post(
            "/quan-tri/dinh-nghia",
            data={"csrf_token": csrf},
            files={"file": (path.name, fh, "application/yaml")},
            follow_redirects=False,
        )


def launch_through_desk(client: TestClient, csrf: str, tmp_path: Path) -> str:
    answer = upload(client, csrf, TQ_DEFINITION)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    staged = answer.headers["location"]  # type: ignore[attr-defined]
    page = client.get(staged)
    assert page.status_code == 200 and "Định nghĩa hợp lệ" in page.text
    assert "Báo cáo tháng 03/2024" in page.text and "05/04/2024" in page.text
    launched = client.post(f"{staged}/phat-dong", data={"csrf_token": csrf}, follow_redirects=False)
    assert launched.status_code == 303, launched.text
    return str(launched.headers["location"])


def events(engine: Engine, kind: str) -> list[DomainEvent]:
    from sqlmodel import Session

    with Session(engine) as s:
        return list(s.scalars(select(DomainEvent).where(DomainEvent.kind == kind)).all())


def test_the_desk_from_upload_to_close(engine: Engine, tmp_path: Path, db_url: str) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    settings = admin_settings(tmp_path, db_url)
    clock = Clock(at("05/01/2024", 9))
    client = client_for(settings, engine, clock)
    csrf = sign_in(client, settings, ADMIN)
    assert 'href="/quan-tri"' in client.get("/", follow_redirects=True).text  # the nav link, for admins

    # A definition with an error: shown with its line and path, in Vietnamese; nothing stored.
    refused = upload(client, csrf, bad_definition(tmp_path))
    assert refused.status_code == 422  # type: ignore[attr-defined]
    text = refused.text  # type: ignore[attr-defined]
    assert "Dòng 6" in text and "<code>kind</code>" in text and "không có gì được lưu" in text
    assert (
        "hoặc" in text and "&#39; or &#39;" not in text and "' or '" not in text
    )  # the choices in Vietnamese
    assert not (settings.data_dir / "definitions").exists()
    assert client.get("/api/v1/admin/campaigns").json() == []

    # The same through the API: 422 with the problem's line (row) and path (column).
    with bad_definition(tmp_path).open("rb") as fh:
        api_refused = client.post(
            "/api/v1/admin/definitions", files={"file": ("x.yaml", fh)}, headers={"X-CSRF-Token": csrf}
        )
    assert api_refused.status_code == 422
    [problem] = api_refused.json()["problems"]
    assert (problem["row"], problem["column"]) == (6, "kind")

    location = launch_through_desk(client, csrf, tmp_path)
    assert location == f"/quan-tri/phong-trao/{CODE}"
    page = client.get(location)
    assert page.status_code == 200
    assert "Đã phát động" in page.text or "Đang" in page.text
    assert "Kế hoạch phong trào" in page.text  # the plan DOCX among the documents
    for kind in ("campaign.created", "campaign.launched"):
        [event] = events(engine, kind)
        assert event.actor == ADMIN, kind

    # A unit's report (the administrator may act for any unit), then the dashboard in April.
    clock.moment = at("08/04/2024", 9)
    csrf = sign_in(client, settings, ADMIN)  # three months on: the session has long expired
    template = client.get(f"/don-vi/{YS}/{CODE}/2024-03/mau.xlsx")
    assert template.content.startswith(b"PK"), template.text[:3000]
    (tmp_path / "mau.xlsx").write_bytes(template.content)
    report = fill(tmp_path / "mau.xlsx", tmp_path / "ys.xlsx", GOOD)
    with report.open("rb") as fh:
        sent = client.post(
            f"/don-vi/{YS}/{CODE}/2024-03/nop", data={"csrf_token": csrf}, files={"file": ("ys.xlsx", fh)}
        )
    assert sent.status_code == 200, sent.text

    board = client.get(f"/api/v1/admin/campaigns/{CODE}/status", params={"period": "2024-03"}).json()
    cli = CliRunner().invoke(
        __import__("thidua.deploy.cli", fromlist=["app"]).app,
        ["campaign", "status", CODE, "--as-of", "08/04/2024 09:00", "--period", "2024-03"],
        env={
            "THIDUA_DATA_DIR": str(tmp_path / "data"),
            "THIDUA_DATABASE_URL": db_url,
            "THIDUA_SMTP_HOST": "",
        },
    )
    assert cli.exit_code == 0, cli.output
    lines = cli.output.splitlines()
    assert f"Tiến độ báo cáo: {board['timeliness']['summary']}" in lines
    by_code = {
        line.split()[0]: line for line in lines if line and re.fullmatch(r"TQ(-\w+)?", line.split()[0])
    }
    assert len(board["rows"]) == len(by_code) >= 8
    for row in board["rows"]:
        line = by_code[row["code"]]
        cells = [row["reported"], row["on_time"]] + [
            c for i in row["indicators"] for c in (i["percent"], i["target"], i["met_label"])
        ]
        for cell in cells:
            assert cell in line, (cell, line)
    ys = next(r for r in board["rows"] if r["code"] == YS)
    assert (ys["reported"], ys["on_time"], ys["indicators"][0]["percent"]) == (
        "Đã nộp",
        "Nộp muộn",
        "13,33%",
    )  # due 05/04
    dashboard = client.get(f"/quan-tri/phong-trao/{CODE}/tinh-hinh", params={"ky": "2024-03"})
    assert dashboard.status_code == 200 and board["timeliness"]["summary"] in dashboard.text
    assert "13,33%" in dashboard.text and "Thư nhắc hạn" in dashboard.text
    chart = client.get(f"/quan-tri/phong-trao/{CODE}/tinh-hinh/bieu-do.png", params={"ky": "2024-03"})
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")

    # Exemption, as `thidua exempt` does, recorded in the administrator's name.
    exempted = client.post(
        f"/quan-tri/phong-trao/{CODE}/mien-nop",
        data={"csrf_token": csrf, "unit": "TQ-SD", "deadline": "2024-04", "reason": "Sáp nhập đơn vị"},
    )
    assert exempted.status_code == 200 and "Đã miễn nộp: đơn vị TQ-SD, hạn 2024-04" in exempted.text
    # Post, redirect, get: the answer is a redirect, the next page says what was done, a reload does not.
    form = {"csrf_token": csrf, "unit": "TQ-SD", "deadline": "2024-04", "reason": "Sáp nhập đơn vị"}
    again = client.post(f"/quan-tri/phong-trao/{CODE}/mien-nop", data=form, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/quan-tri/phong-trao/{CODE}"
    assert "Đơn vị đã được miễn từ trước" in client.get(again.headers["location"]).text
    assert "Đơn vị đã được miễn từ trước" not in client.get(again.headers["location"]).text
    bad = client.post(
        f"/quan-tri/phong-trao/{CODE}/mien-nop",
        data={"csrf_token": csrf, "unit": "TQ-XX", "deadline": "2024-04", "reason": "?"},
    )
    assert bad.status_code == 422 and "không tham gia phong trào" in bad.text

    # A failed email of the campaign is listed with its reason and resent (back to pending).
    with engine.begin() as conn:
        first = (
            conn.execute(
                select(OutboxMessage.id).where(OutboxMessage.kind == "launch").order_by(OutboxMessage.id)  # type: ignore[arg-type]
            )
            .scalars()
            .first()
        )
        assert first is not None
        conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == first)  # type: ignore[arg-type]
            .values(status=OutboxStatus.FAILED, last_error="550 hộp thư không tồn tại")
        )
    failed = client.get(f"/api/v1/admin/campaigns/{CODE}/outbox", params={"status": "failed"}).json()
    assert [(e["id"], e["last_error"]) for e in failed] == [(first, "550 hộp thư không tồn tại")]
    page = client.get(f"/quan-tri/phong-trao/{CODE}/hop-thu", params={"trang-thai": "failed"})
    assert "Lý do: 550 hộp thư không tồn tại" in page.text
    resent = client.post(f"/quan-tri/phong-trao/{CODE}/hop-thu/{first}/gui-lai", data={"csrf_token": csrf})
    assert resent.status_code == 200 and f"Đã đưa thư số {first} trở lại hàng chờ gửi" in resent.text
    again = client.post(
        f"/api/v1/admin/campaigns/{CODE}/outbox/{first}/retry", headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 409  # no longer failed

    # Close with a reason (the close flow), then the documents; reopen with a reason.
    closed = client.post(
        f"/quan-tri/phong-trao/{CODE}/ket-thuc", data={"csrf_token": csrf, "reason": "Hết hạn"}
    )
    assert closed.status_code == 200 and f"Phong trào {CODE} vừa kết thúc." in closed.text
    twice = client.post(f"/api/v1/admin/campaigns/{CODE}/close", json={}, headers={"X-CSRF-Token": csrf})
    assert twice.status_code == 409 and "không kết thúc lại" in twice.json()["message"]
    [close_event] = [e for e in events(engine, "campaign.closed")]
    assert close_event.actor == ADMIN and json.loads(close_event.payload_json)["reason"] == "Hết hạn"
    docs = client.get(f"/api/v1/admin/campaigns/{CODE}/documents").json()
    kinds = {d["kind"] for d in docs}
    assert {"plan", "closing_report", "closing_table", "closing_chart"} <= kinds
    for d in docs:
        got = client.get(f"/quan-tri/phong-trao/{CODE}/tai-lieu/{d['id']}")
        assert got.status_code == 200 and len(got.content) > 1000
        disposition = got.headers["content-disposition"]
        assert re.search(r'filename="[A-Za-z0-9._-]+"', disposition), disposition
        assert ".." not in disposition and "/" not in disposition.split("filename=")[1]
    assert client.get(f"/quan-tri/phong-trao/{CODE}/tai-lieu/..%2F..%2Fetc").status_code == 404

    no_reason = client.post(f"/quan-tri/phong-trao/{CODE}/mo-lai", data={"csrf_token": csrf, "reason": " "})
    assert no_reason.status_code == 422
    reopened = client.post(
        f"/quan-tri/phong-trao/{CODE}/mo-lai", data={"csrf_token": csrf, "reason": "Bổ sung"}
    )
    assert reopened.status_code == 200 and "Đã mở lại kỳ báo cáo" in reopened.text
    from sqlmodel import Session

    with Session(engine) as s:
        campaign = s.scalars(select(Campaign)).one()
        assert campaign.status == CampaignStatus.COLLECTING

    # The launch and the close were real Prefect flow runs, with the administrator among their parameters.
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as prefect:
        runs = prefect.read_flow_runs()
        names = {f.id: f.name for f in prefect.read_flows()}
    mine = {
        names[r.flow_id]
        for r in runs
        if r.parameters.get("actor") == ADMIN and r.state is not None and r.state.is_completed()
    }
    assert {"launch", "close"} <= mine, mine

    # Without the CSRF token nothing changes.
    refused_close = client.post(f"/quan-tri/phong-trao/{CODE}/ket-thuc", data={"reason": "x"})
    assert refused_close.status_code == 403


def test_a_definition_uploaded_on_one_web_host_is_launched_from_another_through_the_bucket(
    engine: Engine, tmp_path: Path, db_url: str, s3_server: Any, s3_bucket: str, smtp_server: Any
) -> None:
    """Two web hosts with their own data folders share the bucket: the upload lands in it, not on a disk."""
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    s3 = s3_server.settings_overrides(s3_bucket, "thidua")
    smtp = smtp_server.settings_overrides()
    hosts = [
        Settings(data_dir=tmp_path / name, database_url=db_url, admin_emails=ADMIN, **s3, **smtp)
        for name in ("web-1", "web-2")
    ]
    clock = Clock(at("05/01/2024", 9))
    first, second = (client_for(settings, engine, clock) for settings in hosts)

    def signed_in(client: TestClient) -> str:
        before = len(smtp_server.received)
        assert ask_link(client, ADMIN) == 200
        assert redeem(client, token_in(smtp_server.received[before].data)) == 303
        return csrf_of(client)

    answer = upload(first, signed_in(first), TQ_DEFINITION)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    staged = str(answer.headers["location"])  # type: ignore[attr-defined]
    ident = staged.rsplit("/", 1)[1]
    assert s3_server.filesystem().isfile(f"{s3_bucket}/thidua/definitions/{ident}.yaml")
    assert not (hosts[0].data_dir / "definitions").exists()

    csrf = signed_in(second)
    launched = second.post(f"{staged}/phat-dong", data={"csrf_token": csrf}, follow_redirects=False)
    assert launched.status_code == 303, launched.text
    with Session(engine) as s:
        assert s.scalars(select(Campaign.status)).one() == CampaignStatus.LAUNCHED
    # An id that is not a staged definition's is not found, whatever it looks like.
    for guess in ("0" * 64, "..%2F..%2Fetc%2Fpasswd", ident.upper()):
        assert second.get(f"/quan-tri/dinh-nghia/{guess}").status_code == 404
