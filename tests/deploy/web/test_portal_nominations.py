"""The unit's nominations page: what it proposed, the screening, what the dossier lacks; declaring that it
proposes nobody (CSRF, scope, once)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select
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
from thidua.models.campaign import Campaign, DomainEvent
from thidua.models.review import DossierFile, NominationDecline, SubjectKind
from thidua.models.settings import Settings


def test_nominations_screening_and_dossier_gaps(engine: Engine, tmp_path: Path, settings: Settings) -> None:
    launched(engine, tmp_path)
    with Session(engine) as s:
        campaign_id = s.scalars(select(col(Campaign.id))).one()
    nominate(engine, campaign_id, [Nominee("TQ-YS-02", SubjectKind.INDIVIDUAL)])  # proposed by TQ-YS
    client = client_for(settings, engine, new_clock())
    sign_in(client, settings, YS_EMAIL)
    page = client.get(f"/don-vi/{YS}/{CODE}/de-nghi")
    assert page.status_code == 200
    text = page.text
    assert "Trần Thanh Anh" in text and "(TQ-YS-02)" in text
    assert "đủ điều kiện" in text and "kiểm tra thử" in text  # the screening and its reason
    assert "Hồ sơ còn thiếu" in text and "Tờ trình" in text  # nothing uploaded yet
    assert "Báo đơn vị không đề nghị" not in text  # a unit with nominations cannot declare it
    assert "hạn 03/07/2024" in text
    # Another unit's page: 404 as for a unit that does not exist.
    assert client.get(f"/don-vi/{SD}/{CODE}/de-nghi").status_code == 404


def test_declaring_no_proposal_once_with_csrf_and_in_scope(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    launched(engine, tmp_path)
    clock = new_clock()
    ys = client_for(settings, engine, clock)
    ys_csrf = sign_in(ys, settings, YS_EMAIL)
    sd = client_for(settings, engine, clock)
    sd_csrf = sign_in(sd, settings, SD_EMAIL)
    url = f"/don-vi/{SD}/{CODE}/de-nghi/khong-de-nghi"
    assert sd.post(url, data={"reason": "không có"}).status_code == 403  # no CSRF token
    assert ys.post(url, data={"reason": "x", "csrf_token": ys_csrf}).status_code == 404  # not Yên Sơn's unit
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(NominationDecline)).scalar_one() == 0
    page = sd.post(url, data={"reason": "Năm nay không có cá nhân đủ điều kiện", "csrf_token": sd_csrf})
    assert page.status_code == 200 and "không đề nghị" in page.text
    assert "Năm nay không có cá nhân đủ điều kiện" in page.text and SD_EMAIL in page.text
    assert sd.post(url, data={"csrf_token": sd_csrf}).status_code == 200  # a repeat changes nothing
    with Session(engine) as s:
        [row] = s.scalars(select(NominationDecline)).all()
        actors = s.scalars(
            select(col(DomainEvent.actor)).where(col(DomainEvent.kind).like("%decline%"))
        ).all()
    assert row.unit_code == SD and row.declined_by == SD_EMAIL
    assert actors == [SD_EMAIL]


def test_dossier_upload_checked_stored_by_the_system_and_scoped(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    launched(engine, tmp_path)
    with Session(engine) as s:
        campaign_id = s.scalars(select(col(Campaign.id))).one()
    nominate(
        engine,
        campaign_id,
        [Nominee("TQ-YS-02", SubjectKind.INDIVIDUAL), Nominee("TQ-SD-02", SubjectKind.INDIVIDUAL)],
    )
    clock = new_clock()
    client = client_for(settings, engine, clock)
    csrf = sign_in(client, settings, YS_EMAIL)
    url = f"/don-vi/{YS}/{CODE}/de-nghi/ho-so"
    pdf = pdf_bytes("tờ trình")

    def send(
        name: str,
        data: bytes,
        part: str = "to_trinh",
        nominee: str = "",
        token: str | None = csrf,
        to: str = url,
    ) -> int:
        form = {"part": part, "nominee": nominee, **({"csrf_token": token} if token else {})}
        answer = client.post(
            to, data=form, files={"file": (name, data, "application/pdf")}, follow_redirects=False
        )
        return answer.status_code

    def stored() -> list[tuple[str, str, int | None, str]]:
        with Session(engine) as s:
            return [
                (r.unit_code, r.part_key, r.nomination_id, r.stored_path)
                for r in s.scalars(select(DossierFile).order_by(col(DossierFile.id)))
            ]

    assert send("to-trinh.pdf", pdf, token=None) == 403
    assert send("to-trinh.exe", b"MZ\x90\x00binary") == 422  # the campaign's types, by extension
    assert send("to-trinh.pdf", b"<html>not a pdf</html>") == 422  # ... and by content
    assert send("to-trinh.pdf", pdf, to=f"/don-vi/{SD}/{CODE}/de-nghi/ho-so") == 404  # not one's unit
    assert send("bao-cao.pdf", pdf, part="bao_cao_thanh_tich", nominee="TQ-SD-02") == 422  # SD's nominee
    assert stored() == []
    assert send("../../tờ trình.pdf", pdf) == 303
    assert send("bao-cao.pdf", pdf_bytes("thành tích"), part="bao_cao_thanh_tich", nominee="TQ-YS-02") == 303
    rows = stored()
    assert [(u, p) for u, p, _, _ in rows] == [(YS, "to_trinh"), (YS, "bao_cao_thanh_tich")]
    assert all(".." not in path and "trình" not in path for _, _, _, path in rows)
    page = client.get(f"/don-vi/{YS}/{CODE}/de-nghi").text
    assert "tờ trình.pdf" in page and "Trần Thanh Anh" in page
    with Session(engine) as s:
        uploaded_by = s.scalars(select(col(DossierFile.uploaded_by))).all()
    assert uploaded_by == [YS_EMAIL, YS_EMAIL]
