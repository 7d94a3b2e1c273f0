"""Emails link to the portal when THIDUA_PUBLIC_URL is set: a reminder points at the unit's page for the
period it is about, and that page is the one the portal serves."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tests.deploy.web.portal_helpers import CODE, YS, YS_EMAIL, Clock, client_for, launched, sign_in
from tests.factories import at
from thidua.models.outbox import OutboxMessage
from thidua.models.settings import Settings
from thidua.tasks.remind.reminders import plan_reminders, queue_reminders

PUBLIC = "https://thidua.example.vn"


def _reminder_text(engine: Engine) -> str:
    with Session(engine) as s:
        return s.scalars(
            select(col(OutboxMessage.body_text)).where(
                col(OutboxMessage.kind) == "reminder", col(OutboxMessage.recipient) == YS_EMAIL
            )
        ).one()


def test_reminders_link_to_the_upload_page_only_with_a_public_url(
    engine: Engine, tmp_path: Path, db_url: str
) -> None:
    launched(engine, tmp_path)
    now = at("31/01/2024")  # five working days before the January report is due
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, smtp_host="", public_url=PUBLIC + "/"
    )
    queue_reminders(engine, settings, plan_reminders(engine, CODE, now), now=now)
    text = _reminder_text(engine)
    link = re.search(rf"{re.escape(PUBLIC)}(/don-vi/\S+)", text)
    assert link, text
    assert link.group(1) == f"/don-vi/{YS}/{CODE}/2024-01"
    # The link is a page of the portal, for the unit it was sent to.
    client = client_for(settings, engine, Clock(now))
    sign_in(client, settings, YS_EMAIL)
    page = client.get(link.group(1))
    assert page.status_code == 200 and "Báo cáo tháng 01/2024" in page.text


def test_without_a_public_url_reminders_carry_no_link(
    engine: Engine, tmp_path: Path, settings: Settings
) -> None:
    launched(engine, tmp_path)
    now = at("31/01/2024")
    queue_reminders(engine, settings, plan_reminders(engine, CODE, now), now=now)
    assert "/don-vi/" not in _reminder_text(engine)
