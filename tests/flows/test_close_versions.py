"""A reopened campaign's corrected closing report reaches the units once, as a new version that says which
one it replaces and why (issue 11 item 4): real close flow runs, the real reopening command, a real SMTP
server."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import Engine, select
from sqlmodel import col
from typer.testing import CliRunner

from tests.conftest import SmtpRecorder
from tests.factories import at
from tests.tasks.close.test_closing import (
    CLOSE_AT,
    CODE,
    final_reports,
    tq_campaign,  # noqa: F401  (a fixture)
)
from tests.tasks.collect.test_progress import tq
from tests.tasks.collect.test_reports import filled
from thidua.deploy.cli import app
from thidua.flows.close import close_flow
from thidua.models.campaign import DomainEvent
from thidua.models.outbox import OutboxMessage
from thidua.models.review import CampaignDocument, DocumentKind
from thidua.models.settings import Settings
from thidua.tasks.collect.reports import ingest_files

pytestmark = pytest.mark.usefixtures("prefect_harness")

REASON = "Chi cục Lâm Bình gửi bổ sung báo cáo tổng kết"
YEN_SON = "yenson@thads-tuyenquang.example.vn"


def mail_to(smtp: SmtpRecorder, address: str) -> list[EmailMessage]:
    return [m.message for m in smtp.received if m.rcpt_tos == [address]]


def attachments(mail: EmailMessage) -> dict[str | None, bytes]:
    return {part.get_filename(): part.get_content() for part in mail.iter_attachments()}


def test_a_new_close_after_a_reopening_emails_the_corrected_report_once_as_a_new_version(
    tq_campaign: Engine,  # noqa: F811  (the imported fixture)
    settings: Settings,
    tmp_path: Path,
    smtp_server: SmtpRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = tq_campaign
    settings = settings.model_copy(update=smtp_server.settings_overrides())
    final_reports(engine)

    first = close_flow(CODE, CLOSE_AT, settings)

    assert first["report_version"] == 1 and first["emails"]["sent"] == 12 == len(smtp_server.received)
    [v1] = mail_to(smtp_server, YEN_SON)
    v1_files = attachments(v1)
    assert "TQ-LB" in first["units_missing"]

    # The administrator reopens the reporting with a reason; Lâm Bình's final report comes in.
    monkeypatch.setenv("THIDUA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("THIDUA_DATA_DIR", str(settings.data_dir))
    reopened = CliRunner().invoke(app, ["reopen", CODE, "--reason", REASON, "--as-of", "05/07/2024 09:00"])
    assert reopened.exit_code == 0, reopened.output
    late = filled(engine, tmp_path, "lam-binh.xlsx", tq(30, 5, 4), unit="TQ-LB", period="final")
    [accepted] = ingest_files(engine, settings, CODE, [late], now=at("05/07/2024", 10))
    assert accepted.status == "accepted"

    second = close_flow(CODE, at("08/07/2024", 7, 30), settings)

    assert second["closed_now"] is True and second["report_version"] == 2
    assert "TQ-LB" not in second["units_missing"]
    assert second["emails_queued"] == 12 and second["emails"]["sent"] == 12
    assert len(smtp_server.received) == 24
    [_, v2] = mail_to(smtp_server, YEN_SON)
    assert "(lần 2, thay thế lần 1)" in v2["Subject"]
    body = v2.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Đây là báo cáo tổng kết lần 2, thay thế báo cáo tổng kết lần 1 ngày 04/07/2024." in text
    assert f"mở lại kỳ báo cáo ngày 05/07/2024: “{REASON}”" in text
    report = settings.data_dir / second["documents"]["report"]
    table = settings.data_dir / second["documents"]["table"]
    assert report.name == "bao-cao-tong-ket-tq-2024-giam-an-lan-2.docx"
    assert attachments(v2) == {report.name: report.read_bytes(), table.name: table.read_bytes()}
    # What the units received the first time stays on disk as it was sent.
    for name, data in v1_files.items():
        assert (settings.data_dir / "documents" / CODE / str(name)).read_bytes() == data
    note = (
        "(Báo cáo lần 2, thay thế báo cáo tổng kết lần 1 ngày 04/07/2024; lý do: mở lại kỳ báo cáo ngày "
        f"05/07/2024: “{REASON}”)"
    )
    assert note in [p.text for p in Document(str(report)).paragraphs]

    # A third close with nothing changed sends nothing; nor does a reopening in which nobody sends anything.
    for key, value in smtp_server.settings_overrides().items():
        monkeypatch.setenv(f"THIDUA_{key.upper()}", str(value))
    third = CliRunner().invoke(app, ["close", CODE, "--as-of", "09/07/2024 07:30"])
    assert third.exit_code == 0, third.output
    assert "Tài liệu (báo cáo tổng kết lần 2):" in third.output and report.name in third.output
    assert "Thư mới vào hộp thư đi: 0 · đã gửi: 0" in third.output
    again = CliRunner().invoke(app, ["reopen", CODE, "--reason", "Kiểm tra lại", "--as-of", "10/07/2024"])
    assert again.exit_code == 0, again.output
    fourth = close_flow(CODE, at("11/07/2024", 7, 30), settings)
    assert fourth["closed_now"] is True and fourth["report_version"] == 2 and fourth["emails_queued"] == 0
    assert len(smtp_server.received) == 24
    assert fourth["documents"] == second["documents"]
    assert report.read_bytes() == attachments(v2)[report.name]  # still dated 08/07/2024, as sent

    with engine.connect() as conn:
        issued = [
            json.loads(p)
            for p in conn.execute(
                select(col(DomainEvent.payload_json))
                .where(col(DomainEvent.kind) == "closing.report_issued")
                .order_by(col(DomainEvent.id))
            ).scalars()
        ]
        keys = set(conn.execute(select(col(OutboxMessage.dedupe_key))).scalars())
        current = conn.execute(
            select(col(CampaignDocument.path)).where(
                col(CampaignDocument.kind) == DocumentKind.CLOSING_REPORT, col(CampaignDocument.ref) == ""
            )
        ).scalar_one()
    assert [(e["version"], e["replaces"], e["report_date"]) for e in issued] == [
        (1, None, "2024-07-04"),
        (2, 1, "2024-07-08"),
    ]
    assert issued[1]["reason"] == f"mở lại kỳ báo cáo ngày 05/07/2024: “{REASON}”"
    assert f"close:{CODE}:{YEN_SON}" in keys
    assert f"close:{CODE}:v2:{issued[1]['fingerprint'][:12]}:{YEN_SON}" in keys
    assert current == second["documents"]["report"]
    engine.dispose()
