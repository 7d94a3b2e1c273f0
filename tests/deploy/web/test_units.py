"""The units' side of the portal: home, template, upload with the inbox's answer, history; every route
refuses another unit's data; uploads that are too large or of the wrong type store nothing."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from tests.deploy.web.portal_helpers import (
    CODE,
    SD,
    SD_EMAIL,
    YS,
    YS_EMAIL,
    Clock,
    client_for,
    launched,
    new_clock,
    sign_in,
)
from tests.tasks.collect.test_reports import GOOD, fill, meta_of
from thidua.models.campaign import DomainEvent
from thidua.models.outbox import OutboxMessage
from thidua.models.portal import ApiToken
from thidua.models.reporting import RejectedFile, Submission
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.tasks.collect.reports import MAX_REPORT_BYTES

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MARCH = "2024-03"


@pytest.fixture
def ready(engine: Engine, tmp_path: Path) -> Engine:
    launched(engine, tmp_path)
    return engine


@pytest.fixture
def clock() -> Clock:
    return new_clock()


@pytest.fixture
def ys(ready: Engine, settings: Settings, clock: Clock) -> tuple[TestClient, str]:
    client = client_for(settings, ready, clock)
    return client, sign_in(client, settings, YS_EMAIL)


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _stored_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "reports"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _template(client: TestClient, tmp_path: Path, unit: str = YS, period: str = MARCH) -> Path:
    answer = client.get(f"/don-vi/{unit}/{CODE}/{period}/mau.xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    assert f"bao-cao-{CODE}-{unit}-{period}.xlsx" in answer.headers["content-disposition"]
    path = tmp_path / f"mau-{unit}-{period}.xlsx"
    path.write_bytes(answer.content)
    return path


def _filled(client: TestClient, tmp_path: Path, name: str, values: dict[str, object], **kw: object) -> bytes:
    out = fill(_template(client, tmp_path), tmp_path / "filled" / name, values, **kw)  # type: ignore[arg-type]
    return out.read_bytes()


def _upload(
    client: TestClient, csrf: str | None, name: str, data: bytes, unit: str = YS, period: str = MARCH
) -> tuple[int, str]:
    form = {"csrf_token": csrf} if csrf is not None else {}
    answer = client.post(f"/don-vi/{unit}/{CODE}/{period}/nop", data=form, files={"file": (name, data, XLSX)})
    return answer.status_code, answer.text


def test_home_lists_the_campaign_and_due_dates_in_working_days(ys: tuple[TestClient, str]) -> None:
    client, _ = ys
    page = client.get(f"/don-vi/{YS}")
    assert page.status_code == 200
    text = page.text
    assert "Giảm án có điều kiện trên một năm" in text or CODE in text
    assert "Báo cáo tháng 03/2024" in text
    assert "Quá hạn, chưa nộp" in text  # on 02/04/2024 January–March are past due
    assert "ngày làm việc" in text
    data = client.get(f"/api/v1/units/{YS}/campaigns").json()
    [campaign] = data
    march = next(p for p in campaign["periods"] if p["key"] == MARCH)
    states = {p["key"]: p["state"] for p in campaign["periods"]}
    # 02/04/2024: January and February are past due, March is due on 05/04, April is open, May not yet.
    assert (states["2024-01"], states["2024-02"], states["2024-03"]) == ("late", "late", "due")
    assert (states["2024-04"], states["2024-05"], states["final"]) == ("due", "not_open", "not_open")
    assert march["working_days_left"] == 3
    assert "Chưa đến kỳ" in text


def test_upload_accepts_then_shows_changes_and_history(
    ys: tuple[TestClient, str], ready: Engine, settings: Settings, tmp_path: Path
) -> None:
    client, csrf = ys
    status, page = _upload(client, csrf, "bao cao thang 3.xlsx", _filled(client, tmp_path, "a.xlsx", GOOD))
    assert status == 200, page
    assert "Đã tiếp nhận “bao cao thang 3.xlsx”" in page and "lần nộp 1" in page
    better = {**GOOD, "finished": 25}
    status, page = _upload(client, csrf, "sua.xlsx", _filled(client, tmp_path, "b.xlsx", better))
    assert status == 200 and "lần nộp 2" in page
    assert "Thay đổi so với lần nộp trước" in page and "20 → 25" in page
    history = client.get(f"/api/v1/units/{YS}/campaigns/{CODE}/periods/{MARCH}/revisions").json()
    assert [(h["revision"], h["current"], h["submitted_by"]) for h in history] == [
        (1, False, YS_EMAIL),
        (2, True, YS_EMAIL),
    ]
    # The file of revision 1, under the system's name, byte for byte what was stored.
    first = client.get(f"/don-vi/{YS}/{CODE}/{MARCH}/lan/1")
    assert first.status_code == 200
    assert f"bao-cao-{CODE}-{YS}-{MARCH}-lan-1.xlsx" in first.headers["content-disposition"]
    with Session(ready) as s:
        stored = s.scalars(select(Submission).where(col(Submission.revision) == 1)).one()
        actors = s.scalars(
            select(col(DomainEvent.actor)).where(col(DomainEvent.kind) == "report.accepted")
        ).all()
    assert first.content == storage_for(settings).get(str(stored.stored_path))
    assert actors == [YS_EMAIL, YS_EMAIL]  # the audit trail names the signed-in person
    # The home page now says accepted, and no longer counts the days to March's due date.
    home = client.get(f"/don-vi/{YS}").text
    march_row = home[home.index("Báo cáo tháng 03/2024") : home.index("Báo cáo tháng 04/2024")]
    assert "Đã tiếp nhận" in march_row and "ngày làm việc" not in march_row


def test_rejected_upload_lists_every_error_by_cell(
    ys: tuple[TestClient, str], ready: Engine, settings: Settings, tmp_path: Path
) -> None:
    client, csrf = ys
    bad = {**GOOD, "carried_over": -5, "arising": "ba mươi"}
    status, page = _upload(client, csrf, "loi.xlsx", _filled(client, tmp_path, "bad.xlsx", bad))
    assert status == 422
    assert "Không tiếp nhận “loi.xlsx”" in page
    assert "ô " in page or "cột" in page  # located by sheet and cell
    print(re.findall(r"<li>(.*?)</li>", page))
    assert page.count("<li>") >= 2
    # Same records as the inbox path: a RejectedFile, an email to the unit's contact.
    assert _count(ready, RejectedFile) == 1
    with Session(ready) as s:
        assert s.scalars(
            select(col(OutboxMessage.recipient)).where(col(OutboxMessage.kind) == "report_rejected")
        ).all() == [YS_EMAIL]
    assert "Bị từ chối" in client.get(f"/don-vi/{YS}").text


def test_csrf_missing_or_wrong_changes_nothing(
    ys: tuple[TestClient, str], ready: Engine, settings: Settings, tmp_path: Path
) -> None:
    client, csrf = ys
    data = _filled(client, tmp_path, "a.xlsx", GOOD)
    for token in (None, "", csrf[:-1] + ("x" if csrf[-1] != "x" else "y")):
        status, page = _upload(client, token, "a.xlsx", data)
        assert status == 403 and "không có gì thay đổi" in page
    assert (
        client.post(
            f"/api/v1/units/{YS}/campaigns/{CODE}/reports", files={"file": ("a.xlsx", data, XLSX)}
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/units/{YS}/tokens", json={"label": "x"}).status_code == 403
    assert client.post(f"/don-vi/{YS}/ma-truy-cap", data={"label": "x"}).status_code == 403
    assert (
        _count(ready, Submission) == 0 and _count(ready, RejectedFile) == 0 and _count(ready, ApiToken) == 0
    )
    assert _stored_files(settings) == []
    # With the header, the API takes the session's token.
    ok = client.post(
        f"/api/v1/units/{YS}/campaigns/{CODE}/reports",
        files={"file": ("a.xlsx", data, XLSX)},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"


def test_upload_limits_store_nothing(ys: tuple[TestClient, str], ready: Engine, settings: Settings) -> None:
    client, csrf = ys
    too_big = b"PK\x03\x04" + b"\0" * (MAX_REPORT_BYTES + 100 * 1024)
    status, page = _upload(client, csrf, "lon.xlsx", too_big)
    assert status == 413 and "quá lớn" in page

    # Streamed without a length (chunked): refused as it arrives.
    def chunks() -> object:
        for _ in range(12):
            yield b"x" * (1024 * 1024)

    streamed = client.post(
        f"/api/v1/units/{YS}/campaigns/{CODE}/reports",
        content=chunks(),  # type: ignore[arg-type]
        headers={"content-type": "multipart/form-data; boundary=abc", "X-CSRF-Token": csrf},
    )
    assert streamed.status_code == 413
    for name, data in (
        ("bao-cao.pdf", b"%PDF-1.4 ..."),
        ("bao-cao.xlsx", b"<html>not a workbook</html>"),
        ("bao-cao.csv", b"\x00\x01binary"),
        ("khong-duoi", b"PK\x03\x04...."),
        ("rong.xlsx", b""),
    ):
        status, page = _upload(client, csrf, name, data)
        assert status == 415, (name, status, page)
        assert "không có gì được lưu" in page
    assert _count(ready, Submission) == 0 and _count(ready, RejectedFile) == 0
    assert _stored_files(settings) == []
    with Session(ready) as s:
        assert (
            s.scalars(select(OutboxMessage).where(col(OutboxMessage.kind) == "report_rejected")).all() == []
        )


def test_user_file_names_never_become_paths(
    ys: tuple[TestClient, str], ready: Engine, settings: Settings, tmp_path: Path
) -> None:
    client, csrf = ys
    data = _filled(client, tmp_path, "a.xlsx", GOOD)
    status, page = _upload(client, csrf, "../../../../etc/evil\u202e.xlsx", data)
    assert status == 200 and "../" not in page
    [stored] = _stored_files(settings)
    assert stored.parent == settings.data_dir / "reports" / CODE / YS / MARCH
    assert stored.name.startswith("r1-") and "evil" not in stored.name
    assert not (tmp_path / "etc").exists()
    with Session(ready) as s:
        name = s.scalars(select(col(Submission.source_name))).one()
    assert "/" not in name and "\u202e" not in name  # shown escaped, never a path


def test_a_reporter_cannot_touch_another_units_data(
    ys: tuple[TestClient, str], ready: Engine, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    client, csrf = ys
    # Sơn Dương reports for itself first, and makes an API token.
    sd = client_for(settings, ready, clock)
    sd_csrf = sign_in(sd, settings, SD_EMAIL)
    sd_file = fill(_template(sd, tmp_path, SD), tmp_path / "sd.xlsx", GOOD).read_bytes()
    assert _upload(sd, sd_csrf, "sd.xlsx", sd_file, unit=SD)[0] == 200
    sd_token = sd.post(
        f"/api/v1/units/{SD}/tokens", json={"label": "phần mềm"}, headers={"X-CSRF-Token": sd_csrf}
    )
    assert sd_token.status_code == 201
    token_id = sd_token.json()["id"]

    before = (_count(ready, Submission), _count(ready, RejectedFile), _stored_files(settings))
    # Yên Sơn's session, guessing Sơn Dương's ids everywhere: 404, the same as a unit that does not exist.
    for path in (
        f"/don-vi/{SD}",
        f"/don-vi/{SD}/{CODE}/{MARCH}",
        f"/don-vi/{SD}/{CODE}/{MARCH}/mau.xlsx",
        f"/don-vi/{SD}/{CODE}/{MARCH}/lan/1",
        f"/don-vi/{SD}/ma-truy-cap",
        f"/api/v1/units/{SD}/campaigns",
        f"/api/v1/units/{SD}/campaigns/{CODE}/periods/{MARCH}/template",
        f"/api/v1/units/{SD}/campaigns/{CODE}/periods/{MARCH}/revisions",
        f"/api/v1/units/{SD}/campaigns/{CODE}/periods/{MARCH}/revisions/1/file",
        f"/api/v1/units/{SD}/tokens",
        "/don-vi/KHONG-CO",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert SD_EMAIL not in answer.text and "Sơn Dương" not in answer.text
    assert client.get(f"/don-vi/{SD}").text.count("TQ-SD") == client.get("/don-vi/KHONG-CO").text.count(
        "KHONG-CO"
    )
    # Writes: upload into Sơn Dương's URL, a Sơn Dương file through one's own URL, revoking its token.
    assert _upload(client, csrf, "sd.xlsx", sd_file, unit=SD)[0] == 404
    status, page = _upload(client, csrf, "sd.xlsx", sd_file)
    assert status == 422 and "chỉ nộp được báo cáo của đơn vị mình" in page
    api = client.post(
        f"/api/v1/units/{YS}/campaigns/{CODE}/reports",
        files={"file": ("sd.xlsx", sd_file, XLSX)},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 422 and api.json()["status"] == "rejected"
    assert (
        client.post(f"/don-vi/{SD}/ma-truy-cap/{token_id}/thu-hoi", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        client.post(f"/don-vi/{YS}/ma-truy-cap/{token_id}/thu-hoi", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/units/{YS}/tokens/{token_id}", headers={"X-CSRF-Token": csrf}).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/units/{SD}/tokens", json={"label": "x"}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 404
    )
    assert (_count(ready, Submission), _count(ready, RejectedFile), _stored_files(settings)) == before
    with Session(ready) as s:
        assert s.scalars(select(col(ApiToken.revoked_at))).all() == [None]
        # Sơn Dương got no rejection email about Yên Sơn's attempts.
        assert (
            s.scalars(select(OutboxMessage).where(col(OutboxMessage.kind) == "report_rejected")).all() == []
        )
    # Sơn Dương's token still works for Sơn Dương, and for nothing else.
    bearer = {"Authorization": f"Bearer {sd_token.json()['token']}"}
    assert client.get(f"/api/v1/units/{SD}/campaigns", headers=bearer, cookies={}).status_code == 200
    assert client.get(f"/api/v1/units/{YS}/campaigns", headers=bearer).status_code == 404


def test_api_token_shown_once_authenticates_and_is_revocable(
    ys: tuple[TestClient, str], ready: Engine, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    client, csrf = ys
    page = client.post(f"/don-vi/{YS}/ma-truy-cap", data={"label": "Phần mềm báo cáo", "csrf_token": csrf})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    import re

    match = re.search(r'<code class="token">(thd_[A-Za-z0-9_\-]+)</code>', page.text)
    assert match
    token = match.group(1)
    with Session(ready) as s:
        [row] = s.scalars(select(ApiToken)).all()
    assert token not in row.token_hash
    assert token not in client.get(f"/don-vi/{YS}/ma-truy-cap").text  # shown once

    machine = client_for(settings, ready, clock)
    bearer = {"Authorization": f"Bearer {token}"}
    me = machine.get("/api/v1/me", headers=bearer).json()
    assert me["units"][0]["code"] == YS and me["token"] == row.id
    data = _filled(client, tmp_path, "m.xlsx", GOOD)
    # A bearer call needs no CSRF token.
    answer = machine.post(
        f"/api/v1/units/{YS}/campaigns/{CODE}/reports", files={"file": ("m.xlsx", data, XLSX)}, headers=bearer
    )
    assert answer.status_code == 200 and answer.json()["revision"] == 1
    with Session(ready) as s:
        actor = s.scalars(
            select(col(DomainEvent.actor)).where(col(DomainEvent.kind) == "report.accepted")
        ).one()
    assert actor == f"{YS_EMAIL} (mã truy cập {row.id})"
    # A token cannot mint tokens.
    assert machine.post(f"/api/v1/units/{YS}/tokens", json={"label": "x"}, headers=bearer).status_code == 403
    assert machine.get("/api/v1/me", headers={"Authorization": "Bearer thd_forged"}).status_code == 401
    # Revoked: refused at once.
    assert (
        client.delete(f"/api/v1/units/{YS}/tokens/{row.id}", headers={"X-CSRF-Token": csrf}).status_code
        == 204
    )
    assert machine.get("/api/v1/me", headers=bearer).status_code == 401
    assert (
        machine.get("/api/v1/me", headers=bearer).json()["kind"] == "RuleRefused"
    )  # not signed in: a rule of the portal, answered 401


def test_the_template_is_the_units_own(ys: tuple[TestClient, str], tmp_path: Path) -> None:
    client, _ = ys
    info = meta_of(load_workbook(io.BytesIO(client.get(f"/don-vi/{YS}/{CODE}/{MARCH}/mau.xlsx").content)))
    assert info["unit_code"] == YS and info["period_key"] == MARCH


def test_openapi_schema_lists_the_api(ys: tuple[TestClient, str]) -> None:
    client, _ = ys
    schema = client.get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    assert "/api/v1/units/{unit}/campaigns/{code}/reports" in paths
    assert not any(p.startswith("/don-vi") or p.startswith("/dang-nhap") for p in paths)
    assert "requestBody" in schema["paths"]["/api/v1/units/{unit}/campaigns/{code}/reports"]["post"]


def test_errors_are_vietnamese_json_or_html_by_route(ys: tuple[TestClient, str]) -> None:
    client, _ = ys
    api = client.get(f"/api/v1/units/{YS}/campaigns/KHONG-CO/periods/{MARCH}/revisions")
    assert api.status_code == 404 and api.json()["kind"] == "NotFound" and "KHONG-CO" in api.json()["message"]
    html = client.get(f"/don-vi/{YS}/KHONG-CO/{MARCH}")
    assert html.status_code == 404 and "<html" in html.text and "Không tìm thấy" in html.text
    bad = client.get(f"/api/v1/units/{YS}/campaigns/{CODE}/periods/{MARCH}/revisions/abc/file")
    assert bad.status_code == 422 and bad.json()["kind"] == "InvalidInput"
    assert "Field required" not in bad.text and "Input should" not in bad.text
    assert client.get("/khong-co-trang").status_code == 404


def test_indicators_against_the_target_and_the_provinces_total(
    ys: tuple[TestClient, str], ready: Engine, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    client, csrf = ys
    # January (due 07/02) and February, then look on 02/04/2024: two periods with the unit's figures.
    for period, finished in (("2024-01", 6), ("2024-02", 18)):
        source = _template(client, tmp_path, period=period)
        data = fill(source, tmp_path / f"{period}.xlsx", {**GOOD, "finished": finished}).read_bytes()
        assert _upload(client, csrf, f"{period}.xlsx", data, period=period)[0] == 200
    series = client.get(f"/api/v1/units/{YS}/campaigns/{CODE}/indicators").json()
    points = {p["period"]: p for p in series["points"]}
    # 6 finished of 120 carried over + 30 arising = 4%; 18/150 = 12% against the 10% target.
    assert points["2024-01"]["unit"]["value"] == "1/25" and points["2024-01"]["unit"]["met"] is False
    assert points["2024-02"]["unit"]["percent"] == "12,00%" and points["2024-02"]["unit"]["met"] is True
    # The province's total sums the reporting units' figures: Yên Sơn is the only one so far.
    assert points["2024-02"]["total"]["num"] == 18 and points["2024-02"]["total"]["den"] == 150
    assert "2024-05" not in points  # not open yet
    page = client.get(f"/don-vi/{YS}/{CODE}/chi-so")
    assert page.status_code == 200
    assert (
        "<svg" in page.text and "12,00%" in page.text and "Chưa đạt" in page.text and "≥ 10,00%" in page.text
    )
    assert series["total_name"] in page.text
    # Another unit's figures stay closed.
    assert client.get(f"/don-vi/{SD}/{CODE}/chi-so").status_code == 404
    assert client.get(f"/api/v1/units/{SD}/campaigns/{CODE}/indicators").status_code == 404
