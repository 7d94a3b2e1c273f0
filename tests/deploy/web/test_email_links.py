"""With THIDUA_PUBLIC_URL set, the closing email gives each unit a link to its documents page instead of the
report and table attached (the administrators keep the files), and the rejection email links to the period's
upload page; without it, the emails are as before. Read from what a real SMTP server received."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import SmtpRecorder
from sqlalchemy import Engine

from tests.deploy.web.portal_helpers import CODE, YS, YS_EMAIL, Clock, client_for, sign_in
from tests.factories import at, launch_campaign_rows, load_demo_directory
from tests.tasks.close.test_closing import CLOSE_AT, final_reports
from tests.tasks.collect.test_reports import filled
from thidua.models.settings import Settings
from thidua.models.storage import storage_for
from thidua.notifications.outbox import dispatch
from thidua.tasks.close.closing import (
    compute_final_results,
    freeze_and_close,
    queue_closing_emails,
    write_closing_documents,
)
from thidua.tasks.collect.reports import ingest_upload

PUBLIC = "https://thidua.example.vn"
ADMIN = "tccb@thads-tuyenquang.example.vn"


def _settings(tmp_path: Path, db_url: str, smtp: SmtpRecorder, public_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=db_url, public_url=public_url, **smtp.settings_overrides()
    )


def _closed(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    final_reports(engine)
    freeze_and_close(engine, CODE, now=CLOSE_AT, actor="close")
    compute_final_results(engine, CODE, now=CLOSE_AT)
    write_closing_documents(engine, settings, CODE, now=CLOSE_AT)
    queue_closing_emails(engine, settings, CODE, now=CLOSE_AT)
    dispatch(engine, settings, worker_id="test", clock=lambda: CLOSE_AT)


def _mail_to(smtp: SmtpRecorder, address: str) -> tuple[str, list[str]]:
    """The plain text and the attachment names of the one email the server received for `address`."""
    [mail] = [m for m in smtp.received if address in m.rcpt_tos]
    message = mail.message
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    names = [part.get_filename() or "" for part in message.iter_attachments()]
    return body.get_content(), names  # type: ignore[attr-defined]


def test_with_a_public_url_units_get_a_link_to_their_documents_and_no_attachment(
    engine: Engine, tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = _settings(tmp_path, db_url, smtp_server, PUBLIC + "/")
    _closed(engine, settings, tmp_path)
    assert len(smtp_server.received) == 12
    text, attachments = _mail_to(smtp_server, YS_EMAIL)
    assert attachments == []
    link = re.search(rf"{re.escape(PUBLIC)}(/don-vi/\S+)", text)
    assert link, text
    assert link.group(1) == f"/don-vi/{YS}/{CODE}/tai-lieu"
    assert "gửi kèm" not in text
    # The administrators have no unit page: they keep the files.
    admin_text, admin_files = _mail_to(smtp_server, ADMIN)
    assert "/don-vi/" not in admin_text and len(admin_files) == 2
    # The link is the unit's page, which offers the closing report of the email for download.
    web = settings.model_copy(update={"smtp_host": ""})  # the sign-in link lands in the .eml outbox
    client = client_for(web, engine, Clock(at("05/07/2024", 9)))
    sign_in(client, web, YS_EMAIL)
    page = client.get(link.group(1))
    assert page.status_code == 200 and "Báo cáo tổng kết" in page.text
    hrefs = re.findall(rf'href="(/don-vi/{YS}/{CODE}/tai-lieu/\d+)"', page.text)
    assert len(hrefs) == 2  # the report (DOCX) and the table (XLSX)
    storage = storage_for(settings)
    got = {client.get(h).content for h in hrefs}
    assert got == {
        storage.get(f"documents/{CODE}/bao-cao-tong-ket-tq-2024-giam-an.docx"),
        storage.get(f"documents/{CODE}/tong-ket-tq-2024-giam-an.xlsx"),
    }


def test_without_a_public_url_units_get_the_files_attached(
    engine: Engine, tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = _settings(tmp_path, db_url, smtp_server, "")
    _closed(engine, settings, tmp_path)
    text, attachments = _mail_to(smtp_server, YS_EMAIL)
    assert "/don-vi/" not in text and "gửi kèm" in text
    assert sorted(attachments) == ["bao-cao-tong-ket-tq-2024-giam-an.docx", "tong-ket-tq-2024-giam-an.xlsx"]


def _rejected(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    load_demo_directory(engine, "tuyen-quang-2024", tmp_path)
    launch_campaign_rows(engine)
    bad = filled(engine, tmp_path, "sai.xlsx", {"carried_over": 120, "arising": 30, "finished": 500})
    now = at("05/04/2024", 9)
    result = ingest_upload(
        engine, settings, CODE, "sai.xlsx", bad.read_bytes(), now=now, submitted_by=YS_EMAIL, unit_code=YS
    )
    assert result.status == "rejected"
    dispatch(engine, settings, worker_id="test", clock=lambda: now)


def test_the_rejection_email_links_to_the_periods_upload_page_with_a_public_url(
    engine: Engine, tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = _settings(tmp_path, db_url, smtp_server, PUBLIC)
    _rejected(engine, settings, tmp_path)
    text, attachments = _mail_to(smtp_server, YS_EMAIL)
    assert f"{PUBLIC}/don-vi/{YS}/{CODE}/2024-03" in text
    assert len(attachments) == 1  # the file to correct is still sent back


def test_the_rejection_email_has_no_link_without_a_public_url(
    engine: Engine, tmp_path: Path, db_url: str, smtp_server: SmtpRecorder
) -> None:
    settings = _settings(tmp_path, db_url, smtp_server, "")
    _rejected(engine, settings, tmp_path)
    text, attachments = _mail_to(smtp_server, YS_EMAIL)
    assert "/don-vi/" not in text and len(attachments) == 1
