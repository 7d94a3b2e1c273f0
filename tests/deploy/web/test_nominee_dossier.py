"""One nominee's dossier on the portal: the five parts with what is missing and the deadline, each file
received downloadable, the system's drafts prepared on request (CSRF) and downloadable; never another unit's
nominee or file, whatever id is guessed."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tests.deploy.web.portal_helpers import (
    CODE,
    SD,
    SD_EMAIL,
    YS,
    YS_EMAIL,
    client_for,
    launched,
    new_clock,
    sign_in,
)
from tests.tasks.builders_council import Nominee, nominate
from tests.tasks.builders_nominations import pdf_bytes
from thidua.models.campaign import Campaign
from thidua.models.review import DossierFile, Nomination, SubjectKind
from thidua.models.settings import Settings
from thidua.models.storage import storage_for


def _setup(engine: Engine, tmp_path: Path) -> dict[str, int]:
    launched(engine, tmp_path)
    with Session(engine) as s:
        campaign_id = s.scalars(select(col(Campaign.id))).one()
    nominate(
        engine,
        campaign_id,
        [Nominee("TQ-YS-02", SubjectKind.INDIVIDUAL), Nominee("TQ-SD-02", SubjectKind.INDIVIDUAL)],
    )
    with Session(engine) as s:
        return {n.subject_code: n.id for n in s.scalars(select(Nomination)) if n.id is not None}


def _files(engine: Engine) -> list[DossierFile]:
    with Session(engine) as s:
        return list(s.scalars(select(DossierFile).order_by(col(DossierFile.id))))


def test_the_nominees_dossier_shows_parts_missing_deadline_and_downloads_its_files(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    ids = _setup(engine, tmp_path)
    client = client_for(settings, engine, new_clock())
    csrf = sign_in(client, settings, YS_EMAIL)
    url = f"/don-vi/{YS}/{CODE}/de-nghi/{ids['TQ-YS-02']}"
    page = client.get(url)
    assert page.status_code == 200, page.text
    assert "Trần Thanh Anh" in page.text and "hạn nộp hồ sơ 03/07/2024" in page.text
    missing = re.search(r"Hồ sơ còn thiếu: ([^.]+)\.", page.text)
    assert missing and missing.group(1).split(", ") == [
        "Tờ trình",
        "Danh sách",
        "Biên bản",
        "Báo cáo thành tích",
        "Tổng hợp kết quả giảm việc có điều kiện trên một năm",
    ]
    # The list page links to the nominee's dossier.
    assert f'href="{url}"' in client.get(f"/don-vi/{YS}/{CODE}/de-nghi").text

    sent = pdf_bytes("thành tích")
    answer = client.post(
        f"/don-vi/{YS}/{CODE}/de-nghi/ho-so",
        data={"part": "bao_cao_thanh_tich", "nominee": "TQ-YS-02", "csrf_token": csrf},
        files={"file": ("../../bao cao.pdf", sent, "application/pdf")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    # The drafts: refused without the CSRF token (nothing drafted), made with it.
    drafts = f"/don-vi/{YS}/{CODE}/de-nghi/du-thao"
    assert client.post(drafts, follow_redirects=False).status_code == 403
    assert len(_files(engine)) == 1
    drafted = client.post(drafts, data={"csrf_token": csrf}, follow_redirects=False)
    assert (
        drafted.status_code == 200 and "Đã lập: Danh sách" in drafted.text and "Không lập" not in drafted.text
    )
    files = _files(engine)
    assert sorted(f.part_key for f in files if f.generated) == ["danh_sach", "tong_hop_ket_qua"]

    page = client.get(url).text
    missing = re.search(r"Hồ sơ còn thiếu: ([^.]+)\.", page)
    assert missing and missing.group(1).split(", ") == ["Tờ trình", "Biên bản"]
    assert "hệ thống dự thảo" in page and "chung cho hồ sơ của đơn vị" in page
    links = set(re.findall(rf"/don-vi/{YS}/{CODE}/de-nghi/tep/(\d+)", page))
    assert links == {str(f.id) for f in files}
    storage = storage_for(settings)
    for f in files:
        got = client.get(f"/don-vi/{YS}/{CODE}/de-nghi/tep/{f.id}")
        assert got.status_code == 200 and got.content == storage.get(f.stored_path)
        disposition = got.headers["content-disposition"]
        assert ".." not in disposition and "bao cao" not in disposition  # the system's name, not the sender's
    own = next(f for f in files if f.part_key == "bao_cao_thanh_tich")
    assert client.get(f"/don-vi/{YS}/{CODE}/de-nghi/tep/{own.id}").content == sent


def test_another_units_nominee_and_files_are_unreachable(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    ids = _setup(engine, tmp_path)
    clock = new_clock()
    ys = client_for(settings, engine, clock)
    ys_csrf = sign_in(ys, settings, YS_EMAIL)
    sd = client_for(settings, engine, clock)
    sd_csrf = sign_in(sd, settings, SD_EMAIL)
    answer = sd.post(
        f"/don-vi/{SD}/{CODE}/de-nghi/ho-so",
        data={"part": "bao_cao_thanh_tich", "nominee": "TQ-SD-02", "csrf_token": sd_csrf},
        files={"file": ("bc.pdf", pdf_bytes("Sơn Dương"), "application/pdf")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert sd.post(f"/don-vi/{SD}/{CODE}/de-nghi/du-thao", data={"csrf_token": sd_csrf}).status_code == 200
    sd_files = _files(engine)
    assert len(sd_files) == 3
    # Yên Sơn guesses Sơn Dương's nominee and files: by its own unit in the URL, and by Sơn Dương's.
    assert ys.get(f"/don-vi/{YS}/{CODE}/de-nghi/{ids['TQ-SD-02']}").status_code == 404
    assert ys.get(f"/don-vi/{SD}/{CODE}/de-nghi/{ids['TQ-SD-02']}").status_code == 404
    for f in sd_files:
        assert ys.get(f"/don-vi/{YS}/{CODE}/de-nghi/tep/{f.id}").status_code == 404
        assert ys.get(f"/don-vi/{SD}/{CODE}/de-nghi/tep/{f.id}").status_code == 404
    for guess in ("0", "999999", "-1"):
        assert ys.get(f"/don-vi/{YS}/{CODE}/de-nghi/tep/{guess}").status_code == 404
    # Nor may it have Sơn Dương's drafts redone.
    assert ys.post(f"/don-vi/{SD}/{CODE}/de-nghi/du-thao", data={"csrf_token": ys_csrf}).status_code == 404
    assert _files(engine) == sd_files
