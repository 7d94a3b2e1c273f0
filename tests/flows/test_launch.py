"""The launch flow, end to end: real database (SQLite and PostgreSQL), real SMTP server, real Prefect runs."""

from __future__ import annotations

from collections import Counter
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import func, select, update

from tests.conftest import SmtpRecorder
from tests.factories import TQ_DEFINITION, at, edited_definition, load_demo_directory
from thidua.flows.launch import launch_flow
from thidua.models.campaign import (
    Campaign,
    CampaignStatus,
    Deadline,
    DomainEvent,
    EnrolledPerson,
    EnrolledUnit,
)
from thidua.models.db import make_engine
from thidua.models.directory import Person, Unit
from thidua.models.outbox import OutboxMessage, OutboxStatus
from thidua.models.settings import Settings
from thidua.tasks.launch.campaign import CampaignConflict

pytestmark = pytest.mark.usefixtures("prefect_harness")

LAUNCH_DAY = at("05/01/2024", 9)


def _subject(raw: str) -> str:
    return str(make_header(decode_header(raw)))


def _smtp_settings(tmp_path: Path, db_url: str, smtp: SmtpRecorder) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        mail_from="tdkt@thads-tuyenquang.example.vn",
        **smtp.settings_overrides(),
    )


def test_launch_sends_one_email_per_enrolled_unit_with_the_plan_and_a_second_launch_sends_nothing(
    tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = _smtp_settings(tmp_path, db_url, smtp_server)
    engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    connections_before = smtp_server.connections  # aiosmtpd probes itself once on start

    first = launch_flow(str(TQ_DEFINITION), LAUNCH_DAY, settings)

    with engine.connect() as conn:
        enrolled = conn.execute(select(EnrolledUnit.unit_code, EnrolledUnit.email)).all()
        status = conn.execute(select(Campaign.status)).scalar_one()
    assert first["launched"] is True
    assert status == CampaignStatus.LAUNCHED
    assert {code for code, _ in enrolled} >= {
        "TQ",
        "TQ-TP",
        "TQ-YS",
        "TQ-SD",
        "TQ-HY",
        "TQ-CH",
        "TQ-NH",
        "TQ-LB",
    }
    expected = Counter(email for _, email in enrolled if email)
    received = Counter(rcpt for mail in smtp_server.received for rcpt in mail.rcpt_tos)
    assert received == expected  # exactly one each, nobody else
    assert smtp_server.connections == connections_before + 1  # one SMTP session for the whole batch

    message = smtp_server.received[0].message
    subject = _subject(message["Subject"])
    assert "Phát động phong trào thi đua" in subject
    assert "Giảm án có điều kiện trên một năm chưa thi hành xong" in subject
    attachments = [part for part in message.walk() if part.get_filename()]
    assert len(attachments) == 1
    assert attachments[0].get_filename().endswith(".docx")
    docx_path = tmp_path / "received.docx"
    docx_path.write_bytes(attachments[0].get_payload(decode=True))
    text = "\n".join(p.text for p in Document(str(docx_path)).paragraphs)
    assert "KẾ HOẠCH" in text and "03/07/2024" in text
    text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    body = text_part.get_content()
    assert "<br>" not in body and "Kính gửi" in body

    second = launch_flow(str(TQ_DEFINITION), at("06/01/2024", 9), settings)
    assert second["launched"] is False
    assert second["emails_queued"] == 0
    assert len(smtp_server.received) == sum(expected.values())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Campaign)).scalar_one() == 1
        launched_events = conn.execute(
            select(func.count()).select_from(DomainEvent).where(DomainEvent.kind == "campaign.launched")
        ).scalar_one()
    assert launched_events == 1
    engine.dispose()


def test_a_changed_definition_with_the_same_code_is_refused_and_changes_nothing(
    tmp_path: Path, db_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_flow(str(TQ_DEFINITION), LAUNCH_DAY, settings)
    changed = edited_definition(tmp_path, TQ_DEFINITION, "individual: 3", "individual: 4")

    with engine.connect() as conn:
        before = conn.execute(select(Campaign.definition_hash, Campaign.definition_json)).one()
        outbox_before = conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    with pytest.raises(CampaignConflict, match="đã được phát động"):
        launch_flow(str(changed), at("08/01/2024"), settings)
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.definition_hash, Campaign.definition_json)).one() == before
        assert conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == outbox_before
    engine.dispose()


def test_emails_wait_while_smtp_is_down_and_all_go_out_once_when_it_returns(
    tmp_path: Path, sqlite_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = _smtp_settings(tmp_path, sqlite_url, smtp_server)
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    smtp_server.stop()

    summary = launch_flow(str(TQ_DEFINITION), LAUNCH_DAY, settings)

    assert summary["launched"] is True
    with engine.connect() as conn:
        statuses = Counter(conn.execute(select(OutboxMessage.status)).scalars())
    assert statuses == {OutboxStatus.PENDING: summary["emails_queued"]}
    assert not smtp_server.received

    smtp_server.start()
    from thidua.notifications.outbox import dispatch

    result = dispatch(engine, settings, worker_id="retry")
    assert result.sent == summary["emails_queued"]
    again = dispatch(engine, settings, worker_id="retry")
    assert again.sent == 0
    received = Counter(rcpt for mail in smtp_server.received for rcpt in mail.rcpt_tos)
    assert sum(received.values()) == summary["emails_queued"]
    assert set(received.values()) == {1}
    engine.dispose()


def test_enrolment_is_a_snapshot_and_the_calendar_and_plan_are_stored(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    engine = make_engine(sqlite_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_flow(str(TQ_DEFINITION), LAUNCH_DAY, settings)
    with engine.begin() as conn:
        people_before = conn.execute(select(func.count()).select_from(EnrolledPerson)).scalar_one()
        names_before = conn.execute(select(EnrolledUnit.unit_name).order_by(EnrolledUnit.id)).scalars().all()
        conn.execute(update(Unit).where(Unit.code == "TQ-YS").values(name="Tên đã đổi"))
        conn.execute(update(Person).values(active=False))
    launch_flow(str(TQ_DEFINITION), at("10/01/2024"), settings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EnrolledPerson)).scalar_one() == people_before
        assert (
            conn.execute(select(EnrolledUnit.unit_name).order_by(EnrolledUnit.id)).scalars().all()
            == names_before
        )
        deadlines = {k: d for k, d in conn.execute(select(Deadline.key, Deadline.due_date))}
        plan = conn.execute(select(Campaign.plan_document)).scalar_one()
    assert people_before > 50
    assert deadlines["final"].isoformat() == "2024-07-03"
    assert {"2024-01", "2024-06"} <= set(deadlines)
    assert (settings.data_dir / plan).is_file()
    engine.dispose()


def test_a_scope_the_directory_lacks_is_refused_before_anything_is_stored(
    tmp_path: Path, db_url: str
) -> None:
    """A launch refused on its scope leaves no draft and no event; the corrected file then launches."""
    from thidua.models.campaign import DomainEvent
    from thidua.models.scope import ScopeError

    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    engine = make_engine(db_url)
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    wrong = edited_definition(tmp_path, TQ_DEFINITION, "    - subtree: TQ\n", "    - subtree: TQX\n")

    with pytest.raises(ScopeError, match="TQX"):
        launch_flow(str(wrong), LAUNCH_DAY, settings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Campaign)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(DomainEvent)).scalar_one() == 0

    summary = launch_flow(str(TQ_DEFINITION), LAUNCH_DAY, settings)
    assert summary["launched"] and summary["units"] == 12
    engine.dispose()
