"""The demo's mailbox: one unit answers a month's reminder by email instead of the usual submission.

The system reads the mailbox over IMAP (tasks/collect/mailbox.py) in each collection run. The demo uses the
mailbox THIDUA_IMAP_* point at when set; otherwise a local Dovecot (deploy/imap_local.py) when one is
installed (it runs without root); otherwise the unit submits as the others do and the demo says how to
see it by email. The unit's reply is filed with IMAP APPEND dated when the unit sends it, as a replay of past
mail must be (a delivery now would carry today's date, and the report would count as received today).
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import col

from thidua.deploy.imap_local import LocalImapServer, dovecot_binary
from thidua.models.campaign import Campaign, EnrolledUnit
from thidua.models.definition import definition_from_json
from thidua.models.outbox import OutboxMessage
from thidua.models.settings import Settings

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass
class DemoMailbox:
    """Where the unit's reply is filed: the mailbox the settings read."""

    settings: Settings

    def append(self, raw: bytes, *, when: datetime) -> None:
        s = self.settings
        imap: imaplib.IMAP4 = (
            imaplib.IMAP4_SSL(s.imap_host, s.imap_port, timeout=s.imap_timeout_seconds)
            if s.imap_security == "ssl"
            else imaplib.IMAP4(s.imap_host, s.imap_port, timeout=s.imap_timeout_seconds)
        )
        try:
            if s.imap_security == "starttls":
                imap.starttls()
            if s.imap_username:
                imap.login(s.imap_username, s.imap_password.get_secret_value())
            status, data = imap.append(f'"{s.imap_folder}"', "", imaplib.Time2Internaldate(when), raw)
            if status != "OK":
                raise RuntimeError(f"IMAP APPEND: {data!r}")
        finally:
            imap.logout()

    def reply(
        self, engine: Engine, code: str, unit: str, period: str, report: Path, *, when: datetime
    ) -> str:
        """File the unit's reply to its latest email about the campaign, with the filled template attached;
        returns the address it comes from."""
        with engine.connect() as conn:
            campaign_id, definition = conn.execute(
                select(col(Campaign.id), col(Campaign.definition_json)).where(col(Campaign.code) == code)
            ).one()
            sender = conn.execute(
                select(col(EnrolledUnit.email)).where(
                    col(EnrolledUnit.campaign_id) == campaign_id, col(EnrolledUnit.unit_code) == unit
                )
            ).scalar_one()
            assert sender, "the demo's units all have a contact address"
            answered = conn.execute(
                select(col(OutboxMessage.message_id), col(OutboxMessage.subject))
                .where(
                    col(OutboxMessage.campaign_id) == campaign_id,
                    col(OutboxMessage.recipient) == sender,
                    col(OutboxMessage.message_id).is_not(None),
                )
                .order_by(col(OutboxMessage.id).desc())
                .limit(1)
            ).first()
        message = EmailMessage()
        message["From"] = sender
        message["To"] = definition_from_json(definition).issuer.contact.email
        message["Subject"] = f"Re: {answered[1]}" if answered else f"Báo cáo kỳ {period} – {unit}"
        message["Message-ID"] = f"<bao-cao-{unit}-{period}@{sender.split('@')[1]}>"
        if answered:
            message["In-Reply-To"] = answered[0]
            message["References"] = answered[0]
        message.set_content(
            "Kính gửi Phòng Tổ chức cán bộ,\n\nĐơn vị gửi báo cáo số liệu theo mẫu đính kèm.\n"
        )
        message.add_attachment(report.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=report.name)
        self.append(message.as_bytes(), when=when)
        return str(sender)


@contextmanager
def demo_mailbox(
    settings: Settings, contact: str, echo: Callable[[str], None]
) -> Iterator[tuple[Settings, DemoMailbox | None]]:
    """The settings the months run with (the mailbox's added) and the mailbox, or None without one."""
    if settings.uses_imap:
        echo(f"   Hộp thư nhận báo cáo: {settings.imap_host}:{settings.imap_port} (THIDUA_IMAP_*)")
        yield settings, DemoMailbox(settings)
        return
    if dovecot_binary() is None:
        echo(
            "   Không có máy chủ IMAP (Dovecot) trên máy này: đơn vị trả lời bằng email nộp như các đơn vị "
            "khác (xem README, mục nộp báo cáo qua email, để chạy thử với một hộp thư)."
        )
        yield settings, None
        return
    # In a temporary folder of its own: under root its processes run as `nobody`, who must reach it.
    server = LocalImapServer({contact: "demo-hop-thu"})
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        server.close()
        echo(f"   Không khởi động được Dovecot cục bộ ({exc}); đơn vị nộp báo cáo như các đơn vị khác.")
        yield settings, None
        return
    try:
        overrides = server.settings_overrides(contact)
        overrides["imap_password"] = SecretStr(str(overrides["imap_password"]))
        with_mail = settings.model_copy(update=overrides)
        echo(f"   Hộp thư nhận báo cáo: Dovecot cục bộ, {contact} tại 127.0.0.1:{server.imap_port}")
        yield with_mail, DemoMailbox(with_mail)
    finally:
        server.close()
