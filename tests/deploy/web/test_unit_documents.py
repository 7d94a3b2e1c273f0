"""The unit's documents page and API: the plan, the decision and the certificates that concern the unit, each
downloadable from storage; never another unit's certificate, whatever id or key is guessed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from tests.deploy.web.portal_helpers import CODE, SD, SD_EMAIL, YS, YS_EMAIL, Clock, client_for, sign_in
from tests.factories import at
from tests.tasks.builders_awards import TQ_AWARD, in_review, launch_tq, tq_picks
from thidua.models.campaign import Campaign
from thidua.models.definition import definition_from_json
from thidua.models.review import AwardGrant, CampaignDocument, DocumentKind
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.tasks.award.awards import issue_awards
from thidua.tasks.launch.plan import render_campaign_plan


def awarded(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    """The Tuyên Quang campaign with its plan stored and the council's five awards issued (Yên Sơn's officer
    TQ-YS-05 among them; Sơn Dương has none)."""
    campaign_id = launch_tq(engine, tmp_path)
    with Session(engine) as s, s.begin():
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        key = render_campaign_plan(settings, definition_from_json(campaign.definition_json))
        s.execute(update(Campaign).where(col(Campaign.id) == campaign_id).values(plan_document=key))
    in_review(engine, campaign_id, tq_picks())
    issue_awards(
        engine, settings, CODE, TQ_AWARD, decided_on=date(2024, 7, 19), now=at("19/07/2024", 10), actor="tccb"
    )


def all_documents(engine: Engine) -> list[CampaignDocument]:
    with Session(engine) as s:
        return list(s.scalars(select(CampaignDocument).order_by(col(CampaignDocument.id))))


def test_the_unit_sees_and_downloads_its_plan_decision_and_only_its_certificates(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    awarded(engine, settings, tmp_path)
    client = client_for(settings, engine, Clock(at("22/07/2024", 9)))
    sign_in(client, settings, YS_EMAIL)
    page = client.get(f"/don-vi/{YS}/{CODE}/tai-lieu")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Kế hoạch phong trào" in text and "Quyết định khen thưởng số 01/QĐ-CTHADS" in text
    with Session(engine) as s:
        grants = {g.subject_code: g for g in s.scalars(select(AwardGrant))}
    assert grants["TQ-YS-05"].subject_name in text
    for other in ("TQ-TP", "TQ-NH", "TQ-HY-05", "TQ-CH-01"):
        assert grants[other].subject_name not in text  # another unit's awardee

    listing = client.get(f"/api/v1/units/{YS}/campaigns/{CODE}/documents")
    assert listing.status_code == 200
    kinds = [d["kind"] for d in listing.json()]
    assert kinds == ["plan", "decision", "certificate"]
    storage = storage_for(settings)
    docs = all_documents(engine)
    own = {str(d.id) for d in docs if d.kind == DocumentKind.DECISION} | {
        str(d.id) for d in docs if d.ref == str(grants["TQ-YS-05"].id)
    }
    for doc in docs:
        for url in (
            f"/don-vi/{YS}/{CODE}/tai-lieu/{doc.id}",
            f"/api/v1/units/{YS}/campaigns/{CODE}/documents/{doc.id}",
        ):
            answer = client.get(url)
            if str(doc.id) in own:
                assert answer.status_code == 200, url
                assert answer.content == storage.get(doc.path)
                assert "attachment" in answer.headers["content-disposition"]
            else:
                assert answer.status_code == 404, url  # another unit's certificate: as if it did not exist
                assert storage.get(doc.path) not in answer.content
    plan = client.get(f"/don-vi/{YS}/{CODE}/tai-lieu/ke-hoach")
    assert plan.status_code == 200 and plan.content[:2] == b"PK"
    assert plan.headers["content-type"].startswith("application/vnd.openxmlformats")
    # Keys and paths are never taken from the request.
    for guess in ("..%2F..%2Fthidua.db", docs[1].path.replace("/", "%2F"), "0", "-1", "ke-hoach%00"):
        assert client.get(f"/don-vi/{YS}/{CODE}/tai-lieu/{guess}").status_code == 404, guess
        assert client.get(f"/api/v1/units/{YS}/campaigns/{CODE}/documents/{guess}").status_code == 404, guess


def test_another_unit_gets_nothing_of_yen_sons_documents(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    awarded(engine, settings, tmp_path)
    client = client_for(settings, engine, Clock(at("22/07/2024", 9)))
    sign_in(client, settings, SD_EMAIL)
    docs = all_documents(engine)
    # Sơn Dương was awarded nothing: its page has the plan only, and neither the decision nor a certificate.
    listing = client.get(f"/api/v1/units/{SD}/campaigns/{CODE}/documents")
    assert [d["kind"] for d in listing.json()] == ["plan"]
    for doc in docs:
        assert client.get(f"/don-vi/{SD}/{CODE}/tai-lieu/{doc.id}").status_code == 404
    # Yên Sơn's page and files, through its own unit code in the URL: 404 as for a unit that does not exist.
    assert client.get(f"/don-vi/{YS}/{CODE}/tai-lieu").status_code == 404
    assert client.get(f"/api/v1/units/{YS}/campaigns/{CODE}/documents").status_code == 404
    for doc in docs:
        assert client.get(f"/don-vi/{YS}/{CODE}/tai-lieu/{doc.id}").status_code == 404
        assert client.get(f"/api/v1/units/{YS}/campaigns/{CODE}/documents/{doc.id}").status_code == 404
    # Signed out: nothing either.
    anonymous = client_for(settings, engine, Clock(at("22/07/2024", 9)))
    assert anonymous.get(f"/api/v1/units/{YS}/campaigns/{CODE}/documents/{docs[0].id}").status_code == 401
