"""Rendered once, sent as bytes: render_body + the envelope headers against build_mime, and send_raw on the
real SMTP server, the .eml files and the fake."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path

import pytest
from conftest import SmtpRecorder

from tests.memory_transport import MemoryTransport
from tests.notifications.test_transports import NOW, SUBJECT, TEXT, UNIT, display_name, message, smtp_settings
from thidua.notifications.message import assemble, build_mime, envelope_prefix, render_body
from thidua.notifications.transports import (
    FileTransport,
    RawMessage,
    SmtpTransport,
    TransportError,
)

FROM = "thidua@thads.tuyenquang.gov.vn"
FROM_NAME = "Cục THADS tỉnh Tuyên Quang"


def raw_message(
    tmp_path: Path, to: str = "yenson@thads.tuyenquang.gov.vn", mid: str = "<r.1@thads.vn>"
) -> RawMessage:
    plan = tmp_path / "Kế hoạch thi đua.docx"
    plan.write_bytes(b"PK\x03\x04 docx")
    body = render_body(message(to=to, attachments=(plan,), cc=("vanphong@thads.tuyenquang.gov.vn",)))
    data = assemble(envelope_prefix(FROM, FROM_NAME, now=NOW), mid, body)
    return RawMessage(
        data=data, recipients=(to, "vanphong@thads.tuyenquang.gov.vn"), message_id=mid, date=NOW
    )


def parsed(raw: bytes) -> email.message.EmailMessage:
    out = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(out, email.message.EmailMessage)
    return out


def test_rendered_bytes_plus_envelope_headers_are_the_message_build_mime_makes(tmp_path: Path) -> None:
    raw = raw_message(tmp_path)
    built = build_mime(
        message(attachments=(tmp_path / "Kế hoạch thi đua.docx",), cc=("vanphong@thads.tuyenquang.gov.vn",),
                message_id="<r.1@thads.vn>"),
        FROM, FROM_NAME, now=NOW,
    )  # fmt: skip
    raw.data.decode("ascii")  # 7-bit on the wire
    assert b"\n" not in raw.data.replace(b"\r\n", b"")  # CRLF line ends only: smtplib sends bytes as they are
    ours, theirs = parsed(raw.data), parsed(built.as_bytes())
    for header in ("Subject", "To", "Cc", "Date", "Message-ID", "Content-Type"):
        assert str(ours[header]).split(";")[0] == str(theirs[header]).split(";")[0], header
    assert ours["Subject"] == SUBJECT and ours["Date"] == "Fri, 05 Jan 2024 08:30:00 +0700"
    assert display_name(raw.data, "From") == FROM_NAME and display_name(raw.data, "To") == UNIT
    assert ours.get_body(("plain",)).get_content() == TEXT  # type: ignore[union-attr]
    assert [(a.get_filename(), a.get_content()) for a in ours.iter_attachments()] == [
        (a.get_filename(), a.get_content()) for a in theirs.iter_attachments()
    ]


def test_the_envelope_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError):
        envelope_prefix(FROM, None, now=datetime(2024, 1, 5, 8, 30))


def test_send_raw_streams_the_bytes_unchanged_over_one_smtp_connection(
    smtp_server: SmtpRecorder, tmp_path: Path
) -> None:
    smtp_server.reject_rcpt["nobody@thads.vn"] = "550 5.1.1 Mailbox không tồn tại"
    before = smtp_server.connections
    first = raw_message(tmp_path)
    with SmtpTransport(smtp_settings(smtp_server, tmp_path)) as transport:
        transport.send_raw(first)
        with pytest.raises(TransportError) as refused:
            transport.send_raw(raw_message(tmp_path, to="nobody@thads.vn", mid="<r.2@thads.vn>"))
        transport.send_raw(raw_message(tmp_path, to="hamyen@thads.vn", mid="<r.3@thads.vn>"))
        with pytest.raises(TransportError) as invalid:
            transport.send_raw(raw_message(tmp_path, to="unit@b", mid="<r.4@thads.vn>"))
    assert refused.value.permanent and "550" in refused.value.reason
    assert invalid.value.permanent and "unit@b" in invalid.value.reason
    assert smtp_server.connections == before + 1
    assert [m.rcpt_tos for m in smtp_server.received] == [
        ["yenson@thads.tuyenquang.gov.vn", "vanphong@thads.tuyenquang.gov.vn"],
        ["hamyen@thads.vn", "vanphong@thads.tuyenquang.gov.vn"],
    ]
    assert smtp_server.received[0].mail_from == FROM
    assert smtp_server.received[0].data.replace(b"\r\n", b"\n") == first.data.replace(b"\r\n", b"\n")


def test_send_raw_writes_an_eml_named_by_date_and_message_id(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    raw = raw_message(tmp_path)
    with FileTransport(outbox) as transport:
        transport.send_raw(raw)
        transport.send_raw(raw)  # a retry replaces its own file
    [path] = list(outbox.iterdir())
    assert path.name == "20240105T013000Z-r.1_thads.vn.eml"
    assert path.read_bytes() == raw.data and parsed(path.read_bytes())["Subject"] == SUBJECT


def test_the_fake_parses_what_send_raw_gets_and_fails_on_demand(tmp_path: Path) -> None:
    fake = MemoryTransport()
    fake.fail_for("bad@thads.vn", permanent=True)
    with fake:
        fake.send_raw(raw_message(tmp_path))
        with pytest.raises(TransportError):
            fake.send_raw(raw_message(tmp_path, to="bad@thads.vn"))
    assert [str(m["Subject"]) for m in fake.sent] == [SUBJECT]
    assert len(fake.raw) == 2 and fake.raw[0].message_id == "<r.1@thads.vn>"
