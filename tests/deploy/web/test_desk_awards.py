"""The desk's review and award actions, on SQLite and PostgreSQL with real Prefect flow runs: the review run
(flow “review”) on a closed campaign, the award run (flow “award”), a higher authority's decision refused
while no proposal exists, a revocation — each in the administrator's name in the audit trail, as the CLI's
own command records the operating-system user; the decision and the certificates among the downloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tests.deploy.web.portal_helpers import Clock, client_for, sign_in
from tests.factories import at
from tests.tasks.builders_awards import TQ_AWARD, TQ_CODE, in_review, launch_tq, tq_picks
from thidua.models.campaign import DomainEvent
from thidua.models.review import AwardGrant, GrantStatus
from thidua.models.settings import Settings
from thidua.models.states import CampaignStatus

ADMIN = "minh.ban@thads-tuyenquang.example.vn"
pytestmark = pytest.mark.usefixtures("prefect_harness")


def events(engine: Engine, kind: str) -> list[DomainEvent]:
    with Session(engine) as s:
        return list(s.scalars(select(DomainEvent).where(col(DomainEvent.kind) == kind)).all())


def test_review_award_decision_and_revocation_from_the_desk(
    engine: Engine, tmp_path: Path, db_url: str
) -> None:
    campaign_id = launch_tq(engine, tmp_path)
    in_review(engine, campaign_id, tq_picks(), status=CampaignStatus.CLOSED, closed_at=at("05/07/2024", 9))
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_host="", admin_emails=ADMIN)
    client = client_for(settings, engine, Clock(at("19/07/2024", 10)))
    csrf = sign_in(client, settings, ADMIN)
    page = f"/quan-tri/phong-trao/{TQ_CODE}"

    reviewed = client.post(f"{page}/xet-khen-thuong", data={"csrf_token": csrf, "meeting": ""})
    assert reviewed.status_code == 200, reviewed.text
    assert f"Phong trào {TQ_CODE}: Đang xét khen thưởng." in reviewed.text
    [moved] = events(engine, "campaign.in_review")
    assert moved.actor == ADMIN

    awarded = client.post(f"{page}/khen-thuong", data={"csrf_token": csrf, "day": "19/07/2024"})
    assert awarded.status_code == 200, awarded.text
    assert "Thư đã gửi:" in awarded.text
    issued = events(engine, "award.issued") or events(engine, "decision.issued")
    assert issued and all(e.actor == ADMIN for e in issued)

    # A higher authority's decision needs a proposal (Tờ trình) first: refused, on the page, nothing changed.
    refused = client.post(
        f"{page}/quyet-dinh-cap-tren",
        data={"csrf_token": csrf, "award": TQ_AWARD, "number": "12", "symbol": "QĐ-BTP", "day": "25/07/2024"},
    )
    assert refused.status_code in (409, 422) and 'role="alert"' in refused.text

    with Session(engine) as s:
        grant = s.scalars(select(AwardGrant).order_by(col(AwardGrant.id))).first()
    assert grant is not None and grant.id is not None
    revoked = client.post(
        f"{page}/thu-hoi/{grant.id}", data={"csrf_token": csrf, "reason": "Khai không trung thực"}
    )
    assert revoked.status_code == 200 and f"Đã thu hồi khen thưởng #{grant.id}" in revoked.text
    [audit] = events(engine, "grant.revoked")
    assert audit.actor == ADMIN and json.loads(audit.payload_json)["after"]["status"] == "revoked"
    with Session(engine) as s:
        assert s.get(AwardGrant, grant.id).status == GrantStatus.REVOKED  # type: ignore[union-attr]
    again = client.post(
        f"/api/v1/admin/campaigns/{TQ_CODE}/grants/{grant.id}/revoke",
        json={"reason": "lần nữa"},
        headers={"X-CSRF-Token": csrf},
    )
    assert again.status_code in (409, 422), again.text

    docs = client.get(f"/api/v1/admin/campaigns/{TQ_CODE}/documents").json()
    kinds = {d["kind"] for d in docs}
    assert {"decision", "certificate"} <= kinds
    certificate = next(d for d in docs if d["kind"] == "certificate")
    got = client.get(f"/api/v1/admin/campaigns/{TQ_CODE}/documents/{certificate['id']}")
    assert got.status_code == 200 and got.content[:4] == b"%PDF"
