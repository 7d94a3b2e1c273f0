"""Two administrators close the same campaign at the same moment, on PostgreSQL: the campaign closes once —
one answer says it closed, the other is a clear conflict that changed nothing — with one closing report, one
audit row and no email queued twice. Real Prefect flow runs, one per request."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from tests.deploy.web.portal_helpers import CODE, Clock, client_for, launched, sign_in
from tests.factories import at
from thidua.models.campaign import Campaign, DomainEvent
from thidua.models.outbox import OutboxMessage
from thidua.models.review import CampaignDocument, DocumentKind
from thidua.models.settings import Settings
from thidua.models.states import CampaignStatus

ADMINS = ("minh.ban@thads-tuyenquang.example.vn", "thu.ky@thads-tuyenquang.example.vn")


@pytest.mark.postgres
@pytest.mark.usefixtures("prefect_harness")
def test_two_administrators_close_at_once(pg_url: str, tmp_path: Path) -> None:
    from thidua.models.db import make_engine

    engine: Engine = make_engine(pg_url)
    try:
        launched(engine, tmp_path)
        settings = Settings(
            data_dir=tmp_path / "data", database_url=pg_url, smtp_host="", admin_emails=",".join(ADMINS)
        )
        clock = Clock(at("12/07/2024", 9))
        clients = [client_for(settings, engine, clock) for _ in ADMINS]
        tokens = [sign_in(c, settings, a) for c, a in zip(clients, ADMINS, strict=True)]
        barrier = threading.Barrier(len(clients))
        answers: list[Any] = [None, None]

        def close(i: int) -> None:
            barrier.wait()
            answers[i] = clients[i].post(
                f"/api/v1/admin/campaigns/{CODE}/close",
                json={"reason": f"Kết thúc bởi quản trị viên {i + 1}"},
                headers={"X-CSRF-Token": tokens[i]},
            )

        threads = [threading.Thread(target=close, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 409], [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 200)
        loser = next(a for a in answers if a.status_code == 409)
        assert f"Phong trào {CODE} vừa kết thúc." in winner.json()["lines"]
        assert loser.json()["kind"] == "Conflict" and "không kết thúc lại" in loser.json()["message"]

        with Session(engine) as s:
            campaign = s.scalars(select(Campaign)).one()
            assert campaign.status == CampaignStatus.CLOSED
            closed = s.scalars(select(DomainEvent).where(DomainEvent.kind == "campaign.closed")).all()
            assert len(closed) == 1 and closed[0].actor in ADMINS
            reports = s.scalars(
                select(CampaignDocument).where(CampaignDocument.kind == DocumentKind.CLOSING_REPORT)
            ).all()
            assert len(reports) == 1
            emails = s.execute(
                select(OutboxMessage.recipient, func.count())  # type: ignore[call-overload]
                .where(OutboxMessage.kind == "closing_report")
                .group_by(OutboxMessage.recipient)
            ).all()
        assert emails and all(n == 1 for _r, n in emails), emails
    finally:
        engine.dispose()
