"""The desk records a higher authority's decision on a campaign whose proposal (Tờ trình) to that authority
exists, on SQLite and PostgreSQL, through the page form and through the API: the same decision, grants and
money as `thidua award record-decision` (tests/tasks/award/test_awards.py records the Minister's Bằng khen on
the national fixture), with the administrator, not the operating-system user, as the actor."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tests.deploy.web.portal_helpers import Clock, client_for, sign_in
from tests.factories import at
from tests.tasks.builders_awards import (
    BANG_KHEN,
    NATIONAL_CODE,
    add_minutes,
    collective,
    individual,
    launch_national,
    national_in_review,
)
from thidua.models.campaign import DomainEvent
from thidua.models.directory import Person
from thidua.models.review import AwardDecision, AwardGrant, DecisionStatus
from thidua.models.settings import Settings
from thidua.tasks.award.awards import issue_awards


def admin_email(engine: Engine) -> str:
    """Someone of the national directory with an email, made an administrator by the settings."""
    with Session(engine) as s:
        email = s.scalars(
            select(col(Person.email)).where(col(Person.email).is_not(None)).order_by(col(Person.code))
        ).first()
    assert email
    return email


@pytest.mark.parametrize("route", ["page", "api"])
def test_the_desk_records_the_ministers_decision_on_the_proposal(
    engine: Engine, tmp_path: Path, db_url: str, route: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, smtp_host="")
    campaign_id = launch_national(engine, tmp_path)
    ready = national_in_review(
        engine,
        campaign_id,
        [
            collective("AGG", BANG_KHEN, position=1),
            individual("HNI-02", BANG_KHEN),
            individual("CQL-TCCB-06", BANG_KHEN),
        ],
    )
    add_minutes(engine, settings, ready)
    proposal = issue_awards(
        engine, settings, NATIONAL_CODE, BANG_KHEN, decided_on=date(2026, 6, 25), now=at("25/06/2026", 10),
        actor="tccb",
    )  # fmt: skip
    assert proposal.status == DecisionStatus.PROPOSED

    admin = admin_email(engine)
    settings = settings.model_copy(update={"admin_emails": admin})
    client = client_for(settings, engine, Clock(at("11/07/2026", 9)))
    csrf = sign_in(client, settings, admin)
    form = {"award": BANG_KHEN, "number": "1234", "symbol": "QĐ-BTP", "day": "10/07/2026"}
    if route == "page":
        answer = client.post(
            f"/quan-tri/phong-trao/{NATIONAL_CODE}/quyet-dinh-cap-tren", data={"csrf_token": csrf, **form}
        )
        assert answer.status_code == 200, answer.text
        assert "Quyết định số 1234/QĐ-BTP ngày 10/07/2026" in answer.text and "(mới lập)" in answer.text
    else:
        answer = client.post(
            f"/api/v1/admin/campaigns/{NATIONAL_CODE}/awards/decisions",
            json={"award": BANG_KHEN, "number": 1234, "symbol": "QĐ-BTP", "date": "10/07/2026"},
            headers={"X-CSRF-Token": csrf},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["lines"][0].startswith("Quyết định số 1234/QĐ-BTP ngày 10/07/2026")

    with Session(engine) as s:
        decision = s.scalars(select(AwardDecision).where(col(AwardDecision.award_key) == BANG_KHEN)).one()
        grants = list(s.scalars(select(AwardGrant).where(col(AwardGrant.decision_id) == decision.id)))
        issued = list(s.scalars(select(DomainEvent).where(col(DomainEvent.kind) == "award.issued")))
    assert decision.status == DecisionStatus.ISSUED and decision.issued_by == admin
    assert (decision.authority_unit_code, decision.year, decision.number) == ("BTP", 2026, 1234)
    assert {g.subject_code: g.amount_vnd for g in grants} == {  # as the CLI's record-decision gives
        "AGG": 7_020_000,
        "HNI-02": 3_510_000,
        "CQL-TCCB-06": 3_510_000,
    }
    assert issued and all(e.actor == admin for e in issued)
