"""The nominations and the dossier through /api/v1: the list, each nominee's five parts with what is missing
and the deadline, one file uploaded through the page's own service (same checks, same answers), the drafts
listed, downloaded and asked for (with the reason in Vietnamese when a part is not drafted), “không đề nghị”;
never anything of another unit, whatever id is guessed in the path or the body."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from markupsafe import escape
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
from tests.tasks.builders_council import Nominee, nominate
from tests.tasks.builders_nominations import ooxml_bytes, pdf_bytes
from thidua.models.campaign import Campaign, DomainEvent
from thidua.models.review import DossierFile, NominationDecline, SubjectKind
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.tasks.portal.identity import Principal, create_api_token

API = f"/api/v1/units/{YS}/campaigns/{CODE}"
SD_API = f"/api/v1/units/{SD}/campaigns/{CODE}"
PARTS = [
    "Tờ trình",
    "Danh sách",
    "Biên bản",
    "Báo cáo thành tích",
    "Tổng hợp kết quả giảm việc có điều kiện trên một năm",
]


def _nominated(engine: Engine, tmp_path: Path) -> dict[str, int]:
    launched(engine, tmp_path)
    with Session(engine) as s:
        campaign_id = s.scalars(select(col(Campaign.id))).one()
    return nominate(
        engine,
        campaign_id,
        [Nominee("TQ-YS-02", SubjectKind.INDIVIDUAL), Nominee("TQ-SD-02", SubjectKind.INDIVIDUAL)],
    )


def _token_client(settings: Settings, engine: Engine, clock: Clock, unit: str, email: str) -> TestClient:
    """A machine client of `unit` with its own API token (no cookie, no CSRF token: the bearer is enough)."""
    who = Principal(email=email, name=email, units=frozenset({unit}))
    _, token = create_api_token(engine, who, unit, "kiểm thử", now=clock())
    client = client_for(settings, engine, clock)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _files(engine: Engine) -> list[DossierFile]:
    with Session(engine) as s:
        return list(s.scalars(select(DossierFile).order_by(col(DossierFile.id))))


def test_the_list_and_a_nominees_dossier(engine: Engine, tmp_path: Path, settings: Settings) -> None:
    ids = _nominated(engine, tmp_path)
    api = _token_client(settings, engine, new_clock(), YS, YS_EMAIL)
    answer = api.get(f"{API}/nominations")
    assert answer.status_code == 200, answer.text
    listing = answer.json()
    assert listing["deadline"] == "2024-07-03" and listing["working_days_left"] > 0
    assert listing["declined"] is None and listing["files"] == []
    [n] = listing["nominations"]
    assert (n["id"], n["subject_code"], n["subject_name"]) == (ids["TQ-YS-02"], "TQ-YS-02", "Trần Thanh Anh")
    assert n["subject_kind"] == "individual" and n["eligible"] is True and n["reasons"]
    assert (n["status"], n["status_label"]) == ("complete", "Hồ sơ đầy đủ")  # as the builder records it
    assert [p["name"] for p in listing["parts"]] == PARTS
    assert len(listing["gaps"]) == 1 and "Trần Thanh Anh" in listing["gaps"][0]

    dossier = api.get(f"{API}/nominations/{ids['TQ-YS-02']}/dossier").json()
    assert dossier["deadline"] == "2024-07-03" and dossier["missing"] == PARTS
    assert [(p["state"], p["state_label"], p["file"]) for p in dossier["parts"]] == [
        ("missing", "Còn thiếu", None)
    ] * 5
    assert dossier["nomination"]["award_name"] == n["award_name"] and dossier["drafts"] == []


def test_upload_goes_through_the_pages_checks_and_answers_alike(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    ids = _nominated(engine, tmp_path)
    clock = new_clock()
    api = _token_client(settings, engine, clock, YS, YS_EMAIL)
    page = client_for(settings, engine, clock)
    csrf = sign_in(page, settings, YS_EMAIL)

    def by_api(name: str, data: bytes, part: str = "to_trinh", **form: Any) -> Any:
        return api.post(f"{API}/dossier/files", data={"part": part, **form}, files={"file": (name, data)})

    def by_page(name: str, data: bytes, part: str = "to_trinh") -> Any:
        form = {"part": part, "csrf_token": csrf}
        url = f"/don-vi/{YS}/{CODE}/de-nghi/ho-so"
        return page.post(url, data=form, files={"file": (name, data)}, follow_redirects=False)

    too_big = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024)
    for name, data in [
        ("to-trinh.exe", b"MZ\x90\x00binary"),  # a type the campaign does not take, by extension
        ("to-trinh.pdf", b"<html>not a pdf</html>"),  # ... and by content
        ("to-trinh.pdf", too_big),  # over the campaign's 20 MB
        ("to-trinh.pdf", b""),
    ]:
        json_answer, html_answer = by_api(name, data), by_page(name, data)
        assert json_answer.status_code == html_answer.status_code == 422, name
        body = json_answer.json()
        assert body["kind"] == "InvalidInput"
        # The same message, from the same check: the page shows it HTML-escaped.
        assert str(escape(body["message"])) in html_answer.text
    assert by_api("bc.pdf", pdf_bytes(), part="khong_co").status_code == 422  # an unknown part
    assert _files(engine) == []

    sent = pdf_bytes("thành tích")
    answer = by_api("../../báo cáo.pdf", sent, part="bao_cao_thanh_tich", nomination=str(ids["TQ-YS-02"]))
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    assert stored["part"] == "bao_cao_thanh_tich" and stored["nomination"] == ids["TQ-YS-02"]
    assert stored["file"] == "../../báo cáo.pdf" and stored["revision"] == 1 and stored["on_time"] is True
    [row] = _files(engine)
    assert row.id == stored["id"] and ".." not in row.stored_path
    assert row.uploaded_by and re.fullmatch(rf"{re.escape(YS_EMAIL)} \(mã truy cập \d+\)", row.uploaded_by)
    assert api.get(f"{API}/dossier/files/{row.id}").content == sent
    again = by_api("bc.pdf", pdf_bytes("lần hai"), part="bao_cao_thanh_tich", nomination=str(ids["TQ-YS-02"]))
    assert again.status_code == 201 and again.json()["revision"] == 2
    unit_wide = by_api("to-trinh.docx", ooxml_bytes("word"))
    assert unit_wide.status_code == 201 and unit_wide.json()["nomination"] is None

    dossier = api.get(f"{API}/nominations/{ids['TQ-YS-02']}/dossier").json()
    assert dossier["missing"] == ["Danh sách", "Biên bản", PARTS[4]]
    states = {p["key"]: (p["state"], p["file"] and p["file"]["revision"]) for p in dossier["parts"]}
    assert states["bao_cao_thanh_tich"] == ("received", 2) and states["to_trinh"] == ("received", 1)
    listed = api.get(f"{API}/nominations").json()["files"]
    assert sorted((f["part"], f["revision"]) for f in listed) == [("bao_cao_thanh_tich", 2), ("to_trinh", 1)]


def test_drafts_listed_downloaded_asked_for_and_why_not(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    _nominated(engine, tmp_path)
    clock = new_clock()
    api = _token_client(settings, engine, clock, YS, YS_EMAIL)
    assert api.get(f"{API}/dossier/drafts").json() == []
    made = api.post(f"{API}/dossier/drafts")
    assert made.status_code == 200, made.text
    assert made.json()["skipped"] == []
    drafts = api.get(f"{API}/dossier/drafts").json()
    assert sorted(d["part"] for d in drafts) == ["danh_sach", "tong_hop_ket_qua"]
    assert all(d["generated"] and d["nomination"] is None for d in drafts)
    assert sorted(d["id"] for d in drafts) == sorted(d["id"] for d in made.json()["files"])
    storage = storage_for(settings)
    rows = {f.id: f for f in _files(engine)}
    for d in drafts:
        got = api.get(f"{API}/dossier/files/{d['id']}")
        assert got.status_code == 200 and got.content == storage.get(rows[d["id"]].stored_path)

    # The unit's own Danh sách wins over a draft; the answer says so, in Vietnamese, on the API and the page.
    own = api.post(
        f"{API}/dossier/files", data={"part": "danh_sach"}, files={"file": ("ds.pdf", pdf_bytes())}
    )
    assert own.status_code == 201
    again = api.post(f"{API}/dossier/drafts").json()
    [why] = again["skipped"]
    assert why.startswith("Danh sách: đơn vị đã nộp tệp “ds.pdf” (lần 2)") and "giữ tệp của đơn vị" in why
    assert [f["part"] for f in again["files"]] == ["tong_hop_ket_qua"]
    assert [d["part"] for d in api.get(f"{API}/dossier/drafts").json()] == ["tong_hop_ket_qua"]

    page = client_for(settings, engine, clock)
    csrf = sign_in(page, settings, YS_EMAIL)
    answer = page.post(f"/don-vi/{YS}/{CODE}/de-nghi/du-thao", data={"csrf_token": csrf})
    assert answer.status_code == 200
    shown = re.search(r'<div role="status" id="du-thao">(.*?)</div>', answer.text, re.S)
    assert shown and "Không lập:" in shown.group(1)
    assert "Danh sách: đơn vị đã nộp tệp “ds.pdf” (lần 2)" in shown.group(1)
    assert "giữ tệp của đơn vị, không thay bằng bản dự thảo." in shown.group(1)


def test_a_unit_without_nominations_is_told_why_nothing_is_drafted(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    launched(engine, tmp_path)
    clock = new_clock()
    api = _token_client(settings, engine, clock, YS, YS_EMAIL)
    assert api.post(f"{API}/dossier/drafts").json() == {
        "files": [],
        "skipped": [f"Đơn vị {YS} chưa có đề nghị khen thưởng nào: không có gì để lập danh sách."],
    }
    page = client_for(settings, engine, clock)
    csrf = sign_in(page, settings, YS_EMAIL)
    text = page.post(f"/don-vi/{YS}/{CODE}/de-nghi/du-thao", data={"csrf_token": csrf}).text
    assert "chưa có đề nghị khen thưởng nào: không có gì để lập danh sách." in text
    assert _files(engine) == []


def test_declaring_no_proposal(engine: Engine, tmp_path: Path, settings: Settings) -> None:
    launched(engine, tmp_path)
    clock = new_clock()
    browser = client_for(settings, engine, clock)
    csrf = sign_in(browser, settings, YS_EMAIL)
    url = f"{API}/nominations/decline"
    body = {"reason": "Năm nay không có cá nhân đủ điều kiện"}
    assert browser.post(url, json=body).status_code == 403  # a session without the CSRF header
    assert (
        browser.post(f"{SD_API}/nominations/decline", json=body, headers={"X-CSRF-Token": csrf}).status_code
        == 404
    )
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(NominationDecline)).scalar_one() == 0
    first = browser.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert first.status_code == 200, first.text
    assert first.json()["created"] is True
    decline = first.json()["decline"]
    assert (decline["unit"], decline["reason"], decline["declined_by"]) == (YS, body["reason"], YS_EMAIL)
    assert datetime.fromisoformat(decline["declined_at"]) == clock()
    api = _token_client(settings, engine, clock, YS, YS_EMAIL)
    repeat = api.post(url)
    assert repeat.status_code == 200 and repeat.json()["created"] is False
    assert api.get(f"{API}/nominations").json()["declined"]["reason"] == body["reason"]
    with Session(engine) as s:
        actors = s.scalars(
            select(col(DomainEvent.actor)).where(col(DomainEvent.kind).like("%decline%"))
        ).all()
    assert actors == [YS_EMAIL]


def test_a_unit_with_nominations_cannot_declare_none(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    _nominated(engine, tmp_path)
    api = _token_client(settings, engine, new_clock(), YS, YS_EMAIL)
    answer = api.post(f"{API}/nominations/decline", json={"reason": "x"})
    assert answer.status_code == 409 and answer.json()["kind"] == "Conflict"
    assert "đề nghị" in answer.json()["message"]


def test_nothing_of_another_unit_whatever_id_is_guessed(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    ids = _nominated(engine, tmp_path)
    clock = new_clock()
    sd = _token_client(settings, engine, clock, SD, SD_EMAIL)
    own = sd.post(
        f"{SD_API}/dossier/files",
        data={"part": "bao_cao_thanh_tich", "nomination": str(ids["TQ-SD-02"])},
        files={"file": ("bc.pdf", pdf_bytes("Sơn Dương"))},
    )
    assert own.status_code == 201
    assert sd.post(f"{SD_API}/dossier/drafts").status_code == 200
    sd_files = _files(engine)
    assert len(sd_files) == 3

    ys = _token_client(settings, engine, clock, YS, YS_EMAIL)
    for base in (API, SD_API):  # Yên Sơn's own unit in the path, and Sơn Dương's
        assert ys.get(f"{base}/nominations/{ids['TQ-SD-02']}/dossier").status_code == 404
        for f in sd_files:
            assert ys.get(f"{base}/dossier/files/{f.id}").status_code == 404
    for read in ("nominations", "dossier/drafts"):
        assert ys.get(f"{SD_API}/{read}").status_code == 404
    for guess in ("999999", str(ids["TQ-SD-02"])):
        answer = ys.post(
            f"{API}/dossier/files",
            data={"part": "bao_cao_thanh_tich", "nomination": guess},
            files={"file": ("bc.pdf", pdf_bytes("đoán"))},
        )
        assert answer.status_code == 404 and answer.json()["kind"] == "NotFound"
    assert ys.get(f"{API}/nominations/0/dossier").status_code == 422  # not an id at all
    upload = ys.post(
        f"{SD_API}/dossier/files", data={"part": "to_trinh"}, files={"file": ("tt.pdf", pdf_bytes("đoán"))}
    )
    assert upload.status_code == 404
    assert ys.post(f"{SD_API}/dossier/drafts").status_code == 404
    assert ys.post(f"{SD_API}/nominations/decline").status_code == 404
    assert _files(engine) == sd_files
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(NominationDecline)).scalar_one() == 0
